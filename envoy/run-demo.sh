#!/usr/bin/env bash
# The main job: the mock LLM upstream + Envoy with distill-guard and the default policy, on loopback.
# The policy is hot-reloaded: edit envoy/policy.json (or POLICY=...) and it is validated and swapped
# into the running Envoy (file-based ECDS) within a second; a bad edit is refused, naming the field.
# Ports: LISTEN (10000), ADMIN (9901), UPSTREAM (18080), all on 127.0.0.1 and checked free first;
# POLICY=file (envoy/policy.json). Ctrl-C stops everything. DEMO_SMOKE=1 sends the example requests,
# prints the results and exits.
set -euo pipefail
cd "$(dirname "$0")/.."
ENVOY=${ENVOY:-.tools/venv/bin/envoy}
LISTEN=${LISTEN:-10000}
ADMIN=${ADMIN:-9901}
UPSTREAM=${UPSTREAM:-18080}
POLICY=${POLICY:-envoy/policy.json}
# Every port must be free before anything starts: otherwise requests would go to whatever owns it.
for var in LISTEN ADMIN UPSTREAM; do
  port=${!var}
  if ! python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$port" 2>/dev/null; then
    echo "port $port ($var) is not free on 127.0.0.1: stop what uses it, or choose another port, e.g. $var=$((port + 1)) make run" >&2
    exit 1
  fi
done
WORK=$(mktemp -d)
STATE="$WORK/state"
python3 envoy/apply-policy.py --state "$STATE" "$POLICY" >/dev/null || { echo "fix $POLICY first"; exit 1; }
python3 envoy/render.py --dynamic "$STATE" --listen "$LISTEN" --admin "$ADMIN" --upstream "$UPSTREAM" \
  --out "$WORK/envoy.yaml"

python3 tests/mock_llm.py --port "$UPSTREAM" >"$WORK/mock.log" 2>&1 &
MOCK=$!
"$ENVOY" -c "$WORK/envoy.yaml" --concurrency 2 --disable-hot-restart --log-level warn \
  --component-log-level wasm:info >"$WORK/envoy.log" 2>&1 &
PROXY=$!
WATCH=
cleanup() { kill "$MOCK" "$PROXY" $WATCH 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

for _ in $(seq 1 100); do
  if [ "$(curl -s "http://127.0.0.1:$ADMIN/ready" 2>/dev/null)" = "LIVE" ]; then break; fi
  if ! kill -0 "$PROXY" 2>/dev/null; then echo "envoy failed to start:"; cat "$WORK/envoy.log"; exit 1; fi
  sleep 0.1
done
[ "$(curl -s "http://127.0.0.1:$ADMIN/ready")" = "LIVE" ] || { echo "envoy not ready"; cat "$WORK/envoy.log"; exit 1; }
# The mock upstream must be ours and answering (a port taken between the check and its start).
for _ in $(seq 1 50); do
  curl -s -o /dev/null "http://127.0.0.1:$UPSTREAM/__mock/requests" && break
  kill -0 "$MOCK" 2>/dev/null || break
  sleep 0.1
done
if ! kill -0 "$MOCK" 2>/dev/null || ! curl -s -o /dev/null "http://127.0.0.1:$UPSTREAM/__mock/requests"; then
  echo "the mock upstream did not start on 127.0.0.1:$UPSTREAM (UPSTREAM):" >&2; cat "$WORK/mock.log" >&2; exit 1
fi

cat <<TXT
distill-guard is running.
  API (through the filter): http://127.0.0.1:$LISTEN   -> mock LLM upstream on 127.0.0.1:$UPSTREAM
  Envoy admin:              http://127.0.0.1:$ADMIN    (metrics: /stats/prometheus | grep distill_guard;
                            published every 100 ms)
  Envoy:                    $("$ENVOY" --version | grep -o 'version: .*' | cut -d/ -f2) ($ENVOY)
  Envoy log:                $WORK/envoy.log
  Policy:                   $POLICY  (hot-reloaded: edit and save it, the change applies within a second)

Try:
  curl -s http://127.0.0.1:$LISTEN/v1/chat/completions -H 'authorization: Bearer sk-demo' \\
       -d '{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}'
  curl -sN http://127.0.0.1:$LISTEN/v1/messages -H 'x-api-key: sk-ant-demo' -H 'anthropic-version: 2023-06-01' \\
       -d '{"model":"claude-sonnet-4","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}'
  curl -s http://127.0.0.1:$LISTEN/v1/chat/completions -d '{}'          # no key: 401
  curl -s http://127.0.0.1:$UPSTREAM/__mock/requests | python3 -m json.tool | grep x-distill   # what upstream saw
  curl -s http://127.0.0.1:$ADMIN/stats/prometheus | grep '^distill_guard'
Ctrl-C stops everything.
TXT

# Apply the policy file whenever its content changes (validated first; a bad edit leaves the running
# policy). Content, not modification time: two saves within one second must both count.
(
  last=$(cksum <"$POLICY")
  while sleep 0.5; do
    now=$(cksum <"$POLICY" 2>/dev/null || echo "$last")
    if [ "$now" != "$last" ]; then
      last=$now
      echo "--- $POLICY changed"
      python3 envoy/apply-policy.py --state "$STATE" "$POLICY" || true
    fi
  done
) &
WATCH=$!

if [ "${DEMO_SMOKE:-0}" = "1" ]; then
  echo "--- smoke: one chat completion"
  curl -s -o /dev/null -w "status %{http_code}\n" "http://127.0.0.1:$LISTEN/v1/chat/completions" \
    -H 'authorization: Bearer sk-demo' -d '{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}'
  curl -s "http://127.0.0.1:$UPSTREAM/__mock/requests" | python3 -c \
    'import json,sys; r=json.load(sys.stdin)[-1]; [print(f"upstream saw {k}: {v}") for k,v in r["headers"] if k.startswith("x-distill")]'
  echo "--- smoke: no key"
  curl -s -w "\nstatus %{http_code}\n" "http://127.0.0.1:$LISTEN/v1/chat/completions" -d '{}'
  # Logit-bias harvesting (one-token answers, a varied logit_bias): detection flags it. In shadow (the
  # shipped default) it is forwarded and reported upstream; enforced, it is refused with a generic error.
  harvest() {
    for i in $(seq 1 "$2"); do
      curl -s -o "$WORK/last.json" -w "%{http_code}\n" "http://127.0.0.1:$LISTEN/v1/chat/completions" \
        -H "authorization: Bearer $1" -d "{\"model\":\"gpt-4o\",\"max_tokens\":1,\"temperature\":0,\"logprobs\":true,\"top_logprobs\":20,\"logit_bias\":{\"$((1000 + i))\":100},\"messages\":[{\"role\":\"user\",\"content\":\"Say one word. $i\"}]}"
    done | sort | uniq -c | awk '{printf "status %s x%s\n", $2, $1}'
  }
  echo "--- smoke: detection in shadow (detection.shadow=$(python3 -c 'import json,sys; print(str(json.load(open(sys.argv[1])).get("detection",{}).get("shadow",False)).lower())' "$POLICY")): 12 logit-bias harvesting requests"
  harvest sk-harvest 12
  curl -s "http://127.0.0.1:$UPSTREAM/__mock/requests" | python3 -c \
    'import json,sys; r=json.load(sys.stdin)[-1]; [print(f"upstream saw {k}: {v}") for k,v in r["headers"] if k in ("x-distill-verdict","x-distill-signals","x-distill-shadow")]'
  echo "--- smoke: detection enforced (a copy of the policy with detection.shadow=false, hot-reloaded)"
  python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); p.setdefault("detection",{})["shadow"]=False; p["revision"]=str(p.get("revision","1"))+"-enforce"; json.dump(p,open(sys.argv[2],"w"))' \
    "$POLICY" "$WORK/enforce.json"
  python3 envoy/apply-policy.py --state "$STATE" "$WORK/enforce.json" >/dev/null
  sleep 1.5
  harvest sk-harvest-2 12
  echo "refusal body: $(cat "$WORK/last.json")"
  exit 0
fi
wait "$PROXY"
