"""A serial-port double for tinyflash.link: the subset of pyserial's API that Link uses (read,
in_waiting, write, flush, close, timeout) over a child process's stdin/stdout, so a host build of
the firmware (harness test programs, generated projects compiled against the Arduino or TFLM
doubles) is driven exactly as a board behind /dev/ttyACM0 would be."""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import sys
import termios
import time


class PipeSerial:
    """pyserial-like stream over `proc`'s stdin (device input) and stdout (device output)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None and proc.stdout is not None, "start it with PIPE for both"
        self.proc = proc
        self.fd = proc.stdout.fileno()
        self.timeout: float | None = 0.05
        self._eof = False

    def read(self, size: int = 1) -> bytes:
        """Up to `size` bytes; b"" when none arrived within `timeout` or the device has exited."""
        if self._eof:
            time.sleep(self.timeout or 0)
            return b""
        ready, _, _ = select.select([self.fd], [], [], self.timeout)
        if not ready:
            return b""
        data = os.read(self.fd, size)
        if not data:
            self._eof = True
        return data

    @property
    def in_waiting(self) -> int:
        buf = bytearray(4)
        fcntl.ioctl(self.fd, termios.FIONREAD, buf)
        return int.from_bytes(buf, sys.byteorder)

    def write(self, data: bytes) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        """Ends the link: the device reads end of input."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.close()
        except OSError:
            pass
