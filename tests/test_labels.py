"""Accuracy on the device (issue 17): `verify --labels` and `deploy --labels` report the device's
top-1 accuracy against the labels beside the host int8 model's (tflite-micro) and the float
model's, and the device's agreement with each. The exit code still follows bit-exactness; on
the example the device is bit-exact, so its accuracy equals the host int8 accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from support.cli import tinyflash
from tinyflash.model import load_model
from tinyflash.verify import label_accuracy

REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO / "examples" / "digits"


def _one_hot(cls: int, size: int = 10) -> list[np.ndarray]:
    row = np.full((1, size), -100, np.int8)
    row[0, cls] = 50
    return [row]


def test_label_accuracy_counts_classes() -> None:
    info = load_model(DIGITS / "digits_int8.tflite")
    labels = np.array([0, 1, 2, 1])
    device = [_one_hot(0), _one_hot(1), _one_hot(1), _one_hot(1)]  # sample 2 is wrong
    host = [_one_hot(0), _one_hot(1), _one_hot(2), _one_hot(1)]
    floats = [[np.eye(10, dtype=np.float32)[0][None]]] * 4  # always class 0
    acc = label_accuracy(info, labels, device, host, floats)
    assert acc.samples == 4
    assert acc.device == 0.75 and acc.host_int8 == 1.0 and acc.float_model == 0.25
    assert acc.agreement_host_int8 == 0.75 and acc.agreement_float == 0.25
    without_float = label_accuracy(info, labels, device, device, None)
    assert without_float.float_model is None and without_float.agreement_float is None


def _on_host(  # type: ignore[no-untyped-def]
    command: str,
    out: Path,
    samples: int,
    *extra: object,
    model: Path = DIGITS / "digits_int8.tflite",
):
    """`tinyflash COMMAND` on the example's int8 model (or `model`), host firmware, test.npz as
    data and labels."""
    test = DIGITS / "test.npz"
    return tinyflash(
        command,
        model,
        "--board",
        "host",
        "-o",
        out,
        "--data",
        test,
        "--labels",
        test,
        "-n",
        str(samples),
        *extra,
    )


@pytest.mark.slow
def test_verify_labels_on_the_example(tmp_path: Path) -> None:
    run = _on_host(
        "verify", tmp_path / "project", 40, "--float-model", DIGITS / "digits.keras", "--json"
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["passed"]
    acc = result["accuracy"]
    assert acc["samples"] == 40
    # bit-exact with tflite-micro => the same classes, the same accuracy
    assert acc["device"] == acc["host_int8"] and acc["agreement_host_int8"] == 1.0
    assert acc["float_model"] is not None and acc["agreement_float"] is not None
    assert acc["device"] > 0.8 and acc["float_model"] > 0.8


@pytest.mark.slow
def test_deploy_labels_prints_device_accuracy(tmp_path: Path) -> None:
    run = _on_host("deploy", tmp_path / "deploy", 30)
    assert run.returncode == 0, run.stdout + run.stderr
    line = next(x for x in run.stdout.splitlines() if x.startswith("accuracy on 30 labelled"))
    device = line.split("device ")[1].split("%")[0]
    host = line.split("host int8 (tflite-micro) ")[1].split("%")[0]
    assert device == host, line
    assert "device top-1 agreement: with host int8 100.00%" in run.stdout
    assert "PASS" in run.stdout


@pytest.mark.slow
def test_uint8_io_model_runs_on_the_device(tmp_path: Path) -> None:
    """--mode uint8-io deploys: QUANTIZE uint8 -> int8 at the input and int8 -> uint8 at the
    output run on the device, bit-exact with tflite-micro, and the labels accuracy agrees."""
    model = tmp_path / "u8.tflite"
    converted = tinyflash(
        "convert",
        DIGITS / "digits.keras",
        "-o",
        model,
        "--mode",
        "uint8-io",
        "--data",
        DIGITS / "calibration.npz",
        "--samples",
        "50",
        "--json",
    )
    assert converted.returncode == 0, converted.stdout + converted.stderr
    summary = json.loads(converted.stdout)
    assert summary["deployable"] is True and summary["host_only"] is False
    info = load_model(model)
    assert info.tensors[info.inputs[0]].dtype == "uint8"
    assert info.tensors[info.outputs[0]].dtype == "uint8"
    run = _on_host("verify", tmp_path / "project", 20, "--json", model=model)
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["passed"]
    assert result["accuracy"]["device"] == result["accuracy"]["host_int8"]
