#!/usr/bin/env bash
# One measurement round of issue 16 at the checkout's HEAD, in three steps (BENCHMARKS.md, "Commands"):
#
#   benches/round.sh build    build everything the runs need (module, baselines, peer, bench binary) and
#                             check that the host-call floor still makes distill-guard's calls
#   benches/round.sh quiet    the timed runs, on a quiet machine (~17 min): the Envoy side-by-side run
#                             (8 configurations, 5 mixes, capacity), the latency run, the V8 harness's µs,
#                             the core's micro-benchmarks
#   benches/round.sh counts   the exact counts (need no quiet machine; ~6 min on 2 cores): every
#                             instruction row re-recorded, shared-data calls in steady state and the wasm
#                             heap (V8 harness, simulated clock), then the CI regression check
#   benches/round.sh summary  issue 16's targets and the README's sizing figures from the saved files
#   benches/round.sh fill     the saved tables into BENCHMARKS.md's marked blocks (<!-- round:NAME -->)
#
# Outputs: target/round/*.json and *.txt (the tables printed by each run), commit in target/round/commit.
# Tunables: BENCH_REPS (4), BENCH_SECONDS (3) for the Envoy run; LAT_REPS (5), LAT_SECONDS (3) for the latency run.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/round
PY=.tools/venv/bin/python
mkdir -p "$OUT"
stamp() { date -u +%H:%M:%S; }
# The machine's load at each step's start and end, kept with the results (a quiet run shows ~0-1).
load() { echo "$(stamp) $1 $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load.txt"; }

case "${1:-}" in
build)
  git rev-parse --short HEAD >"$OUT/commit"
  echo "$(stamp) building at $(cat "$OUT/commit")"
  make build noop-filter peer-tools bench-tools fleet-tools
  CARGO_PROFILE_BENCH_STRIP=false cargo bench --bench core --no-run
  cargo test --release --test estimator_accuracy --no-run
  # The host-call floor must make distill-guard's calls (fails and prints the counts otherwise).
  python3 benches/wasm_bench.py --parts timing --requests 20000 | tee "$OUT/wasm-spec-check.txt"
  echo "$(stamp) build done"
  ;;
quiet)
  [ "$(git rev-parse --short HEAD)" = "$(cat "$OUT/commit")" ] || { echo "HEAD moved since the build step"; exit 1; }
  load "quiet start"
  echo "$(stamp) Envoy side by side"
  $PY benches/bench.py --fleet --reps "${BENCH_REPS:-4}" --seconds "${BENCH_SECONDS:-3}" --latency-seconds 0 \
    --out "$OUT/bench-proxy.json" | tee "$OUT/bench-proxy.txt"
  echo "$(stamp) latency"
  $PY benches/latency_breakdown.py --reps "${LAT_REPS:-5}" --seconds "${LAT_SECONDS:-3}" --out "$OUT/latency.json" \
    | tee "$OUT/latency.txt"
  echo "$(stamp) V8 harness timing"
  python3 benches/wasm_bench.py --parts timing --out "$OUT/wasm-timing.json" | tee "$OUT/wasm-timing.txt"
  echo "$(stamp) core micro-benchmarks"
  CARGO_PROFILE_BENCH_STRIP=false cargo bench --bench core 2>/dev/null | tee "$OUT/core.txt"
  load "quiet end"
  echo "$(stamp) quiet runs done"
  ;;
counts)
  [ "$(git rev-parse --short HEAD)" = "$(cat "$OUT/commit")" ] || { echo "HEAD moved since the build step"; exit 1; }
  load "counts start"
  echo "$(stamp) instructions (every row, recorded) and V8 counts, side by side"
  python3 benches/instructions.py --record --json "$OUT/instructions.json" >"$OUT/instructions.txt" 2>&1 &
  ipid=$!
  python3 benches/wasm_bench.py --parts steady,heap --out "$OUT/wasm-counts.json" >"$OUT/wasm-counts.txt" 2>&1 &
  wpid=$!
  status=0
  wait $ipid || status=1
  wait $wpid || status=1
  cat "$OUT/instructions.txt" "$OUT/wasm-counts.txt"
  echo "$(stamp) regression check against the new reference"
  python3 benches/instructions.py --targets --check | tee "$OUT/regress.txt" || status=1
  echo "$(stamp) token estimator accuracy, module size"
  cargo test --release --test estimator_accuracy -- --nocapture 2>/dev/null | tee "$OUT/estimator.txt" || status=1
  ls -l target/wasm32-wasip1/release/distill_guard.wasm | awk '{print $5}' >"$OUT/module-bytes.txt"
  echo "$(stamp) counts done (status $status)"
  exit $status
  ;;
summary)
  python3 benches/round_summary.py --dir "$OUT"
  ;;
fill)
  python3 benches/round_summary.py --dir "$OUT" --fill BENCHMARKS.md
  ;;
*)
  sed -n '2,18p' "$0"
  exit 2
  ;;
esac
