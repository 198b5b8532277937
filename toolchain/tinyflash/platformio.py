"""PlatformIO without network: provisioning of its `tool-scons` core package, `pio run` builds and
uploads, and the size report of the result.

PlatformIO 6.2 runs every build through its core package `tool-scons` (requirement ~4.41101.0,
i.e. SCons 4.11.1) and downloads it from its registry when missing. We provide the same package
from the installed `scons==4.11.1` Python distribution: a folder
$PLATFORMIO_CORE_DIR/packages/tool-scons holding package.json (name tool-scons, version
4.41101.0), a scons.py launcher, a copy of the SCons package and a .piopm whose spec records owner
"platformio" (PlatformIO only matches core packages with that owner). PlatformIO is not modified.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tinyflash.boards import Board, load_board
from tinyflash.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, TinyflashError, option
from tinyflash.records import field_dict

TOOL_SCONS_VERSION = "4.41101.0"
TOOL_SCONS_REQUIREMENT = "~4.41101.0"
SCONS_PYPI_VERSION = "4.11.1"
QEMU_BINARY = "qemu-system-arm"

_LAUNCHER = '''\
"""SCons launcher of the tool-scons package provisioned by tinyflash from scons==4.11.1."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import SCons.Script  # noqa: E402

SCons.Script.main()
'''


def core_dir() -> Path:
    """PlatformIO's core directory: $PLATFORMIO_CORE_DIR, else ~/.platformio."""
    configured = os.environ.get("PLATFORMIO_CORE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".platformio"


def tool_scons_dir() -> Path:
    return core_dir() / "packages" / "tool-scons"


def tool_scons_status() -> str | None:
    """The provisioned tool-scons version, or None when PlatformIO would not find it."""
    folder = tool_scons_dir()
    try:
        manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
        meta = json.loads((folder / ".piopm").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (folder / "scons.py").is_file() or not (folder / "SCons" / "__init__.py").is_file():
        return None
    spec = meta.get("spec") or {}
    if manifest.get("name") != "tool-scons" or spec.get("owner") != "platformio":
        return None
    version = str(manifest.get("version", ""))
    return version if version.startswith("4.41101.") else None


def _scons_package_dir() -> Path:
    try:
        from importlib.metadata import version

        import SCons
    except ImportError:
        raise TinyflashError(
            "the Python package scons is not installed, so PlatformIO's tool-scons cannot be "
            f"provisioned; run `pip install scons=={SCONS_PYPI_VERSION}`.",
            EXIT_BAD_INPUT,
        ) from None
    installed = version("scons")
    if installed != SCONS_PYPI_VERSION:
        raise TinyflashError(
            f"scons {installed} is installed but PlatformIO 6.2 needs SCons {SCONS_PYPI_VERSION} "
            f"as tool-scons {TOOL_SCONS_VERSION}; run `pip install scons=={SCONS_PYPI_VERSION}`.",
            EXIT_BAD_INPUT,
        )
    return Path(SCons.__file__).resolve().parent


def ensure_platformio() -> Path:
    """Makes `pio run` work offline: provisions tool-scons into PlatformIO's core directory when it
    is missing (atomically, so parallel callers are safe). Returns the tool-scons directory."""
    target = tool_scons_dir()
    if tool_scons_status() is not None:
        return target
    source = _scons_package_dir()
    packages = target.parent
    packages.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tool-scons-", dir=packages))
    try:
        shutil.copytree(
            source, staging / "SCons", ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        (staging / "scons.py").write_text(_LAUNCHER, encoding="utf-8")
        (staging / "package.json").write_text(
            json.dumps(
                {
                    "name": "tool-scons",
                    "version": TOOL_SCONS_VERSION,
                    "description": f"SCons {SCONS_PYPI_VERSION} (provisioned by tinyflash from PyPI's "
                    f"scons=={SCONS_PYPI_VERSION})",
                    "keywords": ["tools", "build tools"],
                    "homepage": "https://scons.org",
                    "license": "MIT",
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        (staging / ".piopm").write_text(
            json.dumps(
                {
                    "type": "tool",
                    "name": "tool-scons",
                    "version": TOOL_SCONS_VERSION,
                    "spec": {
                        "owner": "platformio",
                        "id": None,
                        "name": "tool-scons",
                        "requirements": TOOL_SCONS_REQUIREMENT,
                        "uri": None,
                    },
                }
            ),
            encoding="utf-8",
        )
        if tool_scons_status() is not None:  # another process finished first
            return target
        if target.exists():
            # An incomplete or foreign folder PlatformIO would not use: replace it.
            shutil.rmtree(target, ignore_errors=True)
        try:
            staging.rename(target)
        except OSError:
            if tool_scons_status() is None:  # nobody else provisioned it meanwhile
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    if tool_scons_status() is None:
        raise TinyflashError(
            f"could not provision PlatformIO's tool-scons in {target}; remove "
            "that folder and run `tinyflash doctor`.",
            EXIT_BAD_INPUT,
        )
    return target


def pio_command() -> list[str]:
    """The PlatformIO CLI of this Python environment."""
    return [sys.executable, "-m", "platformio"]


def pio_environment() -> dict[str, str]:
    """Environment for pio: no telemetry or update checks (there is no network)."""
    env = dict(os.environ)
    env.setdefault("PLATFORMIO_SETTING_ENABLE_TELEMETRY", "No")
    env.setdefault("PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL", "3650")
    env.setdefault("PLATFORMIO_SETTING_CHECK_PRUNE_SYSTEM_THRESHOLD", "0")
    env.setdefault("PLATFORMIO_NO_ANSI", "true")
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass(frozen=True)
class ProjectEnv:
    """One [env:NAME] of a project's platformio.ini."""

    project_dir: Path
    name: str
    board_id: str
    boards_dir: Path | None

    @property
    def build_dir(self) -> Path:
        return self.project_dir / ".pio" / "build" / self.name

    def board(self) -> Board:
        if self.boards_dir is not None and (self.boards_dir / f"{self.board_id}.json").is_file():
            return load_board(self.board_id, self.boards_dir)
        return load_board(self.board_id)


def project_env(project_dir: Path, env: str | None = None) -> ProjectEnv:
    """Reads platformio.ini: the named env, else default_envs' first, else the first env."""
    project_dir = Path(project_dir).resolve()
    ini = project_dir / "platformio.ini"
    if not ini.is_file():
        raise TinyflashError(
            f"{project_dir} has no platformio.ini; pass a directory made by `tinyflash generate`.",
            EXIT_BAD_INPUT,
        )
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(ini, encoding="utf-8")
    except configparser.Error as error:
        raise TinyflashError(
            f"{ini} cannot be parsed ({error.__class__.__name__}); fix the file.", EXIT_BAD_INPUT
        ) from None
    envs = [s[4:] for s in parser.sections() if s.startswith("env:")]
    if not envs:
        raise TinyflashError(
            f"{ini} defines no env section; add one or regenerate the project.", EXIT_BAD_INPUT
        )
    if env is None:
        defaults = parser.get("platformio", "default_envs", fallback="")
        wanted = [e.strip() for e in re.split(r"[,\s]+", defaults) if e.strip()]
        env = wanted[0] if wanted else envs[0]
    if env not in envs:
        raise TinyflashError(
            f"{ini} has no environment {env}; its environments are {', '.join(envs)}.",
            EXIT_BAD_INPUT,
        )
    section = f"env:{env}"
    board_id = parser.get(section, "board", fallback="").strip()
    if not board_id:
        raise TinyflashError(
            f"{ini} environment {env} sets no board; add `board = <id>`.", EXIT_BAD_INPUT
        )
    boards_dir_text = (
        parser.get(section, "boards_dir", fallback="")
        or parser.get("platformio", "boards_dir", fallback="")
    ).strip()
    boards_dir = None
    if boards_dir_text:
        boards_dir = Path(boards_dir_text)
        if not boards_dir.is_absolute():
            boards_dir = project_dir / boards_dir
    return ProjectEnv(project_dir, env, board_id, boards_dir)


@dataclass(frozen=True)
class SizeReport:
    text: int
    data: int
    bss: int
    flash_used: int  # text + data (initial values of .data are stored in flash)
    ram_used: int  # data + bss, including the linker-reserved stack
    flash_limit: int
    ram_limit: int

    @property
    def flash_percent(self) -> float:
        return 100.0 * self.flash_used / self.flash_limit

    @property
    def ram_percent(self) -> float:
        return 100.0 * self.ram_used / self.ram_limit


@dataclass(frozen=True)
class BuildResult:
    project_dir: Path
    env: str
    board: Board
    elf: Path  # firmware.elf, or the host executable
    bin: Path | None
    map: Path
    log: Path
    text: int
    data: int
    bss: int
    size: SizeReport
    seconds: float
    arena_bytes: int | None = None  # size of the generated `<model>_arena` array, if any
    model_bytes: int | None = None  # size of the generated `<model>_model_data` array

    def as_dict(self) -> dict[str, object]:
        return {
            "project_dir": str(self.project_dir),
            "env": self.env,
            "board": self.board.id,
            "elf": str(self.elf),
            "bin": str(self.bin) if self.bin else None,
            "map": str(self.map),
            "log": str(self.log),
            "text": self.text,
            "data": self.data,
            "bss": self.bss,
            "flash_used": self.size.flash_used,
            "flash_limit": self.size.flash_limit,
            "ram_used": self.size.ram_used,
            "ram_limit": self.size.ram_limit,
            "seconds": round(self.seconds, 2),
            "arena_bytes": self.arena_bytes,
            "model_bytes": self.model_bytes,
        }


def _binutil(board: Board, name: str) -> str:
    """`size`/`nm` for the board's ELF: arm-none-eabi-* for Arm; the host's for the host and for
    Xtensa (ESP32) firmware, which GNU binutils reads as generic elf32-little."""
    if board.is_host or board.cpu.startswith("xtensa"):
        return name
    return f"arm-none-eabi-{name}"


def symbol_sizes(elf: Path, board: Board) -> dict[str, int]:
    """Sizes of the firmware's data objects by name (`nm -S`); {} when nm is unavailable."""
    tool = _binutil(board, "nm")
    try:
        out = subprocess.run(
            [tool, "-S", str(elf)], check=True, capture_output=True, text=True, timeout=60
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    sizes: dict[str, int] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "BbDdRrTt":  # const arrays sit in .text on Arm
            sizes[parts[3]] = int(parts[1], 16)
    return sizes


def _generated_array(sizes: dict[str, int], suffix: str) -> int | None:
    found = [size for name, size in sizes.items() if name.endswith(suffix)]
    return found[0] if len(found) == 1 else None


def measure_size(elf: Path, board: Board) -> SizeReport:
    """text/data/bss of `size` (Berkeley format), checked against the board's limits."""
    tool = _binutil(board, "size")
    try:
        out = subprocess.run(
            [tool, "-B", "-d", str(elf)], check=True, capture_output=True, text=True, timeout=60
        ).stdout
    except FileNotFoundError:
        raise TinyflashError(
            f"{tool} is not installed, so the size of {elf} is unknown; run "
            "`bash scripts/bootstrap-system.sh`.",
            EXIT_BAD_INPUT,
        ) from None
    except subprocess.CalledProcessError as error:
        raise TinyflashError(
            f"{tool} failed on {elf}: {error.stderr.strip()}; rebuild the project.",
            EXIT_CHECK_FAILED,
        ) from None
    lines = out.strip().splitlines()
    if len(lines) < 2:
        raise TinyflashError(
            f"{tool} printed no sizes for {elf}; rebuild the project.", EXIT_CHECK_FAILED
        )
    text, data, bss = (int(v) for v in lines[1].split()[:3])
    return SizeReport(
        text=text,
        data=data,
        bss=bss,
        flash_used=text + data,
        ram_used=data + bss,
        flash_limit=board.flash_bytes,
        ram_limit=board.ram_bytes,
    )


_ERROR_LINE = re.compile(
    r"(error:|Error:|\berror\b.*:|undefined reference|region .* overflowed|"
    r"RAM overflow|No such file|\*\*\*)"
)
# A Python exception that PlatformIO/SCons reports: "UnknownPlatform: ...:", "KeyError: ...".
# CamelCase or ...Error/...Exception, so PlatformIO's "CONFIGURATION:"/"PLATFORM:" headers are not.
_EXCEPTION_LINE = re.compile(
    r"^(?:[A-Za-z_]\w*\.)*(?:[A-Z][a-z0-9]+[A-Z]\w*|[A-Z]\w*(?:Error|Exception)): "
)
# SCons prints a Python exception as its "Name: message:" line, then frames: an indented
# `File "...", line N:` line and the indented source line under it.
_FRAME_LINE = re.compile(r'^\s+File ".*", line \d+')
_NOISE_LINE = re.compile(r"^(=+ \[FAILED\]|Verbose mode can be enabled|Traceback \(most recent)")


def summarize_failure(log_text: str, limit: int = 6) -> str:
    """The first compiler/linker/PlatformIO error lines of a build log (no Python traceback
    frames), joined into one short string."""
    kept: list[str] = []
    in_frame = False
    for raw in log_text.splitlines():
        if _FRAME_LINE.match(raw):
            in_frame = True
            continue
        if in_frame and raw[:1].isspace():  # the frame's source line
            continue
        in_frame = False
        line = raw.strip()
        if line and not _NOISE_LINE.match(line):
            kept.append(line)
    picked: list[str] = []
    for line in kept:
        exception = _EXCEPTION_LINE.match(line) is not None
        if exception or _ERROR_LINE.search(line):
            line = line.rstrip(":") if exception else line  # SCons ends it with ':'
            if line not in picked:
                picked.append(line)
        if len(picked) >= limit:
            break
    if not picked:
        picked = kept[-limit:]
    return " | ".join(picked)


_INSTALLING = re.compile(r"(?:Platform|Tool|Library) Manager: Installing (\S+)")


def download_failure(log_text: str) -> str | None:
    """What PlatformIO failed to download, when a build log shows a registry download failing
    (a real board's first build without network), else None."""
    if not re.search(
        r"HTTPClientError|Could not resolve|ConnectionError|Max retries exceeded|"
        r"InternetConnectionError|Temporary failure in name resolution",
        log_text,
    ):
        return None
    installing = _INSTALLING.findall(log_text)
    return installing[-1] if installing else "a package"


def _kill_tree(proc: subprocess.Popen[str], own_group: bool) -> None:
    """Ends pio and what it started (SCons, QEMU, the host program)."""
    if proc.poll() is not None:
        return
    if own_group:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    else:
        proc.kill()
    proc.wait()


def _run_pio(
    args: list[str],
    log: Path,
    timeout: float,
    on_line: Callable[[str], None] | None = None,
    pass_stdin: bool = False,
) -> tuple[int, str]:
    log.parent.mkdir(parents=True, exist_ok=True)
    # Its own session, so a timeout can end the whole tree; except when the firmware reads this
    # terminal (pass_stdin), where it must stay in the foreground process group (Ctrl-C reaches it).
    own_group = not pass_stdin
    proc = subprocess.Popen(
        pio_command() + args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=None if pass_stdin else subprocess.DEVNULL,
        env=pio_environment(),
        text=True,
        errors="replace",
        start_new_session=own_group,
    )
    lines: list[str] = []

    def _reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if on_line is not None:
                on_line(line.rstrip("\n"))

    reader = threading.Thread(target=_reader, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_tree(proc, own_group)
        reader.join(5)
        log.write_text("".join(lines), encoding="utf-8")
        raise TinyflashError(
            f"`pio {' '.join(args)}` did not finish within {timeout:.0f} s "
            f"and was stopped; its output so far is in {log}.",
            EXIT_CHECK_FAILED,
        ) from None
    except BaseException:
        _kill_tree(proc, own_group)
        raise
    reader.join(10)
    text = "".join(lines)
    log.write_text(text, encoding="utf-8")
    return proc.returncode, text


#: `pio run`'s time limit: a base, plus this much per TFLM source a --runtime tflm project compiles
#: (its tflm/sources.json; a busy 2-core machine took ~4 s a file).
BUILD_TIMEOUT_SECONDS = 900.0
TFLM_SECONDS_PER_SOURCE = 10.0
#: The progress stage of a TFLM compile (build_project's `progress`).
TFLM_COMPILE_STAGE = "compiling TFLM"


def tflm_source_count(project_dir: Path) -> int:
    """How many TFLM sources a --runtime tflm --tflm-path project compiles (0 for others)."""
    try:
        spec = json.loads((Path(project_dir) / "tflm" / "sources.json").read_text("utf-8"))
        return int(spec["count"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def build_timeout(project_dir: Path) -> float:
    """The default time limit of `pio run` for `project_dir`: scales with its TFLM sources."""
    return BUILD_TIMEOUT_SECONDS + TFLM_SECONDS_PER_SOURCE * tflm_source_count(project_dir)


def _tflm_progress(
    project_dir: Path,
    on_line: Callable[[str], None] | None,
    progress: Callable[[str, int, int], None] | None,
) -> Callable[[str], None] | None:
    """An on_line for `pio run` that also reports each TFLM source compiled to `progress`."""
    total = tflm_source_count(project_dir)
    if progress is None or total == 0:
        return on_line
    done = 0

    def line(text: str) -> None:
        nonlocal done
        if text.startswith("Compiling ") and "/tflm/" in text:
            done += 1
            progress(TFLM_COMPILE_STAGE, min(done, total), total)
        if on_line is not None:
            on_line(text)

    return line


def build_project(
    project_dir: Path,
    env: str | None = None,
    timeout: float | None = None,
    on_line: Callable[[str], None] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> BuildResult:
    """`pio run` in `project_dir` (offline); returns the firmware paths and sizes. A failed build
    raises TinyflashError with the first error lines and the log path. `timeout` defaults to
    build_timeout(); `progress(stage, done, total)` hears of each TFLM source compiled."""
    import time

    ensure_platformio()
    penv = project_env(project_dir, env)
    board = penv.board()
    log = penv.project_dir / ".pio" / f"tinyflash-build-{penv.name}.log"
    started = time.monotonic()
    code, text = _run_pio(
        ["run", "-d", str(penv.project_dir), "-e", penv.name],
        log,
        build_timeout(penv.project_dir) if timeout is None else timeout,
        _tflm_progress(penv.project_dir, on_line, progress),
    )
    seconds = time.monotonic() - started
    missing = download_failure(text) if code != 0 else None
    if missing is not None:
        raise TinyflashError(
            f"build of {penv.project_dir} (env {penv.name}) failed: PlatformIO "
            f"could not download {missing} from its registry; board "
            f"{board.id} needs network on its first build (PlatformIO installs "
            "its platform, toolchain and framework; later builds work offline, "
            f"docs/boards.md) (full log: {log}).",
            EXIT_CHECK_FAILED,
        )
    if code != 0:
        raise TinyflashError(
            f"build of {penv.project_dir} (env {penv.name}) failed: "
            f"{summarize_failure(text)} (full log: {log}).",
            EXIT_CHECK_FAILED,
        )
    elf = penv.build_dir / ("firmware" if board.is_host else "firmware.elf")
    if not elf.is_file():
        raise TinyflashError(
            f"pio run succeeded but {elf} does not exist; does platformio.ini "
            f"use tinyflash's platform (firmware/platform)? See {log}.",
            EXIT_CHECK_FAILED,
        )
    size = measure_size(elf, board)
    symbols = symbol_sizes(elf, board)
    binary = penv.build_dir / "firmware.bin"
    return BuildResult(
        project_dir=penv.project_dir,
        env=penv.name,
        board=board,
        elf=elf,
        bin=binary if binary.is_file() else None,
        map=penv.build_dir / "firmware.map",
        log=log,
        text=size.text,
        data=size.data,
        bss=size.bss,
        size=size,
        seconds=seconds,
        arena_bytes=_generated_array(symbols, "_arena"),
        model_bytes=_generated_array(symbols, "_model_data"),
    )


@dataclass(frozen=True)
class UploadResult:
    project_dir: Path
    env: str
    board: Board
    exit_code: int
    output: str
    log: Path


def upload_project(
    project_dir: Path,
    env: str | None = None,
    timeout: float = 900.0,
    upload_port: str | None = None,
    on_line: Callable[[str], None] | None = None,
    pass_stdin: bool = False,
) -> UploadResult:
    """`pio run -t upload`: builds if needed, then flashes. On emulated boards and the host,
    "flashing" runs the firmware until it exits, its serial port on stdio (stdin is closed unless
    `pass_stdin`); `exit_code` is pio's (0 when the firmware exited with 0). On emulated boards,
    `upload_port="tcp:127.0.0.1:PORT"` puts the serial port on a TCP server instead."""
    ensure_platformio()
    penv = project_env(project_dir, env)
    board = penv.board()
    log = penv.project_dir / ".pio" / f"tinyflash-upload-{penv.name}.log"
    args = ["run", "-d", str(penv.project_dir), "-e", penv.name, "-t", "upload"]
    if upload_port:
        args += ["--upload-port", upload_port]
    code, text = _run_pio(args, log, timeout, on_line, pass_stdin)
    return UploadResult(penv.project_dir, penv.name, board, code, text, log)


@dataclass(frozen=True)
class ToolStatus:
    """One line of `tinyflash doctor`: a tool, whether it works, its version and the fix."""

    name: str
    ok: bool
    version: str
    detail: str
    fix: str

    def as_dict(self) -> dict[str, object]:
        return field_dict(self) | {"fix": "" if self.ok else self.fix}


_APT_FIX = (
    "bash scripts/bootstrap-system.sh   (or: sudo apt-get update && sudo apt-get install -y {})"
)


def _tool_version(command: list[str]) -> str | None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0].strip() if first else ""


def doctor() -> list[ToolStatus]:
    """What the build and emulation need, present or missing, each with the command that fixes
    it. Reads only; provisioning tool-scons is `ensure_platformio()` (`tinyflash doctor --fix`)."""
    results: list[ToolStatus] = []
    try:
        import platformio

        results.append(
            ToolStatus(
                "pio",
                True,
                f"PlatformIO Core {platformio.__version__}",
                f"{sys.executable} -m platformio",
                "",
            )
        )
    except ImportError:
        results.append(
            ToolStatus(
                "pio",
                False,
                "",
                "the platformio Python package is missing",
                "pip install platformio==6.2.0",
            )
        )
    scons = tool_scons_status()
    results.append(
        ToolStatus(
            "tool-scons",
            scons is not None,
            scons or "",
            str(tool_scons_dir()) if scons else f"not provisioned in {tool_scons_dir()}",
            "tinyflash doctor --fix   (provisions it from the installed scons==4.11.1)",
        )
    )
    for name, command, package in (
        ("arm-none-eabi-gcc", ["arm-none-eabi-gcc", "--version"], "gcc-arm-none-eabi"),
        (
            "newlib-nano",
            ["arm-none-eabi-gcc", "-print-file-name=nano.specs"],
            "libnewlib-arm-none-eabi",
        ),
        ("qemu-system-arm", [QEMU_BINARY, "--version"], "qemu-system-arm"),
        ("gcc", ["gcc", "--version"], "gcc"),
    ):
        fix = _APT_FIX.format(package) if package != "gcc" else "sudo apt-get install -y gcc"
        version = _tool_version(command)
        found = shutil.which(command[0]) or ""
        if name == "newlib-nano" and version is not None:
            if not Path(version).is_absolute():
                version = None  # gcc echoes the bare name when the file does not exist
            else:
                found, version = str(Path(version).resolve()), "nano.specs"
        results.append(
            ToolStatus(
                name,
                version is not None,
                version or "",
                found if version is not None else f"{command[0]} not usable",
                fix,
            )
        )
    return results


# ---- serial ports of real boards (`pio device list`) ------------------------------------------


@dataclass(frozen=True)
class SerialDevice:
    """One entry of `pio device list --serial --json-output` (pyserial's comports())."""

    port: str
    description: str
    hwid: str  # e.g. "USB VID:PID=2341:805A SER=... LOCATION=1-1:1.0", or "n/a"

    @property
    def usb_id(self) -> tuple[int, int] | None:
        """(vendor id, product id) of a USB serial device, else None."""
        match = re.search(r"VID:PID=([0-9A-Fa-f]{1,4}):([0-9A-Fa-f]{1,4})", self.hwid)
        return (int(match.group(1), 16), int(match.group(2), 16)) if match else None

    def as_dict(self) -> dict[str, object]:
        usb = self.usb_id
        return {
            "port": self.port,
            "description": self.description,
            "hwid": self.hwid,
            "usb_id": f"{usb[0]:04x}:{usb[1]:04x}" if usb else None,
        }


def parse_device_list(text: str) -> list[SerialDevice]:
    """The devices of `pio device list --serial --json-output`'s JSON."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise TinyflashError(
            f"`pio device list --json-output` printed something that is not "
            f"JSON ({error}); pass the board's serial port with {option('port')}.",
            EXIT_BAD_INPUT,
        ) from None
    if not isinstance(data, list):
        raise TinyflashError(
            "`pio device list --json-output` did not print a list; pass the "
            f"board's serial port with {option('port')}.",
            EXIT_BAD_INPUT,
        )
    devices = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("port"), str) and item["port"]:
            devices.append(
                SerialDevice(
                    item["port"], str(item.get("description", "")), str(item.get("hwid", ""))
                )
            )
    return devices


def list_serial_devices(timeout: float = 60.0) -> list[SerialDevice]:
    """The serial ports PlatformIO sees now (`pio device list --serial --json-output`)."""
    try:
        done = subprocess.run(
            pio_command() + ["device", "list", "--serial", "--json-output"],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=pio_environment(),
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise TinyflashError(
            f"`pio device list` could not run ({error}); pass the board's "
            f"serial port with {option('port')}.",
            EXIT_BAD_INPUT,
        ) from None
    if done.returncode != 0:
        raise TinyflashError(
            f"`pio device list` failed ({done.stderr.strip()[-200:]}); pass the "
            f"board's serial port with {option('port')}.",
            EXIT_BAD_INPUT,
        )
    return parse_device_list(done.stdout)


def board_usb_ids(board: Board) -> set[tuple[int, int]]:
    """The USB (vendor, product) ids a board's serial port shows (manifest build.hwids)."""
    ids: set[tuple[int, int]] = set()
    build = board.raw.get("build", {}) if isinstance(board.raw, dict) else {}
    for pair in (build.get("hwids") or []) if isinstance(build, dict) else []:
        try:
            ids.add((int(str(pair[0]), 16), int(str(pair[1]), 16)))
        except (ValueError, IndexError, TypeError):
            continue
    return ids


def select_serial_port(devices: list[SerialDevice], board: Board | None = None) -> str:
    """The port of the one connected board: only USB serial devices count (a built-in
    /dev/ttyS0 is no board). With several, the one whose USB id is in the board manifest's
    build.hwids wins if it is the only such one. Otherwise a sentence asking for --port."""
    usb = [d for d in devices if d.usb_id is not None]
    if len(usb) == 1:
        return usb[0].port
    name = f"board {board.id}" if board is not None else "a board"
    if not usb:
        raise TinyflashError(
            f"no USB serial device is connected (`pio device list` shows "
            f"{len(devices)} port(s), none USB); connect {name} or pass its "
            f"serial port with {option('port')}.",
            EXIT_BAD_INPUT,
        )
    if board is not None:
        known = board_usb_ids(board)
        matching = [d for d in usb if d.usb_id in known]
        if len(matching) == 1:
            return matching[0].port
    ports = ", ".join(f"{d.port} ({d.description})" for d in usb)
    raise TinyflashError(
        f"{len(usb)} USB serial devices are connected ({ports}) and tinyflash "
        f"cannot tell which one is {name}; pass the right one with "
        f"{option('port')}.",
        EXIT_BAD_INPUT,
    )


def detect_serial_port(board: Board | None = None, timeout: float = 60.0) -> str:
    """`select_serial_port` over what `pio device list` sees now."""
    return select_serial_port(list_serial_devices(timeout), board)
