# distill-guard — run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ENVOY_VERSION        := 1.40.0
WASM_BINDGEN_VERSION := 0.2.130
TOOLS   := $(CURDIR)/.tools
VENV    := $(TOOLS)/venv
PY      := $(VENV)/bin/python
ENVOY   := $(VENV)/bin/envoy
WASM    := target/wasm32-wasip1/release/distill_guard.wasm
CARGO   ?= cargo

export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: intent-train intent-eval help tools tools-envoy build policy-check report-tool report credential-id prometheus-tools prometheus-check apply-policy bench bench-estimator bench-tools bench-proxy bench-latency bench-cost bench-smoke bench-core bench-instructions bench-regress valgrind-tool bench-wasm noop-filter peer-tools trap-filter fleet-tools fleet-probe fleet-config run-fleet soak fuzz-tools fuzz-smoke fuzz-long detect-eval detect-eval-dump detect-sim fuzz flood oci istio compose-config compose-up compose-policy test test-unit test-wasm lint validate e2e run envoy-config clean

help: ## Show this help
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  \033[1m%-14s\033[0m %s\n",$$1,$$2}'

tools-envoy: ## Install what the demo needs: wasm32-wasip1 target, Envoy $(ENVOY_VERSION) + test tools (tests/requirements.txt) in .tools/venv, curl
	rustup target add wasm32-wasip1 wasm32-unknown-unknown
	@command -v curl >/dev/null || (apt-get update && apt-get install -y curl)
	@test -x $(PY) || python3 -m venv $(VENV) || (apt-get update && apt-get install -y python3-venv && python3 -m venv $(VENV))
	@if ! cmp -s tests/requirements.txt $(VENV)/.requirements; then \
	  $(VENV)/bin/pip install -q -r tests/requirements.txt && cp tests/requirements.txt $(VENV)/.requirements; fi
	@echo "envoy $$($(ENVOY) --version | grep -o 'version: [^ ]*' | cut -d/ -f2) ($(ENVOY))"

tools: tools-envoy prometheus-tools ## Install every pinned tool: tools-envoy + clippy/rustfmt, node, wasm-bindgen-cli $(WASM_BINDGEN_VERSION), Prometheus (unpacked)
	rustup component add clippy rustfmt
	@command -v node >/dev/null || (apt-get update && apt-get install -y nodejs)
	@if [ "$$(wasm-bindgen-test-runner --version 2>/dev/null)" != "wasm-bindgen-test-runner $(WASM_BINDGEN_VERSION)" ]; then \
	  echo "installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION) (a few minutes)"; \
	  $(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); fi

build: ## Build the filter (wasm32-wasip1, release) -> target/wasm32-wasip1/release/distill_guard.wasm
	$(CARGO) build --target wasm32-wasip1 --release
	@ls -l $(WASM) | awk '{print "wasm module: " $$5 " bytes"}'

policy-check: ## Build the native policy checker used by envoy/apply-policy.py
	$(CARGO) build -q --release --example policy_check

REPORT := target/release/examples/report
report-tool: ## Build the native report tool (examples/report.rs) used by `make report` and `make credential-id`
	$(CARGO) build -q --release --example report

report: report-tool ## Flagged credentials and tenants from Envoy's log: LOG=file (default stdin) [SINCE= UNTIL=] [JSON=1] [HTML=out.html] [TOP=50]
	@$(REPORT) $(if $(LOG),"$(LOG)",-) $(if $(SINCE),--since "$(SINCE)") $(if $(UNTIL),--until "$(UNTIL)") \
	  $(if $(JSON),--json) $(if $(HTML),--html "$(HTML)") $(if $(TOP),--top "$(TOP)")

credential-id: report-tool ## The credential id of KEY (from the environment or stdin, never echoed) under POLICY (default envoy/policy.json)
	@$(REPORT) credential-id --policy "$(or $(POLICY),envoy/policy.json)" $(if $(KIND),--kind "$(KIND)")

apply-policy: policy-check ## Validate POLICY=file and swap it into a dynamic Envoy's STATE=dir (atomic rename)
	python3 envoy/apply-policy.py --state "$(STATE)" "$(POLICY)"

oci: build ## Package the filter as an OCI image layout (compat Wasm image) in target/oci/distill-guard
	python3 envoy/oci/package.py

istio: build ## Re-render envoy/istio/*.yaml (policy + OCI image digest); IMAGE=oci://registry/repo:tag
	python3 envoy/istio/manifests.py $(if $(IMAGE),--image $(IMAGE))

compose-config: ## Re-render envoy/compose/envoy.yaml (the in-container Envoy config)
	python3 envoy/render.py --dynamic /etc/distill-guard/state --listen-address 0.0.0.0 --upstream-host mock-llm \
	  --out envoy/compose/envoy.yaml

compose-up: build policy-check ## Run Envoy (official image) + the mock upstream with docker compose (needs a docker engine)
	python3 envoy/apply-policy.py --state envoy/compose/state --wasm /etc/distill-guard/distill_guard.wasm envoy/policy.json
	cd envoy/compose && docker compose up --build

compose-policy: policy-check ## Hot-reload POLICY=file into the running compose Envoy
	python3 envoy/apply-policy.py --state envoy/compose/state --wasm /etc/distill-guard/distill_guard.wasm "$(POLICY)"

envoy-config: ## Re-render envoy/envoy.yaml from the template and envoy/policy.json
	python3 envoy/render.py --out envoy/envoy.yaml

lint: ## rustfmt check + clippy (no unwrap/expect/panic/indexing in src/) for native and wasip1 + no import cycle in src/ (tools/layers.py)
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --target wasm32-wasip1 -- -D warnings
	python3 tools/layers.py

test-unit: ## Native unit and core tests
	$(CARGO) test

test-wasm: ## The core tests compiled to wasm32-unknown-unknown, run by wasm-bindgen-test in node
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner $(CARGO) test --target wasm32-unknown-unknown --test core

validate: build ## envoy --mode validate on the shipped config (loads the wasm, runs on_configure)
	$(ENVOY) --mode validate -c envoy/envoy.yaml

trap-filter: ## Build the test-only trapping module used by the failure-policy e2e test
	$(CARGO) build --manifest-path tests/e2e/trap-filter/Cargo.toml --target wasm32-wasip1 --release

PROM_DIR := $(TOOLS)/prometheus
prometheus-tools: ## Debian's prometheus package unpacked into .tools/prometheus (apt-get download + dpkg-deb -x: nothing installed, no service started)
	@test -x $(PROM_DIR)/usr/bin/promtool || (mkdir -p $(PROM_DIR) && cd $(PROM_DIR) && \
	  (apt-get download prometheus 2>/dev/null || (apt-get update && apt-get download prometheus)) && \
	  dpkg-deb -x prometheus_*.deb . && rm -f prometheus_*.deb)
	@$(PROM_DIR)/usr/bin/promtool --version | head -1

prometheus-check: prometheus-tools ## promtool check + unit tests of the alerting and recording rules in envoy/prometheus/
	$(PROM_DIR)/usr/bin/promtool check rules envoy/prometheus/distill-guard.rules.yaml
	cd envoy/prometheus && $(PROM_DIR)/usr/bin/promtool test rules tests.yaml

e2e: build policy-check report-tool trap-filter prometheus-tools fleet-tools fleet-probe ## End-to-end tests: real Envoy + the filter + the mock LLM upstream (+ Redis and the rate limit service)
	cd tests/e2e && $(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test: tools lint test-unit test-wasm fuzz-smoke validate prometheus-check e2e bench-smoke bench-regress ## The whole suite (installs pinned tools first): lint, unit, wasm, fuzz (10 s a target), validate, e2e, bench smoke, instruction regression check

run: tools-envoy build policy-check ## Main job: mock LLM upstream + Envoy with the filter and the default policy (Ctrl-C stops)
	@bash envoy/run-demo.sh

# Fleet-wide state (README "More than one replica"): envoyproxy/ratelimit, pinned, built from its Go module
# with the machine's Go (1.26), and Redis from Debian's packages. Both only ever bind 127.0.0.1.
RATELIMIT_MODULE  := github.com/envoyproxy/ratelimit
RATELIMIT_VERSION := v1.4.1-0.20260122083618-3fb702589d36
fleet-tools: ## Install the fleet engine: envoyproxy/ratelimit $(RATELIMIT_VERSION) (go install -> .tools/bin/ratelimit) and redis-server (apt)
	@command -v redis-server >/dev/null || (apt-get update && apt-get install -y --no-install-recommends redis-server)
	@if [ "$$(cat $(TOOLS)/bin/.ratelimit-version 2>/dev/null)" != "$(RATELIMIT_VERSION)" ]; then \
	  command -v go >/dev/null || { echo "fleet-tools: Go 1.26 is needed (go install of $(RATELIMIT_MODULE))"; exit 1; }; \
	  echo "installing envoyproxy/ratelimit $(RATELIMIT_VERSION) with $$(go version | cut -d' ' -f3) (a minute or two)"; \
	  mkdir -p $(TOOLS)/bin && GOBIN=$(TOOLS)/bin go install $(RATELIMIT_MODULE)/src/service_cmd@$(RATELIMIT_VERSION) && \
	  ln -sf service_cmd $(TOOLS)/bin/ratelimit && echo $(RATELIMIT_VERSION) > $(TOOLS)/bin/.ratelimit-version; fi
	@echo "ratelimit: $(TOOLS)/bin/ratelimit ($$(cat $(TOOLS)/bin/.ratelimit-version)); $$(redis-server --version | cut -d' ' -f1-3)"

fleet-probe: ## Build the test-only module that exports filter state from request headers (fleet path check)
	$(CARGO) build --manifest-path tests/e2e/fleet-probe/Cargo.toml --target wasm32-wasip1 --release

fleet-config: ## Re-generate envoy/fleet/ratelimit/*.yaml (the rate limit service's config) and envoy/fleet/istio/ratelimit.yaml from envoy/policy.json
	python3 envoy/fleet/ratelimit_config.py --out-dir envoy/fleet/ratelimit
	python3 envoy/fleet/istio.py

run-fleet: tools-envoy build fleet-tools ## Redis + rate limit service + mock upstream + two Envoys with the filter and fleet budgets (Ctrl-C stops)
	@$(PY) envoy/fleet/run_fleet.py

SEEDS ?= 1 2 3
SCALE ?= 1.0
detect-eval: build ## Detection quality, independent evaluation through the real Envoy (tests/sim/detect_eval; SEEDS="1 2 3" SCALE=1.0; STRICT=1 fails on a missed held-out target) -> target/detect-eval.{json,md}
	$(PY) tests/sim/detect_eval/run.py --seeds $(SEEDS) --scale $(SCALE) --json target/detect-eval.json --markdown target/detect-eval.md $(if $(STRICT),--strict)

detect-eval-dump: ## Labelled prompts of the evaluation's tune families (never held-out) for the intent model -> target/intent-prompts.jsonl
	$(PY) tests/sim/detect_eval/run.py --dump target/intent-prompts.jsonl --seeds $(SEEDS) --scale $(SCALE)

detect-sim: build ## The original simulator, written with the detector (tests/sim/simulate.py; SEEDS, SCALE)
	@for seed in $(SEEDS); do $(PY) tests/sim/simulate.py --seed $$seed --scale $(SCALE) --json target/detect-seed$$seed.json || exit 1; done

SOAK_SECONDS ?= 300
soak: build ## Steady mixed traffic through Envoy for SOAK_SECONDS: no errors, no memory growth, no VM restart
	$(PY) tests/soak.py --seconds $(SOAK_SECONDS)

FLOOD ?= 1000000
flood: build ## Credential flood: FLOOD distinct keys through the real Envoy with wrk (bounded memory, attack still caught)
	@command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)
	$(PY) tests/flood.py --keys $(FLOOD)

FUZZ_ITERS ?= 1000000
fuzz: ## Longer randomised robustness run of every parser (FUZZ_ITERS per target, native, release)
	DG_FUZZ_ITERS=$(FUZZ_ITERS) $(CARGO) test --release --test core robustness

CARGO_FUZZ_VERSION := 0.13.2
FUZZ_TARGETS := request_body sse_stream policy credential fingerprint
FUZZ_SECONDS ?= 10
fuzz-tools: ## Install cargo-fuzz $(CARGO_FUZZ_VERSION) (libFuzzer; runs on stable rustc with RUSTC_BOOTSTRAP=1)
	@if [ "$$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $(CARGO_FUZZ_VERSION)" ]; then \
	  echo "installing cargo-fuzz $(CARGO_FUZZ_VERSION) (a few minutes)"; \
	  $(CARGO) install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked; fi

fuzz-smoke: fuzz-tools ## Coverage-guided fuzzing of every target for FUZZ_SECONDS each (stored corpus as seeds)
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p target/fuzz-corpus/$$t; \
	  echo "fuzz $$t for $(FUZZ_SECONDS) s"; \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz $$t target/fuzz-corpus/$$t fuzz/corpus/$$t -- \
	    -max_total_time=$(FUZZ_SECONDS) -malloc_limit_mb=512 -rss_limit_mb=2048 -print_final_stats=1 2>&1 \
	    | grep -E "^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY|Done)" ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; done

FUZZ_TARGET ?= request_body
fuzz-long: fuzz-tools ## A long coverage-guided run of FUZZ_TARGET for FUZZ_SECONDS, growing fuzz/corpus/FUZZ_TARGET
	RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz $(FUZZ_TARGET) fuzz/corpus/$(FUZZ_TARGET) -- \
	  -max_total_time=$(FUZZ_SECONDS) -malloc_limit_mb=512 -rss_limit_mb=2048
	RUSTC_BOOTSTRAP=1 cargo fuzz cmin --fuzz-dir fuzz $(FUZZ_TARGET) fuzz/corpus/$(FUZZ_TARGET)

bench-estimator: ## Token estimator vs exact tokenizers (cl100k/o200k) on English, code, Chinese
	$(CARGO) test --release --test estimator_accuracy -- --nocapture

noop-filter: ## Build the benchmark's baseline filters: the no-op filter and the host-call floor
	$(CARGO) build --manifest-path benches/noop-filter/Cargo.toml --target wasm32-wasip1 --release
	$(CARGO) build --manifest-path benches/hostcalls-filter/Cargo.toml --target wasm32-wasip1 --release

BENCH_REPS ?= 5
BENCH_SECONDS ?= 4
bench-tools: ## Load generators for the Envoy benchmarks: wrk (apt) and oha 1.16.0 (open loop, cargo)
	@command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)
	@test -x $(TOOLS)/bin/oha || command -v oha >/dev/null || (echo "installing oha (open-loop load, a few minutes)"; \
	  $(CARGO) install oha --version 1.16.0 --locked --root $(TOOLS))

# The peer of `make bench-proxy` (BENCHMARKS.md, "The peer"): token usage metering as a Go proxy-wasm plugin on
# Higress's Go SDK, built with the machine's Go (1.26) for wasip1 from benches/peer-meter (go.mod/go.sum pin
# the SDK and gjson). Rebuilt only when its sources change.
PEER_WASM := target/peer/peer_meter.wasm
$(PEER_WASM): benches/peer-meter/main.go benches/peer-meter/go.mod benches/peer-meter/go.sum
	@command -v go >/dev/null || { echo "peer-tools: Go 1.24+ is needed (GOOS=wasip1 build of benches/peer-meter)"; exit 1; }
	@mkdir -p $(dir $@)
	cd benches/peer-meter && GOOS=wasip1 GOARCH=wasm go build -mod=readonly -buildmode=c-shared -o $(CURDIR)/$@ .
	@ls -l $@ | awk '{print "peer module: " $$5 " bytes"}'

peer-tools: $(PEER_WASM) ## Build the benchmark's peer: a Go proxy-wasm token meter on Higress's Go SDK (GOOS=wasip1, pinned in benches/peer-meter/go.mod)

bench-proxy: build noop-filter bench-tools fleet-tools peer-tools ## Side-by-side Envoy benchmark: no filter / no-op wasm / reads-only floor / host-call floor / the peer (Go wasm token meter) / distill-guard shadow / enforcing / enforcing with fleet-wide state (BASELINE=other.wasm adds another build)
	$(PY) benches/bench.py --fleet --reps $(BENCH_REPS) --seconds $(BENCH_SECONDS) $(if $(BASELINE),--baseline-wasm $(BASELINE))

bench-latency: build noop-filter bench-tools peer-tools ## Added p50 latency at a fixed low rate (2 KB) vs no filter and the reads-only floor, next to the peer, split by feature (detection, budgets, bare filter)
	$(PY) benches/latency_breakdown.py

bench-cost: build noop-filter bench-tools ## Proxy CPU per request at saturation, built up step by step: host calls alone, then distill-guard's features
	$(PY) benches/cost_breakdown.py

bench-smoke: build noop-filter peer-tools ## A few seconds of bench-proxy (one short rep), to keep the benchmark working
	@command -v wrk >/dev/null || (apt-get update && apt-get install -y wrk)
	$(PY) benches/bench.py --smoke --out target/bench-smoke.json

FOLDS ?= 0 1
intent-train: ## Retrain the request-intent model (tools/intent, standard-library Python, fixed seed) -> src/intent/weights.bin + tests/core/intent_vectors.json
	python3 tools/intent/train.py

intent-eval: ## Intent model precision/recall on held-out families (FOLDS="0 1") -> tools/intent/eval-fold*.md; with target/intent-prompts.jsonl also on the evaluation harness's prompts
	for f in $(FOLDS); do python3 tools/intent/train.py --eval --fold $$f || exit 1; done
	@if [ -f target/intent-prompts.jsonl ]; then python3 tools/intent/score.py --jsonl target/intent-prompts.jsonl --limit 16000 | tee target/intent-dump-eval.md; fi

bench-core: ## Micro-benchmarks of the core, natively (ns/op, MB/s): estimator, masking, phrase scan, inspect, decide, SSE
	$(CARGO) bench --bench core

valgrind-tool:
	@command -v valgrind >/dev/null || (apt-get update && apt-get install -y --no-install-recommends valgrind)

bench-instructions: valgrind-tool ## Instruction counts (callgrind) of the per-request core path vs benches/instructions.json
	python3 benches/instructions.py

bench-regress: valgrind-tool ## CI check: fails when instructions per 2 KB exchange or per SSE event grow > 10% over benches/instructions.json
	python3 benches/instructions.py --targets --check

bench-wasm: build noop-filter ## The module alone in V8 (node): µs and host calls per exchange, shared-data calls per request in steady state (simulated clock, by traffic shape), wasm heap flat once the ledger view is full (1M exchanges)
	python3 benches/wasm_bench.py

bench: bench-estimator bench-core bench-instructions bench-wasm bench-proxy bench-latency bench-cost ## All benchmarks (results go in BENCHMARKS.md)

clean: ## Remove build output
	$(CARGO) clean
