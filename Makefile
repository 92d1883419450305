# stackscope — the two commands a newcomer needs are `make run` and `make test`.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
CARGO ?= cargo
STACKSCOPE := target/debug/stackscope
OUT ?= out

.PHONY: run test build fmt fmt-check clippy crds crds-check unit render validate toolchain

## run: render the example MachineAvatars stack offline and show what it produced.
run: toolchain build
	$(STACKSCOPE) validate -f examples/machineavatars
	rm -rf $(OUT)
	$(STACKSCOPE) render -f examples/machineavatars -o $(OUT)
	@echo
	@echo "Rendered objects per component:"
	@for dir in $(OUT)/*/*/; do printf '  %-28s %s\n' "$${dir#$(OUT)/}" "$$(ls "$$dir" | wc -l)"; done
	@echo
	@echo "Prometheus scrape jobs:"
	@grep -ho 'job_name: serviceMonitor/[^ ]*' -r $(OUT) | sed 's/^/  /' || true

## test: everything CI checks — formatting, lints, CRD staleness, all tests.
test: toolchain fmt-check clippy crds-check unit

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

## crds: regenerate crds/ from the Rust types.
crds: build
	$(STACKSCOPE) crds -o crds

## crds-check: fail when crds/ differs from what the Rust types generate.
crds-check: crds
	@git diff --exit-code -- crds || { echo "crds/ is stale: run 'make crds' and commit the result" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- crds)" || { git status --porcelain -- crds; echo "crds/ has untracked or changed files: run 'make crds' and commit" >&2; exit 1; }

unit:
	$(CARGO) test --workspace --no-fail-fast 2>&1 | tee target/test-output.txt
	@echo "== test summary =="
	@grep -E '^test result:' target/test-output.txt | awk '{p+=$$4; f+=$$6} END {printf "%d passed, %d failed\n", p, f}'
