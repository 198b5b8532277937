"""Writes tests/durations.json: each test file's seconds, summed from a pytest JUnit report.

    .ci/run leaves build/test-results.xml behind; then
    .venv/bin/python scripts/test_durations.py build/test-results.xml

tests/conftest.py orders the files longest first with it, so the two xdist workers finish close
together. Seconds are rounded to whole numbers; only the order matters.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def file_seconds(report: Path) -> dict[str, float]:
    totals: dict[str, float] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        parts = case.get("classname", "").split(".")
        # "tests.test_x" or "tests.test_x.TestClass": the module is the first test_* part
        module = next((i for i, part in enumerate(parts) if part.startswith("test_")), None)
        if module is None:
            continue
        file = "/".join(parts[: module + 1]) + ".py"
        totals[file] = totals.get(file, 0.0) + float(case.get("time", "0") or 0)
    return totals


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    totals = file_seconds(Path(argv[1]))
    ordered = {file: round(totals[file]) for file in sorted(totals, key=lambda f: -totals[f])}
    (REPO / "tests" / "durations.json").write_text(json.dumps(ordered, indent=1) + "\n")
    print(f"tests/durations.json: {len(ordered)} files, {sum(totals.values()):.0f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
