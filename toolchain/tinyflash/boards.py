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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError
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
    qemu_machine: Optional[str]
    serial: str
    tick_unit: str
    stack_bytes: int
    platform: Optional[str]
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
        return {
            "id": self.id, "name": self.name, "vendor": self.vendor, "url": self.url,
            "cpu": self.cpu, "mcu": self.mcu, "f_cpu": self.f_cpu,
            "flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes, "port": self.port,
            "kernels": self.kernels, "flash_method": self.flash_method,
            "qemu_machine": self.qemu_machine, "serial": self.serial,
            "tick_unit": self.tick_unit, "stack_bytes": self.stack_bytes,
            "platform": self.platform, "frameworks": list(self.frameworks),
            "manifest": str(self.manifest_path),
        }


def _bad(path: Path, field_name: str, problem: str) -> TinyflashError:
    return TinyflashError(
        f"board manifest {path}: field '{field_name}' {problem}; fix the manifest "
        "(docs/boards.md lists every field).", EXIT_BAD_INPUT)


def _get(data: dict[str, Any], path: Path, dotted: str, kind: type | tuple[type, ...],
         required: bool = True, default: Any = None) -> Any:
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
        raise _bad(path, "build.f_cpu", f"must be a frequency like \"25000000L\", not {value!r}")
    if hz <= 0:
        raise _bad(path, "build.f_cpu", f"must be positive, not {value!r}")
    return hz


def parse_board(path: Path) -> Board:
    """Reads and validates one manifest file; the board id is the file name without .json."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TinyflashError(f"board manifest {path} does not exist; run `tinyflash boards` "
                             "to list the known boards.", EXIT_BAD_INPUT)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise TinyflashError(f"board manifest {path} is not valid JSON ({error}); fix the file.",
                             EXIT_BAD_INPUT)
    if not isinstance(data, dict):
        raise TinyflashError(f"board manifest {path} must hold a JSON object; fix the file.",
                             EXIT_BAD_INPUT)

    frameworks = _get(data, path, "frameworks", list)
    if not all(isinstance(f, str) for f in frameworks):
        raise _bad(path, "frameworks", "must be a list of framework names")
    kernels = _get(data, path, "tinyflash.kernels", str)
    if kernels not in KERNEL_SETS:
        raise _bad(path, "tinyflash.kernels", f"must be one of {', '.join(KERNEL_SETS)}, "
                   f"not {kernels!r}")
    flash_method = _get(data, path, "tinyflash.flash", str)
    if flash_method not in FLASH_METHODS:
        raise _bad(path, "tinyflash.flash", f"must be one of {', '.join(FLASH_METHODS)}, "
                   f"not {flash_method!r}")
    qemu_machine = _get(data, path, "tinyflash.qemu_machine", str,
                        required=flash_method == "qemu")
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


def board_ids(boards_dir: Optional[Path] = None) -> list[str]:
    directory = Path(boards_dir) if boards_dir is not None else _default_boards_dir()
    return sorted(p.stem for p in directory.glob("*.json"))


def load_board(board_id: str, boards_dir: Optional[Path] = None) -> Board:
    """The board `board_id` from boards/<id>.json (or from `boards_dir`)."""
    directory = Path(boards_dir) if boards_dir is not None else _default_boards_dir()
    path = directory / f"{board_id}.json"
    if not path.is_file():
        known = ", ".join(board_ids(directory)) or "none"
        raise TinyflashError(f"unknown board '{board_id}' (no {path}); known boards: {known}.",
                             EXIT_BAD_INPUT)
    return parse_board(path)


def list_boards(boards_dir: Optional[Path] = None) -> list[Board]:
    """Every board manifest, sorted by id; an invalid manifest raises its TinyflashError."""
    directory = Path(boards_dir) if boards_dir is not None else _default_boards_dir()
    return [parse_board(directory / f"{board_id}.json") for board_id in board_ids(directory)]
