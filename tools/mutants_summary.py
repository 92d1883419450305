#!/usr/bin/env python3
"""The summary of a tools/mutants.sh run: per file caught, missed, timeouts and unviable mutants,
the overall caught ratio, and every missed mutant, with the commit measured.

usage: mutants_summary.py OUT_DIR[:OUT_DIR...] REPORT_DIR COMMIT
Several output directories (runs over different parts) are read together.
Pass 1's outcomes (OUT_DIR/pass1-outcomes.json) are overridden by pass 2's (the --iterate run
over what pass 1 missed, OUT_DIR/mutants.out/outcomes.json)."""

import json
import sys
from collections import defaultdict
from pathlib import Path

# What the issue asks to hold at zero missed: the document's values, validation, drift and apply.
MUST_CATCH = (
    "operator/src/render/rules/",
    "operator/src/render/alertmanager/",
    "operator/src/validate/",
    "operator/src/schema.rs",
    "operator/src/drift.rs",
    "operator/src/controller/apply.rs",
)
COLUMNS = ("CaughtMutant", "MissedMutant", "Timeout", "Unviable")


def outcomes(path):
    if not path.exists():
        return {}
    found = {}
    for outcome in json.loads(path.read_text())["outcomes"]:
        scenario = outcome["scenario"]
        if isinstance(scenario, dict) and "Mutant" in scenario:
            mutant = scenario["Mutant"]
            key = (mutant["file"], mutant["name"])
            found[key] = outcome["summary"]
    return found


def main():
    outs, report, commit = [Path(p) for p in sys.argv[1].split(":")], Path(sys.argv[2]), sys.argv[3]
    final = {}
    for out in outs:
        final.update(outcomes(out / "pass1-outcomes.json"))
        pass2 = out / "mutants.out" / "outcomes.json"
        if pass2.exists() and (
            not (out / "pass1-outcomes.json").exists()
            or pass2.read_bytes() != (out / "pass1-outcomes.json").read_bytes()
        ):
            final.update(outcomes(pass2))
    if not final:
        sys.exit(f"no outcomes under {out}: run tools/mutants.sh first")

    per_file = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    missed = []
    for (file, name), summary in sorted(final.items()):
        if summary in COLUMNS:
            per_file[file][summary] += 1
        if summary == "MissedMutant":
            missed.append((file.startswith(MUST_CATCH), name))
    caught = sum(row["CaughtMutant"] for row in per_file.values())
    missed_count = sum(row["MissedMutant"] for row in per_file.values())
    timeouts = sum(row["Timeout"] for row in per_file.values())
    viable = caught + missed_count + timeouts
    ratio = caught / viable if viable else 0.0
    must_missed = [name for must, name in missed if must]

    lines = [
        f"# Mutation testing at {commit}",
        "",
        "`tools/mutants.sh` (cargo-mutants over what `.cargo/mutants.toml` names; pass 1 the unit",
        "tests, pass 2 the offline conformance suites on what pass 1 missed).",
        "",
        f"- mutants tested: {len(final)} ({viable} viable)",
        f"- caught: {caught}, missed: {missed_count}, timeouts: {timeouts} (a timeout counts as caught by",
        "  cargo-mutants' reading, not here)",
        f"- caught ratio: {ratio:.1%}",
        f"- missed in the document's values, validation, drift and apply: {len(must_missed)}",
        "",
        "| file | caught | missed | timeout | unviable |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for file, row in sorted(per_file.items()):
        lines.append(f"| `{file}` | " + " | ".join(str(row[column]) for column in COLUMNS) + " |")
    (report / "summary.md").write_text("\n".join(lines) + "\n")
    (report / "missed.txt").write_text(
        "".join(f"{'MUST ' if must else '     '}{name}\n" for must, name in missed)
    )
    print("\n".join(lines[5:10]))


if __name__ == "__main__":
    main()
