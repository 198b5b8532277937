"""`tinyflash bench`: instructions, flash and RAM per inference on emulated boards.

For each model, board and kernel set: generate a project (no self-test vectors), build it, run it
in QEMU with `-icount shift=0` and read

- instructions per inference: the harness's SysTick ticks around `tfl_invoke` times the
  instructions per tick the port reports (under -icount shift=0 one instruction is 1 ns, so 40
  at the MPS2's 25 MHz SysTick, 50 on the AN505 at 20 MHz, 31.25 on the AN547 at 32 MHz), so
  every count has a resolution of one tick (31-50 instructions) and is identical from run to
  run; per-op counts come from the LAYERS request the same way;
- flash from the linker map: text+rodata of the runtime library (interpreter + kernels), the
  kernels alone, the compiler support code the runtime pulls in (libgcc soft-float for prepare),
  the model array, and the whole image (text+data);
- RAM: planned arena and what the runtime used, runtime state (tensor and node arrays + the
  per-channel pool), data+bss, and the stack high-water mark: QEMU starts with zeroed RAM and
  the startup code does not touch the stack region, so after the runs the lowest non-zero byte
  of `.stack` (read through the QEMU monitor's memsave) marks the deepest stack use of the
  whole firmware (harness included). A pushed word that happens to be zero at the very bottom
  would be missed, so the figure is a lower bound that is exact to within a few bytes;
- MACs per inference (ModelInfo) and MACs per instruction;
- whether the device's outputs equal the tflite-micro Python runtime's exactly.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinyflash.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, TinyflashError, option

_TICK_UNIT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?) instructions\b")
KERNEL_SETS = ("portable", "dsp", "mve")
#: Runs a board's firmware somewhere and gives its serial URL: (board, elf) -> context manager.
Runner = Callable[[Any, Path], AbstractContextManager[str]]
RUNTIMES = ("tinyflash", "tflm")
TFLM_RUN_PREFIX = "tflm-"
#: A run of ahead-of-time generated layers (generate --aot) is labelled "<kernels>-aot".
AOT_SUFFIX = "-aot"

# TFLM's figures from issue 6 (Debian arm-none-eabi-gcc 12.2 -Os, QEMU 7.2 mps2-an386, Cortex-M4,
# instructions per inference counted by a TCG plugin): (reference kernels, CMSIS-NN, arena on M4).
TFLM_NUMBERS: dict[str, tuple[int, int, int]] = {
    "ad01_int8": (1_953_341, 583_896, 2_260),
    "kws_ref_model": (198_542_990, 7_581_889, 22_772),
    "pretrainedResnet_quant": (824_062_982, 29_783_361, 54_340),
}
# TFLM library code (text+rodata) for the kws op set: reference kernels, CMSIS-NN.
TFLM_KWS_CODE = (91_335, 144_366)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class OpCount:
    op_index: int
    op_name: str
    instructions: int
    macs: int
    macs_per_instruction: float = 0.0


@dataclass(frozen=True)
class CodeSize:
    """Bytes of text+rodata (+ data init) by origin, from the linker map."""

    runtime: int  # libruntime.a: interpreter + kernels
    kernels: int  # the op_*.o and tfl_kernel_*.o (shared helpers) members of libruntime.a
    support: int  # libgcc/libc code the image pulls in (mostly soft-float used by prepare)
    harness: int  # the verification harness (firmware/harness)
    model: int  # the model array
    image: int  # text + data of the ELF (what is flashed)


@dataclass(frozen=True)
class RamUse:
    arena_planned: int
    arena_used: int
    lower_bound: int
    runtime_state: int  # tensor array + node array + pool
    data_bss: int  # .data + .bss (includes arena and runtime state, not the stack)
    stack_reserved: int
    stack_peak: int | None  # high-water mark; None when it could not be read


@dataclass(frozen=True)
class BenchRun:
    model: str
    model_sha256: str
    board: str
    kernels: str  # "portable", "dsp" or "mve"; "tflm-generic" / "tflm-cmsis-nn" for a TFLM run
    instructions: int
    ticks: int
    tick_unit: str
    macs: int
    macs_per_instruction: float
    exact: bool  # outputs equal tflite-micro's bit for bit
    code: CodeSize
    ram: RamUse
    ops: tuple[OpCount, ...]
    build_seconds: float
    instructions_per_tick: float  # from the port's tick unit: 10^9 / SysTick clock
    repeat_instructions: tuple[int, ...]  # every timed invoke (identical under -icount)
    compress: str = "auto"  # generate --compress: "auto" (compressed weights where found) or "off"


@dataclass
class BenchResult:
    runs: list[BenchRun]
    command: str = ""
    notes: list[str] = field(default_factory=list)

    def find(self, model: str, board: str, kernels: str) -> BenchRun | None:
        for run in self.runs:
            if run.model == model and run.board == board and run.kernels == kernels:
                return run
        return None

    def ratios(self) -> list[dict[str, Any]]:
        """Per model and board: DSP/portable and both against TFLM's numbers (when known)."""
        rows: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        for run in self.runs:
            key = (run.model, run.board)
            if key in seen:
                continue
            seen.add(key)
            portable = self.find(run.model, run.board, "portable")
            dsp = self.find(run.model, run.board, "dsp")
            row: dict[str, Any] = {"model": run.model, "board": run.board}
            if portable and dsp:
                row["dsp_over_portable"] = dsp.instructions / portable.instructions
            mve = self.find(run.model, run.board, "mve")
            if dsp and mve:
                row["mve_over_dsp"] = mve.instructions / dsp.instructions
            ours = portable or dsp  # the arena ratios are tinyflash's, never a TFLM run's
            tflm = TFLM_NUMBERS.get(run.model)
            if tflm:
                ref, cmsis, arena = tflm
                if portable:
                    row["portable_over_tflm_reference"] = portable.instructions / ref
                if dsp:
                    row["dsp_over_tflm_cmsis_nn"] = dsp.instructions / cmsis
                if ours:
                    row["arena_over_tflm_arena"] = ours.ram.arena_planned / arena
            if ours and ours.ram.lower_bound:
                row["arena_over_lower_bound"] = ours.ram.arena_planned / ours.ram.lower_bound
            row.update(self.live_ratios(run.model, run.board))
            row.update(self.aot_ratios(run.model, run.board))
            rows.append(row)
        return rows

    def aot_ratios(self, model: str, board: str) -> dict[str, float]:
        """Ahead-of-time layers against the interpreter (bench --aot), per kernel set:
        instructions and flash image; and against TFLM + CMSIS-NN's instructions (issue 6)."""
        ratios: dict[str, float] = {}
        tflm = TFLM_NUMBERS.get(model)
        for kernels in KERNEL_SETS:
            aot = self.find(model, board, kernels + AOT_SUFFIX)
            interpreted = self.find(model, board, kernels)
            if aot and interpreted:
                ratios[f"{kernels}_aot_over_{kernels}_instructions"] = (
                    aot.instructions / interpreted.instructions
                )
                ratios[f"{kernels}_aot_over_{kernels}_flash"] = (
                    aot.code.image / interpreted.code.image
                )
            if aot and tflm and kernels == "dsp":
                ratios["dsp_aot_over_tflm_cmsis_nn"] = aot.instructions / tflm[1]
        return ratios

    def compare(self, reference: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Ratios of this run to a saved `bench --json` result (bench --compare): per run found
        in both (same model, board and kernels) instructions, image and arena, and per operator
        the instructions."""
        saved = {
            (r.get("model"), r.get("board"), r.get("kernels")): r
            for r in reference.get("runs", [])
            if isinstance(r, dict)
        }
        rows: list[dict[str, Any]] = []
        for run in self.runs:
            ref = saved.get((run.model, run.board, run.kernels))
            if ref is None:
                continue
            row: dict[str, Any] = {"model": run.model, "board": run.board, "kernels": run.kernels}
            row["instructions"] = _ratio(run.instructions, ref.get("instructions"))
            row["image"] = _ratio(run.code.image, (ref.get("code") or {}).get("image"))
            row["arena"] = _ratio(
                run.ram.arena_planned, (ref.get("ram") or {}).get("arena_planned")
            )
            ref_ops = {o.get("op_index"): o for o in ref.get("ops", []) if isinstance(o, dict)}
            row["ops"] = [
                {
                    "op_index": op.op_index,
                    "op_name": op.op_name,
                    "instructions": _ratio(
                        op.instructions, (ref_ops.get(op.op_index) or {}).get("instructions")
                    ),
                }
                for op in run.ops
            ]
            rows.append(row)
        return rows

    def live_ratios(self, model: str, board: str) -> dict[str, float]:
        """tinyflash over TFLM, both measured in this run (bench --runtime tinyflash,tflm):
        instructions, image (flash) and arena bytes (tinyflash's planned arena over the arena
        TFLM reported using on the device), for each pair of kernel sets."""
        runs = [r for r in self.runs if r.model == model and r.board == board]
        ratios: dict[str, float] = {}
        for ours in (r for r in runs if not r.kernels.startswith(TFLM_RUN_PREFIX)):
            for tflm in (r for r in runs if r.kernels.startswith(TFLM_RUN_PREFIX)):
                pair = f"{ours.kernels}_over_{tflm.kernels.replace('-', '_')}"
                ratios[f"{pair}_instructions"] = ours.instructions / tflm.instructions
                ratios[f"{pair}_flash"] = ours.code.image / tflm.code.image
                if tflm.ram.arena_used:
                    ratios[f"{pair}_arena"] = ours.ram.arena_planned / tflm.ram.arena_used
        return ratios

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "runs": [asdict(r) for r in self.runs],
            "ratios": self.ratios(),
            "notes": list(self.notes),
            "tflm": {
                k: {"reference": v[0], "cmsis_nn": v[1], "arena": v[2]}
                for k, v in TFLM_NUMBERS.items()
            },
            "tflm_kws_code": {"reference": TFLM_KWS_CODE[0], "cmsis_nn": TFLM_KWS_CODE[1]},
        }


def _ratio(value: float, reference: Any) -> float | None:
    """value / reference, None when the reference is missing or not a positive number."""
    if isinstance(reference, bool) or not isinstance(reference, (int, float)) or reference <= 0:
        return None
    return value / reference


def load_reference(path: Path) -> dict[str, Any]:
    """A saved `tinyflash bench --json` result, for --compare."""
    import json

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise TinyflashError(
            f"{option('compare')} {path} cannot be read as a saved bench result, the JSON bench writes ({error})",
            EXIT_BAD_INPUT,
        ) from error
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        raise TinyflashError(
            f"{option('compare')} {path} is not a saved bench result, the JSON bench writes (it has no runs list)",
            EXIT_BAD_INPUT,
        )
    return data


# ---- linker map ----------------------------------------------------------------------------

_MAP_ENTRY = re.compile(r"^\s(\.[^\s]+)?\s*0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)\s+(\S.*)$")
_MAP_SECTION = re.compile(r"^(\.[A-Za-z_][^\s]*)\s+0x([0-9a-fA-F]+)\s+0x([0-9a-fA-F]+)")


@dataclass(frozen=True)
class MapSizes:
    by_file: dict[str, int]  # input file -> bytes of allocated text/rodata/data
    sections: dict[str, tuple[int, int]]  # output section -> (address, size)
    symbols: dict[str, int]  # model array sizes etc.


def parse_map(path: Path) -> MapSizes:
    """Sizes per input file of the sections that occupy flash (.text*, .rodata*, .data*) in the
    memory-map part of a GNU ld map, and the output sections' addresses and sizes."""
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as error:
        raise TinyflashError(
            f"cannot read the linker map {path} ({error.strerror}); build the project again",
            EXIT_CHECK_FAILED,
        ) from error
    try:
        start = next(
            i for i, line in enumerate(lines) if line.startswith("Linker script and memory map")
        )
    except StopIteration:
        raise TinyflashError(
            f"{path} has no memory map section; is it a GNU ld map file?", EXIT_CHECK_FAILED
        ) from None
    by_file: dict[str, int] = {}
    sections: dict[str, tuple[int, int]] = {}
    pending: str | None = None
    for line in lines[start:]:
        top = _MAP_SECTION.match(line)
        if top:
            sections[top.group(1)] = (int(top.group(2), 16), int(top.group(3), 16))
            pending = None
            continue
        stripped = line.strip()
        if line.startswith(" .") and len(stripped.split()) == 1:
            pending = stripped  # a long input section name; the numbers follow on the next line
            continue
        entry = _MAP_ENTRY.match(line)
        if not entry:
            pending = None
            continue
        name = entry.group(1) or pending
        pending = None
        if name is None or not name.startswith((".text", ".rodata", ".data")):
            continue
        address, size, origin = int(entry.group(2), 16), int(entry.group(3), 16), entry.group(4)
        if address == 0 and name.startswith(".data"):
            continue
        if size:
            by_file[origin.strip()] = by_file.get(origin.strip(), 0) + size
    return MapSizes(by_file=by_file, sections=sections, symbols={})


def code_size(map_sizes: MapSizes, image_bytes: int, model_bytes: int) -> CodeSize:
    """Code by origin. TFLM's libraries (firmware/tflm/tflm_build.py: libtflm_core.a,
    libtflm_kernels.a, libtflm_cmsis-nn.a) count as the runtime, all but the core as kernels."""
    runtime = kernels = support = harness = 0
    for origin, size in map_sizes.by_file.items():
        if "libruntime.a(" in origin:
            runtime += size
            if "(op_" in origin or "(tfl_kernel_" in origin:  # kernels + their helpers
                kernels += size
        elif "/libtflm_" in origin and ".a(" in origin:
            runtime += size
            if "/libtflm_core.a(" not in origin:
                kernels += size
        elif "harness.a(" in origin or "/harness/" in origin or "/tflm_harness/" in origin:
            harness += size
        elif "libgcc.a(" in origin or "libc.a(" in origin or "libc_nano.a(" in origin:
            support += size
    return CodeSize(
        runtime=runtime,
        kernels=kernels,
        support=support,
        harness=harness,
        model=model_bytes,
        image=image_bytes,
    )


def instructions_per_tick(tick_unit: str, board_id: str) -> float:
    """Instructions per tick from the port's tick unit, e.g. "40 instructions (SysTick at 25 MHz,
    qemu -icount shift=0)" on MPS2, 50 on the AN505 (20 MHz), 31.25 on the AN547 (32 MHz)."""
    match = _TICK_UNIT.match(tick_unit)
    if not match:
        raise TinyflashError(
            f"board {board_id} reports ticks as {tick_unit!r}, not as "
            "instructions under qemu -icount; bench needs an emulated board",
            EXIT_CHECK_FAILED,
        )
    return float(match.group(1))


def _symbol_address(elf: Path, name: str) -> int | None:
    try:
        out = subprocess.run(
            ["arm-none-eabi-nm", str(elf)], check=True, capture_output=True, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    return None


def _stack_peak(stack: bytes) -> int:
    """Bytes used from the top of a zero-initialised, full-descending stack region."""
    arr = np.frombuffer(stack, dtype=np.uint8)
    nonzero = np.flatnonzero(arr)
    return 0 if nonzero.size == 0 else int(arr.size - nonzero[0])


def _run_on_qemu(
    board: Any,
    elf: Path,
    inputs: list[np.ndarray],
    repeats: int,
    stack_region: tuple[int, int] | None,
    workdir: Path,
    per_op: bool = True,
    stateful: bool = False,
    runner: Runner | None = None,
) -> tuple[list[np.ndarray], list[int], Any, Any, int | None]:
    from tinyflash.emulator import start_device
    from tinyflash.link import open_link

    with ExitStack() as stack:
        device = None
        if runner is None:
            device = stack.enter_context(start_device(board, elf, monitor=True))
            url = device.url
        else:  # a board elsewhere (a farm place): no QEMU monitor, so no stack high-water mark
            url = stack.enter_context(runner(board, elf))
        link = stack.enter_context(open_link(url, timeout=120.0))
        link.wait_banner()
        info = link.info()
        if not info.ready:
            raise TinyflashError(
                f"{elf} failed to initialise its model on {board.id}: "
                f"{info.init_status_name} at op {info.error_op}",
                EXIT_CHECK_FAILED,
            )
        if stateful:  # the boot self-test advanced the state: start from init, as TFLM does
            link.reset()
        outputs: list[np.ndarray] = []
        ticks: list[int] = []
        for _ in range(repeats):
            outs, t = link.invoke(inputs)
            outputs = [np.asarray(o) for o in outs]
            ticks.append(int(t))
        # TFLM's API has no per-operator hook: its harness streams no layers.
        layers = link.layers(inputs) if per_op else None
        peak: int | None = None
        if stack_region is not None and device is not None:
            address, size = stack_region
            dump = workdir / "stack.bin"
            with device.monitor() as monitor:
                # memsave reads through the CPU's view of memory (the AN505/AN547 map their
                # SRAM behind security aliases that pmemsave does not see).
                monitor.command(f'memsave 0x{address:x} 0x{size:x} "{dump}"')
            if dump.is_file() and dump.stat().st_size == size:
                peak = _stack_peak(dump.read_bytes())
        return outputs, ticks, info, layers, peak


# ---- the stage -----------------------------------------------------------------------------


def default_models() -> list[Path]:
    """examples/digits/digits_int8.tflite and the shared MLPerf Tiny models when present."""
    from tinyflash import resources

    root = resources.firmware_dir().parent
    models = [root / "examples" / "digits" / "digits_int8.tflite"]
    shared = root.parent / "shared" / "models"
    for name in ("ad01_int8", "kws_ref_model", "pretrainedResnet_quant"):
        if (shared / f"{name}.tflite").is_file():
            models.append(shared / f"{name}.tflite")
    return [m for m in models if m.is_file()]


def bench_one(
    model: Path,
    board_id: str,
    kernels: str,
    workdir: Path,
    *,
    repeats: int = 2,
    seed: int = 0,
    tflm_path: Path | None = None,
    runner: Runner | None = None,
    aot: bool = False,
    patches: str = "off",
    patch_overhead: float = 1.25,
    compress: str = "auto",
) -> BenchRun:
    """Generates, builds and runs `model` on `board_id` with one kernel set, or with TFLM from
    the tree `tflm_path` when given (the run's kernels are then "tflm-FLAVOUR"). `aot`: the
    project is generated with ahead-of-time layers (its kernels are "KERNELS-aot"). `compress`:
    generate's --compress (compressed weights in flash, "auto", or all dense, "off")."""
    from tinyflash.pipeline import Pipeline
    from tinyflash.reference import TFLMReference
    from tinyflash.verify import load_inputs

    pipeline = Pipeline.start(model, board_id)
    info, board = pipeline.model.info, pipeline.board
    options: dict[str, Any] = {
        "kernels": kernels,
        "patches": patches,
        "patch_overhead": patch_overhead,
        "compress": compress,
    }
    plan_kernels = kernels
    if aot:
        options["aot"] = True
        kernels += AOT_SUFFIX
    if tflm_path is not None:
        from tinyflash.tflm_tree import inspect_tree

        kernels = TFLM_RUN_PREFIX + inspect_tree(tflm_path).flavour
        options = {"runtime": "tflm", "tflm_path": tflm_path}
    suffix = "" if patches == "off" else f"-patches-{patches}"
    suffix += "-dense" if compress == "off" else ""
    project = workdir / f"{model.stem}-{board_id}-{kernels}{suffix}"
    generated = pipeline.generate(project, force=True, selftest=0, **options)
    try:
        build = pipeline.build(generated.project_dir)
    except TinyflashError:
        # PlatformIO registers symlinked platforms in its shared core folder; builds started at
        # the same moment by other processes can briefly see it missing (UnknownPlatform).
        # A real build error fails the second time too.
        time.sleep(2.0)
        build = pipeline.build(generated.project_dir)
    map_sizes = parse_map(build.map)
    reserved = map_sizes.sections.get(".stack")
    stack_top = _symbol_address(build.elf, "__stack_top")
    # The stack grows down from __stack_top (end of RAM); .stack only reserves its size.
    stack = (stack_top - reserved[1], reserved[1]) if reserved and stack_top else None
    sample = load_inputs(info, None, 1, seed)[0]
    outputs, ticks, device, layers, peak = _run_on_qemu(
        board,
        build.elf,
        sample,
        repeats,
        stack,
        project,
        per_op=tflm_path is None,
        stateful=info.stateful,
        runner=runner,
    )
    # The device ran the sample `repeats` times: a model with state (an LSTM's, SVDF's) carries it
    # from one invoke to the next, so TFLM runs the same sequence and the last outputs compare.
    reference = TFLMReference(bytes(info.data))
    for _ in range(max(repeats, 1)):
        expected = reference.run(sample)
    exact = all(
        np.array_equal(
            np.asarray(o).reshape(-1).astype(np.int64), np.asarray(e).reshape(-1).astype(np.int64)
        )
        for o, e in zip(outputs, expected)
    )
    # the DSP kernels take arena scratch; TFLM plans its own arena (generated.arena_bytes)
    plan = pipeline.model.for_kernels("portable" if tflm_path else plan_kernels).plan
    # ... and patches plan the arena generate used (generated.arena_bytes too)
    arena = int(generated.arena_bytes) if tflm_path or patches != "off" else int(plan.arena_bytes)
    from tinyflash.platformio import symbol_sizes

    symbols = symbol_sizes(build.elf, board)
    ident = generated.identifier
    state = sum(symbols.get(f"{ident}_{part}", 0) for part in ("tensors", "nodes", "pool"))
    macs_by_op = [op.macs for op in info.ops]
    per_tick = instructions_per_tick(device.tick_unit, board_id)
    instructions = round(ticks[-1] * per_tick)
    ops = tuple(
        _op_count(r.op_index, r.op_name, round(r.ticks * per_tick), macs_by_op)
        for r in (layers.ops if layers is not None else ())
    )
    return BenchRun(
        model=model.stem,
        model_sha256=info.sha256,
        board=board_id,
        kernels=kernels,
        instructions=instructions,
        ticks=ticks[-1],
        tick_unit=device.tick_unit,
        macs=int(info.total_macs),
        macs_per_instruction=(info.total_macs / instructions) if instructions else 0.0,
        exact=exact,
        code=code_size(map_sizes, build.size.flash_used, build.model_bytes or info.size_bytes),
        ram=RamUse(
            arena_planned=arena,
            arena_used=int(device.arena_used),
            lower_bound=int(plan.lower_bound),
            runtime_state=state,
            data_bss=build.data + build.bss,
            stack_reserved=stack[1] if stack else 0,
            stack_peak=peak,
        ),
        ops=ops,
        build_seconds=round(build.seconds, 1),
        instructions_per_tick=per_tick,
        repeat_instructions=tuple(round(t * per_tick) for t in ticks),
        compress=compress if tflm_path is None else "off",
    )


def _op_count(index: int, name: str, instructions: int, macs_by_op: Sequence[int]) -> OpCount:
    macs = macs_by_op[index] if 0 <= index < len(macs_by_op) else 0
    return OpCount(index, name, instructions, macs, macs / instructions if instructions else 0.0)


def layer_table(runs: Sequence[BenchRun]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the per-operator table (bench --layers): instructions, MACs and MACs
    per instruction of every operator of every run."""
    header = ["model", "kernels", "op", "name", "instr.", "MACs", "MAC/instr"]
    rows = [
        [
            run.model,
            run.kernels,
            str(op.op_index),
            op.op_name,
            f"{op.instructions:,}",
            f"{op.macs:,}",
            f"{op.macs_per_instruction:.3f}" if op.macs else "-",
        ]
        for run in runs
        for op in run.ops
    ]
    return header, rows


def table(runs: Sequence[BenchRun], wide: bool = False) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the terminal table for runs on one board. The default columns fit an
    80-column terminal (instructions, MAC/instr, runtime code, arena and stack peak in bytes,
    exact); `wide` adds MACs, kernel, model and image bytes and the runtime state, as `--json`."""
    header = [
        "model",
        "kernels",
        "instr.",
        "MAC/instr",
        "code B",
        *(["kernels B", "model B", "image B", "MACs"] if wide else []),
        "arena B" if wide else "arena",
        *(["state B"] if wide else []),
        "stack B" if wide else "stack",
        "exact",
    ]
    rows: list[list[str]] = []
    for run in runs:
        stack = "?" if run.ram.stack_peak is None else f"{run.ram.stack_peak:,}"
        rows.append(
            [
                run.model,
                run.kernels + (" dense" if run.compress == "off" else ""),
                f"{run.instructions:,}",
                f"{run.macs_per_instruction:.3f}",
                f"{run.code.runtime:,}",
                *(
                    [
                        f"{run.code.kernels:,}",
                        f"{run.code.model:,}",
                        f"{run.code.image:,}",
                        f"{run.macs:,}",
                    ]
                    if wide
                    else []
                ),
                f"{run.ram.arena_planned:,}",
                *([f"{run.ram.runtime_state:,}"] if wide else []),
                stack,
                "yes" if run.exact else "NO",
            ]
        )
    return header, rows


def bench(
    models: Sequence[Path],
    boards: Sequence[str],
    kernel_sets: Sequence[str],
    *,
    workdir: Path | None = None,
    repeats: int = 2,
    progress: Progress | None = None,
    runtimes: Sequence[str] = ("tinyflash",),
    tflm_path: Path | None = None,
    runner: Runner | None = None,
    aot_modes: Sequence[bool] = (False,),
    patches: str = "off",
    patch_overhead: float = 1.25,
    compress_modes: Sequence[str] = ("auto",),
) -> BenchResult:
    """Every model x board x kernel set (x compress mode: "auto" compressed weights where
    found, "off" all dense, reported as "KERNELS dense"); boards without DSP skip the dsp set
    (noted). With
    "tflm" in `runtimes`, each model and board also runs on TFLM from the tree `tflm_path`.
    `aot_modes`: run the tinyflash projects interpreted (False) and/or with ahead-of-time layers
    (True, bench --aot).
    `runner` (board, elf) -> a context manager giving the serial URL of a board running elf (a
    farm place, say); default: QEMU here. `patches`, `patch_overhead`: generate's options for the
    tinyflash runs."""
    from tinyflash.boards import board_spec, load_board

    if not models:
        raise TinyflashError(
            "no models to benchmark: give .tflite files, or run from a checkout "
            "with examples/digits/digits_int8.tflite",
            EXIT_BAD_INPUT,
        )
    for kernels in kernel_sets:
        if kernels not in KERNEL_SETS:
            raise TinyflashError(
                f"{option('kernels')} takes portable, dsp and/or mve, not {kernels!r}",
                EXIT_BAD_INPUT,
            )
    for model in models:
        if not Path(model).is_file():
            raise TinyflashError(
                f"{model} does not exist; give the path of an int8 .tflite", EXIT_BAD_INPUT
            )
    for runtime in runtimes:
        if runtime not in RUNTIMES:
            raise TinyflashError(
                f"{option('runtime')} takes tinyflash and/or tflm, not {runtime!r}",
                EXIT_BAD_INPUT,
            )
    if "tflm" in runtimes and tflm_path is None:
        raise TinyflashError(
            f"{option('runtime')} tflm needs {option('tflm_path')} DIR (a TFLM tree exported "
            "with create_tflm_tree.py)",
            EXIT_BAD_INPUT,
        )
    if tflm_path is not None:
        from tinyflash.tflm_tree import inspect_tree

        inspect_tree(tflm_path)  # a bad tree fails before any build
    if repeats < 1:
        raise TinyflashError(
            f"{option('repeats')} must be at least 1, not {repeats}", EXIT_BAD_INPUT
        )
    for mode in compress_modes:
        if mode not in ("auto", "off"):
            raise TinyflashError(
                f"{option('compress')} takes auto and/or off, not {mode!r}", EXIT_BAD_INPUT
            )
    result = BenchResult(runs=[])
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="tinyflash-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    for board_id in boards:
        board = load_board(board_id)
        if not board.emulated:
            raise TinyflashError(
                f"board '{board_id}' is not emulated; bench runs on QEMU boards "
                "(see `tinyflash boards`)",
                EXIT_BAD_INPUT,
            )
        has_dsp, has_mve = board_spec(board).dsp, board_spec(board).mve
        for model in models:
            if "tflm" in runtimes:
                if progress:
                    progress(f"{Path(model).stem} on {board_id} (TFLM from {tflm_path})")
                result.runs.append(
                    bench_one(
                        Path(model),
                        board_id,
                        "portable",
                        work,
                        repeats=repeats,
                        tflm_path=tflm_path,
                        runner=runner,
                    )
                )
            for kernels in kernel_sets if "tinyflash" in runtimes else ():
                if kernels == "dsp" and not has_dsp:
                    note = f"{board_id} has no DSP extension: dsp kernels skipped"
                    if note not in result.notes:
                        result.notes.append(note)
                    continue
                if kernels == "mve" and not has_mve:
                    note = f"{board_id} has no Helium (MVE) extension: mve kernels skipped"
                    if note not in result.notes:
                        result.notes.append(note)
                    continue
                for aot, mode in [(a, m) for a in aot_modes for m in compress_modes]:
                    if progress:
                        label = kernels + (AOT_SUFFIX if aot else "")
                        progress(f"{Path(model).stem} on {board_id} ({label}, compress {mode})")
                    result.runs.append(
                        bench_one(
                            Path(model),
                            board_id,
                            kernels,
                            work,
                            repeats=repeats,
                            runner=runner,
                            aot=aot,
                            patches=patches,
                            patch_overhead=patch_overhead,
                            compress=mode,
                        )
                    )
    return result
