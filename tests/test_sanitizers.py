"""The sanitizer wiring cannot silently be off: tiny C programs with a planted bug are built with
the exact flags and environment of the suite's host C builds (support/runtime_build.py's
SANITIZE_CFLAGS and SAN_ENV: the runner of the runtime/kernel/mutation tests and the harness test
firmware; and the libFuzzer targets' own) and must be caught —
ASan for an out-of-bounds heap read and an out-of-bounds stack read, UBSan for a signed overflow
and a misaligned load. The same programs without the bug exit 0, so each check can fail both ways.
The real cached runner binary is also checked for ASan/UBSan instrumentation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support import runtime_host
from support.runtime_build import ASAN_EXIT, SAN_ENV, SANITIZE_CFLAGS

sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))
import fuzzlib  # noqa: E402

PLANTED = r"""
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  /* argv[1]: which bug; argv[2]: "0" = stay in bounds, "1" = plant it. The index comes from the
   * command line so the compiler cannot see (or remove) the bug. */
  int plant = argc > 2 ? atoi(argv[2]) : 0;
  const char *which = argc > 1 ? argv[1] : "heap";
  volatile int sink = 0;
  /* Sizes and pointers the compiler cannot see through, so the read is left to ASan (UBSan's
   * bounds/object-size checks would otherwise report it first). */
  size_t size = 16u + (size_t)(argc > 3);
  if (strcmp(which, "heap") == 0) {
    uint8_t *volatile block = (uint8_t *)malloc(size);
    memset(block, 1, size);
    sink = block[15 + plant]; /* one byte past a 16-byte heap block */
    free(block);
  } else if (strcmp(which, "stack") == 0) {
    uint8_t local[16];
    uint8_t *volatile p = local;
    memset(local, 2, sizeof local);
    sink = p[15 + plant];
  } else if (strcmp(which, "overflow") == 0) {
    int32_t big = INT32_MAX - 1;
    sink = big + (plant ? 2 : 1);
  } else if (strcmp(which, "misaligned") == 0) {
    static uint32_t words[4] = {1, 2, 3, 4};
    const uint8_t *bytes = (const uint8_t *)words;
    sink = (int)*(const uint32_t *)(const void *)(bytes + (plant ? 1 : 4));
  }
  printf("survived %d\n", sink);
  return 0;
}
"""

FLAG_SETS = {"host_builds": (SANITIZE_CFLAGS, SAN_ENV, ASAN_EXIT)}

EXPECT = {
    "heap": "heap-buffer-overflow",
    "stack": "stack-buffer-overflow",
    "overflow": "signed integer overflow",
    "misaligned": "misaligned address",
}


def _build(cc: str, flags: list[str], tmp_path: Path) -> Path:
    src = tmp_path / "planted.c"
    src.write_text(PLANTED)
    exe = tmp_path / "planted"
    proc = subprocess.run([cc, *flags, str(src), "-o", str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return exe


@pytest.mark.parametrize("flag_set", sorted(FLAG_SETS))
@pytest.mark.parametrize("bug", sorted(EXPECT))
def test_planted_bug_is_caught(flag_set: str, bug: str, tmp_path: Path) -> None:
    flags, san_env, exit_code = FLAG_SETS[flag_set]
    exe = _build("gcc", flags, tmp_path)
    env = dict(os.environ, **san_env)
    clean = subprocess.run(
        [str(exe), bug, "0"], capture_output=True, text=True, env=env, timeout=60
    )
    assert clean.returncode == 0 and "survived" in clean.stdout, clean.stderr
    planted = subprocess.run(
        [str(exe), bug, "1"], capture_output=True, text=True, env=env, timeout=60
    )
    assert planted.returncode == exit_code, (planted.returncode, planted.stdout, planted.stderr)
    assert EXPECT[bug] in planted.stderr
    assert "survived" not in planted.stdout  # -fno-sanitize-recover: the program stopped there


def test_the_real_runner_is_instrumented() -> None:
    """The cached host runner every runtime test executes carries ASan and UBSan."""
    exe = runtime_host.build_runner()
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm (binutils) is not installed")
    symbols = subprocess.run([nm, str(exe)], capture_output=True, text=True, check=True).stdout
    assert "__asan_report_load" in symbols or "__asan_load" in symbols
    assert "__ubsan_handle_" in symbols


def test_planted_bug_is_caught_in_a_fuzz_target(tmp_path: Path) -> None:
    """A libFuzzer target built with the fuzz flags reports a planted out-of-bounds read on the
    first input that reaches it (and runs clean on inputs that do not)."""
    try:
        cc = fuzzlib.clang()
    except fuzzlib.FuzzUnavailable as error:
        pytest.skip(str(error))
    src = tmp_path / "target.c"
    src.write_text(r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *copy = (uint8_t *)malloc(size + 1u);
  memcpy(copy, data, size);
  volatile uint8_t sink = 0;
  if (size >= 2 && data[0] == 'O' && data[1] == 'B') sink = copy[size + 1u]; /* planted */
  (void)sink;
  free(copy);
  return 0;
}
""")
    exe = tmp_path / "target"
    proc = subprocess.run(
        [cc, *fuzzlib.CFLAGS, str(src), "-o", str(exe)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_bytes(b"OK fine")
    bad.write_bytes(b"OB oops")
    env = dict(os.environ, **fuzzlib.SAN_ENV)
    clean = subprocess.run(
        [str(exe), str(good)], capture_output=True, text=True, env=env, timeout=60
    )
    assert clean.returncode == 0, clean.stderr
    caught = subprocess.run(
        [str(exe), str(bad)], capture_output=True, text=True, env=env, timeout=60
    )
    assert caught.returncode != 0
    assert "heap-buffer-overflow" in caught.stderr
