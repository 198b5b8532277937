"""Board manifests (boards/<id>.json): PlatformIO's board-manifest format plus a `tinyflash` object.

PlatformIO reads `build`, `upload`, `name`, `url`, `vendor`, `frameworks`; tinyflash adds:

    "tinyflash": {
      "port": "mps2",            # firmware/ports/<port>/ (mps2, mps3, microbit, host, arduino, ...)
      "kernels": "dsp",          # "portable" or "dsp" (Cortex-M DSP extension kernels)
      "flash": "qemu",           # how firmware is run/flashed: "qemu", "exec" (host), "platformio"
      "qemu_machine": "mps2-an386",   # required when flash is "qemu"
      "serial": "CMSDK APB UART0 at 0x40004000, 115200 8N1 (QEMU -serial)",
      "tick_unit": "40 instructions (SysTick at 25 MHz, qemu -icount shift=0)",
      "stack_bytes": 16384,      # stack reserved by the linker script (counts against RAM)
      "uart_base": "0x40004000", "uart_clock_hz": 25000000, "float_abi": "hard", "fpu": "...",
      "platform": "nordicnrf52"  # optional: a PlatformIO platform name instead of tinyflash's own
    }
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError
from tinyflash.records import field_dict
from tinyflash.resources import boards_dir as _default_boards_dir

KERNEL_SETS = ("portable", "dsp")
FLASH_METHODS = ("qemu", "exec", "platformio")
_TYPE_NAMES = {int: "an integer", str: "a string", list: "a list", dict: "an object"}


@dataclass(frozen=True)
class Board:
    """One board manifest. `flash_bytes`/`ram_bytes` are PlatformIO's upload.maximum_size and
    upload.maximum_ram_size."""

    id: str
    name: str
    vendor: str
    url: str
    cpu: str
    mcu: str
    f_cpu: int
    flash_bytes: int
    ram_bytes: int
    port: str
    kernels: str
    flash_method: str
    qemu_machine: str | None
    serial: str
    tick_unit: str
    stack_bytes: int
    platform: str | None
    frameworks: tuple[str, ...]
    manifest_path: Path
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @property
    def emulated(self) -> bool:
        return self.flash_method == "qemu"

    @property
    def is_host(self) -> bool:
        return self.port == "host"

    @property
    def uses_dsp(self) -> bool:
        return self.kernels == "dsp"

    def as_dict(self) -> dict[str, Any]:
        return field_dict(self, skip=("raw",), rename={"manifest_path": "manifest"})


def _bad(path: Path, field_name: str, problem: str) -> TinyflashError:
    return TinyflashError(
        f"board manifest {path}: field '{field_name}' {problem}; fix the manifest "
        "(docs/boards.md lists every field).",
        EXIT_BAD_INPUT,
    )


def _get(
    data: dict[str, Any],
    path: Path,
    dotted: str,
    kind: type | tuple[type, ...],
    required: bool = True,
    default: Any = None,
) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            if required:
                raise _bad(path, dotted, "is missing")
            return default
        node = node[part]
    if kind is int and isinstance(node, bool) or not isinstance(node, kind):
        kinds = (kind,) if isinstance(kind, type) else kind
        names = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        raise _bad(path, dotted, f"must be {names}, not {node!r}")
    if isinstance(node, str) and required and not node.strip():
        raise _bad(path, dotted, "is empty")
    return node


def _positive_int(data: dict[str, Any], path: Path, dotted: str) -> int:
    value = _get(data, path, dotted, int)
    if value <= 0:
        raise _bad(path, dotted, f"must be a positive number of bytes, not {value}")
    return value


def _parse_f_cpu(value: str | int, path: Path) -> int:
    text = str(value).strip().rstrip("Ll")
    try:
        hz = int(text, 0)
    except ValueError:
        raise _bad(
            path, "build.f_cpu", f'must be a frequency like "25000000L", not {value!r}'
        ) from None
    if hz <= 0:
        raise _bad(path, "build.f_cpu", f"must be positive, not {value!r}")
    return hz


def parse_board(path: Path) -> Board:
    """Reads and validates one manifest file; the board id is the file name without .json."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TinyflashError(
            f"board manifest {path} does not exist; run `tinyflash boards` "
            "to list the known boards.",
            EXIT_BAD_INPUT,
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TinyflashError(
            f"board manifest {path} is not valid JSON ({error}); fix the file.", EXIT_BAD_INPUT
        ) from None
    if not isinstance(data, dict):
        raise TinyflashError(
            f"board manifest {path} must hold a JSON object; fix the file.", EXIT_BAD_INPUT
        )

    frameworks = _get(data, path, "frameworks", list)
    if not all(isinstance(f, str) for f in frameworks):
        raise _bad(path, "frameworks", "must be a list of framework names")
    kernels = _get(data, path, "tinyflash.kernels", str)
    if kernels not in KERNEL_SETS:
        raise _bad(
            path, "tinyflash.kernels", f"must be one of {', '.join(KERNEL_SETS)}, not {kernels!r}"
        )
    flash_method = _get(data, path, "tinyflash.flash", str)
    if flash_method not in FLASH_METHODS:
        raise _bad(
            path,
            "tinyflash.flash",
            f"must be one of {', '.join(FLASH_METHODS)}, not {flash_method!r}",
        )
    qemu_machine = _get(data, path, "tinyflash.qemu_machine", str, required=flash_method == "qemu")
    stack_bytes = _get(data, path, "tinyflash.stack_bytes", int)
    if stack_bytes <= 0:
        raise _bad(path, "tinyflash.stack_bytes", f"must be positive, not {stack_bytes}")

    return Board(
        id=path.stem,
        name=_get(data, path, "name", str),
        vendor=_get(data, path, "vendor", str),
        url=_get(data, path, "url", str),
        cpu=_get(data, path, "build.cpu", str),
        mcu=_get(data, path, "build.mcu", str),
        f_cpu=_parse_f_cpu(_get(data, path, "build.f_cpu", (str, int)), path),
        flash_bytes=_positive_int(data, path, "upload.maximum_size"),
        ram_bytes=_positive_int(data, path, "upload.maximum_ram_size"),
        port=_get(data, path, "tinyflash.port", str),
        kernels=kernels,
        flash_method=flash_method,
        qemu_machine=qemu_machine,
        serial=_get(data, path, "tinyflash.serial", str),
        tick_unit=_get(data, path, "tinyflash.tick_unit", str),
        stack_bytes=stack_bytes,
        platform=_get(data, path, "tinyflash.platform", str, required=False),
        frameworks=tuple(frameworks),
        manifest_path=path,
        raw=data,
    )


def board_ids(boards_dir: Path | None = None) -> list[str]:
    directory = Path(boards_dir) if boards_dir is not None else _default_boards_dir()
    return sorted(p.stem for p in directory.glob("*.json"))


def load_board(board_id: str, boards_dir: Path | None = None) -> Board:
    """The board `board_id` from boards/<id>.json (or from `boards_dir`)."""
    directory = Path(boards_dir) if boards_dir is not None else _default_boards_dir()
    path = directory / f"{board_id}.json"
    if not path.is_file():
        known = ", ".join(board_ids(directory)) or "none"
        raise TinyflashError(
            f"unknown board '{board_id}' (no {path}); known boards: {known}.", EXIT_BAD_INPUT
        )
    return parse_board(path)


def list_boards(boards_dir: Path | None = None) -> list[Board]:
    """Every board manifest, sorted by id; an invalid manifest raises its TinyflashError."""
    directory = Path(boards_dir) if boards_dir is not None else _default_boards_dir()
    return [parse_board(directory / f"{board_id}.json") for board_id in board_ids(directory)]


# ---- what generate needs from a board: its spec and memory budgets ------------------------------

#: sizeof() of the runtime's structs on 32-bit Cortex-M (arm-none-eabi-gcc), checked by
#: tests/test_codegen.py with _Static_assert so a header change cannot silently skew the RAM
#: estimate.
TENSOR_STRUCT_BYTES = 60
NODE_STRUCT_BYTES = 128
#: tfl_interpreter: a fixed part plus one record per subgraph and per resource variable it can
#: hold (TFL_MAX_SUBGRAPHS / TFL_MAX_RESOURCES; generated projects set both to the model's counts).
INTERPRETER_BASE_BYTES = 108  # 104 before tfl_memory.patches
SUBGRAPH_RECORD_BYTES = 36
RESOURCE_RECORD_BYTES = 28
DEFAULT_MAX_SUBGRAPHS = 4  # tfl_config.h
DEFAULT_MAX_RESOURCES = 8


def interpreter_struct_bytes(
    subgraphs: int = DEFAULT_MAX_SUBGRAPHS, resources: int = DEFAULT_MAX_RESOURCES
) -> int:
    """sizeof(tfl_interpreter) built with TFL_MAX_SUBGRAPHS=subgraphs, TFL_MAX_RESOURCES=resources."""
    return (
        INTERPRETER_BASE_BYTES
        + SUBGRAPH_RECORD_BYTES * subgraphs
        + RESOURCE_RECORD_BYTES * resources
    )


#: with the header's default capacities
INTERPRETER_STRUCT_BYTES = interpreter_struct_bytes()

#: Estimates (the build measures the real numbers; `tinyflash build` reports them). The stack
#: is the board's (boards/*.json tinyflash.stack_bytes, reserved by its linker script), and never
#: less than RUNTIME_STACK_BYTES of the board's kernel set.
#: Worst-case stack of the whole firmware (reset handler -> main -> harness -> tfl_init/tfl_invoke
#: -> any kernel, plus an interrupt on top), from -fcallgraph-info=su on every bare-metal board,
#: 2026-12-07: portable kernels 964-1,028 B (M3, M0; with the shared broadcast and fixed-point
#: helpers' callbacks counted), DSP kernels 948-1,020 B (DEPTHWISE_CONV_2D's eval frame; the
#: DSP kernels' im2col and expansion buffers are arena scratch planned by plan.py since then,
#: not stack: 3,084-3,124 B before). tests/test_stack.py recomputes the bound for every board
#: and checks it stays below this figure and the board's reserve, and that QEMU's measured peak
#: stays below the bound (docs/security.md).
RUNTIME_STACK_BYTES = {"portable": 1536, "dsp": 1536}
#: Harness: protocol state and buffers of the device side.
HARNESS_RAM_ESTIMATE_BYTES = 1536  # TFL_HARNESS_MAX_PAYLOAD 1024 + 8 receive buffer, state
#: Code: interpreter + model reader + arithmetic, each portable kernel, each DSP kernel, the
#: harness with its port and startup, and the libc pieces that get linked (memcpy, memset...).
RUNTIME_CODE_ESTIMATE_BYTES = 8 * 1024
KERNEL_CODE_ESTIMATE_BYTES = 1536
DSP_KERNEL_CODE_ESTIMATE_BYTES = 3072
HARNESS_CODE_ESTIMATE_BYTES = 6 * 1024
#: ARMv6-M/ARMv8-M baseline cores (Thumb-1 only, no hardware divide) need about 1.5x the code
#: (measured: the dense tiny model links 25.2 KB on microbit's Cortex-M0, 16.7 KB on the M4).
SMALL_THUMB_CPUS = frozenset({"cortex-m0", "cortex-m0plus", "cortex-m1", "cortex-m23"})
SMALL_THUMB_CODE_FACTOR = 1.5


@dataclass(frozen=True)
class BudgetLine:
    """One contribution to a RAM or flash estimate."""

    name: str
    bytes: int


@dataclass(frozen=True)
class Budget:
    """An estimate against a board limit (limit None: the board states none, e.g. host)."""

    what: str  # "RAM" or "flash"
    lines: tuple[BudgetLine, ...]
    limit: int | None

    @property
    def total(self) -> int:
        return sum(line.bytes for line in self.lines)

    @property
    def fits(self) -> bool:
        return self.limit is None or self.total <= self.limit

    @property
    def excess(self) -> int:
        return 0 if self.limit is None else max(0, self.total - self.limit)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "limit": self.limit,
            "fits": self.fits,
            "lines": {line.name: line.bytes for line in self.lines},
        }


@dataclass(frozen=True)
class BoardSpec:
    """What generate needs from a board manifest."""

    id: str
    name: str
    flash_bytes: int | None
    ram_bytes: int | None
    stack_bytes: int
    dsp: bool
    code_factor: float
    qemu_machine: str | None
    manifest: Path | None
    #: Real boards (tinyflash.port "arduino"): PlatformIO's standard platform, Arduino framework.
    platform: str | None = None
    arduino: bool = False
    cycle_counter: str | None = None  # "dwt" or "micros" (Arduino port's tick source)
    monitor_speed: int | None = None
    upload_speed: int | None = None
    upload_protocol: str | None = None
    #: Estimates of the Arduino core's own flash and RAM (boards/*.json
    #: tinyflash.framework_flash_bytes / framework_ram_bytes; 0 for the emulated boards).
    framework_flash_bytes: int = 0
    framework_ram_bytes: int = 0


def _tinyflash_field(board: Board, name: str, kind: type, default: Any) -> Any:
    """An optional field of the manifest's tinyflash object, type-checked."""
    section = board.raw.get("tinyflash", {}) if isinstance(board.raw, dict) else {}
    value = section.get(name, default) if isinstance(section, dict) else default
    if value is not default and (not isinstance(value, kind) or isinstance(value, bool)):
        raise TinyflashError(
            f"board manifest {board.manifest_path}: field 'tinyflash.{name}' "
            f"must be {kind.__name__}, not {value!r}; fix the manifest",
            EXIT_BAD_INPUT,
        )
    return value


def board_spec(board: Board) -> BoardSpec:
    """The fields generate uses from a boards.Board."""
    arduino = board.port == "arduino"
    upload = board.raw.get("upload", {}) if isinstance(board.raw, dict) else {}
    protocol = upload.get("protocol") if isinstance(upload, dict) else None
    counter = _tinyflash_field(board, "cycle_counter", str, None)
    if arduino and counter not in ("dwt", "micros"):
        raise TinyflashError(
            f"board manifest {board.manifest_path}: field "
            '\'tinyflash.cycle_counter\' must be "dwt" or "micros" for an '
            "Arduino board; fix the manifest",
            EXIT_BAD_INPUT,
        )
    if arduino and not board.platform:
        raise TinyflashError(
            f"board manifest {board.manifest_path}: field 'tinyflash.platform' "
            "(the PlatformIO platform, e.g. nordicnrf52) is missing; fix the "
            "manifest",
            EXIT_BAD_INPUT,
        )
    return BoardSpec(
        id=board.id,
        name=board.name,
        flash_bytes=board.flash_bytes,
        ram_bytes=board.ram_bytes,
        stack_bytes=board.stack_bytes,
        dsp=board.kernels == "dsp",
        code_factor=SMALL_THUMB_CODE_FACTOR if board.cpu in SMALL_THUMB_CPUS else 1.0,
        qemu_machine=board.qemu_machine,
        manifest=Path(board.manifest_path),
        platform=board.platform,
        arduino=arduino,
        cycle_counter=counter,
        monitor_speed=_tinyflash_field(board, "monitor_speed", int, None),
        upload_speed=_tinyflash_field(board, "upload_speed", int, None),
        upload_protocol=protocol if isinstance(protocol, str) else None,
        framework_flash_bytes=_tinyflash_field(board, "framework_flash_bytes", int, 0),
        framework_ram_bytes=_tinyflash_field(board, "framework_ram_bytes", int, 0),
    )


def _budget(
    title: str, lines: tuple[BudgetLine, ...], framework_bytes: int, limit: int | None
) -> Budget:
    """A budget of `lines`, plus the Arduino core's own line when framework_bytes > 0."""
    framework = (BudgetLine("framework", framework_bytes),) if framework_bytes > 0 else ()
    return Budget(title, lines + framework, limit)


def ram_budget(
    *,
    arena_bytes: int,
    pool_words: int,
    tensor_count: int,
    node_count: int,
    stack_bytes: int,
    limit: int | None,
    framework_bytes: int = 0,
    dsp: bool = False,
    interpreter_bytes: int = INTERPRETER_STRUCT_BYTES,
) -> Budget:
    """RAM: arena + pool + tensor/node arrays + interpreter + harness + stack (estimates), plus
    the Arduino core's own RAM on real boards (`framework_bytes`, a line only when > 0)."""
    lines: tuple[BudgetLine, ...] = (
        BudgetLine("arena", arena_bytes),
        BudgetLine("pool", 4 * pool_words),
        BudgetLine("tensors", TENSOR_STRUCT_BYTES * tensor_count),
        BudgetLine("nodes", NODE_STRUCT_BYTES * node_count),
        BudgetLine("interpreter", interpreter_bytes),
        BudgetLine("harness", HARNESS_RAM_ESTIMATE_BYTES),
        BudgetLine("stack", max(stack_bytes, RUNTIME_STACK_BYTES["dsp" if dsp else "portable"])),
    )
    return _budget("RAM", lines, framework_bytes, limit)


def flash_budget(
    *,
    model_bytes: int,
    kernel_count: int,
    dsp: bool,
    selftest_bytes: int,
    plan_bytes: int,
    limit: int | None,
    code_factor: float = 1.0,
    framework_bytes: int = 0,
) -> Budget:
    """Flash: model + self-test vectors + plan tables + estimated code (× code_factor), plus the
    Arduino core's own code on real boards (`framework_bytes`, a line only when > 0)."""
    per_kernel = DSP_KERNEL_CODE_ESTIMATE_BYTES if dsp else KERNEL_CODE_ESTIMATE_BYTES

    def code(nbytes: int) -> int:
        return int(nbytes * code_factor)

    lines: tuple[BudgetLine, ...] = (
        BudgetLine("model", model_bytes),
        BudgetLine("selftest", selftest_bytes),
        BudgetLine("plan", plan_bytes),
        BudgetLine("runtime code", code(RUNTIME_CODE_ESTIMATE_BYTES)),
        BudgetLine("kernel code", code(per_kernel * kernel_count)),
        BudgetLine("harness code", code(HARNESS_CODE_ESTIMATE_BYTES)),
    )
    return _budget("flash", lines, framework_bytes, limit)


def project_budgets(
    model: bytes,
    tensor_count: int,
    op_names: Sequence[str],
    arena_bytes: int,
    pool_words: int,
    board: BoardSpec,
    selftest_bytes: int,
    capacities: tuple[int, int] = (DEFAULT_MAX_SUBGRAPHS, DEFAULT_MAX_RESOURCES),
) -> tuple[Budget, Budget]:
    """The RAM and flash estimates of a project (see ram_budget/flash_budget); `capacities`:
    the firmware's (TFL_MAX_SUBGRAPHS, TFL_MAX_RESOURCES)."""
    kernels = set(op_names)
    ram = ram_budget(
        arena_bytes=arena_bytes,
        pool_words=pool_words,
        tensor_count=tensor_count,
        node_count=len(op_names),
        stack_bytes=board.stack_bytes,
        limit=board.ram_bytes,
        framework_bytes=board.framework_ram_bytes,
        dsp=board.dsp,
        interpreter_bytes=interpreter_struct_bytes(*capacities),
    )
    flash = flash_budget(
        model_bytes=len(model),
        kernel_count=len(kernels),
        dsp=board.dsp,
        selftest_bytes=selftest_bytes,
        plan_bytes=4 * tensor_count,
        limit=board.flash_bytes,
        code_factor=board.code_factor,
        framework_bytes=board.framework_flash_bytes,
    )
    return ram, flash


def fit_error(model_name: str, board_id: str, budgets: Sequence[Budget]) -> str | None:
    """One sentence naming each limit the model exceeds and by how many bytes, or None."""
    over = [b for b in budgets if not b.fits]
    if not over:
        return None
    parts = []
    for budget in over:
        biggest = max(budget.lines, key=lambda line: line.bytes)
        parts.append(
            f"{budget.what} needs {budget.total:,} bytes (largest part: {biggest.name} "
            f"{biggest.bytes:,}) but the board has {budget.limit:,}, "
            f"{budget.excess:,} bytes too many"
        )
    return (
        f"{model_name} does not fit board {board_id}: "
        + "; ".join(parts)
        + " — choose a board with more memory (`tinyflash boards`) or a smaller model."
    )
