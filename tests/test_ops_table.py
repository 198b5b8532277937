"""docs/ops.md and toolchain/tinyflash/ops_table.json agree with the code (issue 15).

- The tinyflash column, the test column and the markdown are regenerated from the probe models
  (scripts/ops_table.py) and the runtime as it is now; any difference fails with the command
  that regenerates the files.
- The TFLM column is the committed result of probing every model with tflite-micro (a few
  seconds, but it spawns a child process); a sample of rows, drawn with a printed seed, is
  probed again here and must give the same verdicts, so a new tflite-micro or a changed probe
  model shows up.
- `tinyflash ops --json` prints the same rows.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

import ops_table  # noqa: E402

from tinyflash import ops as opstable  # noqa: E402

REGENERATE = ".venv/bin/python scripts/ops_table.py"
SAMPLE = int(os.environ.get("TINYFLASH_OPS_SAMPLE", "24"))


@pytest.fixture(scope="module")
def committed() -> tuple[dict, list[opstable.OpRow]]:
    return opstable.load_table()


def test_table_and_docs_match_the_code(committed) -> None:
    meta, old = committed
    by_key = {(r.op, r.types): r.tflm for r in old}
    probes = ops_table.probes()
    missing = [(p.op, p.types) for p in probes if (p.op, p.types) not in by_key]
    assert not missing, f"probes without a committed TFLM verdict: {missing[:5]} — run {REGENERATE}"
    _, rows = ops_table.build_rows([by_key[(p.op, p.types)] for p in probes])
    changed = [(a, b) for a, b in zip(old, rows) if a != b]
    assert len(old) == len(rows) and not changed, (
        f"ops_table.json disagrees with the runtime/tests (first: {changed[:2]}) — run {REGENERATE}"
    )
    text = opstable.render_markdown(rows, meta)
    assert (REPO / "docs" / "ops.md").read_text() == text, (
        f"docs/ops.md is stale — run {REGENERATE}"
    )


def test_tflm_verdicts_hold_on_a_sample(committed) -> None:
    _, old = committed
    by_key = {(r.op, r.types): r.tflm for r in old}
    probes = [p for p in ops_table.probes() if not p.generic]
    seed = random.randrange(2**32)
    print(f"sample seed={seed}")
    rng = random.Random(seed)
    # always the rows of the kernels this issue adds, plus a random sample of the rest
    fixed = [p for p in probes if p.op in ("ARG_MAX", "ARG_MIN")]
    rest = [p for p in probes if p not in fixed]
    sample = fixed + rng.sample(rest, min(SAMPLE, len(rest)))
    verdicts = ops_table.tflm_verdicts([p.model for p in sample])
    wrong = [
        (p.op, p.types, by_key[(p.op, p.types)], v)
        for p, v in zip(sample, verdicts)
        if by_key[(p.op, p.types)] != v
    ]
    assert not wrong, f"seed={seed}: TFLM verdicts changed (op, types, committed, now): {wrong}"


def test_every_runtime_kernel_has_a_yes_row_with_a_test(committed) -> None:
    _, rows = committed
    kernels = opstable.runtime_kernels()
    yes = {r.op for r in rows if r.tinyflash}
    assert set(kernels) == yes, f"kernels without a yes row: {set(kernels) - yes}"
    untested = sorted({r.op for r in rows if r.tinyflash and not r.test})
    assert not untested, f"kernels whose test the table cannot name: {untested}"
    for r in rows:
        assert r.code == ops_table.BUILTIN_OPS[r.op]


def test_tinyflash_runs_only_what_tflm_runs(committed) -> None:
    """A yes for tinyflash where TFLM says no would be a kernel nobody can check bit-exactly."""
    _, rows = committed
    odd = [(r.op, r.types, r.tflm) for r in rows if r.tinyflash and r.tflm != opstable.TFLM_YES]
    assert not odd, odd


def test_cli_prints_the_table(committed) -> None:
    meta, rows = committed
    exe = REPO / ".venv" / "bin" / "tinyflash"
    proc = subprocess.run([str(exe), "ops", "--json"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["rows"] == [opstable.asdict(r) for r in rows]
    assert data["summary"]["both_yes"] == sum(r.tinyflash and r.tflm == "yes" for r in rows)
    text = subprocess.run(
        [str(exe), "ops", "--op", "ARG_MAX"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, COLUMNS="200"),
    ).stdout
    assert "int8 -> int32 (int32 axis)" in text and "test_arg_max_min_match_tflm" in text
    bad = subprocess.run(
        [str(exe), "ops", "--op", "NOT_AN_OP"], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 2 and "NOT_AN_OP is not a TFLite builtin operator" in bad.stderr
