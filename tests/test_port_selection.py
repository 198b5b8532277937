"""Serial-port selection for real boards (platformio.select_serial_port over `pio device list
--serial --json-output`), with the device lists in tests/fixtures/pio_device_list/. (`flash
--upload-port` goes to `pio run -t upload --upload-port` for every board; tests/test_platform.py
checks it with a real upload to QEMU.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from tinyflash import platformio as pio
from tinyflash.boards import load_board
from tinyflash.cli import error_sentence
from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError

LISTS = REPO / "tests" / "fixtures" / "pio_device_list"


def devices(name: str) -> list[pio.SerialDevice]:
    return pio.parse_device_list((LISTS / name).read_text())


def test_parse_keeps_every_port_and_reads_usb_ids() -> None:
    listed = devices("nucleo_and_esp32.json")
    assert [d.port for d in listed] == ["/dev/ttyACM0", "/dev/ttyUSB0", "/dev/ttyS0"]
    assert [d.usb_id for d in listed] == [(0x0483, 0x374B), (0x10C4, 0xEA60), None]
    assert listed[0].as_dict()["usb_id"] == "0483:374b"


def test_the_one_usb_board_is_chosen_and_builtin_ports_ignored() -> None:
    assert pio.select_serial_port(devices("one_nano33ble.json")) == "/dev/ttyACM0"
    assert (
        pio.select_serial_port(devices("one_nano33ble.json"), load_board("nano33ble"))
        == "/dev/ttyACM0"
    )
    # Any board: the one connected device is taken even when its id is not in the manifest.
    assert (
        pio.select_serial_port(devices("one_nano33ble.json"), load_board("esp32dev"))
        == "/dev/ttyACM0"
    )


def test_windows_com_ports() -> None:
    assert pio.select_serial_port(devices("windows_one_board.json"), load_board("pico")) == "COM3"


def test_no_board_connected_asks_for_port() -> None:
    with pytest.raises(TinyflashError) as error:
        pio.select_serial_port(devices("only_builtin.json"), load_board("nucleo_f446re"))
    assert error.value.exit_code == EXIT_BAD_INPUT
    assert "no USB serial device is connected" in error.value.message
    assert "board nucleo_f446re" in error.value.message and error.value.options == ("port",)
    assert error_sentence(error.value).endswith("or pass its serial port with --port.")


def test_several_boards_pick_the_one_whose_usb_id_the_manifest_names() -> None:
    listed = devices("nucleo_and_esp32.json")
    assert pio.select_serial_port(listed, load_board("nucleo_f446re")) == "/dev/ttyACM0"
    assert pio.select_serial_port(listed, load_board("esp32dev")) == "/dev/ttyUSB0"
    with pytest.raises(TinyflashError) as error:
        pio.select_serial_port(listed, load_board("pico"))  # neither is a Pico
    assert "2 USB serial devices are connected" in error.value.message
    assert "/dev/ttyACM0" in error.value.message and "/dev/ttyUSB0" in error.value.message
    with pytest.raises(TinyflashError):
        pio.select_serial_port(listed)  # no board to tell them apart


def test_two_identical_boards_are_ambiguous() -> None:
    with pytest.raises(TinyflashError, match="pass the right one with `port`"):
        pio.select_serial_port(devices("two_nucleos.json"), load_board("nucleo_l4r5zi"))


def test_manifest_usb_ids() -> None:
    assert pio.board_usb_ids(load_board("nano33ble")) == {(0x2341, 0x005A), (0x2341, 0x805A)}
    assert pio.board_usb_ids(load_board("pico")) == {(0x2E8A, 0x00C0)}
    assert (0x0483, 0x374B) in pio.board_usb_ids(load_board("disco_f746ng"))
    assert pio.board_usb_ids(load_board("mps2-an386")) == set()


@pytest.mark.parametrize("text", ["not json", '{"port": "x"}'])
def test_unreadable_device_list(text: str) -> None:
    with pytest.raises(TinyflashError, match="`port`"):
        pio.parse_device_list(text)


def test_real_pio_device_list_runs_and_parses() -> None:
    """The real `pio device list` of this machine: it parses, and whatever it shows, selection
    either names a USB port or asks for the port (never picks a built-in UART)."""
    listed = pio.list_serial_devices()
    assert all(isinstance(d, pio.SerialDevice) and d.port for d in listed)
    try:
        chosen = pio.select_serial_port(listed, load_board("nano33ble"))
    except TinyflashError as error:
        assert "port" in error.options
    else:
        assert any(d.port == chosen and d.usb_id is not None for d in listed)


def test_verify_of_a_real_board_without_port_uses_detection(tmp_path: Path) -> None:
    """`tinyflash verify PROJECT` on a real board's project, with no board connected here: it
    asks `pio device list` and, finding no USB device, says to pass --port (exit 2) instead of
    trying to start an emulator."""
    from tinyflash import codegen

    if any(d.usb_id for d in pio.list_serial_devices()):
        pytest.skip("a USB serial device is connected to this machine")
    project = tmp_path / "nano"
    codegen.generate(
        REPO / "tests" / "golden" / "tiny_cnn.tflite", "nano33ble", project, selftest=0
    )
    done = subprocess.run(
        [sys.executable, "-m", "tinyflash.cli", "verify", str(project)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    assert "no USB serial device is connected" in done.stderr
    assert "board nano33ble" in done.stderr and "Traceback" not in done.stderr


def test_device_dicts_are_json() -> None:
    json.dumps([d.as_dict() for d in devices("nucleo_and_esp32.json")])


def test_offline_first_build_of_a_real_board_is_explained() -> None:
    """The log of a real `tinyflash build` of a nucleo_f446re project on this machine (no
    network): PlatformIO fails to install ststm32; the failure is named in one sentence."""
    log = (REPO / "tests" / "fixtures" / "pio_logs" / "offline_first_build_ststm32.log").read_text()
    assert pio.download_failure(log) == "ststm32"
    assert pio.download_failure("src/main.c:3:10: fatal error: x.h: No such file") is None
    assert (
        pio.download_failure("Tool Manager: Installing toolchain-gccarmnoneeabi\nHTTPClientError: ")
        == "toolchain-gccarmnoneeabi"
    )
