"""The DS-CNN-like keyword example in 16x8 (issue 14): examples/kws_dscnn/kws_16x8.tflite, as
committed (no training here), checked deployable and verified bit-exact with tflite-micro on the
host build and on the Cortex-M4 with both kernel sets, on the example's own inputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from support.cli import tinyflash
from support.int16x8 import FIRMWARES, assert_bit_exact_16x8, needs_tools, verify_json
from tinyflash.model import parse_model
from tinyflash.opcheck import SCHEME_16X8, check_model

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "kws_dscnn"
KWS_16X8 = EXAMPLE / "kws_16x8.tflite"
SAMPLES = 8


def test_kws_16x8_is_a_deployable_ds_cnn() -> None:
    """int16 I/O, the DS-CNN's ops (BatchNorm folded into the convolutions), every one 16x8."""
    info = parse_model(KWS_16X8.read_bytes(), KWS_16X8.name)
    assert info.tensors[info.inputs[0]].shape == (1, 49, 10, 1)
    assert info.tensors[info.inputs[0]].dtype == info.tensors[info.outputs[0]].dtype == "int16"
    assert [op.name for op in info.ops] == [
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "CONV_2D",
        "AVERAGE_POOL_2D",
        "FULLY_CONNECTED",
        "SOFTMAX",
    ]
    report = check_model(info)
    assert report.scheme == SCHEME_16X8 and report.deployable, report.offenders


@pytest.fixture(scope="module")
def kws_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first held-out inputs of the example (train.py's load_data: no TensorFlow, no
    training), as an .npz for verify --data."""
    spec = importlib.util.spec_from_file_location("kws_train", EXAMPLE / "train.py")
    assert spec is not None and spec.loader is not None
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    _, _, x_test, y_test = train.load_data()
    path = tmp_path_factory.mktemp("kws") / "inputs.npz"
    np.savez(path, x=x_test[:SAMPLES], y=y_test[:SAMPLES])
    return path


@pytest.mark.slow
@needs_tools
@pytest.mark.parametrize("board,kernels", FIRMWARES)
def test_kws_16x8_is_bit_exact(tmp_path: Path, kws_inputs: Path, board: str, kernels: str) -> None:
    project = tmp_path / "p"
    done = tinyflash("generate", KWS_16X8, "--board", board, "--kernels", kernels, "-o", project)
    assert done.returncode == 0, done.stdout + done.stderr
    result = verify_json(project, "--samples", str(SAMPLES), "--data", kws_inputs)
    assert_bit_exact_16x8(result, SAMPLES)
