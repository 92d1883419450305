#!/usr/bin/env bash
# Mutation testing of what .cargo/mutants.toml names (the renderers, validation, the controller's
# decisions), in two passes so that it finishes in hours rather than days on two cores:
#   1. every mutant against the operator's own unit tests (`cargo test -p stackscope --lib`);
#   2. the mutants pass 1 missed, again against the offline conformance suites of the tests crate
#      (the document's values at their paths, promtool's evaluation of every alert) and the
#      operator's integration tests (the CLI's bad-input cases).
# Then writes mutants/summary.md and mutants/missed.txt with the commit measured.
#
#   tools/mutants.sh                      everything .cargo/mutants.toml names
#   tools/mutants.sh -f 'operator/src/drift.rs' -f 'operator/src/validate/**'   a part (globs)
#   MUTANTS_SUMMARY_ONLY=1 tools/mutants.sh   rewrite the summary from the last run's outcomes
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
version=27.1.0
prefix="${STACKSCOPE_TOOLS:-$HOME/.cache/stackscope/tools}/cargo-mutants"
out="${MUTANTS_OUT:-$root/target/mutants}"
report="$root/mutants"

if [[ "$("$prefix/bin/cargo-mutants" --version 2>/dev/null)" != "cargo-mutants $version" ]]; then
    echo "installing cargo-mutants $version" >&2
    cargo install --locked --quiet --root "$prefix" cargo-mutants --version "$version"
fi
export PATH="$prefix/bin:$PATH"

files=()
while getopts "f:" option; do
    case "$option" in
        f) files+=(--file "$OPTARG") ;;
        *) echo "usage: $0 [-f GLOB]..." >&2; exit 2 ;;
    esac
done
if [[ ${#files[@]} -gt 0 ]]; then
    # cargo-mutants adds --file globs to the config's examine_globs instead of narrowing them: a
    # part is examined without the config, whose other settings are repeated here.
    files+=(--no-config --profile mutants --minimum-test-timeout 120
        --exclude '**/tests.rs' --exclude '**/tests/**' --exclude '**/fixtures.rs')
fi

if [[ -z "${MUTANTS_SUMMARY_ONLY:-}" ]]; then
    mkdir -p "$out"
    # Pass 1: every mutant, the unit tests only. Exit status 2 means "some missed": expected here.
    nice -n 10 cargo mutants --no-shuffle -j 1 --output "$out" "${files[@]}" -- --lib || [[ $? -eq 2 || $? -eq 3 ]]
    cp "$out/mutants.out/outcomes.json" "$out/pass1-outcomes.json"
    # Pass 2: what pass 1 missed (--iterate), against the broader offline suites.
    nice -n 10 cargo mutants --no-shuffle -j 1 --output "$out" --iterate "${files[@]}" \
        --test-package stackscope --test-package stackscope-tests -- \
        --lib --test seed_settings --test alert_behaviour --test cli --test properties \
        || [[ $? -eq 2 || $? -eq 3 ]]
fi

mkdir -p "$report"
python3 "$root/tools/mutants_summary.py" "$out" "$report" "$(git rev-parse --short HEAD)"
