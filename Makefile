# stackscope — the two commands a newcomer needs are `make run` and `make test`.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
STACKSCOPE := target/debug/stackscope
OUT ?= out

# The integration tests run their own control plane, apart from the one `make run` leaves up;
# the end-to-end tests another one (they install the CRDs through Helm, as users do).
TEST_STATE ?= $(HOME)/.cache/stackscope/control-plane-test
E2E_STATE ?= $(HOME)/.cache/stackscope/control-plane-e2e
# The live tests' node (tools/node.sh, with a control plane of its own; tests/src/node.rs).
NODE_TEST_STATE ?= $(HOME)/.cache/stackscope/node-test
# Generated from the Rust types, the same files in both.
CRD_DIRS := crds charts/stackscope/crds

.PHONY: mutants node node-stop run stop render test build fmt fmt-check clippy crds crds-check unit e2e tools toolchain scale bench bench-live

## run: the local cluster with a real node, stackscope installed from its chart in its own image,
## the example stack running in pods over the stand-in services, targets up, an alert delivered,
## a trace found, drift corrected (tools/demo.sh). Needs root, as the node does.
run: toolchain
	tools/demo.sh

## stop: stop the node and the control plane `make run` started (the operator runs in a pod there).
stop:
	tools/node.sh stop

## node: the local control plane with a real node (containerd, kubelet, kube-proxy, CoreDNS):
## pods run, from images built without a container engine. Needs root. See tools/NODE.md.
node:
	tools/node.sh start >/dev/null
	tools/node.sh status

## node-stop: stop the node and its control plane, and remove everything the node made.
node-stop:
	tools/node.sh stop

## render: the offline half: validate and render the example into $(OUT)/ without a cluster.
render: toolchain build
	$(STACKSCOPE) validate -f examples/machineavatars
	rm -rf $(OUT)
	$(STACKSCOPE) render -f examples/machineavatars -o $(OUT)
	@for dir in $(OUT)/*/*/; do printf '  %-28s %s\n' "$${dir#$(OUT)/}" "$$(ls "$$dir" | wc -l)"; done

## scale: stackscope and prometheus-operator (built pinned from its Go module) side by side against
## a local control plane of their own with 1k and 10k ServiceMonitors: cold start, change → config
## latency, API requests, CPU and peak RSS. Slow (tens of minutes), so not part of `test`. Writes
## bench/results/scale-<commit>.json and the table in bench/README.md; SCALE_ARGS passes options
## (e.g. SCALE_ARGS="--sizes 1000 --changes 20").
SCALE_STATE ?= $(HOME)/.cache/stackscope/control-plane-scale
scale: toolchain
	$(CARGO) build --release -p stackscope -p stackscope-bench --bins
	tools/build-tools.sh control-plane prometheus-operator >/dev/null
	STACKSCOPE_SCALE_STATE="$(SCALE_STATE)" target/release/scale \
		--prometheus-operator "$$(tools/build-tools.sh --print-path prometheus-operator)/operator" $(SCALE_ARGS)

## tools: build the pinned control plane, the engines the tests judge the output with, helm, the
## node and the binaries of its images, once.
tools:
	tools/build-tools.sh all node images >/dev/null

## test: everything CI checks — formatting, lints, CRD staleness, all tests (the operator's
## against a real control plane) and the end-to-end install paths.
test: toolchain fmt-check clippy crds-check tools unit e2e

toolchain:
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
	@rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy

build:
	$(CARGO) build -p stackscope

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## crds: regenerate crds/ and the chart's charts/stackscope/crds/ from the Rust types.
crds: build
	$(STACKSCOPE) crds $(addprefix -o ,$(CRD_DIRS))

## crds-check: fail when crds/ or the chart's CRDs differ from what the Rust types generate.
crds-check: crds
	@git diff --exit-code -- $(CRD_DIRS) || { echo "$(CRD_DIRS) are stale: run 'make crds' and commit the result" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- $(CRD_DIRS))" || { git status --porcelain -- $(CRD_DIRS); echo "$(CRD_DIRS) have untracked or changed files: run 'make crds' and commit" >&2; exit 1; }

## e2e: the install paths end to end against a control plane of their own (stopped afterwards):
## the Helm chart installed, upgraded and uninstalled, with the operator running from the host
## as the chart's ServiceAccount.
e2e: toolchain build
	@mkdir -p target
	@status=0; STACKSCOPE_STATE="$(E2E_STATE)" $(CARGO) test -p stackscope-e2e --no-fail-fast 2>&1 | tee target/e2e-output.txt || status=$$?; \
	STACKSCOPE_STATE="$(E2E_STATE)" tools/control-plane.sh stop >/dev/null 2>&1 || true; \
	echo "== e2e summary =="; \
	grep -E '^test result:' target/e2e-output.txt | awk '{p+=$$4; f+=$$6; i+=$$8} END {printf "%d passed, %d failed, %d ignored\n", p, f, i}'; \
	exit $$status

unit:
	@mkdir -p target
	@status=0; STACKSCOPE_STATE="$(TEST_STATE)" STACKSCOPE_NODE_STATE="$(NODE_TEST_STATE)" $(CARGO) test --workspace --exclude stackscope-e2e --no-fail-fast 2>&1 | tee target/test-output.txt || status=$$?; \
	STACKSCOPE_STATE="$(TEST_STATE)" tools/control-plane.sh stop >/dev/null 2>&1 || true; \
	STACKSCOPE_STATE="$(NODE_TEST_STATE)" tools/node.sh stop >/dev/null 2>&1 || true; \
	echo "== test summary =="; \
	grep -E '^test result:' target/test-output.txt | awk '{p+=$$4; f+=$$6; i+=$$8} END {printf "%d passed, %d failed, %d ignored\n", p, f, i}'; \
	exit $$status

## mutants: cargo-mutants over the renderers, validation and the controller's decisions, summary in
## mutants/ (summary.md, missed.txt) with the commit measured. Hours on two cores; MUTANTS_ARGS
## picks files (e.g. MUTANTS_ARGS="-f operator/src/drift.rs").
mutants: toolchain
	tools/mutants.sh $(MUTANTS_ARGS)

## bench-live: on the stack `make run` leaves running, how long a ServiceMonitor change takes to
## become an active Prometheus target (operator, kubelet volume refresh, config reload); writes
## bench/results/live-<short commit>.json. BENCH_LIVE_ARGS passes options (e.g. --changes 20).
bench-live: toolchain
	$(CARGO) run --release -p stackscope-bench --bin live-latency -- $(BENCH_LIVE_ARGS)

## bench: criterion benchmarks of resolve+render (100 … 50k monitors), the incremental re-render
## and serialization; writes bench/results/render-<short commit>.json (a few minutes).
bench: toolchain
	$(CARGO) bench -p stackscope-bench --bench render
	$(CARGO) run --release -p stackscope-bench --bin bench-report -- target/criterion bench/results
