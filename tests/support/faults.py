"""Planted kernel faults: tests that check `verify` catches and locates a wrong kernel generate a
vendored project (`generate --vendor`) and edit one kernel source in it."""

from __future__ import annotations

from pathlib import Path


def plant_fault(project: Path, source_name: str, exact: str, replacement: str) -> None:
    """Replaces the one occurrence of `exact` in the project's `source_name` by `replacement`;
    fails (naming the file) when the source no longer has exactly one."""
    sources = list(Path(project).rglob(source_name))
    assert len(sources) == 1, f"{source_name}: {len(sources)} copies in {project}"
    text = sources[0].read_text()
    assert text.count(exact) == 1, f"{source_name} changed; update the planted fault"
    sources[0].write_text(text.replace(exact, replacement))
