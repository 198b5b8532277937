"""Bounded stack (docs/security.md): the firmware's worst-case stack, computed from the compiler's
call graph and frame sizes (-fcallgraph-info=su, tests/stack_usage.py) for every bare-metal board,
stays below codegen.RUNTIME_STACK_BYTES, which stays below what each board's linker script
reserves; and a stack-painting measurement on QEMU (tinyflash bench: RAM starts zeroed, the
lowest non-zero byte of .stack after init + invoke + LAYERS is the high-water mark) stays below
the computed bound, so the bound is not an under-estimate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from stack_usage import PORT_SOURCE_DIRS, StackBound, stack_bound
from tinyflash.codegen import RUNTIME_STACK_BYTES

REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO / "examples" / "digits" / "digits_int8.tflite"


def bare_metal_boards() -> list[str]:
    out = []
    for path in sorted((REPO / "boards").glob("*.json")):
        tf = json.loads(path.read_text()).get("tinyflash", {})
        if tf.get("port") in PORT_SOURCE_DIRS:
            out.append(path.stem)
    return out


_bounds: dict[str, StackBound] = {}


def bound_for(board: str, tmp_path_factory: pytest.TempPathFactory) -> StackBound:
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc is not installed (scripts/bootstrap-system.sh)")
    if board not in _bounds:
        from tinyflash.codegen import generate

        work = tmp_path_factory.mktemp(f"stack-{board}")
        project = generate(DIGITS, board, work / "project", selftest=1).project_dir
        _bounds[board] = stack_bound(board, project / "src", work / "ci")
    return _bounds[board]


@pytest.mark.slow
@pytest.mark.parametrize("board", bare_metal_boards())
def test_static_stack_bound_fits(board: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    result = bound_for(board, tmp_path_factory)
    tf = json.loads((REPO / "boards" / f"{board}.json").read_text())["tinyflash"]
    reserved = tf["stack_bytes"]
    floor = RUNTIME_STACK_BYTES[tf.get("kernels", "portable")]
    print(
        f"\n{board}: worst case {result.bound} B = thread {result.thread_bytes} + exception "
        f"frame {result.exception_frame} + handler {result.handler_bytes} "
        f"({result.functions} functions); reserved {reserved} B\n  " + " -> ".join(result.path)
    )
    assert result.functions > 100  # the whole firmware was analysed, not a stub
    assert result.path[0].startswith("tfl_reset_handler") and any(
        "tfl_init" in p for p in result.path
    )
    # what the linker reserves covers the worst case, and so does codegen's figure for the kernel
    # set (the budget's stack line is max(reserve, that figure))
    assert result.bound <= reserved, (
        f"{board}: the firmware may need {result.bound} B of stack "
        f"but the linker script reserves {reserved} B"
    )
    assert result.bound <= floor, (
        f"{board}: the firmware may need {result.bound} B of stack; raise RUNTIME_STACK_BYTES"
    )


def test_budget_counts_at_least_the_runtime_stack() -> None:
    from tinyflash.codegen import ram_budget

    for dsp, kernels in ((False, "portable"), (True, "dsp")):
        budget = ram_budget(
            arena_bytes=100,
            pool_words=1,
            tensor_count=2,
            node_count=1,
            stack_bytes=256,
            limit=None,
            dsp=dsp,
        )
        stack = [line for line in budget.lines if line.name == "stack"]
        assert stack and stack[0].bytes == RUNTIME_STACK_BYTES[kernels]
        big = ram_budget(
            arena_bytes=100,
            pool_words=1,
            tensor_count=2,
            node_count=1,
            stack_bytes=16384,
            limit=None,
            dsp=dsp,
        )
        assert [line.bytes for line in big.lines if line.name == "stack"] == [16384]


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize("board", ["mps2-an386", "mps2-an385", "mps3-an547"])
def test_qemu_stack_peak_is_below_the_bound(
    board: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    from tinyflash.bench import bench_one

    bound = bound_for(board, tmp_path_factory)
    kernels = json.loads((REPO / "boards" / f"{board}.json").read_text())["tinyflash"]["kernels"]
    run = bench_one(DIGITS, board, kernels, tmp_path_factory.mktemp(f"bench-{board}"), repeats=1)
    peak = run.ram.stack_peak
    print(
        f"\n{board}: measured stack peak {peak} B (painted .stack of {run.ram.stack_reserved} B), "
        f"static bound {bound.bound} B"
    )
    assert peak is not None and peak > 64  # something was measured
    assert peak <= bound.bound
    # the DSP kernels' scratch is planned in the arena: what the plan reserves is what the device
    # reports as used (one number), and it is no longer on the stack
    assert run.ram.arena_used == run.ram.arena_planned
