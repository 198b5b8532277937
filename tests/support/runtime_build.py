"""The one recipe for building the C runtime in tests: which sources make it up, which headers a
build depends on, the sanitizer flags and environment of host builds, and a lock so that
parallel test processes (pytest-xdist workers, two checkouts) build a shared output only once.

    from support.runtime_build import runtime_sources, build_inputs_digest, build_lock
    srcs = runtime_sources()                 # src/*.c + op_<k>.c per listed kernel + helpers
    srcs = runtime_sources(["conv_2d"])      # only some kernels (the harness's op table)
    key = build_inputs_digest(srcs + extra, flags)  # changes when any source or header does
    with build_lock(out_dir):                # the first process builds, the others wait, reuse
        if not exe.is_file(): ...

The kernel list is firmware/runtime/include/tfl_kernels.h (TFL_KERNEL(name, ...) lines); a kernel
whose op_<name>.c is missing is an error here, never a skipped test.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
RUNTIME = FIRMWARE / "runtime"
HARNESS = FIRMWARE / "harness"
PORTS = FIRMWARE / "ports"

#: gcc flags of every sanitized host build (runner, harness, planted-bug check in test_sanitizers)
SANITIZE_CFLAGS = [
    "-std=c99",
    "-O1",
    "-g",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
]
#: exit code of a sanitizer report: chosen so that it can never be mistaken for a runtime status
ASAN_EXIT = 86
SAN_ENV = {
    "ASAN_OPTIONS": f"detect_leaks=0:exitcode={ASAN_EXIT}:abort_on_error=0",
    "UBSAN_OPTIONS": f"halt_on_error=1:print_stacktrace=1:exitcode={ASAN_EXIT}",
}

_KERNEL_LINE = re.compile(r"^\s*TFL_KERNEL\(\s*(\w+)\s*,", re.MULTILINE)


def kernel_names() -> list[str]:
    """Lower-case kernel names listed in tfl_kernels.h, in order."""
    return _KERNEL_LINE.findall((RUNTIME / "include" / "tfl_kernels.h").read_text())


def runtime_sources(kernels: Iterable[str] | None = None) -> list[Path]:
    """The runtime's C files: src/*.c, op_<name>.c for each kernel (default: every kernel listed
    in tfl_kernels.h), and the kernels' shared helpers (src/kernels/tfl_kernel_*.c).
    Raises FileNotFoundError when a named kernel has no source file."""
    names = kernel_names() if kernels is None else list(kernels)
    ops = [RUNTIME / "src" / "kernels" / f"op_{name}.c" for name in names]
    missing = [str(p.relative_to(REPO)) for p in ops if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"kernels without a source file: {missing}")
    srcs = sorted((RUNTIME / "src").glob("*.c")) + ops
    srcs += sorted((RUNTIME / "src" / "kernels").glob("tfl_kernel_*.c"))
    return srcs


def runtime_headers() -> list[Path]:
    """Every header a runtime build includes (public and internal)."""
    return sorted((RUNTIME / "include").glob("*.h")) + sorted((RUNTIME / "src").rglob("*.h"))


def build_inputs_digest(files: Sequence[Path], texts: Sequence[str] = ()) -> str:
    """16 hex digits over the files' repository paths and bytes and the given texts (flags,
    generated code): the cache key of a build output directory."""
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode())
        h.update(b"\0")
    for path in files:
        name = path.relative_to(REPO) if path.is_relative_to(REPO) else path
        h.update(str(name).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


@contextmanager
def build_lock(target: Path) -> Iterator[None]:
    """An exclusive lock (flock on `<target>.lock`) held while `target` is built or checked:
    a second process waits, then finds the finished output. The kernel drops the lock when the
    holder exits, so a killed build never leaves it held."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f"{target.name}.lock"
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
