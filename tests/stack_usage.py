"""Worst-case stack of the firmware, from the compiler: every C file of a generated project's
firmware (runtime, every kernel, harness, the board's port, the generated src/*.c) is compiled
with arm-none-eabi-gcc and the board's own flags (those of firmware/platform/builder/main.py:
-Os -mcpu -mthumb -mfloat-abi [-mfpu], -ffunction-sections, TFL_USE_DSP/TFL_USE_MVE from the board) plus
-fcallgraph-info=su, which writes each function's frame size and its calls (.ci files). The
bound is the deepest call path from the reset handler, plus the deepest interrupt handler path on
top of it with the exception frame the core pushes.

Rules (conservative):
- an indirect call (kernel prepare/eval through the op table, the per-op hook) may reach any
  function whose address is taken: every defined function that no one calls directly and that is
  not an entry point — all kernels' prepare/eval, the harness's layer hook; an indirect call made
  inside a kernel file (a helper's row/element callback) reaches the address-taken functions of
  kernel files except the kernels' prepare/eval (named by TFL_DEFINE_KERNEL);
- a called function the build does not define (libgcc/newlib: memcpy, memset, __aeabi_*) counts
  EXTERNAL_FRAME bytes: those are leaf routines that save a few registers;
- "dynamic" frames (alloca/VLAs) and recursion are refused: the runtime has neither.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from support.runtime_build import runtime_sources

REPO = Path(__file__).resolve().parents[1]
FIRMWARE = REPO / "firmware"
PORT_SOURCE_DIRS = {
    "mps2": ["cortexm", "cmsdk", "mps2"],
    "mps3": ["cortexm", "cmsdk", "mps3"],
    "microbit": ["cortexm", "microbit"],
}
ENTRY = "tfl_reset_handler"
HANDLERS = ("tfl_systick_handler",)  # the fault handler ends the program
EXTERNAL_FRAME = 64
SUBGRAPH_ENTRY = "tfl_invoke_subgraph"  # runs another subgraph inside the calling op
#: bytes the core pushes on exception entry: 8 words, or 26 with the FP context (lazy stacking
#: reserves it whenever the FPU is on), plus 4 for alignment
EXCEPTION_FRAME = {False: 36, True: 108}

_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
_FRAME = re.compile(r"\\n(\d+) bytes \(([a-z,]+)\)")
_TITLE = re.compile(r'graph: \{ title: "([^"]+)"')  # the compile unit: its source file


@dataclass
class StackBound:
    board: str
    bound: int  # bytes: thread path + exception frame + handler path
    thread_bytes: int
    handler_bytes: int
    exception_frame: int
    path: list[str]  # deepest thread-mode call chain
    functions: int
    frames: dict[str, int]  # function -> own frame bytes


def board_flags(board: dict) -> list[str]:
    tf = board["tinyflash"]
    flags = [
        "-std=c99",
        "-Os",
        "-ffunction-sections",
        "-fdata-sections",
        f"-mcpu={board['build']['cpu']}",
        "-mthumb",
        f"-mfloat-abi={tf.get('float_abi', 'soft')}",
        f"-DTFL_USE_DSP={1 if tf.get('kernels') in ('dsp', 'mve') else 0}",
        f"-DTFL_USE_MVE={1 if tf.get('kernels') == 'mve' else 0}",
        "-DTFL_BOARD_HOST=0",
    ]
    if tf.get("fpu"):
        flags.append(f"-mfpu={tf['fpu']}")
    return flags


def _board_header(board_id: str, tf: dict) -> str:
    lines = [
        "#ifndef TFL_PORT_BOARD_H",
        "#define TFL_PORT_BOARD_H",
        f'#define TFL_BOARD_ID "{board_id}"',
        '#define TFL_PORT_TICK_UNIT "tick"',
    ]
    if "uart_base" in tf:
        lines.append(f"#define TFL_PORT_UART_BASE {int(str(tf['uart_base']), 0)}ul")
    if "uart_clock_hz" in tf:
        lines.append(f"#define TFL_PORT_UART_CLOCK_HZ {int(tf['uart_clock_hz'])}ul")
    return "\n".join(lines + ["#endif", ""])


def compile_callgraph(board_id: str, project_src: Path, work: Path) -> tuple[list[Path], bool]:
    """Compiles everything with -fcallgraph-info=su into `work`; returns the .ci files and
    whether the board has an FPU."""
    board = json.loads((REPO / "boards" / f"{board_id}.json").read_text())
    tf = board["tinyflash"]
    port = tf["port"]
    if port not in PORT_SOURCE_DIRS:
        raise ValueError(f"board {board_id} (port {port}) is not a bare-metal Cortex-M board")
    gen = work / "gen"
    gen.mkdir(parents=True, exist_ok=True)
    (gen / "tfl_port_board.h").write_text(_board_header(board_id, tf))
    runtime = FIRMWARE / "runtime"
    sources = runtime_sources()
    sources += sorted((FIRMWARE / "harness" / "src").glob("*.c"))
    for d in PORT_SOURCE_DIRS[port]:
        sources += sorted((FIRMWARE / "ports" / d).glob("*.c"))
    sources += sorted(project_src.glob("*.c"))
    includes = [
        f"-I{p}"
        for p in (
            runtime / "include",
            runtime / "src",
            FIRMWARE / "harness" / "include",
            FIRMWARE / "harness" / "src",
            FIRMWARE / "ports" / "include",
            FIRMWARE / "ports" / "cortexm",
            gen,
            project_src,
        )
    ]
    flags = board_flags(board) + _project_wz_flags(project_src.parent / "platformio.ini")

    def one(i_src: tuple[int, Path]) -> Path:
        i, src = i_src
        obj = work / f"{i:03d}_{src.stem}.o"
        proc = subprocess.run(
            [
                "arm-none-eabi-gcc",
                *flags,
                *includes,
                "-fcallgraph-info=su",
                "-c",
                str(src),
                "-o",
                str(obj),
            ],
            capture_output=True,
            text=True,
            cwd=work,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"compiling {src} for {board_id} failed:\n{proc.stderr[-3000:]}")
        return obj.with_suffix(".ci")

    with ThreadPoolExecutor(max_workers=2) as pool:
        cis = list(pool.map(one, enumerate(sources)))
    return cis, bool(tf.get("fpu"))


def _is_kernel_file(source: str) -> bool:
    return "/runtime/src/kernels/" in source


# The kernel-object macros (tfl_kernel.h, tfl_kernel_lut8.h, tfl_kernel_lut16.h): for each, which
# of its arguments name the object's prepare/eval/reset, or how it names them from its first one.
_KERNEL_MACROS: dict[str, Callable[[list[str]], list[str]]] = {
    "TFL_DEFINE_KERNEL": lambda a: a[3:5],
    "TFL_DEFINE_KERNEL16": lambda a: a[3:5],
    "TFL_DEFINE_KERNEL_RESET": lambda a: a[3:6],
    "TFL_DEFINE_MAP16_KERNEL": lambda a: [a[3], f"{a[0]}_eval"],
    "TFL_DEFINE_LOGISTIC_TANH": lambda a: [f"{a[0]}_prepare", f"{a[0]}_eval", "tfl_lut16_eval"],
    # the prepare alone, called by name by ahead-of-time layers (tfl_aot.h)
    "TFL_DEFINE_PREPARE": lambda a: [f"tfl_prepare_{a[0]}"],
}
# a kernel object written out: `static const tfl_kernel name = {code, "NAME", prepare, eval, reset};`
_KERNEL_OBJECT = re.compile(r"tfl_kernel\s+\w+\s*=\s*\{([^}]*)\}")


def _kernel_entry_points() -> set[str]:
    """Names of every kernel's prepare, eval and reset function (only the interpreter calls them,
    through the op table), from the kernel objects the kernel files define."""
    names: set[str] = set()
    for source in (FIRMWARE / "runtime" / "src" / "kernels").glob("*.c"):
        text = source.read_text()
        for macro, pick in _KERNEL_MACROS.items():
            for args in re.findall(rf"\b{macro}\(([^;]*)\)\s*;", text):
                names.update(pick([x.strip() for x in args.split(",")]))
        for fields in _KERNEL_OBJECT.findall(text):
            fields = re.sub(
                r"TFL_EVAL16\((\w+)\)", r"\1", fields
            )  # the eval, or NULL without int16
            names.update(x.strip() for x in fields.split(",")[2:])
    names.discard("NULL")
    return names


def analyse(board_id: str, cis: list[Path], fpu: bool, max_subgraphs: int = 4) -> StackBound:
    frames: dict[str, int] = {}
    calls: dict[str, set[str]] = {}
    short: dict[str, list[str]] = {}  # plain name -> titles (to resolve cross-file externals)
    source_of: dict[str, str] = {}  # title -> the source file defining it
    for ci in cis:
        text = ci.read_text()
        unit = _TITLE.search(text)
        for title, label in _NODE.findall(text):
            m = _FRAME.search(label)
            if m is None:
                continue  # declared, not defined in this file
            if "dynamic" in m.group(2):
                raise ValueError(f"{title} has a dynamic stack frame ({label})")
            frames[title] = int(m.group(1))
            source_of[title] = unit.group(1) if unit else title
            short.setdefault(title.rsplit(":", 1)[-1], []).append(title)
        for src, dst in _EDGE.findall(text):
            calls.setdefault(src, set()).add(dst)
    called = {dst for targets in calls.values() for dst in targets}
    # the runtime's public API (tfl_runtime.h) is called by name, never through a pointer
    api = set(
        re.findall(r"\b(tfl_\w+)\(", (FIRMWARE / "runtime/include/tfl_runtime.h").read_text())
    )
    entries = {ENTRY, *HANDLERS, "tfl_fault_handler", "main", *api}
    indirect_targets = sorted(
        f for f in frames if f not in called and f.rsplit(":", 1)[-1] not in entries
    )
    # Inside a kernel, function pointers are the kernel helpers' row/element callbacks
    # (tfl_broadcast_run, tfl_q4_map): they reach the address-taken functions of kernel files other
    # than the kernels' own prepare/eval, which only the interpreter calls (through the op table).
    kernel_entries = _kernel_entry_points()
    callback_targets = [
        f
        for f in indirect_targets
        if _is_kernel_file(source_of[f]) and f.rsplit(":", 1)[-1] not in kernel_entries
    ]

    def resolve(name: str, caller: str = "") -> list[str]:
        if name == "__indirect_call":
            return (
                callback_targets if _is_kernel_file(source_of.get(caller, "")) else indirect_targets
            )
        if name in frames:
            return [name]
        return short.get(name, [])  # an external defined in another file (non-static)

    # A subgraph runs inside the op that calls it (CALL_ONCE -> tfl_invoke_subgraph -> the
    # interpreter's op loop -> kernels), and a running subgraph is refused: the nesting is at most
    # max_subgraphs - 1 levels deep. `level` counts them, so that path is bounded, not recursion.
    memo: dict[tuple[str, int], tuple[int, list[str]]] = {}
    active: set[tuple[str, int]] = set()

    def deepest(fn: str, level: int = 0) -> tuple[int, list[str]]:
        key = (fn, level)
        if key in memo:
            return memo[key]
        if key in active:
            raise ValueError(f"recursion through {fn}")
        active.add(key)
        best, best_path = 0, []
        enters_subgraph = fn.rsplit(":", 1)[-1] == SUBGRAPH_ENTRY
        if not enters_subgraph or level + 1 < max_subgraphs:
            inner = level + 1 if enters_subgraph else level
            for callee in sorted(calls.get(fn, ())):
                targets = resolve(callee, fn)
                if not targets:
                    depth = EXTERNAL_FRAME
                    path = [f"{callee} (external, {EXTERNAL_FRAME} B allowed)"]
                else:
                    depth, path = max((deepest(t, inner) for t in targets), key=lambda dp: dp[0])
                if depth > best:
                    best, best_path = depth, path
        active.discard(key)
        result = (frames[fn] + best, [f"{fn.rsplit(':', 1)[-1]} ({frames[fn]} B)"] + best_path)
        memo[key] = result
        return result

    entry = resolve(ENTRY)
    if not entry:
        raise ValueError(f"{ENTRY} is not defined in the build")
    thread, path = deepest(entry[0])
    handler = max((deepest(t)[0] for h in HANDLERS for t in resolve(h)), default=0)
    frame = EXCEPTION_FRAME[fpu]
    return StackBound(
        board=board_id,
        bound=thread + frame + handler,
        thread_bytes=thread,
        handler_bytes=handler,
        exception_frame=frame,
        path=path,
        functions=len(frames),
        frames=frames,
    )


def stack_bound(board_id: str, project_src: Path, work: Path) -> StackBound:
    cis, fpu = compile_callgraph(board_id, project_src, work)
    return analyse(board_id, cis, fpu, _max_subgraphs(project_src.parent / "platformio.ini"))


def _project_wz_flags(platformio_ini: Path) -> list[str]:
    """The project's compressed-weight options (generate sets TFL_WITH_WZ=0 for a dense model,
    else the decode buffer TFL_WZ_STACK_BYTES, which lives on the stack)."""
    text = platformio_ini.read_text() if platformio_ini.is_file() else ""
    return re.findall(r"-DTFL_W(?:ITH_WZ|Z_STACK_BYTES)=\d+", text)


def _max_subgraphs(platformio_ini: Path) -> int:
    """The project's TFL_MAX_SUBGRAPHS (generate sets the model's count), else tfl_config.h's 4."""
    text = platformio_ini.read_text() if platformio_ini.is_file() else ""
    found = re.search(r"-DTFL_MAX_SUBGRAPHS=(\d+)", text)
    return int(found.group(1)) if found else 4
