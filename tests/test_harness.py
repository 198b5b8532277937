"""The device protocol server (firmware/harness) compiled for the host and driven through a real
byte stream (subprocess pipes, or socket:// through pyserial) by tinyflash.link, over both of its
backends: the tinyflash runtime, and the TFLM adapter (firmware/tflm) over TFLM's API stand-in
(tests/fixtures/tflm_double, which runs tinyflash's runtime behind tflite::MicroInterpreter).
Results are compared exactly with the tflite-micro Python runtime.

The test firmware (support.harness_host) is compiled with gcc/g++ -fsanitize=address,undefined
(cached under build/harness_test/<hash>/); its model is a small two-layer FULLY_CONNECTED int8
network converted with TensorFlow (cached as well; the `fc`, `vectors` and `firmware` fixtures are
in conftest.py)."""

from __future__ import annotations

import hashlib
import os
import select
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from support.cli import tinyflash
from support.harness_host import (
    FC_INPUT,
    Device,
    assert_runtime_has_kernels,
    build_firmware,
    random_input,
)
from support.runtime_build import SAN_ENV
from support.runtime_host import tflm_layers, tflm_reference
from tinyflash import link as L
from tinyflash.errors import TinyflashError

pytestmark = pytest.mark.slow


#: The two backends of the one protocol server (firmware/harness/include/tfl_server.h).
BACKENDS = ("runtime", "tflm")
#: What each backend reports: INFO's runtime string and the init status of a too-small arena.
RUNTIME_NAME = {"runtime": "0.1.0", "tflm": "tflm"}
ARENA_TOO_SMALL = {"runtime": "TFL_ERR_ARENA_TOO_SMALL", "tflm": "TFL_TFLM_ALLOCATE_TENSORS"}


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def server_firmware(fc: bytes, vectors: list[tuple[bytes, bytes]], backend: str) -> Path:
    """The protocol test firmware over `backend` (the runtime's is `firmware`)."""
    return build_firmware(fc, vectors, backend=backend)


@pytest.fixture(scope="module")
def firmware_small(fc: bytes, vectors: list[tuple[bytes, bytes]], backend: str) -> Path:
    return build_firmware(fc, vectors, max_payload=64, backend=backend)


@pytest.fixture
def device(server_firmware: Path):
    dev = Device(server_firmware)
    yield dev
    dev.kill()


# ---- tests -------------------------------------------------------------------------------------


def test_banner_info_and_clean_exit(device: Device, fc: bytes, backend: str) -> None:
    banner = device.link.wait_banner()
    assert banner.ready and banner.selftest == "PASS" and banner.vectors == 3, banner.text
    info = device.link.info()
    assert info.ready and info.init_status_name == "TFL_OK" and info.error_op == -1
    assert info.model_sha256 == hashlib.sha256(fc).hexdigest()
    assert info.runtime_version == RUNTIME_NAME[backend] and info.board == "host-test"
    assert info.tick_unit == "microsecond"
    assert info.arena_used == banner.arena > 0 and info.arena_planned == 4321
    assert info.arena_bytes >= info.arena_used and info.max_payload == 1024
    assert info.op_count == 2 and info.selftest_vectors == 3 and info.selftest_failed_vector == -1
    from tflite_micro.python.tflite_micro import runtime

    ref = runtime.Interpreter.from_bytes(fc, arena_size=64 * 1024)
    in_detail = ref.get_input_details(0)
    out_detail = ref.get_output_details(0)
    (spec_in,), (spec_out,) = info.inputs, info.outputs
    assert (
        spec_in.shape == (1, FC_INPUT) and spec_in.dtype == np.int8 and spec_in.nbytes == FC_INPUT
    )
    assert spec_out.shape == (1, 4) and spec_out.dtype == np.int8
    assert (spec_in.scale, spec_in.zero_point) == (
        np.float32(in_detail["quantization_parameters"]["scales"][0]),
        int(in_detail["quantization_parameters"]["zero_points"][0]),
    )
    assert (spec_out.scale, spec_out.zero_point) == (
        np.float32(out_detail["quantization_parameters"]["scales"][0]),
        int(out_detail["quantization_parameters"]["zero_points"][0]),
    )
    assert device.finish() == 0


def test_invoke_is_bit_exact_with_tflm(device: Device, fc: bytes) -> None:
    device.link.wait_banner()
    rng = np.random.default_rng(2024)
    for _ in range(20):
        x = random_input(rng)
        outputs, ticks = device.link.invoke([x])
        (want,) = tflm_reference(fc, [x])
        assert outputs[0].dtype == np.int8 and outputs[0].shape == want.shape
        np.testing.assert_array_equal(outputs[0], want)
        assert 0 <= ticks < 10_000_000  # microseconds on the host port
    counters = device.link.counters
    assert counters.retries == 0 and counters.damaged_frames == 0 and counters.device_nacks == 0
    assert counters.requests == 21  # INFO + 20 inline INVOKEs (96 bytes fit one frame)
    assert device.finish() == 0


def test_layers_streams_every_op(device: Device, fc: bytes, backend: str) -> None:
    device.link.wait_banner()
    x = random_input(np.random.default_rng(5))
    result = device.link.layers([x])
    (want,) = tflm_reference(fc, [x])
    if backend == "tflm":  # no per-operator hook in TFLM's API: no records, the whole run's ticks
        assert result.ops == () and result.ticks >= 0
        np.testing.assert_array_equal(device.link.invoke([x])[0][0], want)
        assert device.finish() == 0
        return
    assert [r.op_index for r in result.ops] == [0, 1]
    assert [r.op_name for r in result.ops] == ["FULLY_CONNECTED", "FULLY_CONNECTED"]
    assert [r.builtin_code for r in result.ops] == [9, 9]
    hidden = result.ops[0].outputs[0]
    assert hidden.data.shape == (1, 16) and hidden.data.dtype == np.int8
    np.testing.assert_array_equal(hidden.data, tflm_layers(fc, [x])[0][0])
    np.testing.assert_array_equal(result.ops[1].outputs[0].data, want)
    assert result.ticks == sum(r.ticks for r in result.ops)
    # The hook must not disturb the interpreter: a plain INVOKE afterwards is still exact.
    outputs, _ = device.link.invoke([x])
    np.testing.assert_array_equal(outputs[0], want)
    assert device.finish() == 0


def test_chunked_input_on_a_small_frame_build(
    firmware_small: Path, fc: bytes, backend: str
) -> None:
    dev = Device(firmware_small)
    try:
        assert dev.link.wait_banner().selftest == "PASS"
        assert dev.link.info().max_payload == 64
        rng = np.random.default_rng(99)
        for _ in range(5):
            x = random_input(rng)
            outputs, _ = dev.link.invoke([x])
            np.testing.assert_array_equal(outputs[0], tflm_reference(fc, [x])[0])
        # 96 input bytes in 60-byte chunks: 2 INPUT requests + 1 INVOKE per inference.
        assert dev.link.counters.requests == 1 + 5 * 3
        x = random_input(rng)
        layers = dev.link.layers([x])
        if backend == "runtime":
            np.testing.assert_array_equal(
                layers.ops[-1].outputs[0].data, tflm_reference(fc, [x])[0]
            )
        assert dev.link.counters.requests == 1 + 6 * 3
        assert dev.finish() == 0
    finally:
        dev.kill()


def _expect_error(dev: Device, wire: bytes, code: int) -> L.DeviceErrorInfo:
    dev.serial.write(wire)
    frame = dev.link._read_frame(time.monotonic() + 5)
    assert frame is not None and frame.type == L.MSG_ERROR, frame
    err = L.parse_error(frame.payload)
    assert err.code == code, (err, wire[:40])
    return err


def test_malformed_frames_get_error_frames_and_device_keeps_serving(
    device: Device, fc: bytes
) -> None:
    link = device.link
    link.wait_banner()
    good = L.frame_bytes(L.MSG_INFO, 7)
    body = L.cobs_decode(good[1:-1])
    # bad CRC: flip one payload-less header bit and keep the old CRC
    damaged = bytearray(body)
    damaged[1] ^= 0x10
    _expect_error(device, b"\0" + L.cobs_encode(bytes(damaged)) + b"\0", L.ERR_BAD_CRC)
    # truncated: the frame cut before its CRC, and a frame shorter than a header
    _expect_error(device, b"\0" + L.cobs_encode(body[:-3]) + b"\0", L.ERR_TRUNCATED)
    _expect_error(device, b"\0" + L.cobs_encode(b"\x01\x02\x03") + b"\0", L.ERR_TRUNCATED)
    # a length field far beyond the maximum, with a valid CRC
    huge = struct.pack("<BBI", L.MSG_INVOKE, 8, 0xFFFFFFF0)
    huge += struct.pack("<H", L.crc16_ccitt_false(huge))
    err = _expect_error(device, b"\0" + L.cobs_encode(huge) + b"\0", L.ERR_OVERSIZED)
    assert err.detail == 1024
    # a frame longer than the receive buffer (4000 payload bytes)
    _expect_error(
        device, L.frame_bytes(L.MSG_INVOKE, 9, bytes(range(256)) * 16)[:-1] + b"\0", L.ERR_OVERSIZED
    )
    # COBS block that claims more bytes than arrive before the delimiter
    _expect_error(device, b"\0\x0a\x01\x02\0", L.ERR_BAD_COBS)
    # unknown request type, and a known one with a payload it does not take
    err = _expect_error(device, L.frame_bytes(0x42, 10), L.ERR_UNKNOWN_TYPE)
    assert err.detail == 0x42
    _expect_error(device, L.frame_bytes(L.MSG_INFO, 11, b"x"), L.ERR_BAD_LENGTH)
    err = _expect_error(device, L.frame_bytes(L.MSG_INVOKE, 12, b"\1" * 5), L.ERR_BAD_LENGTH)
    assert err.detail == FC_INPUT
    _expect_error(
        device, L.frame_bytes(L.MSG_INPUT, 13, struct.pack("<I", 95) + b"ab"), L.ERR_BAD_OFFSET
    )
    _expect_error(
        device,
        L.frame_bytes(L.MSG_INPUT, 14, struct.pack("<I", 0xFFFFFFFF) + b"a"),
        L.ERR_BAD_OFFSET,
    )
    # the INVOKE without staged input
    _expect_error(device, L.frame_bytes(L.MSG_INVOKE, 15), L.ERR_NO_INPUT)
    # still serving, and still exact
    assert link.info(refresh=True).model_sha256 == hashlib.sha256(fc).hexdigest()
    x = random_input(np.random.default_rng(1))
    np.testing.assert_array_equal(link.invoke([x])[0][0], tflm_reference(fc, [x])[0])
    assert device.finish() == 0


def test_random_garbage_never_hangs_or_overruns(device: Device, fc: bytes) -> None:
    link = device.link
    link.wait_banner()
    seed = int.from_bytes(os.urandom(4), "little")
    rng = np.random.default_rng(seed)
    x = random_input(rng)
    (want,) = tflm_reference(fc, [x])
    for round_ in range(30):
        size = int(rng.integers(1, 3000))
        junk = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
        if round_ % 3 == 0:  # a damaged copy of a real frame
            wire = bytearray(L.frame_bytes(L.MSG_INVOKE, 200, x.tobytes()))
            for _ in range(int(rng.integers(1, 4))):
                wire[int(rng.integers(1, len(wire) - 1))] ^= 1 << int(rng.integers(0, 8))
            junk = bytes(wire)
        device.serial.write(junk)
        # the device is still alive and answers a real request exactly
        outputs, _ = link.invoke([x])
        assert np.array_equal(outputs[0], want), f"seed {seed} round {round_}"
    assert device.proc.poll() is None, f"seed {seed}"
    assert device.finish() == 0, f"seed {seed}"


def test_repeated_sequence_number_is_answered_idempotently(device: Device) -> None:
    device.link.wait_banner()
    x = random_input(np.random.default_rng(3))
    wire = L.frame_bytes(L.MSG_INVOKE, 77, x.tobytes())
    device.serial.write(wire)
    first = device.link._read_frame(time.monotonic() + 5)
    # The same frame again (the host missed the reply) is answered from the kept result; an
    # INVOKE with the same number and no input proves the model did not run again.
    device.serial.write(L.frame_bytes(L.MSG_INVOKE, 77))
    second = device.link._read_frame(time.monotonic() + 5)
    assert first is not None and second is not None
    assert first.type == L.MSG_INVOKE | L.MSG_REPLY and second == first
    # A new number without input is refused: the inputs were consumed by the run.
    device.serial.write(L.frame_bytes(L.MSG_INVOKE, 78))
    third = device.link._read_frame(time.monotonic() + 5)
    assert third is not None and third.type == L.MSG_ERROR
    assert L.parse_error(third.payload).code == L.ERR_NO_INPUT
    assert device.finish() == 0


def test_reset_reinitialises(device: Device, fc: bytes) -> None:
    device.link.wait_banner()
    before = device.link.info()
    result = device.link.reset()
    assert result.init_status == 0 and result.init_status_name == "TFL_OK"
    assert result.arena_used == before.arena_used and result.error_op == -1
    x = random_input(np.random.default_rng(8))
    np.testing.assert_array_equal(device.link.invoke([x])[0][0], tflm_reference(fc, [x])[0])
    assert device.finish() == 0


def test_init_failure_banner_and_info(server_firmware: Path, backend: str) -> None:
    status = ARENA_TOO_SMALL[backend]
    dev = Device(server_firmware, env={"HARNESS_TEST_ARENA_BYTES": "16"})
    try:
        banner = dev.link.wait_banner()
        assert not banner.ready and banner.init_error == status, banner.text
        assert banner.text == f"tinyflash error init {status} op=-1"
        info = dev.link.info()
        assert not info.ready and info.init_status_name == status and info.error_op == -1
        assert info.inputs == () and info.outputs == () and info.arena_bytes == 16
        with pytest.raises(TinyflashError, match="could not initialise the model"):
            dev.link.invoke([random_input(np.random.default_rng(0))])
        # the request-level refusal as the device sends it
        dev.serial.write(L.frame_bytes(L.MSG_INVOKE, 5))
        frame = dev.link._read_frame(time.monotonic() + 5)
        err = L.parse_error(frame.payload)
        assert err.code == L.ERR_NOT_READY and err.status_name == status
        reset = dev.link.reset()  # retries the init: the arena is still too small
        assert reset.init_status_name == status and reset.arena_used == 0
        assert dev.finish() == 0
    finally:
        dev.kill()


def test_selftest_failure_names_vector_and_byte(
    server_firmware: Path, vectors: list[tuple[bytes, bytes]]
) -> None:
    dev = Device(server_firmware, env={"HARNESS_TEST_CORRUPT": "1"})
    try:
        banner = dev.link.wait_banner()
        got = np.frombuffer(vectors[1][1], dtype=np.int8)[1]
        want = np.int8(np.uint8(vectors[1][1][1] ^ 1).view(np.int8))
        assert banner.ready and banner.selftest == "FAIL", banner.text
        assert banner.fields["vector"] == "1" and banner.fields["byte"] == "1"
        assert banner.fields["got"] == str(int(got)) and banner.fields["want"] == str(int(want))
        assert dev.link.info().selftest_failed_vector == 1
        assert dev.finish() == 0
    finally:
        dev.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_socket_url_through_pyserial(firmware: Path, fc: bytes) -> None:
    port = _free_port()
    env = {**os.environ, **SAN_ENV, "TINYFLASH_HOST_TCP_PORT": str(port)}
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [str(firmware)], stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=env
        )
        try:
            with L.open_link(f"socket://127.0.0.1:{port}", timeout=5) as link:
                assert link.wait_banner().selftest == "PASS"
                x = random_input(np.random.default_rng(4))
                outputs, _ = link.invoke([x])
                np.testing.assert_array_equal(outputs[0], tflm_reference(fc, [x])[0])
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_missed_banner_is_recovered_from_info(device: Device) -> None:
    # Read the boot line past the link, as if the board had booted before the port was opened.
    seen = b""
    deadline = time.monotonic() + 5
    while not seen.endswith(b"\n") and time.monotonic() < deadline:
        seen += device.serial.read(1)
    assert seen.startswith(b"tinyflash ready selftest=PASS")
    banner = device.link.wait_banner(timeout=0.3)
    assert banner.text.startswith("(INFO) tinyflash ready") and banner.selftest == "PASS"
    assert banner.vectors == 3 and banner.arena == device.link.info().arena_used
    assert device.finish() == 0


def _need_arm_tools() -> None:
    import shutil

    for tool in ("qemu-system-arm", "arm-none-eabi-gcc"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (scripts/bootstrap-system.sh)")


@pytest.fixture(scope="module")
def qemu_fc(fc: bytes, tmp_path_factory: pytest.TempPathFactory):
    """The FC model's generated project for mps2-an386, built once for this module."""
    _need_arm_tools()
    from tinyflash import boards, codegen, platformio

    root = tmp_path_factory.mktemp("qemu_fc")
    model_path = root / "fc.tflite"
    model_path.write_bytes(fc)
    project = codegen.generate(model_path, "mps2-an386", root / "project")
    build = platformio.build_project(project.project_dir)
    return project, build, boards.load_board("mps2-an386")


@pytest.mark.qemu
def test_fc_model_on_qemu_cortex_m4(fc: bytes, qemu_fc) -> None:
    """The generated project for mps2-an386, built with PlatformIO and run on QEMU, answers
    exactly what tflite-micro computes (issue 5's path end to end, on one small model)."""
    from tinyflash import emulator

    project, build, board = qemu_fc
    with emulator.start_device(board, build.elf) as dev:
        with L.open_link(dev.url, timeout=20) as link:
            banner = link.wait_banner()
            assert banner.ready and banner.selftest == "PASS", banner.text
            info = link.info()
            assert info.model_sha256 == hashlib.sha256(fc).hexdigest()
            assert info.board == "mps2-an386" and "instructions" in info.tick_unit
            assert info.arena_planned == project.arena_bytes and info.arena_used == banner.arena
            rng = np.random.default_rng(17)
            ticks = []
            for _ in range(8):
                x = random_input(rng)
                outputs, t = link.invoke([x])
                np.testing.assert_array_equal(outputs[0], tflm_reference(fc, [x])[0])
                ticks.append(t)
            # -icount makes the instruction count exact; SysTick counts it in 40-instruction
            # units, so the counter's phase at the start moves a reading by at most one tick.
            assert 0 < min(ticks) and max(ticks) - min(ticks) <= 1, ticks
            layers = link.layers([x])
            want = tflm_layers(fc, [x])
            assert [r.op_index for r in layers.ops] == list(range(len(want)))
            for record in layers.ops:
                for out, ref in zip(record.outputs, want[record.op_index]):
                    np.testing.assert_array_equal(out.data, ref)
            assert abs(layers.ticks - min(ticks)) <= len(layers.ops) + 1
            assert link.counters.retries == 0 and link.counters.damaged_frames == 0


@pytest.mark.parametrize("name", ["ad01_int8", "kws_ref_model", "pretrainedResnet_quant"])
def test_shared_model_through_the_harness(name: str) -> None:
    """A real MLPerf Tiny model through the protocol: INVOKE and every LAYERS tensor equal the
    tflite-micro runtime's exactly. ResNet's 3072-byte input travels in INPUT chunks, ad01's
    640 bytes inline; LAYER frames carry tensors of up to 16 KiB."""
    from conftest import shared_model_path
    from tinyflash.model import parse_model

    model = shared_model_path(name).read_bytes()
    info = parse_model(model, name)
    assert_runtime_has_kernels(model)
    rng = np.random.default_rng(sum(name.encode()))
    specs = [info.tensors[i] for i in info.inputs]

    def make() -> list[np.ndarray]:
        return [rng.integers(-128, 128, size=t.shape, dtype=np.int8) for t in specs]

    first = make()
    expected = b"".join(np.asarray(o).tobytes() for o in tflm_reference(model, first))
    exe = build_firmware(model, [(b"".join(x.tobytes() for x in first), expected)])
    dev = Device(exe, timeout=30)
    try:
        banner = dev.link.wait_banner(timeout=30)
        assert banner.ready and banner.selftest == "PASS", banner.text
        for inputs in (first, make()):
            outputs, _ = dev.link.invoke(inputs)
            for out, want in zip(outputs, tflm_reference(model, inputs), strict=True):
                np.testing.assert_array_equal(out, np.asarray(want).reshape(out.shape))
            layers = dev.link.layers(inputs)
            assert [r.op_name for r in layers.ops] == [op.name for op in info.ops]
            ref_layers = tflm_layers(model, inputs)
            for record in layers.ops:
                for out, want in zip(record.outputs, ref_layers[record.op_index], strict=True):
                    np.testing.assert_array_equal(
                        out.data,
                        want.reshape(out.data.shape),
                        err_msg=f"{name} op {record.op_index} {record.op_name}",
                    )
        in_bytes = sum(t.nbytes for t in specs)
        chunked = in_bytes > dev.link.info().max_payload
        per_run = (-(-in_bytes // (dev.link.info().max_payload - 4)) + 1) if chunked else 1
        assert dev.link.counters.requests == 1 + 4 * per_run
        assert dev.link.counters.retries == 0
        assert dev.finish() == 0
    finally:
        dev.kill()


@pytest.mark.qemu
def test_resnet_on_qemu_cortex_m4_chunked_and_per_layer(tmp_path: Path) -> None:
    """ResNet on mps2-an386 with the generated project (real memory plan): its 3072-byte input
    goes in INPUT chunks, its 16 KiB activations come back in LAYER frames, all exact."""
    from conftest import shared_model_path

    _need_arm_tools()
    from tinyflash import boards, codegen, emulator, platformio
    from tinyflash.model import parse_model

    path = shared_model_path("pretrainedResnet_quant")
    model = path.read_bytes()
    assert_runtime_has_kernels(model)
    info = parse_model(model, path.name)
    project = codegen.generate(path, "mps2-an386", tmp_path / "project")
    build = platformio.build_project(project.project_dir)
    with emulator.start_device(boards.load_board("mps2-an386"), build.elf) as dev:
        with L.open_link(dev.url, timeout=60) as link:
            assert link.wait_banner(timeout=60).selftest == "PASS"
            x = np.random.default_rng(6).integers(-128, 128, size=(1, 32, 32, 3), dtype=np.int8)
            outputs, ticks = link.invoke([x])
            (want,) = tflm_reference(model, [x])
            np.testing.assert_array_equal(outputs[0], want.reshape(outputs[0].shape))
            layers = link.layers([x])
            assert len(layers.ops) == len(info.ops)
            ref_layers = tflm_layers(model, [x])
            for record in layers.ops:
                for out, want in zip(record.outputs, ref_layers[record.op_index], strict=True):
                    np.testing.assert_array_equal(
                        out.data,
                        want.reshape(out.data.shape),
                        err_msg=f"op {record.op_index} {record.op_name}",
                    )
            # 3072 bytes in 1020-byte chunks: 4 INPUT frames before each INVOKE/LAYERS.
            assert link.counters.requests == 1 + 2 * 5 and link.counters.retries == 0
            assert ticks > 0 and abs(layers.ticks - ticks) <= len(info.ops) + 1


def test_random_well_formed_frames_each_get_one_final_answer(device: Device, fc: bytes) -> None:
    """Intact frames with random types, numbers and payloads (valid CRC): every one is answered by
    its reply or an ERROR with a protocol code, and the device stays exact afterwards."""
    link = device.link
    link.wait_banner()
    seed = int.from_bytes(os.urandom(4), "little")
    rng = np.random.default_rng(seed)
    last = None
    for i in range(150):
        mtype = int(rng.choice([1, 2, 3, 4, 5, 0, 6, 0x81, 0xFF, int(rng.integers(0, 256))]))
        size = int(rng.choice([0, 1, 4, 5, FC_INPUT, FC_INPUT + 4, int(rng.integers(0, 1100))]))
        payload = rng.integers(0, 256, size=size, dtype=np.uint8).tobytes()
        if mtype == L.MSG_INPUT and size >= 4 and rng.random() < 0.5:
            payload = struct.pack("<I", int(rng.integers(0, FC_INPUT + 2))) + payload[4:]
        seq = (i * 7) & 0xFF
        if (seq, mtype) == last:
            seq = (seq + 1) & 0xFF
        last = (seq, mtype)
        device.serial.write(L.frame_bytes(mtype, seq, payload))
        deadline = time.monotonic() + 5
        while True:
            frame = link._read_frame(deadline)
            where = f"seed {seed} frame {i}: type {mtype:#x} payload {size}"
            assert frame is not None and frame.type >= 0, where
            assert frame.seq == seq, where
            if frame.type == L.MSG_LAYER:
                assert mtype == L.MSG_LAYERS, where
                continue
            if frame.type == L.MSG_ERROR:
                code = L.parse_error(frame.payload).code
                assert code in L.ERROR_NAMES and code not in (L.ERR_BAD_CRC, L.ERR_BAD_COBS), where
                if code == L.ERR_OVERSIZED:
                    assert size > 1024, where
            else:
                assert frame.type == mtype | L.MSG_REPLY, where
            break
    x = random_input(rng)
    np.testing.assert_array_equal(link.invoke([x])[0][0], tflm_reference(fc, [x])[0])
    assert device.finish() == 0, f"seed {seed}"


class StreamFault:
    """One planned byte flip in a byte stream, placed by position, not by how the stream happens
    to be split into reads: once armed, the first byte at least `after` bytes further on that
    neither is nor becomes a frame delimiter (0x00) gets `mask` flipped. (A new or lost delimiter
    would split or merge frames: a different fault.)"""

    def __init__(self, mask: int) -> None:
        self.mask = mask
        self.countdown: int | None = None  # None: disarmed
        self.flipped = 0

    def arm(self, after: int) -> None:
        self.countdown = after

    def apply(self, data: bytes) -> bytes:
        if self.countdown is None:
            return data
        out = bytearray(data)
        for i, byte in enumerate(out):
            if self.countdown > 0:
                self.countdown -= 1
            elif byte not in (0, self.mask):
                out[i] ^= self.mask
                self.countdown = None
                self.flipped += 1
                break
        return bytes(out)


def test_stream_fault_is_placed_by_position_not_by_chunking() -> None:
    """The proxy's fault lands on the same byte of a reply whether TCP delivers it whole or in
    pieces of 1, 2 or 3 bytes (as it does on a busy machine)."""
    wire = L.frame_bytes(L.MSG_INVOKE | L.MSG_REPLY, 9, bytes([1, 0, 2, 1, 5, 6, 7, 8]))
    results = set()
    for size in (len(wire), 1, 2, 3):
        fault = StreamFault(0x01)
        fault.arm(4)
        out = b"".join(fault.apply(wire[i : i + size]) for i in range(0, len(wire), size))
        assert fault.flipped == 1 and out.count(0) == wire.count(0)
        results.add(out)
    (damaged,) = results
    assert sum(a != b for a, b in zip(damaged, wire)) == 1
    with pytest.raises(L.FrameError):
        L.decode_frame(damaged[1:-1])


class FaultProxy:
    """A TCP proxy between the host and QEMU's serial port that damages the stream on request:
    flip a bit a few bytes into the host->device or the device->host stream, drop the next
    device->host frame, or stall both directions. Every fault is placed by byte count, so it
    lands in the same frame however TCP splits the stream (small pieces on a busy machine)."""

    def __init__(self, target_port: int) -> None:
        import threading

        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.port = int(self.server.getsockname()[1])
        self.target_port = target_port
        self.to_device = StreamFault(0x10)
        self.to_host = StreamFault(0x01)
        self.drop_to_host_zeros = 0
        self.flowing = threading.Event()  # cleared: stalled, nothing is read or forwarded
        self.flowing.set()
        self.done = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stall(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    def _run(self) -> None:
        client, _ = self.server.accept()
        device = socket.create_connection(("127.0.0.1", self.target_port))
        while not self.done:
            self.flowing.wait()
            ready, _, _ = select.select([client, device], [], [], 0.02)
            if not self.flowing.is_set():
                continue  # stalled while waiting: the bytes stay queued in the sockets
            for sock in ready:
                data = sock.recv(65536)
                if not data:
                    self.done = True
                    break
                if sock is client:
                    device.sendall(self.to_device.apply(data))
                    continue
                out = bytearray()
                for byte in data:
                    if self.drop_to_host_zeros:
                        if byte == 0:
                            self.drop_to_host_zeros -= 1
                        continue
                    out.append(byte)
                client.sendall(self.to_host.apply(bytes(out)))
        client.close()
        device.close()

    def close(self) -> None:
        self.done = True
        self.flowing.set()
        self.server.close()


@pytest.mark.qemu
def test_link_faults_through_a_proxy_to_qemu(fc: bytes, qemu_fc) -> None:
    """Flipped bits both ways, a dropped reply and a stalled line between the host and QEMU: each
    ends in a retried exact result or one clear error — never a wrong answer."""
    from tinyflash import emulator

    _, build, board = qemu_fc
    rng = np.random.default_rng(23)
    with emulator.start_device(board, build.elf) as dev:
        proxy = FaultProxy(dev.port)
        try:
            with L.open_link(f"socket://127.0.0.1:{proxy.port}", timeout=2, retries=2) as link:
                assert link.wait_banner(timeout=20).selftest == "PASS"
                link.info()

                def exact() -> None:
                    x = random_input(rng)
                    outputs, _ = link.invoke([x])
                    np.testing.assert_array_equal(outputs[0], tflm_reference(fc, [x])[0])

                # The line is idle between requests, so the next bytes each way are the
                # INVOKE request (107 bytes) and its reply (19): 8 resp. 4 bytes into them is
                # inside the frame, past its leading delimiter.
                proxy.to_device.arm(8)
                exact()
                assert proxy.to_device.flipped == 1 and link.counters.device_nacks == 1
                proxy.to_host.arm(4)
                exact()
                assert proxy.to_host.flipped == 1 and link.counters.damaged_frames == 1
                proxy.drop_to_host_zeros = 2  # the whole reply: leading and trailing delimiter
                exact()
                assert link.counters.timeouts == 1
                proxy.stall()
                with pytest.raises(
                    TinyflashError, match="did not answer the INVOKE request after 3"
                ):
                    link.invoke([random_input(rng)])
                proxy.resume()
                exact()  # the stalled answers arrive late, are stale, and are dropped
                assert link.counters.stale_frames >= 1
        finally:
            proxy.close()


def _tcp_device(firmware: Path, extra_env: dict[str, str] | None = None):
    port = _free_port()
    env = {**os.environ, **SAN_ENV, **(extra_env or {}), "TINYFLASH_HOST_TCP_PORT": str(port)}
    proc = subprocess.Popen(
        [str(firmware)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    return proc, f"socket://127.0.0.1:{port}"


def test_probe_command(firmware: Path, fc: bytes) -> None:
    import json

    proc, url = _tcp_device(firmware)
    try:
        done = tinyflash("probe", "--port", url, "--json")
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert data["ready"] and data["selftest"] == "PASS"
        assert data["info"]["model_sha256"] == hashlib.sha256(fc).hexdigest()
        assert data["info"]["inputs"] == [
            {
                "dtype": "int8",
                "shape": [1, FC_INPUT],
                "scale": data["info"]["inputs"][0]["scale"],
                "zero_point": data["info"]["inputs"][0]["zero_point"],
                "bytes": FC_INPUT,
            }
        ]
        assert data["link"]["retries"] == 0
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    proc, url = _tcp_device(firmware, {"HARNESS_TEST_ARENA_BYTES": "16"})
    try:
        done = tinyflash("probe", "--port", url)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "TFL_ERR_ARENA_TOO_SMALL" in done.stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    done = tinyflash("probe", "--port", "/dev/tinyflash-none", "--timeout", "0.2")
    assert done.returncode == 2 and "Cannot open serial port /dev/tinyflash-none" in done.stderr
