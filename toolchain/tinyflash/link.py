"""Host side of the verification protocol (docs/protocol.md): COBS frames with CRC-16 over any
pyserial URL — a real board (`/dev/ttyACM0`, `COM3`), QEMU or the host firmware
(`socket://127.0.0.1:PORT`) alike.

`open_link(url)` returns a `Link`; its requests (`info`, `invoke`, `layers`, `reset`) have bounded
timeouts and retries: a request whose answer is missing or damaged is sent again with the same
sequence number (the device answers a repeated request idempotently). What happened on the wire is
counted in `Link.counters`. Every failure is a TinyflashError with one sentence.
"""

from __future__ import annotations

import binascii
import os
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from tinyflash.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, TinyflashError

PROTOCOL_VERSION = 1

# Message types (docs/protocol.md, "Frame types").
MSG_INFO = 0x01
MSG_INVOKE = 0x02
MSG_LAYERS = 0x03
MSG_RESET = 0x04
MSG_INPUT = 0x05
MSG_REPLY = 0x80
MSG_LAYER = 0x90
MSG_ERROR = 0xFF

REQUEST_NAMES = {
    MSG_INFO: "INFO",
    MSG_INVOKE: "INVOKE",
    MSG_LAYERS: "LAYERS",
    MSG_RESET: "RESET",
    MSG_INPUT: "INPUT",
}

# ERROR frame codes.
ERR_BAD_CRC = 1
ERR_TRUNCATED = 2
ERR_OVERSIZED = 3
ERR_BAD_COBS = 4
ERR_UNKNOWN_TYPE = 5
ERR_BAD_LENGTH = 6
ERR_NOT_READY = 7
ERR_INVOKE_FAILED = 8
ERR_NO_INPUT = 9
ERR_BAD_OFFSET = 10

ERROR_NAMES = {
    ERR_BAD_CRC: "BAD_CRC",
    ERR_TRUNCATED: "TRUNCATED",
    ERR_OVERSIZED: "OVERSIZED",
    ERR_BAD_COBS: "BAD_COBS",
    ERR_UNKNOWN_TYPE: "UNKNOWN_TYPE",
    ERR_BAD_LENGTH: "BAD_LENGTH",
    ERR_NOT_READY: "NOT_READY",
    ERR_INVOKE_FAILED: "INVOKE_FAILED",
    ERR_NO_INPUT: "NO_INPUT",
    ERR_BAD_OFFSET: "BAD_OFFSET",
}
# Codes that mean "your frame did not arrive intact": the request is sent again.
TRANSPORT_ERRORS = frozenset({ERR_BAD_CRC, ERR_TRUNCATED, ERR_OVERSIZED, ERR_BAD_COBS})

HEADER = struct.Struct("<BBI")  # type, seq, payload length
FRAME_OVERHEAD = HEADER.size + 2  # + CRC-16

# TFLite TensorType code -> numpy dtype (little-endian on the wire).
TFLITE_DTYPES: dict[int, np.dtype] = {
    0: np.dtype("<f4"),
    1: np.dtype("<f2"),
    2: np.dtype("<i4"),
    3: np.dtype("u1"),
    4: np.dtype("<i8"),
    6: np.dtype("?"),
    7: np.dtype("<i2"),
    9: np.dtype("i1"),
}


# ---- codec --------------------------------------------------------------------------------


def crc16_ccitt_false(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor).
    binascii.crc_hqx is this polynomial, MSB first, with the initial value given."""
    return binascii.crc_hqx(data, crc)


def crc16_bitwise(data: bytes, crc: int = 0xFFFF) -> int:
    """The same CRC bit by bit, as the firmware computes it (kept to cross-check crc_hqx)."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def cobs_encode(data: bytes) -> bytes:
    """COBS encoding of `data` (no zero byte in the result, no delimiter appended). Each run of
    non-zero bytes becomes blocks of at most 254 bytes: code 0xFF for a full block (no implied
    zero), else code = length + 1 with an implied zero after it (dropped at the frame's end)."""
    out = bytearray()
    for run in bytes(data).split(b"\0"):
        while len(run) >= 254:
            out.append(0xFF)
            out += run[:254]
            run = run[254:]
        out.append(len(run) + 1)
        out += run
    return bytes(out)


class FrameError(ValueError):
    """A received frame that cannot be decoded; `kind` is 'cobs', 'short', 'length' or 'crc'."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


def cobs_decode(data: bytes) -> bytes:
    """Inverse of cobs_encode; FrameError('cobs') on a zero byte or a block cut short."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise FrameError("cobs", "zero byte inside a COBS frame")
        end = i + code
        if end > n:
            raise FrameError("cobs", "COBS block runs past the end of the frame")
        block = data[i + 1 : end]
        if 0 in block:
            raise FrameError("cobs", "zero byte inside a COBS frame")
        out += block
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes


def frame_bytes(mtype: int, seq: int, payload: bytes = b"") -> bytes:
    """Wire bytes of one frame: 0x00, COBS(header + payload + CRC), 0x00."""
    body = HEADER.pack(mtype & 0xFF, seq & 0xFF, len(payload)) + payload
    crc = crc16_ccitt_false(body)
    return b"\x00" + cobs_encode(body + struct.pack("<H", crc)) + b"\x00"


def decode_frame(raw: bytes) -> Frame:
    """Decodes the bytes between two delimiters into a Frame (FrameError when damaged)."""
    body = cobs_decode(raw)
    if len(body) < FRAME_OVERHEAD:
        raise FrameError("short", f"frame of {len(body)} bytes is shorter than its header")
    mtype, seq, length = HEADER.unpack_from(body)
    if length != len(body) - FRAME_OVERHEAD:
        raise FrameError(
            "length", f"length field says {length} bytes, frame has {len(body) - FRAME_OVERHEAD}"
        )
    (crc,) = struct.unpack_from("<H", body, len(body) - 2)
    if crc != crc16_ccitt_false(body[:-2]):
        raise FrameError("crc", "CRC-16 mismatch")
    return Frame(mtype, seq, body[HEADER.size : -2])


class _Reader:
    """Little-endian field reader over a payload; a short payload raises FrameError('length')."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise FrameError("length", "payload ends before its last field")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int(struct.unpack("<H", self.take(2))[0])

    def u32(self) -> int:
        return int(struct.unpack("<I", self.take(4))[0])

    def i32(self) -> int:
        return int(struct.unpack("<i", self.take(4))[0])

    def f32(self) -> float:
        return float(struct.unpack("<f", self.take(4))[0])

    def text(self) -> str:
        return self.take(self.u8()).decode("ascii", errors="replace")

    def fields(self, layout: str) -> tuple[int, ...]:
        """Several integer fields at once, `layout` in struct's letters (little-endian)."""
        fmt = struct.Struct("<" + layout)
        return tuple(int(v) for v in fmt.unpack(self.take(fmt.size)))


# ---- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output as the device sees it."""

    type_code: int
    shape: tuple[int, ...]
    scale: float
    zero_point: int
    nbytes: int

    @property
    def dtype(self) -> np.dtype:
        if self.type_code not in TFLITE_DTYPES:
            raise TinyflashError(
                f"The device reported tensor type code {self.type_code}, which "
                "tinyflash cannot represent; regenerate the firmware.",
                EXIT_CHECK_FAILED,
            )
        return TFLITE_DTYPES[self.type_code]


@dataclass(frozen=True)
class DeviceInfo:
    """The INFO reply."""

    protocol_version: int
    model_sha256: str  # hex
    init_status: int
    init_status_name: str
    error_op: int
    arena_used: int
    arena_planned: int
    arena_bytes: int
    max_payload: int
    op_count: int
    selftest_vectors: int
    selftest_failed_vector: int  # -1: every vector passed (or none ran)
    runtime_version: str
    board: str
    tick_unit: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @property
    def ready(self) -> bool:
        return self.init_status == 0


@dataclass(frozen=True)
class Banner:
    """The one ASCII line the harness prints at boot."""

    text: str
    ready: bool
    selftest: str | None  # "PASS", "FAIL", "NONE"; None when init failed
    vectors: int
    arena: int
    init_error: str | None  # status name when init failed
    fields: dict[str, str]


@dataclass(frozen=True)
class LayerTensor:
    index: int  # tensor index in the model
    data: np.ndarray  # shaped and typed


@dataclass(frozen=True)
class LayerRecord:
    op_index: int
    op_name: str
    builtin_code: int
    ticks: int
    outputs: tuple[LayerTensor, ...]


@dataclass(frozen=True)
class LayersResult:
    ops: tuple[LayerRecord, ...]
    ticks: int  # sum of the per-op ticks


@dataclass(frozen=True)
class ResetResult:
    init_status: int
    init_status_name: str
    error_op: int
    arena_used: int


@dataclass
class LinkCounters:
    """What happened on the wire; reported by verify."""

    requests: int = 0
    frames_sent: int = 0
    frames_received: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    retries: int = 0  # requests sent again (same sequence number) or restarted
    timeouts: int = 0  # waits for an answer that ended without one
    damaged_frames: int = 0  # received frames with bad COBS, length or CRC
    stale_frames: int = 0  # intact frames with another request's sequence number
    device_nacks: int = 0  # ERROR frames saying our frame arrived damaged
    device_resets: int = 0  # banner lines seen after the first one

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class DeviceErrorInfo:
    code: int
    name: str
    request: str
    status: int
    status_name: str
    op: int
    detail: int


def parse_error(payload: bytes) -> DeviceErrorInfo:
    r = _Reader(payload)
    code, req, status, op, detail = r.fields("BBHiI")
    text = r.text()
    return DeviceErrorInfo(
        code,
        ERROR_NAMES.get(code, f"code {code}"),
        REQUEST_NAMES.get(req, f"type 0x{req:02x}"),
        status,
        text,
        op,
        detail,
    )


def parse_info(payload: bytes) -> DeviceInfo:
    r = _Reader(payload)
    version = r.u8()
    if version != PROTOCOL_VERSION:
        raise TinyflashError(
            f"The device speaks protocol version {version}, this tinyflash "
            f"speaks {PROTOCOL_VERSION}; rebuild the firmware with this "
            "tinyflash.",
            EXIT_CHECK_FAILED,
        )
    sha = r.take(32).hex()
    status = r.u16()
    error_op = r.i32()
    arena_used = r.u32()
    planned = r.i32()
    arena_bytes = r.u32()
    max_payload = r.u32()
    op_count = r.u32()
    vectors = r.u32()
    failed = r.i32()
    runtime = r.text()
    board = r.text()
    tick_unit = r.text()
    status_name = r.text()
    n_in = r.u8()
    n_out = r.u8()
    specs = []
    for _ in range(n_in + n_out):
        type_code = r.u8()
        dims = r.u8()
        shape = tuple(r.i32() for _ in range(dims))
        scale = r.f32()
        zero_point = r.i32()
        nbytes = r.u32()
        specs.append(TensorSpec(type_code, shape, scale, zero_point, nbytes))
    return DeviceInfo(
        version,
        sha,
        status,
        status_name,
        error_op,
        arena_used,
        planned,
        arena_bytes,
        max_payload,
        op_count,
        vectors,
        failed,
        runtime,
        board,
        tick_unit,
        tuple(specs[:n_in]),
        tuple(specs[n_in:]),
    )


def parse_banner(line: str) -> Banner:
    """Parses `tinyflash ready selftest=PASS vectors=3 arena=1234` or
    `tinyflash error init TFL_ERR_X op=4`."""
    words = line.strip().split()
    fields = {k: v for k, _, v in (w.partition("=") for w in words if "=" in w)}
    if len(words) >= 4 and words[1] == "error" and words[2] == "init":
        return Banner(line.strip(), False, None, 0, 0, words[3], fields)
    ready = len(words) >= 2 and words[1] == "ready"

    def number(key: str) -> int:
        try:
            return int(fields.get(key, "0"))
        except ValueError:
            return 0

    return Banner(
        line.strip(),
        ready,
        fields.get("selftest"),
        number("vectors"),
        number("arena"),
        None,
        fields,
    )


def banner_from_info(info: DeviceInfo) -> Banner:
    """The banner's facts from an INFO reply (for a device whose boot line nobody heard)."""
    if not info.ready:
        text = f"(INFO) tinyflash error init {info.init_status_name} op={info.error_op}"
        return Banner(text, False, None, 0, 0, info.init_status_name, {"op": str(info.error_op)})
    if info.selftest_vectors == 0:
        result = "NONE"
    else:
        result = "PASS" if info.selftest_failed_vector < 0 else "FAIL"
    fields = {
        "selftest": result,
        "vectors": str(info.selftest_vectors),
        "arena": str(info.arena_used),
    }
    if result == "FAIL":
        fields["vector"] = str(info.selftest_failed_vector)
    text = "(INFO) tinyflash ready " + " ".join(f"{k}={v}" for k, v in fields.items())
    return Banner(text, True, result, info.selftest_vectors, info.arena_used, None, fields)


# ---- the link -----------------------------------------------------------------------------


class SerialLike(Protocol):
    """What Link needs of a pyserial object (serial.Serial or a serial_for_url result)."""

    timeout: float | None

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    def close(self) -> None: ...


class _Restart(Exception):
    """Internal: restart a whole multi-frame operation (device lost its staged input)."""


POLL_SECONDS = 0.05


class Link:
    """A protocol session over one serial stream. Use `open_link(url)` to make one."""

    def __init__(
        self, stream: SerialLike, url: str, timeout: float = 5.0, retries: int = 3
    ) -> None:
        self.stream = stream
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.counters = LinkCounters()
        self.banner: Banner | None = None
        self._info: DeviceInfo | None = None
        self._buffer = bytearray()
        self._seq = os.urandom(1)[0]
        stream.timeout = POLL_SECONDS

    # -- plumbing -------------------------------------------------------------------------

    def close(self) -> None:
        try:
            self.stream.close()
        except Exception:  # closing a dead port must not mask the real error
            pass

    def __enter__(self) -> Link:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFF
        return self._seq

    def _write(self, data: bytes) -> None:
        try:
            self.stream.write(data)
            flush = getattr(self.stream, "flush", None)
            if flush is not None:
                flush()
        except Exception as error:
            raise TinyflashError(
                f"Writing to the device on {self.url} failed ({error}); check "
                "that the board is connected and the firmware is running.",
                EXIT_CHECK_FAILED,
            ) from error
        self.counters.frames_sent += 1
        self.counters.bytes_sent += len(data)

    def _fill(self, deadline: float) -> bool:
        """Reads what is available (waiting at most until deadline); False when nothing came."""
        while True:
            try:
                data = self.stream.read(1)
                if data:
                    waiting = getattr(self.stream, "in_waiting", 0) or 0
                    if waiting:
                        data += self.stream.read(waiting)
            except Exception as error:
                raise TinyflashError(
                    f"Reading from the device on {self.url} failed ({error}); "
                    "check that the board is connected and the firmware is "
                    "running.",
                    EXIT_CHECK_FAILED,
                ) from error
            if data:
                self.counters.bytes_received += len(data)
                self._buffer += data
                return True
            if time.monotonic() >= deadline:
                return False

    def _read_raw(self, deadline: float) -> bytes | None:
        """Next non-empty run of bytes between delimiters, or None at the deadline."""
        while True:
            while True:
                zero = self._buffer.find(0)
                if zero < 0:
                    break
                raw = bytes(self._buffer[:zero])
                del self._buffer[: zero + 1]
                if raw:
                    return raw
            if not self._fill(deadline):
                return None

    def _read_frame(self, deadline: float) -> Frame | None:
        """Next frame, or None at the deadline. A damaged frame is counted and returned as
        Frame(-1, -1, raw) for the caller to decide on a resend. A banner line in the stream is the
        boot banner when none was read yet, else a device reset (raises _Restart)."""
        while True:
            raw = self._read_raw(deadline)
            if raw is None:
                return None
            try:
                frame = decode_frame(raw)
            except FrameError:
                start = raw.find(b"tinyflash ")
                if start >= 0 and (b" ready " in raw or b" error init " in raw):
                    line = raw[start:].split(b"\n")[0].decode("ascii", errors="replace")
                    if self.banner is None:
                        self.banner = parse_banner(line)
                        continue
                    self.banner = parse_banner(line)
                    self.counters.device_resets += 1
                    self._info = None
                    raise _Restart() from None
                self.counters.damaged_frames += 1
                return Frame(-1, -1, raw)  # damaged: the caller decides whether to resend
            self.counters.frames_received += 1
            return frame

    def _device_error(self, err: DeviceErrorInfo) -> TinyflashError:
        if err.code == ERR_INVOKE_FAILED:
            return TinyflashError(
                f"The device on {self.url} reported that running the model "
                f"failed at op {err.op} with {err.status_name or err.status}; "
                "run `tinyflash check` on the model and rebuild the firmware.",
                EXIT_CHECK_FAILED,
            )
        if err.code == ERR_NOT_READY:
            return TinyflashError(
                f"The device on {self.url} could not initialise the model "
                f"({err.status_name or err.status} at op {err.op}); regenerate "
                "the firmware (a larger arena or a missing kernel).",
                EXIT_CHECK_FAILED,
            )
        return TinyflashError(
            f"The device on {self.url} reported error {err.name} for the "
            f"{err.request} request (detail {err.detail}); the firmware and "
            "this tinyflash may disagree on the protocol — rebuild it.",
            EXIT_CHECK_FAILED,
        )

    def _request(
        self,
        mtype: int,
        payload: bytes = b"",
        timeout: float | None = None,
        expect: int | None = None,
    ) -> Frame:
        """One request/reply with bounded resends of the same sequence number."""
        timeout = self.timeout if timeout is None else timeout
        expect = (mtype | MSG_REPLY) if expect is None else expect
        seq = self._next_seq()
        wire = frame_bytes(mtype, seq, payload)
        name = REQUEST_NAMES.get(mtype, f"0x{mtype:02x}")
        attempts = 1 + max(0, self.retries)
        # Timeouts end the request after `attempts` waits. A damaged answer or a device NACK is
        # answered by sending again at once; those resends have their own, larger budget because
        # line noise can produce several NACKs for one request.
        damage_budget = 4 * attempts
        timeouts = 0
        problem = "no answer"
        self.counters.requests += 1
        self._write(wire)
        deadline = time.monotonic() + timeout
        while True:
            frame = self._read_frame(deadline)
            resend = False
            if frame is None:
                self.counters.timeouts += 1
                timeouts += 1
                problem = f"no answer within {timeout:g} s"
                if timeouts >= attempts:
                    break
                resend = True
            elif frame.type < 0:
                problem = "its answer arrived damaged"
                resend = damage_budget > 0
                damage_budget -= 1
            elif frame.type == MSG_ERROR:
                try:
                    err = parse_error(frame.payload)
                except FrameError:
                    self.counters.damaged_frames += 1
                    err = None
                if err is None or err.code in TRANSPORT_ERRORS:
                    if err is not None:
                        self.counters.device_nacks += 1
                        problem = f"the device received it damaged ({err.name})"
                    resend = damage_budget > 0
                    damage_budget -= 1
                elif frame.seq != seq:
                    self.counters.stale_frames += 1
                elif err.code == ERR_NO_INPUT:
                    raise _Restart()
                else:
                    raise self._device_error(err)
            elif frame.seq != seq or frame.type != expect:
                self.counters.stale_frames += 1
            else:
                return frame
            if resend:
                self.counters.retries += 1
                self._write(wire)
                deadline = time.monotonic() + timeout
        raise TinyflashError(
            f"The device on {self.url} did not answer the {name} request after "
            f"{timeouts} attempts ({problem}); check the port URL and that the "
            "tinyflash firmware is running on it.",
            EXIT_CHECK_FAILED,
        )

    def _restartable(self, what: str, operation: Any) -> Any:
        attempts = 1 + max(0, self.retries)
        for attempt in range(attempts):
            if attempt:
                self.counters.retries += 1
            try:
                return operation()
            except _Restart:
                continue
        raise TinyflashError(
            f"The device on {self.url} kept losing the {what} request (reset or "
            f"lost input {attempts} times); check the board's power and cable.",
            EXIT_CHECK_FAILED,
        )

    # -- requests -------------------------------------------------------------------------

    def wait_banner(self, timeout: float | None = None, ask_info: bool = True) -> Banner:
        """Reads the boot line (`tinyflash ready ...` / `tinyflash error init ...`).

        A board that booted before the port was opened printed its banner to nobody; then, with
        ask_info, the same facts come from an INFO request (Banner.text starts with "(INFO)")."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            start = self._buffer.find(b"tinyflash ")
            if start >= 0:
                end = self._buffer.find(b"\n", start)
                if end >= 0:
                    line = self._buffer[start:end].decode("ascii", errors="replace")
                    del self._buffer[: end + 1]
                    self.banner = parse_banner(line)
                    return self.banner
            if not self._fill(deadline):
                if ask_info:
                    try:
                        self.banner = banner_from_info(self.info(refresh=True))
                        return self.banner
                    except TinyflashError:
                        pass
                seen = bytes(self._buffer[-60:])
                raise TinyflashError(
                    f"The device on {self.url} printed no tinyflash banner "
                    f"within {timeout:g} s (last bytes: {seen!r}); check the port "
                    "and that the tinyflash firmware is flashed.",
                    EXIT_CHECK_FAILED,
                )

    def info(self, refresh: bool = False) -> DeviceInfo:
        """INFO: model SHA-256, runtime, board, arena, tensors, tick unit."""
        if self._info is not None and not refresh:
            return self._info

        def run() -> DeviceInfo:
            frame = self._request(MSG_INFO)
            try:
                return parse_info(frame.payload)
            except FrameError as error:
                raise TinyflashError(
                    f"The INFO reply from {self.url} is malformed ({error}); "
                    "rebuild the firmware with this tinyflash.",
                    EXIT_CHECK_FAILED,
                ) from error

        self._info = self._restartable("INFO", run)
        return self._info

    def _require_ready(self) -> DeviceInfo:
        info = self.info()
        if not info.ready:
            raise TinyflashError(
                f"The device on {self.url} could not initialise the model "
                f"({info.init_status_name} at op {info.error_op}); regenerate "
                "the firmware (a larger arena or a missing kernel).",
                EXIT_CHECK_FAILED,
            )
        return info

    def pack_inputs(self, inputs: Sequence[np.ndarray]) -> bytes:
        """Checks inputs against the device's tensors and returns their bytes; nothing is sent."""
        info = self._require_ready()
        if len(inputs) != len(info.inputs):
            raise TinyflashError(
                f"Got {len(inputs)} input arrays but the model on {self.url} has "
                f"{len(info.inputs)} inputs; pass one array per input.",
                EXIT_BAD_INPUT,
            )
        parts = []
        for i, (array, spec) in enumerate(zip(inputs, info.inputs)):
            array = np.asarray(array)
            if array.dtype.kind != spec.dtype.kind or array.dtype.itemsize != spec.dtype.itemsize:
                raise TinyflashError(
                    f"Input {i} has dtype {array.dtype} but the model on the "
                    f"device expects {spec.dtype.name}; quantize the data first.",
                    EXIT_BAD_INPUT,
                )
            if tuple(array.shape) != spec.shape:
                raise TinyflashError(
                    f"Input {i} has shape {tuple(array.shape)} but the model on "
                    f"the device expects {spec.shape}; reshape the data.",
                    EXIT_BAD_INPUT,
                )
            data = np.ascontiguousarray(array, dtype=spec.dtype).tobytes()
            if len(data) != spec.nbytes:
                raise TinyflashError(
                    f"Input {i} has {len(data)} bytes but the device's tensor "
                    f"has {spec.nbytes}; regenerate the firmware.",
                    EXIT_CHECK_FAILED,
                )
            parts.append(data)
        return b"".join(parts)

    def _stage(self, info: DeviceInfo, data: bytes) -> bytes:
        """Sends input bytes in INPUT chunks when they do not fit one frame; returns the payload
        for INVOKE/LAYERS (the inputs themselves, or empty when staged)."""
        if len(data) <= info.max_payload:
            return data
        step = info.max_payload - 4
        for offset in range(0, len(data), step):
            self._request(MSG_INPUT, struct.pack("<I", offset) + data[offset : offset + step])
        return b""

    def _unpack_outputs(self, info: DeviceInfo, data: bytes) -> list[np.ndarray]:
        outputs = []
        pos = 0
        for spec in info.outputs:
            chunk = data[pos : pos + spec.nbytes]
            pos += spec.nbytes
            outputs.append(np.frombuffer(chunk, dtype=spec.dtype).reshape(spec.shape).copy())
        if pos != len(data):
            raise TinyflashError(
                f"The INVOKE reply from {self.url} has {len(data)} output bytes, "
                f"the model's outputs have {pos}; rebuild the firmware.",
                EXIT_CHECK_FAILED,
            )
        return outputs

    def invoke(
        self, inputs: Sequence[np.ndarray], timeout: float | None = None
    ) -> tuple[list[np.ndarray], int]:
        """INVOKE: runs the model once; returns its outputs and the elapsed device ticks."""
        data = self.pack_inputs(inputs)
        info = self._require_ready()

        def run() -> tuple[list[np.ndarray], int]:
            payload = self._stage(info, data)
            frame = self._request(MSG_INVOKE, payload, timeout=timeout)
            if len(frame.payload) < 4:
                raise TinyflashError(
                    f"The INVOKE reply from {self.url} is too short; rebuild the "
                    "firmware with this tinyflash.",
                    EXIT_CHECK_FAILED,
                )
            (ticks,) = struct.unpack_from("<I", frame.payload)
            return self._unpack_outputs(info, frame.payload[4:]), ticks

        result: tuple[list[np.ndarray], int] = self._restartable("INVOKE", run)
        return result

    def layers(self, inputs: Sequence[np.ndarray], timeout: float | None = None) -> LayersResult:
        """LAYERS: runs the model once and returns every operator's outputs in op order."""
        data = self.pack_inputs(inputs)
        info = self._require_ready()
        per_frame = self.timeout if timeout is None else timeout

        def run() -> LayersResult:
            payload = self._stage(info, data)
            seq = self._next_seq()
            self.counters.requests += 1
            self._write(frame_bytes(MSG_LAYERS, seq, payload))
            records: list[LayerRecord] = []
            while True:
                frame = self._read_frame(time.monotonic() + per_frame)
                if frame is None:
                    self.counters.timeouts += 1
                    raise _Restart()
                if frame.type < 0:
                    raise _Restart()
                if frame.type == MSG_ERROR:
                    err = parse_error(frame.payload)
                    if err.code in TRANSPORT_ERRORS:
                        self.counters.device_nacks += 1
                        raise _Restart()
                    if frame.seq != seq:
                        self.counters.stale_frames += 1
                        continue
                    if err.code == ERR_NO_INPUT:
                        raise _Restart()
                    raise self._device_error(err)
                if frame.seq != seq:
                    self.counters.stale_frames += 1
                    continue
                if frame.type == MSG_LAYER:
                    records.append(_parse_layer(frame.payload))
                    continue
                if frame.type == MSG_LAYERS | MSG_REPLY:
                    op_count, ticks = struct.unpack_from("<II", frame.payload)
                    # op_count: the LAYER frames sent (every op of subgraph 0, in order, and
                    # the ops of the subgraphs they ran, e.g. CALL_ONCE's init on a first run)
                    if len(records) != op_count or any(
                        a.op_index == b.op_index for a, b in zip(records, records[1:])
                    ):
                        raise _Restart()  # a layer frame went missing
                    return LayersResult(tuple(records), ticks)
                self.counters.stale_frames += 1

        result: LayersResult = self._restartable("LAYERS", run)
        return result

    def reset(self) -> ResetResult:
        """RESET: re-initialises the interpreter on the device."""
        self._info = None

        def run() -> ResetResult:
            r = _Reader(self._request(MSG_RESET).payload)
            status = r.u16()
            error_op = r.i32()
            arena_used = r.u32()
            return ResetResult(status, r.text(), error_op, arena_used)

        result: ResetResult = self._restartable("RESET", run)
        return result


def _parse_layer(payload: bytes) -> LayerRecord:
    r = _Reader(payload)
    op_index, code, ticks = r.fields("III")
    name = r.text()
    outputs = []
    for _ in range(r.u8()):
        index = r.u32()
        type_code = r.u8()
        shape = tuple(r.i32() for _ in range(r.u8()))
        nbytes = r.u32()
        raw = r.take(nbytes)
        dtype = TFLITE_DTYPES.get(type_code, np.dtype("u1"))
        array = np.frombuffer(raw, dtype=dtype).copy()
        if int(np.prod(shape, dtype=np.int64)) == array.size:
            array = array.reshape(shape)
        outputs.append(LayerTensor(index, array))
    return LayerRecord(op_index, name, code, ticks, tuple(outputs))


def open_link(
    url: str,
    timeout: float = 5.0,
    retries: int = 3,
    baudrate: int = 115200,
    connect_timeout: float | None = None,
) -> Link:
    """Opens a pyserial URL (`/dev/ttyACM0`, `COM3`, `socket://127.0.0.1:PORT`, `loop://`).
    socket:// URLs are retried until connect_timeout (default: timeout) while the emulator starts."""
    import serial  # pyserial

    deadline = time.monotonic() + (timeout if connect_timeout is None else connect_timeout)
    while True:
        try:
            stream = serial.serial_for_url(
                url, baudrate=baudrate, timeout=POLL_SECONDS, do_not_open=True
            )
            if url.startswith("socket://"):
                # pyserial's socket open() discards whatever arrived while connecting — with QEMU
                # (-serial ...,wait=on) or the host port that is the boot banner. Keep it.
                stream.reset_input_buffer = lambda: None
                try:
                    stream.open()
                finally:
                    del stream.reset_input_buffer
            else:
                stream.open()
            return Link(stream, url, timeout=timeout, retries=retries)
        except (serial.SerialException, ValueError, OSError) as error:
            if url.startswith("socket://") and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            raise TinyflashError(
                f"Cannot open serial port {url} ({error}); check the name "
                "(e.g. /dev/ttyACM0, COM3, socket://127.0.0.1:PORT) and that no "
                "other program holds it.",
                EXIT_BAD_INPUT,
            ) from error


@dataclass(frozen=True)
class ProbeResult:
    """What `tinyflash probe` reports about a device."""

    url: str
    banner: Banner
    info: DeviceInfo
    counters: LinkCounters

    def to_dict(self) -> dict[str, Any]:
        def spec(t: TensorSpec) -> dict[str, Any]:
            return {
                "dtype": t.dtype.name if t.type_code in TFLITE_DTYPES else str(t.type_code),
                "shape": list(t.shape),
                "scale": t.scale,
                "zero_point": t.zero_point,
                "bytes": t.nbytes,
            }

        info = dict(self.info.__dict__)
        info["inputs"] = [spec(t) for t in self.info.inputs]
        info["outputs"] = [spec(t) for t in self.info.outputs]
        return {
            "url": self.url,
            "banner": self.banner.text,
            "ready": self.info.ready,
            "selftest": self.banner.selftest,
            "info": info,
            "link": self.counters.as_dict(),
        }


def probe(url: str, timeout: float = 5.0, retries: int = 3) -> ProbeResult:
    """Opens `url`, reads the banner (or asks INFO when it was missed) and the INFO reply."""
    with open_link(url, timeout=timeout, retries=retries) as link:
        banner = link.wait_banner()
        info = link.info()
        return ProbeResult(url, banner, info, link.counters)
