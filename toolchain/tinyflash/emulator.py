"""Running firmware: QEMU for the emulated boards, the executable itself for `host`.

QEMU always runs with `-icount shift=0` (1 instruction = 1 ns of virtual time, so SysTick ticks
are exactly repeatable) and semihosting (the firmware's tfl_port_exit() becomes QEMU's exit
status). The board's UART is either QEMU's stdio (`run_to_exit`) or a TCP server on 127.0.0.1
that waits for one client (`start_device`), reachable with pyserial as socket://127.0.0.1:PORT
exactly like a real serial port. The host port does the same when TINYFLASH_HOST_TCP_PORT is set.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyflash.boards import Board
from tinyflash.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, TinyflashError

QEMU = "qemu-system-arm"
HOST_TCP_ENV = "TINYFLASH_HOST_TCP_PORT"
_READY = re.compile(r"waiting for connection on", re.IGNORECASE)


def _check_runnable(board: Board, program: Path) -> None:
    if not Path(program).is_file():
        raise TinyflashError(
            f"{program} does not exist; build the project first (`tinyflash build DIR`).",
            EXIT_BAD_INPUT,
        )
    if board.is_host:
        return
    if not board.emulated or not board.qemu_machine:
        raise TinyflashError(
            f"board '{board.id}' is not emulated (tinyflash.flash is "
            f"'{board.flash_method}'); flash it with `tinyflash flash DIR` and "
            "pass its serial port instead.",
            EXIT_BAD_INPUT,
        )
    if shutil.which(QEMU) is None:
        raise TinyflashError(
            f"{QEMU} is not installed; run `bash scripts/bootstrap-system.sh` "
            "(Debian package qemu-system-arm).",
            EXIT_BAD_INPUT,
        )


#: Placeholders of the command stored in a generated project's tinyflash.json ("emulator"
#: object), which the PlatformIO platform's upload target (firmware/platform/builder/main.py)
#: fills in: it runs inside PlatformIO and may not be able to import tinyflash, so it reads the
#: command written from qemu_argv() here instead of keeping a copy.
MACHINE_PLACEHOLDER = "{machine}"
SERIAL_PLACEHOLDER = "{serial}"
PROGRAM_PLACEHOLDER = "{program}"


def qemu_argv(
    machine: str, program: str, serial: str = "stdio", monitor: str = "none"
) -> list[str]:
    """The one QEMU command line of tinyflash: `program` on `machine`, deterministic time
    (-icount shift=0), semihosting exit status, the UART on `serial` (QEMU's -serial syntax) and
    the human monitor on `monitor` (QEMU's -monitor syntax; "none" unless a caller needs it)."""
    return [
        QEMU,
        "-M",
        machine,
        "-display",
        "none",
        "-monitor",
        monitor,
        "-serial",
        serial,
        "-semihosting-config",
        "enable=on,target=native",
        "-icount",
        "shift=0",
        "-kernel",
        program,
    ]


def _machine(board: Board) -> str:
    if not board.qemu_machine:
        raise TinyflashError(
            f"board '{board.id}' has no tinyflash.qemu_machine in "
            f"{board.manifest_path}; it cannot run in QEMU.",
            EXIT_BAD_INPUT,
        )
    return board.qemu_machine


def qemu_command(
    board: Board,
    elf: Path,
    serial_tcp_port: int | None = None,
    monitor_socket: Path | None = None,
    host: str = "127.0.0.1",
) -> list[str]:
    """The qemu-system-arm command line that runs `elf` on `board`: serial on stdio, or a TCP
    server on host:serial_tcp_port (127.0.0.1 unless a farm exporter publishes another address)
    that waits for a client before the CPU starts; the QEMU monitor on the unix socket
    `monitor_socket` when given."""
    serial = (
        "stdio"
        if serial_tcp_port is None
        else f"tcp:{host}:{int(serial_tcp_port)},server=on,wait=on"
    )
    monitor = "none" if monitor_socket is None else f"unix:{monitor_socket},server=on,wait=off"
    return qemu_argv(_machine(board), str(elf), serial, monitor)


def upload_command() -> list[str]:
    """The command a generated project's `pio run -t upload` runs on an emulated board, with
    MACHINE_PLACEHOLDER (the manifest's tinyflash.qemu_machine), SERIAL_PLACEHOLDER ("stdio" or
    the tcp: upload port) and PROGRAM_PLACEHOLDER (the ELF) for the platform's builder to fill."""
    return qemu_argv(MACHINE_PLACEHOLDER, PROGRAM_PLACEHOLDER, SERIAL_PLACEHOLDER)


def fill_upload_command(command: list[str], machine: str, serial: str, program: str) -> list[str]:
    """upload_command() with its placeholders replaced: what the platform's builder runs (the
    builder does the same replacement; tests check both against qemu_command)."""
    return [
        arg.replace(MACHINE_PLACEHOLDER, machine)
        .replace(SERIAL_PLACEHOLDER, serial)
        .replace(PROGRAM_PLACEHOLDER, program)
        for arg in command
    ]


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_to_exit(
    board: Board, elf: Path, timeout: float = 60.0, stdin: bytes = b""
) -> tuple[int, bytes]:
    """Runs the firmware with its serial port on stdio until it exits; returns (exit code,
    serial output). `stdin` is what the firmware reads from its serial port."""
    elf = Path(elf)
    _check_runnable(board, elf)
    command = [str(elf.resolve())] if board.is_host else qemu_command(board, elf)
    env = dict(os.environ)
    env.pop(HOST_TCP_ENV, None)
    try:
        done = subprocess.run(command, input=stdin, capture_output=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise TinyflashError(
            f"{elf} on {board.id} did not exit within {timeout:.0f} s; it may "
            "be waiting for serial input or stuck in a loop.",
            EXIT_CHECK_FAILED,
        ) from None
    return done.returncode, done.stdout


@dataclass
class Device:
    """A running emulated board (or host executable) whose serial port is `url`
    (pyserial: serial.serial_for_url(device.url))."""

    board: Board
    program: Path
    port: int
    process: subprocess.Popen[bytes]
    command: list[str]
    #: The QEMU human monitor's unix socket (open_device(..., monitor=True)), else None.
    monitor_socket: Path | None = None
    #: The address the serial port listens on.
    host: str = "127.0.0.1"
    _stderr: list[bytes] = field(default_factory=list, repr=False)
    _stderr_thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    @property
    def exit_code(self) -> int | None:
        """The exit status once the firmware has exited, else None."""
        return self.process.poll()

    @property
    def stderr_text(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    def open_serial(self, timeout: float = 10.0) -> Any:
        """A pyserial object on `url`, opened without pyserial's usual input flush: the firmware
        starts the moment a client connects, and `open()` would otherwise discard whatever it
        printed before `open()` returned (its banner, say)."""
        import serial

        link = serial.serial_for_url(self.url, do_not_open=True, timeout=timeout)
        link.reset_input_buffer = lambda: None  # instance attribute shadows the method
        try:
            link.open()
        finally:
            del link.reset_input_buffer
        return link

    def wait(self, timeout: float) -> int:
        """Waits for the firmware to exit and returns its status."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TinyflashError(
                f"{self.program} on {self.board.id} did not exit within {timeout:.0f} s.",
                EXIT_CHECK_FAILED,
            ) from None

    def monitor(self, timeout: float = 10.0) -> Monitor:
        """A connection to the QEMU monitor (the device must be opened with monitor=True)."""
        if self.monitor_socket is None:
            raise TinyflashError(
                f"{self.program} on {self.board.id} was started without a QEMU "
                "monitor; start it with monitor=True",
                EXIT_CHECK_FAILED,
            )
        return Monitor(self.monitor_socket, timeout)

    def stop(self) -> None:
        """Ends the emulator (or host program) if it still runs; idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._stderr_thread is not None:
            self._stderr_thread.join(timeout=2)
        if self.monitor_socket is not None:
            shutil.rmtree(self.monitor_socket.parent, ignore_errors=True)


class Monitor:
    """The QEMU human monitor on a unix socket: one command at a time, each answered up to the
    next `(qemu) ` prompt. Use as a context manager or close() it."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise TinyflashError(
                        f"the QEMU monitor socket {path} did not open; check qemu-system-arm",
                        EXIT_CHECK_FAILED,
                    ) from None
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self._read_prompt()

    def _read_prompt(self) -> str:
        data = b""
        while not data.endswith(b"(qemu) "):
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.decode("utf-8", "replace")

    def command(self, text: str) -> str:
        """Sends one monitor command and returns its answer (with the prompt)."""
        self.sock.sendall(text.encode() + b"\n")
        return self._read_prompt()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Monitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _launch(
    board: Board, program: Path, port: int, monitor_socket: Path | None, host: str
) -> tuple[subprocess.Popen[bytes], list[str]]:
    env = dict(os.environ)
    if board.is_host:
        command = [str(Path(program).resolve())]
        env[HOST_TCP_ENV] = str(port)
    else:
        command = qemu_command(board, program, port, monitor_socket, host)
        env.pop(HOST_TCP_ENV, None)
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    return process, command


def open_device(
    board: Board,
    program: Path,
    ready_timeout: float = 20.0,
    attempts: int = 3,
    monitor: bool = False,
    port: int | None = None,
    host: str = "127.0.0.1",
) -> Device:
    """Starts the firmware with its serial port on a free TCP port (or `port` on `host`, for a
    farm exporter's board) and returns once that port accepts a client. `monitor=True` (emulated
    boards) also opens QEMU's human monitor on a unix socket (Device.monitor()). Prefer the
    `start_device` context manager, which also stops it."""
    program = Path(program)
    _check_runnable(board, program)
    if monitor and board.is_host:
        raise TinyflashError(
            f"board '{board.id}' runs natively; only QEMU boards have a monitor", EXIT_BAD_INPUT
        )
    last_error = ""
    fixed_port = port
    for _ in range(attempts):
        port = free_tcp_port() if fixed_port is None else fixed_port
        # Unix socket paths are limited to ~107 bytes: the monitor's lives in a short folder.
        socket_path = Path(tempfile.mkdtemp(prefix="tfm-")) / "m.sock" if monitor else None
        process, command = _launch(board, program, port, socket_path, host)
        device = Device(board, program, port, process, command, socket_path, host)
        ready = threading.Event()

        def _drain(dev: Device = device, flag: threading.Event = ready) -> None:
            assert dev.process.stderr is not None
            seen = b""
            for chunk in iter(lambda: dev.process.stderr.readline(), b""):  # type: ignore[union-attr]
                dev._stderr.append(chunk)
                if not flag.is_set():
                    seen += chunk
                    if _READY.search(seen.decode("utf-8", "replace")):
                        flag.set()
            flag.set()  # stderr closed: the process ended

        device._stderr_thread = threading.Thread(target=_drain, daemon=True)
        device._stderr_thread.start()
        deadline = time.monotonic() + ready_timeout
        while not ready.wait(0.05):
            if time.monotonic() > deadline:
                break
        if ready.is_set() and process.poll() is None:
            return device
        device.stop()
        last_error = device.stderr_text.strip() or f"no listener after {ready_timeout:.0f} s"
        if "in use" not in last_error.lower():
            break
    raise TinyflashError(
        f"could not start {program} on {board.id}: {last_error[-300:]}", EXIT_CHECK_FAILED
    )


@contextmanager
def start_device(
    board: Board, program: Path, ready_timeout: float = 20.0, monitor: bool = False
) -> Iterator[Device]:
    """`with start_device(board, elf) as device: link = device.open_serial()`; the emulator is
    stopped on exit from the block. (With `serial.serial_for_url(device.url)` instead, disable
    pyserial's input flush in open() as open_serial() does, or early output can be lost.)"""
    device = open_device(board, program, ready_timeout, monitor=monitor)
    try:
        yield device
    finally:
        device.stop()
