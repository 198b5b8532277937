"""16x8 quantization (int16 activations, int8 weights; issue 14) through check, generate, build
and verify: the verdict (which ops run 16x8 comes from the runtime's one list,
firmware/runtime/include/tfl_kernels_int16.h), the refusals naming the op, deploy's early refusal
of host-only modes, and hand-built and converted 16x8 models bit-exact with tflite-micro on the
host build and on QEMU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from support.cli import tinyflash
from support.int16x8 import FIRMWARES, assert_bit_exact_16x8, needs_tools, verify_json
from support.tflbuilder import ModelBuilder, quantized_bias_scale
from tinyflash.errors import EXIT_BAD_INPUT
from tinyflash.model import parse_model
from tinyflash.opcheck import (
    SCHEME_16X8,
    SCHEME_INT8,
    check_model,
    int16_kernels,
    runtime_kernels,
)

REPO = Path(__file__).resolve().parents[1]


def mlp_16x8(bias_type: str = "int64", hidden_op: str | None = None) -> bytes:
    """x int16[1, 8] -> FULLY_CONNECTED(int64 bias, RELU) -> [hidden_op] -> FULLY_CONNECTED ->
    SOFTMAX -> int16[1, 4], as the 16x8 converter writes it (symmetric int16 activations)."""
    rng = np.random.default_rng(14)
    b = ModelBuilder()
    x = b.tensor("x", [1, 8], "int16", scale=1.0 / 4096, zero_point=0)
    w1 = b.tensor(
        "w1",
        None,
        "int8",
        data=rng.integers(-127, 128, (16, 8)),
        scale=[0.01] * 16,
        zero_point=[0] * 16,
    )
    b1 = b.tensor(
        "b1",
        None,
        bias_type,
        data=rng.integers(-3000, 3000, 16),
        scale=quantized_bias_scale(1.0 / 4096, [0.01] * 16),
        zero_point=[0] * 16,
    )
    h = b.tensor("h", [1, 16], "int16", scale=1.0 / 2048, zero_point=0)
    b.op("FULLY_CONNECTED", [x, w1, b1], [h], fused_activation_function="RELU")
    if hidden_op is not None:
        h2 = b.tensor("h2", [1, 16], "int16", scale=1.0 / 2048, zero_point=0)
        b.op(hidden_op, [h], [h2], options_type=None)
        h = h2
    w2 = b.tensor(
        "w2", None, "int8", data=rng.integers(-127, 128, (4, 16)), scale=0.02, zero_point=0
    )
    b2 = b.tensor(
        "b2",
        None,
        "int64",
        data=rng.integers(-3000, 3000, 4),
        scale=quantized_bias_scale(1.0 / 2048, [0.02]),
        zero_point=0,
    )
    logits = b.tensor("logits", [1, 4], "int16", scale=1.0 / 1024, zero_point=0)
    b.op("FULLY_CONNECTED", [h, w2, b2], [logits])
    y = b.tensor("y", [1, 4], "int16", scale=1.0 / 32768, zero_point=0)
    b.op("SOFTMAX", [logits], [y], beta=1.0)
    return b.build([x], [y])


def test_int16_list_names_kernels_of_the_runtime() -> None:
    """Every op of tfl_kernels_int16.h has a kernel (tfl_kernels.h); the list is sorted and holds
    this helper's ops."""
    ops = int16_kernels()
    assert set(ops) <= set(runtime_kernels())
    assert list(ops) == sorted(ops)
    assert {
        "AVERAGE_POOL_2D",
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "DEQUANTIZE",
        "FULLY_CONNECTED",
        "MAX_POOL_2D",
        "MEAN",
        "QUANTIZE",
        "SOFTMAX",
        "TRANSPOSE_CONV",
    } <= set(ops)


def test_16x8_model_is_deployable_and_names_the_scheme() -> None:
    report = check_model(parse_model(mlp_16x8(), "mlp_16x8.tflite"))
    assert report.deployable, report.offenders
    assert report.scheme == SCHEME_16X8 == "16x8: int16 activations, int8 weights"


def test_int32_bias_is_accepted_in_16x8() -> None:
    assert check_model(parse_model(mlp_16x8("int32"), "m.tflite")).deployable


def test_int8_model_scheme_and_int64_bias_refused() -> None:
    """An int8 model keeps the int8 scheme; an int64 bias there is refused as before."""
    b = ModelBuilder()
    x = b.tensor("x", [1, 4], "int8", scale=0.1, zero_point=0)
    w = b.tensor("w", None, "int8", data=np.ones((2, 4)), scale=0.1, zero_point=0)
    bias = b.tensor("b", None, "int64", data=np.ones(2), scale=0.01, zero_point=0)
    y = b.tensor("y", [1, 2], "int8", scale=0.1, zero_point=0)
    b.op("FULLY_CONNECTED", [x, w, bias], [y])
    report = check_model(parse_model(b.build([x], [y]), "m.tflite"))
    assert report.scheme == SCHEME_INT8 and not report.deployable
    assert "int64 bias" in report.offenders[0]


def test_int16_constant_operand_is_accepted_in_16x8() -> None:
    """The unrolled 16x8 LSTM adds an int16 constant (its gates' ADDs): deployable in a 16x8
    model and run bit-exact; the same constant in an int8 model stays refused."""
    from support.compare import assert_batch_same_as_tflm  # noqa: PLC0415

    def add_model(act: str) -> bytes:
        b = ModelBuilder()
        x = b.tensor("x", [1, 4], act, scale=1.0 / 4096, zero_point=0)
        c = b.tensor("c", [4], "int16", data=[-3000, 7, 0, 32767], scale=1.0 / 2048, zero_point=0)
        y = b.tensor("y", [1, 4], act, scale=1.0 / 1024, zero_point=0)
        b.op("ADD", [x, c], [y])
        return b.build([x], [y])

    model = add_model("int16")
    assert check_model(parse_model(model, "add16.tflite")).deployable
    rng = np.random.default_rng(3)
    sets = [[rng.integers(-32768, 32768, size=(1, 4), dtype=np.int16)] for _ in range(4)]
    assert_batch_same_as_tflm(model, sets, "ADD int16 with an int16 constant")
    report = check_model(parse_model(add_model("int8"), "add8.tflite"))
    assert not report.deployable and "int16 constant" in report.offenders[0], report.offenders


def test_op_without_int16_kernel_is_named() -> None:
    """An op whose kernel is int8-only in a 16x8 model: refused naming the op and why."""
    op = next(
        o
        for o in ("L2_NORMALIZATION", "SQUARED_DIFFERENCE", "ABS")
        if o in runtime_kernels() and o not in int16_kernels()
    )
    report = check_model(parse_model(mlp_16x8(hidden_op=op), "m.tflite"))
    assert not report.deployable
    first = next(f for f in report.findings if f.severity == "error")
    assert first.kind == "no-int16-kernel" and first.op_name == op
    assert f"op 1 {op} (int16 -> int16) has int16 activations" in first.message
    assert "runs only int8, not 16x8" in first.message


def test_float_leftover_in_16x8_model_is_refused_naming_the_op() -> None:
    """TFLITE_BUILTINS fallback leaves an op in float between DEQUANTIZE and QUANTIZE."""
    b = ModelBuilder()
    x = b.tensor("x", [1, 4], "int16", scale=1.0 / 4096, zero_point=0)
    f = b.tensor("f", [1, 4], "float32")
    b.op("DEQUANTIZE", [x], [f])
    g = b.tensor("g", [1, 4], "float32")
    b.op("TANH", [f], [g])
    y = b.tensor("y", [1, 4], "int16", scale=1.0 / 32768, zero_point=0)
    b.op("QUANTIZE", [g], [y])
    report = check_model(parse_model(b.build([x], [y]), "mixed.tflite"))
    assert not report.deployable and report.scheme == SCHEME_16X8
    tanh = [f for f in report.findings if f.op_name == "TANH"]
    assert tanh and "16x8 converter left it in float" in tanh[0].message


def test_int16_zero_point_is_refused() -> None:
    b = ModelBuilder()
    x = b.tensor("x", [1, 4], "int16", scale=0.01, zero_point=5)
    w = b.tensor("w", None, "int8", data=np.ones((2, 4)), scale=0.1, zero_point=0)
    y = b.tensor("y", [1, 2], "int16", scale=0.1, zero_point=0)
    b.op("FULLY_CONNECTED", [x, w, -1], [y])
    report = check_model(parse_model(b.build([x], [y]), "zp.tflite"))
    assert not report.deployable
    assert "zero point 5, not 0 (16x8 is symmetric)" in report.offenders[0]


def test_check_cli_prints_the_scheme(tmp_path: Path) -> None:
    model = tmp_path / "mlp_16x8.tflite"
    model.write_bytes(mlp_16x8())
    done = tinyflash("check", model)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        "deployable: 16x8: int16 activations, int8 weights, every op has an int16 kernel"
        in done.stdout
    )
    result = json.loads(tinyflash("check", model, "--json").stdout)
    assert result["scheme"] == SCHEME_16X8 and result["deployable"] is True


@pytest.mark.parametrize("board", ["mps2-an386", "nucleo_f446re"])
def test_generated_build_flags_link_16x8_only_for_int16_models(tmp_path: Path, board: str) -> None:
    """TFL_WITH_INT16 (tfl_config.h): generate turns the runtime's 16x8 paths off for a model
    without int16 tensors, so an int8 firmware does not link the int16 evals and tables; a 16x8
    model keeps them (both the QEMU and the Arduino flag lines)."""
    model = tmp_path / "mlp_16x8.tflite"
    model.write_bytes(mlp_16x8())
    for source, flag in (
        (model, "-DTFL_WITH_INT16=1"),
        (REPO / "examples" / "digits" / "digits_int8.tflite", "-DTFL_WITH_INT16=0"),
    ):
        project = tmp_path / source.stem
        done = tinyflash("generate", source, "--board", board, "-o", project)
        assert done.returncode == 0, done.stdout + done.stderr
        flags = (project / "platformio.ini").read_text()
        assert flags.count("-DTFL_WITH_INT16=") == 1 and flag in flags, flags


@pytest.mark.parametrize("mode", ["float16", "dynamic"])
def test_deploy_refuses_host_only_mode_before_converting(tmp_path: Path, mode: str) -> None:
    """No conversion is started (it would take seconds and end in a refusal): the float model
    need not even be loadable, and nothing is written."""
    float_model = tmp_path / "model.keras"
    float_model.write_bytes(b"not read")
    data = tmp_path / "calib.npy"
    np.save(data, np.zeros((2, 4), np.float32))
    out = tmp_path / "out"
    done = tinyflash(
        "deploy", float_model, "--data", data, "--mode", mode, "--board", "host", "-o", out
    )
    assert done.returncode == EXIT_BAD_INPUT, done.stdout + done.stderr
    assert f"mode {mode} is host-only" in done.stderr and "int16x8" in done.stderr
    assert not out.exists()


# ---- end to end: generate, build, verify on the host build and QEMU --------------------------


@pytest.mark.slow
@needs_tools
@pytest.mark.parametrize("board,kernels", FIRMWARES)
def test_small_16x8_model_is_bit_exact(tmp_path: Path, board: str, kernels: str) -> None:
    """Every 16x8 kernel of this helper in one model (support/models.py), random int16 inputs
    over the protocol's 2-byte elements; the DSP firmware runs the SMLAD convolutions and FC."""
    from support.models import small_model_16x8

    model = tmp_path / "small_16x8.tflite"
    model.write_bytes(small_model_16x8())
    project = tmp_path / "p"
    done = tinyflash("generate", model, "--board", board, "--kernels", kernels, "-o", project)
    assert done.returncode == 0, done.stdout + done.stderr
    result = verify_json(project, "--samples", "6")
    assert_bit_exact_16x8(result, 6)


@pytest.mark.slow
@needs_tools
@pytest.mark.qemu
def test_16x8_sums_past_a_32_bit_span_are_bit_exact_with_dsp_kernels(tmp_path: Path) -> None:
    """The DSP 16x8 paths sum at most 508 products in 32 bits (tfl_kernel_mac16.h) and widen
    into 64: convolutions deeper than a span, windows crossing one, a 576-deep FULLY_CONNECTED,
    on random inputs and on inputs at both ends of int16, where the second conv's sums pass
    2^31 (support/models.py)."""
    from support.models import long_sums_model_16x8

    model = tmp_path / "long_16x8.tflite"
    model.write_bytes(long_sums_model_16x8())
    rng = np.random.default_rng(508)
    scale = 1 / 8192  # the input's
    data = rng.uniform(-32768 * scale, 32767 * scale, (6, 3, 3, 520)).astype(np.float32)
    data[0], data[1] = -32768 * scale, 32767 * scale
    np.save(tmp_path / "x.npy", data)
    project = tmp_path / "p"
    done = tinyflash("generate", model, "--board", "mps2-an386", "--kernels", "dsp", "-o", project)
    assert done.returncode == 0, done.stdout + done.stderr
    result = verify_json(project, "--samples", "6", "--data", tmp_path / "x.npy")
    assert_bit_exact_16x8(result, 6)


@pytest.fixture(scope="module")
def converted_mlp(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A Keras MLP (Dense-ReLU, Dense-softmax) converted by `tinyflash deploy --mode int16x8` to
    the host build (convert, check, generate, build, verify): (deploy dir, .keras, data)."""
    work = tmp_path_factory.mktemp("mlp16")
    script = work / "make.py"
    script.write_text(
        "import sys\n"
        "import numpy as np\n"
        "from tinyflash.convert import import_tensorflow\n"
        "import_tensorflow()\n"
        "import keras\n"
        "keras.utils.set_random_seed(14)\n"
        "inp = keras.Input((8,), name='features')\n"
        "x = keras.layers.Dense(16, activation='relu')(inp)\n"
        "out = keras.layers.Dense(4, activation='softmax')(x)\n"
        "keras.Model(inp, out).save(sys.argv[1])\n"
        "rng = np.random.default_rng(0)\n"
        "np.save(sys.argv[2], rng.uniform(-1, 1, (32, 8)).astype(np.float32))\n",
        encoding="utf-8",
    )
    import subprocess
    import sys

    keras_model, data = work / "mlp.keras", work / "calib.npy"
    subprocess.run([sys.executable, script, keras_model, data], check=True, capture_output=True)
    out = work / "deploy"
    done = tinyflash(
        "deploy",
        keras_model,
        "--data",
        data,
        "--mode",
        "int16x8",
        "--board",
        "host",
        "-o",
        out,
        "--samples",
        "8",
        "--json",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["converted"] is True
    assert_bit_exact_16x8(result["verify"], 8)
    return out, keras_model, data


@pytest.mark.slow
@needs_tools
def test_deploy_int16x8_mlp_on_host(converted_mlp: tuple[Path, Path, Path]) -> None:
    """deploy --mode int16x8 runs every stage (the fixture); the model is 16x8 with int16 I/O."""
    out, _, _ = converted_mlp
    info = parse_model((out / "model.tflite").read_bytes(), "model.tflite")
    assert [op.name for op in info.ops] == ["FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX"]
    assert info.tensors[info.inputs[0]].dtype == info.tensors[info.outputs[0]].dtype == "int16"
    assert check_model(info).scheme == SCHEME_16X8


@pytest.mark.slow
@pytest.mark.qemu
@needs_tools
def test_converted_int16x8_mlp_is_bit_exact_on_m4(
    converted_mlp: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    """--data floats quantized to int16 per input; metrics in LSB of the int16 output."""
    out, keras_model, data = converted_mlp
    result = verify_json(
        out / "model.tflite",
        "--board",
        "mps2-an386",
        "-o",
        tmp_path / "p",
        "--data",
        data,
        "--samples",
        "8",
        "--float-model",
        keras_model,
    )
    assert_bit_exact_16x8(result, 8)
    assert any(m["reference"] == "float" for m in result["metrics"])


# ---- the example, 16x8 -------------------------------------------------------------------------

DIGITS_16X8 = REPO / "examples" / "digits" / "digits_16x8.tflite"
DIGITS_DATA = REPO / "examples" / "digits" / "test.npz"
needs_reshape16 = pytest.mark.skipif(
    "RESHAPE" not in int16_kernels(),
    reason="RESHAPE's int16 path (issue 14, int16b's branch) is not in tfl_kernels_int16.h yet",
)


def test_digits_16x8_is_the_converted_example() -> None:
    """examples/digits/digits_16x8.tflite: `tinyflash convert examples/digits/digits.keras
    --data examples/digits/calibration.npz --mode int16x8`; int16 I/O and activations, int64
    biases (4-byte aligned in the file, which the runtime accepts)."""
    info = parse_model(DIGITS_16X8.read_bytes(), DIGITS_16X8.name)
    assert info.tensors[info.inputs[0]].dtype == info.tensors[info.outputs[0]].dtype == "int16"
    assert {t.dtype for t in info.tensors if t.is_constant} >= {"int8", "int64"}
    report = check_model(info)
    assert report.scheme == SCHEME_16X8
    if "RESHAPE" in int16_kernels():
        assert report.deployable, report.offenders
    else:
        assert [f.op_name for f in report.findings if f.severity == "error"] == ["RESHAPE"]


@pytest.mark.slow
@needs_tools
@needs_reshape16
@pytest.mark.parametrize("board,kernels", FIRMWARES)
def test_digits_16x8_is_bit_exact(tmp_path: Path, board: str, kernels: str) -> None:
    project = tmp_path / "p"
    done = tinyflash("generate", DIGITS_16X8, "--board", board, "--kernels", kernels, "-o", project)
    assert done.returncode == 0, done.stdout + done.stderr
    result = verify_json(project, "--samples", "10", "--data", DIGITS_DATA)
    assert_bit_exact_16x8(result, 10)


# ---- --runtime tflm ----------------------------------------------------------------------------

TFLM_TREE = Path("/work/shared/tflm/generic")


@pytest.mark.skipif(not TFLM_TREE.is_dir(), reason="no TFLM tree in /work/shared/tflm")
def test_runtime_tflm_generates_16x8_projects(tmp_path: Path) -> None:
    """TFLM has int16 kernels of its own: a 16x8 model (RELU, then GREATER of two int16 tensors
    with one scale) generates a --runtime tflm project as well as the tinyflash runtime's
    (generation only); GREATER of int16 inputs with different scales, whose stored values
    TensorFlow Lite would compare as they are, stops the tinyflash runtime's project with the
    check's sentence."""

    def greater_model(name: str, r_scale: float) -> Path:
        b = ModelBuilder()
        x = b.tensor("x", [1, 8], "int16", scale=1.0 / 4096, zero_point=0)
        r = b.tensor("r", [1, 8], "int16", scale=r_scale, zero_point=0)
        g = b.tensor("g", [1, 8], "bool")
        b.op("RELU", [x], [r])
        b.op("GREATER", [r, x], [g], options_type=None)
        model = tmp_path / name
        model.write_bytes(b.build([x], [g]))
        return model

    model = greater_model("greater16.tflite", 1.0 / 4096)
    own = tinyflash("generate", model, "--board", "mps2-an386", "-o", tmp_path / "own")
    assert own.returncode == 0, own.stdout + own.stderr
    done = tinyflash(
        "generate",
        model,
        "--runtime",
        "tflm",
        "--tflm-path",
        TFLM_TREE,
        "--board",
        "mps2-an386",
        "-o",
        tmp_path / "tflm",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "tflm" / "platformio.ini").is_file()
    other = greater_model("greater16_scales.tflite", 1.0 / 2048)
    own = tinyflash("generate", other, "--board", "mps2-an386", "-o", tmp_path / "own2")
    assert own.returncode != 0 and "op 1 GREATER compares the int16 inputs" in own.stderr, (
        own.stderr
    )
