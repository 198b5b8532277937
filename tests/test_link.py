"""tinyflash.link: the codec (COBS, CRC-16, frames, replies) and the retry logic, the latter
against the real harness firmware (support.harness_host builds it; the `fc` and `firmware`
fixtures are in conftest.py) with faults injected into the byte stream between host and device:
flipped bits, dropped replies, a reset banner, a stall. Faults are placed by byte position, so
they land where intended however the stream is split into reads."""

from __future__ import annotations

import os
import signal
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.harness_host import Device, random_input
from support.runtime_build import SAN_ENV, SANITIZE_CFLAGS
from support.runtime_host import tflm_reference
from support.serial_double import PipeSerial
from tinyflash import link as L
from tinyflash.errors import TinyflashError

# ---- codec ---------------------------------------------------------------------------------


def test_crc16_ccitt_false_check_value() -> None:
    assert L.crc16_ccitt_false(b"123456789") == 0x29B1  # the catalogue's check value
    assert L.crc16_ccitt_false(b"") == 0xFFFF
    assert L.crc16_bitwise(b"123456789") == 0x29B1


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=600))
def test_crc16_fast_equals_bitwise(data: bytes) -> None:
    assert L.crc16_ccitt_false(data) == L.crc16_bitwise(data)


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=1200)
    | st.builds(lambda n, z: b"\x01" * n + b"\x00" * z, st.integers(0, 600), st.integers(0, 3))
)
def test_cobs_round_trip(data: bytes) -> None:
    encoded = L.cobs_encode(data)
    assert 0 not in encoded
    assert len(encoded) <= len(data) + 1 + len(data) // 254 + 1
    assert L.cobs_decode(encoded) == data


@pytest.mark.parametrize("n", [253, 254, 255, 508, 509])
def test_cobs_block_boundaries(n: int) -> None:
    data = bytes((i % 255) + 1 for i in range(n))
    assert L.cobs_decode(L.cobs_encode(data)) == data
    assert L.cobs_decode(L.cobs_encode(data + b"\0")) == data + b"\0"


def test_frame_round_trip_and_damage() -> None:
    wire = L.frame_bytes(L.MSG_INVOKE, 200, b"\x00\x01hello\x00")
    assert wire[0] == 0 and wire[-1] == 0 and 0 not in wire[1:-1]
    frame = L.decode_frame(wire[1:-1])
    assert frame == L.Frame(L.MSG_INVOKE, 200, b"\x00\x01hello\x00")
    body = bytearray(L.cobs_decode(wire[1:-1]))
    body[7] ^= 0x04
    with pytest.raises(L.FrameError) as info:
        L.decode_frame(L.cobs_encode(bytes(body)))
    assert info.value.kind == "crc"
    with pytest.raises(L.FrameError) as info:
        L.decode_frame(L.cobs_encode(bytes(body[:5])))
    assert info.value.kind == "short"
    with pytest.raises(L.FrameError) as info:
        L.decode_frame(L.cobs_encode(bytes(body[:-3]) + bytes(body[-2:])))
    assert info.value.kind == "length"
    with pytest.raises(L.FrameError) as info:
        L.decode_frame(b"\x09\x01\x02")
    assert info.value.kind == "cobs"


def test_banner_parsing() -> None:
    ok = L.parse_banner("tinyflash ready selftest=PASS vectors=3 arena=1234\n")
    assert ok.ready and ok.selftest == "PASS" and ok.vectors == 3 and ok.arena == 1234
    bad = L.parse_banner(
        "tinyflash ready selftest=FAIL vectors=3 arena=96 vector=2 byte=5 got=-3 want=-2"
    )
    assert bad.selftest == "FAIL" and bad.fields["vector"] == "2" and bad.fields["got"] == "-3"
    err = L.parse_banner("tinyflash error init TFL_ERR_ARENA_TOO_SMALL op=-1")
    assert (
        not err.ready and err.init_error == "TFL_ERR_ARENA_TOO_SMALL" and err.fields["op"] == "-1"
    )


def test_error_payload_parsing() -> None:
    payload = struct.pack("<BBHiIB", L.ERR_INVOKE_FAILED, L.MSG_INVOKE, 9, 4, 0, 6) + b"TFL_X!"
    err = L.parse_error(payload)
    assert (err.name, err.request, err.status, err.op, err.status_name) == (
        "INVOKE_FAILED",
        "INVOKE",
        9,
        4,
        "TFL_X!",
    )
    with pytest.raises(L.FrameError):
        L.parse_error(payload[:5])


def test_open_link_bad_port_is_one_sentence() -> None:
    with pytest.raises(TinyflashError, match="Cannot open serial port /dev/tinyflash-none"):
        L.open_link("/dev/tinyflash-none", timeout=0.2)


def test_silent_port_times_out_with_bounded_retries() -> None:
    # loop:// echoes our own request back: an intact frame of the wrong type, which must be
    # ignored, then the bounded timeouts end in one sentence.
    link = L.open_link("loop://", timeout=0.2, retries=2)
    start = time.monotonic()
    with pytest.raises(TinyflashError, match=r"did not answer the INFO request after 3 attempts"):
        link.info()
    assert_waited(time.monotonic() - start, 3 * 0.2)
    assert link.counters.timeouts == 3 and link.counters.retries == 2
    assert link.counters.stale_frames == 3
    link.close()


def assert_waited(elapsed: float, waits: float) -> None:
    """The link gave up after its timeouts and no later. A busy machine only lengthens a wait, so
    the lower bound is exact; the upper one has 10 s of slack for the scheduler, which a wait that
    restarts on every stale frame or never ends still exceeds."""
    assert waits <= elapsed < waits + 10, (elapsed, waits)


# ---- retries against the real harness -------------------------------------------------------

#: Answer timeout of the faulty-device link: far above any real answer time (milliseconds), so
#: only a fault causes a timeout; the tests about timeouts pass a short one to the request.
ANSWER_TIMEOUT = 10.0


class Faulty:
    """Wraps a serial-like stream and damages it on request."""

    def __init__(self, inner: PipeSerial) -> None:
        self.inner = inner
        self.flip_write_at: int | None = None  # absolute sent-byte index to damage
        self.flip_read_at: int | None = None  # absolute received-byte index to damage
        self.drop_zeros = 0  # drop received bytes until this many 0x00 were dropped
        self.inject: bytes = b""  # bytes to deliver before the next real ones
        self.received = 0
        self.sent = 0

    @property
    def timeout(self) -> float | None:
        return self.inner.timeout

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self.inner.timeout = value

    @property
    def in_waiting(self) -> int:
        return 0

    def write(self, data: bytes) -> int:
        damaged = bytearray(data)
        for i, byte in enumerate(damaged):
            # at or after the mark, never creating or removing a delimiter (as in read)
            if self.flip_write_at is not None and self.sent + i >= self.flip_write_at:
                if byte not in (0, 0x20):
                    damaged[i] ^= 0x20
                    self.flip_write_at = None
        self.sent += len(data)
        return self.inner.write(bytes(damaged))

    def flush(self) -> None:
        pass

    def read(self, size: int = 1) -> bytes:
        if self.inject:
            out, self.inject = self.inject[:size], self.inject[size:]
            return out
        data = bytearray(self.inner.read(size))
        kept = bytearray()
        for byte in data:
            index = self.received
            self.received += 1
            if self.drop_zeros:
                if byte == 0:
                    self.drop_zeros -= 1
                continue
            # Damage one byte at or after the mark, never creating or removing a delimiter
            # (that would split or merge frames: a different fault).
            if self.flip_read_at is not None and index >= self.flip_read_at and byte not in (0, 1):
                byte ^= 0x01
                self.flip_read_at = None
            kept.append(byte)
        return bytes(kept)

    def close(self) -> None:
        self.inner.close()


slow = pytest.mark.slow


@pytest.fixture
def faulty_device(firmware: Path):
    dev = Device(firmware, timeout=ANSWER_TIMEOUT, retries=3)
    faulty = Faulty(dev.serial)
    dev.link = L.Link(faulty, "pipe://faulty", timeout=ANSWER_TIMEOUT, retries=3)
    dev.link.wait_banner(timeout=5)
    dev.link.info()
    yield dev, faulty
    dev.kill()


def _x(seed: int) -> np.ndarray:
    return random_input(np.random.default_rng(seed))


@slow
def test_flipped_request_bit_is_resent(faulty_device, fc: bytes) -> None:
    dev, faulty = faulty_device
    x = _x(1)
    faulty.flip_write_at = faulty.sent + 8  # inside the INVOKE request (107 bytes)
    outputs, _ = dev.link.invoke([x])
    np.testing.assert_array_equal(outputs[0], tflm_reference(fc, [x])[0])
    assert dev.link.counters.device_nacks == 1 and dev.link.counters.retries == 1
    assert dev.finish() == 0


@slow
def test_damaged_reply_is_requested_again_and_answered_idempotently(
    faulty_device, fc: bytes
) -> None:
    dev, faulty = faulty_device
    x = _x(2)
    faulty.flip_read_at = faulty.received + 12  # inside the coming INVOKE reply
    outputs, _ = dev.link.invoke([x])
    np.testing.assert_array_equal(outputs[0], tflm_reference(fc, [x])[0])
    assert dev.link.counters.damaged_frames == 1 and dev.link.counters.retries == 1
    assert dev.finish() == 0


@slow
def test_lost_reply_times_out_and_is_resent(faulty_device, fc: bytes) -> None:
    dev, faulty = faulty_device
    x = _x(3)
    faulty.drop_zeros = 2  # the whole reply frame: leading and trailing delimiter
    start = time.monotonic()
    # 2 s: the resent request's answer must come within it (it takes milliseconds)
    outputs, _ = dev.link.invoke([x], timeout=2.0)
    elapsed = time.monotonic() - start
    np.testing.assert_array_equal(outputs[0], tflm_reference(fc, [x])[0])
    assert dev.link.counters.timeouts == 1 and dev.link.counters.retries == 1
    assert_waited(elapsed, 2.0)
    assert dev.finish() == 0


@slow
def test_reset_banner_mid_run_restarts_the_request(faulty_device, fc: bytes) -> None:
    dev, faulty = faulty_device
    x = _x(4)
    faulty.inject = b"\0tinyflash ready selftest=PASS vectors=3 arena=96\n"
    outputs, _ = dev.link.invoke([x])
    np.testing.assert_array_equal(outputs[0], tflm_reference(fc, [x])[0])
    assert dev.link.counters.device_resets == 1
    assert dev.finish() == 0


@slow
def test_damaged_layers_stream_is_restarted(faulty_device, fc: bytes) -> None:
    dev, faulty = faulty_device
    x = _x(5)
    faulty.flip_read_at = faulty.received + 30  # inside the first LAYER frame
    result = dev.link.layers([x])
    assert [r.op_index for r in result.ops] == [0, 1]
    np.testing.assert_array_equal(result.ops[-1].outputs[0].data, tflm_reference(fc, [x])[0])
    assert dev.link.counters.retries >= 1 and dev.link.counters.damaged_frames >= 1
    assert dev.finish() == 0


@slow
def test_stalled_device_is_a_clear_error_in_bounded_time(faulty_device) -> None:
    dev, _ = faulty_device
    os.kill(dev.proc.pid, signal.SIGSTOP)
    try:
        start = time.monotonic()
        with pytest.raises(
            TinyflashError, match=r"did not answer the INVOKE request after 4 attempts"
        ):
            dev.link.invoke([_x(6)], timeout=0.5)
        assert_waited(time.monotonic() - start, 4 * 0.5)
        assert dev.link.counters.timeouts == 4
    finally:
        os.kill(dev.proc.pid, signal.SIGCONT)


@slow
def test_wrong_input_is_refused_before_anything_is_sent(faulty_device) -> None:
    dev, _ = faulty_device
    sent = dev.link.counters.bytes_sent
    with pytest.raises(TinyflashError, match=r"Input 0 has shape \(96,\) but .* expects \(1, 96\)"):
        dev.link.invoke([_x(7).reshape(96)])
    with pytest.raises(TinyflashError, match=r"Input 0 has dtype uint8 but .* expects int8"):
        dev.link.invoke([_x(7).view(np.uint8)])
    with pytest.raises(TinyflashError, match=r"Got 2 input arrays but the model .* has 1 inputs"):
        dev.link.invoke([_x(7), _x(8)])
    assert dev.link.counters.bytes_sent == sent
    assert dev.finish() == 0


# ---- the C codec against the Python codec ----------------------------------------------------

CODEC_RX = 300  # HARNESS_CODEC_RX in tests/c/harness_codec_main.c


def _codec_driver() -> Path:
    import hashlib
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    sources = [
        repo / "tests" / "c" / "harness_codec_main.c",
        repo / "firmware" / "harness" / "src" / "tfl_harness_frame.c",
        repo / "firmware" / "harness" / "src" / "tfl_harness_crc.c",
    ]
    headers = [
        repo / "firmware" / "harness" / "src" / "tfl_harness_internal.h",
        repo / "firmware" / "harness" / "include" / "tfl_server.h",
    ]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources + headers)).hexdigest()[:16]
    exe = repo / "build" / "harness_codec" / digest / "harness_codec"
    if not exe.is_file():
        exe.parent.mkdir(parents=True, exist_ok=True)
        tmp = exe.with_name(f"harness_codec.{os.getpid()}")
        proc = subprocess.run(
            [
                "gcc",
                *SANITIZE_CFLAGS,
                f"-I{repo / 'firmware' / 'harness' / 'src'}",
                f"-I{repo / 'firmware' / 'harness' / 'include'}",
                f"-I{repo / 'firmware' / 'runtime' / 'include'}",
                f"-I{repo / 'firmware' / 'ports' / 'include'}",
                *map(str, sources),
                "-o",
                str(tmp),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        tmp.replace(exe)
    return exe


def _run_codec(records: list[tuple[bytes, bytes]]) -> bytes:
    import subprocess

    stdin = b"".join(op + struct.pack("<I", len(data)) + data for op, data in records)
    proc = subprocess.run(
        [str(_codec_driver())],
        input=stdin,
        capture_output=True,
        timeout=60,
        env={**os.environ, **SAN_ENV},
    )
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    return proc.stdout


def _case_payloads(rng: np.random.Generator) -> list[bytes]:
    cases = [b"", b"\0", b"\0\0\0", bytes(range(1, 256)) * 3]
    for n in (252, 253, 254, 255, 256, 507, 508, 509, 1000):
        cases.append(bytes(int(v) for v in rng.integers(1, 256, size=n)))  # no zero at all
        cases.append(bytes(int(v) for v in rng.integers(1, 256, size=n)) + b"\0")
    for _ in range(40):
        n = int(rng.integers(0, 1500))
        data = rng.integers(0, 256, size=n, dtype=np.uint8)
        data[rng.random(n) < rng.random()] = 0  # from no zeros to mostly zeros
        cases.append(data.tobytes())
    return cases


@pytest.mark.slow
def test_c_encoder_matches_python_byte_for_byte() -> None:
    seed = int.from_bytes(os.urandom(4), "little")
    rng = np.random.default_rng(seed)
    payloads = _case_payloads(rng)
    out = _run_codec([(b"E", bytes([0x82, i & 0xFF]) + p) for i, p in enumerate(payloads)])
    pos = 0
    for i, payload in enumerate(payloads):
        (n,) = struct.unpack_from("<I", out, pos)
        wire = out[pos + 4 : pos + 4 + n]
        pos += 4 + n
        assert wire == L.frame_bytes(0x82, i, payload), (
            f"seed {seed} case {i} ({len(payload)} bytes)"
        )
    assert pos == len(out)


@pytest.mark.slow
def test_c_decoder_agrees_with_python_on_frames_and_garbage() -> None:
    seed = int.from_bytes(os.urandom(4), "little")
    rng = np.random.default_rng(seed)
    streams = []
    for i, payload in enumerate(_case_payloads(rng)):
        streams.append(L.frame_bytes(0x02, i, payload))  # valid frames, some beyond the buffer
        junk = rng.integers(0, 256, size=int(rng.integers(1, 900)), dtype=np.uint8)
        junk[rng.random(junk.size) < 0.9] |= 1  # mostly non-zero: long garbage "frames"
        streams.append(b"\0" + junk.tobytes() + b"\0")
    out = _run_codec([(b"D", s) for s in streams])
    pos = 0
    for i, stream in enumerate(streams):
        segments = stream.split(b"\0")[:-1]  # one result per delimiter
        for segment in segments:
            result = out[pos]
            (n,) = struct.unpack_from("<I", out, pos + 1)
            decoded = out[pos + 5 : pos + 5 + n]
            pos += 5 + n
            where = f"seed {seed} stream {i} segment of {len(segment)} bytes"
            if not segment:
                assert result == 0, where  # TFL_RX_EMPTY
                continue
            try:
                expected: bytes | None = L.cobs_decode(segment)
            except L.FrameError:
                expected = None
            if expected is not None and len(expected) <= CODEC_RX:
                assert (result, decoded) == (1, expected), where  # TFL_RX_FRAME
            elif expected is not None:
                assert result == 3, where  # TFL_RX_OVERFLOW
            else:
                assert result in (2, 3), where  # BAD_COBS, or OVERFLOW first
        assert out[pos] == 0xEE
        pos += 1
    assert pos == len(out)


@slow
def test_first_banner_read_by_a_request_is_not_a_reset(firmware: Path) -> None:
    dev = Device(firmware)
    try:
        info = dev.link.info()  # no wait_banner(): the banner is still in the stream
        assert info.ready and dev.link.banner is not None and dev.link.banner.selftest == "PASS"
        assert dev.link.counters.device_resets == 0 and dev.link.counters.retries == 0
        assert dev.finish() == 0
    finally:
        dev.kill()
