"""Short, bounded passes of the three fuzz targets (tests/fuzz/, docs/security.md) plus a replay
of every committed corpus input and saved regression input.

Each target fuzzes for SHORT_SECONDS (15 s; libFuzzer's -max_total_time, plus up to ~10 s to
load the seeds and corpus) on a scratch copy of its corpus, so the committed corpus is not
changed; the long runs are `make fuzz FUZZ_SECONDS=600`. A crash, a sanitizer report, a leak or an
input slower than 10 s fails the test with libFuzzer's report. C targets need clang with
libFuzzer and skip without it; the Python target needs atheris (pip, dev extra)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))
import fuzzlib  # noqa: E402

SHORT_SECONDS = 15


def _available(target: str) -> None:
    if target in fuzzlib.C_TARGETS:
        try:
            fuzzlib.clang()
        except fuzzlib.FuzzUnavailable as error:
            pytest.skip(str(error))
    else:
        pytest.importorskip("atheris", reason="atheris is not installed (pip install atheris)")


def _saved_inputs(target: str) -> list[Path]:
    return sorted(
        p
        for d in (fuzzlib.CORPUS / target, fuzzlib.REGRESSIONS / target)
        if d.is_dir()
        for p in d.iterdir()
        if p.is_file()
    )


@pytest.mark.parametrize("target", fuzzlib.TARGETS)
def test_short_fuzz_pass(target: str) -> None:
    _available(target)
    res = fuzzlib.run(target, SHORT_SECONDS, merge=False)
    print(
        f"\n{target}: {res.executions} executions in {SHORT_SECONDS} s, coverage {res.coverage} "
        f"edges / {res.features} features"
    )
    assert not res.crashes, f"{target}: finding saved as {res.crashes}\n{res.log[-6000:]}"
    assert res.returncode == 0, res.log[-6000:]
    assert res.executions > 100, res.log[-3000:]


@pytest.mark.parametrize("target", fuzzlib.TARGETS)
def test_saved_inputs_replay_clean(target: str) -> None:
    _available(target)
    inputs = _saved_inputs(target)
    if not inputs:
        pytest.skip(f"no saved inputs for {target} yet")
    proc = fuzzlib.replay(target, inputs)
    assert proc.returncode == 0, proc.stderr[-6000:]
    assert proc.stderr.count("Executed ") == len(inputs)


def test_regressions_are_named_by_target() -> None:
    """Regression inputs live in tests/fuzz/regressions/<target>/ for a target that exists."""
    if not fuzzlib.REGRESSIONS.is_dir():
        pytest.skip("no regression inputs")
    for d in fuzzlib.REGRESSIONS.iterdir():
        assert d.name in fuzzlib.TARGETS, d
