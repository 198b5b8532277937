"""`tinyflash generate --aot`: ahead-of-time layers (aot.py, templates/src/model_aot.c.j2,
firmware/runtime/include/tfl_aot.h, src/tfl_aot.c).

Fast: which operators a small model specialises and with which constants, the generated file is
deterministic and matches its golden (tests/golden/aot_small/model_aot.c; regenerate with
TINYFLASH_UPDATE_GOLDEN=1 when a change is intended), the interpreter project has no node-kernel
table, bad option combinations get a sentence.
Slow/QEMU: the AOT project of the same model (CONV_2D 3x3: the im2col body with the DSP kernels,
the generic kernel without; DEPTHWISE_CONV_2D, 1x1 CONV_2D, ADD, AVERAGE_POOL_2D, RESHAPE,
FULLY_CONNECTED) verifies bit for bit against tflite-micro on the host, on mps2-an386 with the
DSP kernels and on mps2-an385 with the portable ones.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from support.exact import verify_exactly
from support.tflbuilder import ModelBuilder, quantized_bias_scale
from tinyflash import codegen
from tinyflash.aot import activation_range, aot_layers, aot_shapes
from tinyflash.boards import load_board
from tinyflash.errors import TinyflashError
from tinyflash.model import parse_model
from tinyflash.pipeline import check_model_file

GOLDEN = Path(__file__).resolve().parent / "golden" / "aot_small"
UPDATE = os.environ.get("TINYFLASH_UPDATE_GOLDEN") == "1"
TINYFLASH = [sys.executable, "-m", "tinyflash.cli"]
FIXED_PATHS = codegen.FirmwarePaths(
    platform="/opt/tinyflash/firmware/platform",
    runtime="/opt/tinyflash/firmware/runtime",
    harness="/opt/tinyflash/firmware/harness",
    boards_dir="/opt/tinyflash/boards",
)


def _weighted(
    b: ModelBuilder, rng: np.random.Generator, k: int, shape: tuple[int, ...], axis: int,
    in_scale: float, scales: list[float],
) -> list[object]:  # fmt: skip
    """Weights w<k> (int8, `scales` along `axis`) and bias b<k> (int32) of a layer."""
    zeros = [0] * len(scales)
    w = rng.integers(-127, 128, shape)
    bias = rng.integers(-800, 800, shape[axis])
    bias_scale = quantized_bias_scale(in_scale, scales)
    return [
        b.tensor(f"w{k}", None, "int8", data=w, scale=scales, zero_point=zeros,
                 quantized_dimension=axis),
        b.tensor(f"b{k}", None, "int32", data=bias, scale=bias_scale, zero_point=zeros),
    ]  # fmt: skip


def aot_model() -> bytes:
    """[1,5,5,4] -> CONV_2D 3x3 (im2col body with DSP) -> DEPTHWISE_CONV_2D 3x3 SAME RELU6 (edges and
    interior) -> 1x1 CONV_2D (25 pixels: an odd count) -> ADD -> AVERAGE_POOL_2D 5x5 -> RESHAPE
    -> FULLY_CONNECTED 8 -> 5 units (per-tensor, a tail of one unit)."""
    rng = np.random.default_rng(19)
    b = ModelBuilder()
    unit = {"stride_w": 1, "stride_h": 1}
    act = "fused_activation_function"
    scales = [[base + step * i for i in range(8)] for base, step in ((0.01, 0.002), (0.02, 0.003))]
    x = b.tensor("x", [1, 5, 5, 4], "int8", scale=0.05, zero_point=-3)
    h1 = b.tensor("h1", [1, 5, 5, 8], "int8", scale=0.08, zero_point=-5)
    conv = _weighted(b, rng, 1, (8, 3, 3, 4), 0, 0.05, scales[0])
    b.op("CONV_2D", [x, *conv], [h1], padding="SAME", **unit, **{act: "RELU"})
    h2 = b.tensor("h2", [1, 5, 5, 8], "int8", scale=0.06, zero_point=-128)
    dw = _weighted(b, rng, 2, (1, 3, 3, 8), 3, 0.08, scales[1])
    b.op("DEPTHWISE_CONV_2D", [h1, *dw], [h2], padding="SAME", **unit, depth_multiplier=1,
         **{act: "RELU6"})  # fmt: skip
    h3 = b.tensor("h3", [1, 5, 5, 8], "int8", scale=0.1, zero_point=4)
    pw = _weighted(b, rng, 3, (8, 1, 1, 8), 0, 0.06, [0.015 + 0.001 * i for i in range(8)])
    b.op("CONV_2D", [h2, *pw], [h3], padding="VALID", **unit)
    h4 = b.tensor("h4", [1, 5, 5, 8], "int8", scale=0.12, zero_point=1)
    b.op("ADD", [h3, h2], [h4], **{act: "NONE"})
    h5 = b.tensor("h5", [1, 1, 1, 8], "int8", scale=0.12, zero_point=1)
    window = {"stride_w": 5, "stride_h": 5, "filter_width": 5, "filter_height": 5}
    b.op("AVERAGE_POOL_2D", [h4], [h5], padding="VALID", **window)
    h6 = b.tensor("h6", [1, 8], "int8", scale=0.12, zero_point=1)
    b.op("RESHAPE", [h5, b.tensor("shape", None, "int32", data=np.array([1, 8]))], [h6])
    y = b.tensor("y", [1, 5], "int8", scale=0.2, zero_point=-7)
    b.op("FULLY_CONNECTED", [h6, *_weighted(b, rng, 4, (5, 8), 0, 0.12, [0.02])], [y])
    return b.build([x], [y])


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("aot") / "aot_small.tflite"
    path.write_bytes(aot_model())
    return path


def _render(model_path: Path, board_id: str, aot: bool = True) -> codegen.RenderedProject:
    board = codegen.board_spec(load_board(board_id))
    checked = check_model_file(model_path, "dsp" if board.dsp else "portable")
    return codegen.render_project(
        checked, board=board, vectors=[], paths=FIXED_PATHS, vendor=False, aot=aot
    )


def test_layers_and_constants(model_path: Path) -> None:
    info = parse_model(model_path.read_bytes(), "aot_small")
    plan = check_model_file(model_path, "dsp").plan
    layers = aot_layers(info, plan, "dsp")
    assert [(layer.op_index, layer.body) for layer in layers] == [
        (0, "conv"),
        (1, "depthwise"),
        (2, "pointwise"),
        (6, "fc"),
    ]
    conv, dw, pw, fc = (dict(layer.values) for layer in layers)
    assert conv["scratch"] >= 0 and (conv["kh"], conv["kw"], conv["pad_h"]) == (3, 3, 1)
    # SAME 3x3 stride 1 pads one pixel; RELU6 on scale 0.06, zero point -128
    assert (dw["pad_h"], dw["pad_w"], dw["act_min"]) == (1, 1, -128)
    assert dw["act_max"] == -128 + 100  # round(6 / 0.06)
    # pool places: CONV_2D 0 takes 16 words (8 scales), the depthwise 16, the 1x1 16
    assert (dw["pool_index"], pw["pool_index"], fc["pool_index"]) == (16, 32, 48)
    assert pw["scratch"] >= 0 and dw["scratch"] == -1 and fc["scratch"] >= 0
    assert (fc["ic"], fc["oc"], fc["per_channel"], fc["in_off"], fc["out_off"]) == (8, 5, 0, -1, -7)
    # the portable kernels take no scratch, and the FC needs none there
    # the portable kernels take no scratch and have no im2col body
    portable = aot_layers(info, check_model_file(model_path, "portable").plan, "portable")
    assert [layer.body for layer in portable] == ["depthwise", "pointwise", "fc"]
    assert all(dict(layer.values)["scratch"] == -1 for layer in portable)
    shapes, shape_of = aot_shapes(portable + portable)
    assert len(shapes) == 3 and shape_of == [0, 1, 2, 0, 1, 2]


def test_activation_range_matches_the_runtime_formula() -> None:
    assert activation_range(0, 0.1, 3) == (-128, 127)
    assert activation_range(1, 0.1, 3) == (3, 127)
    assert activation_range(3, 0.05, -128) == (-128, -8)  # 6 / 0.05 = 120
    assert activation_range(2, 0.25, 0) == (-4, 4)
    assert activation_range(3, 0.01, 100) == (100, 127)  # saturates


def test_generated_file_is_deterministic_and_golden(model_path: Path) -> None:
    first = _render(model_path, "mps2-an386").files
    second = _render(model_path, "mps2-an386").files
    assert first == second
    actual = first["src/model_aot.c"]
    golden = GOLDEN / "model_aot.c"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(actual)
    assert golden.is_file(), f"{golden} is missing: run with TINYFLASH_UPDATE_GOLDEN=1"
    assert actual.decode() == golden.read_text(encoding="utf-8")
    plan = first["src/model_plan.c"].decode()
    assert "aot_small_node_kernels, AOT_SMALL_NODE_COUNT" in plan


def test_interpreter_project_has_no_node_kernels(model_path: Path) -> None:
    files = _render(model_path, "mps2-an386", aot=False).files
    assert "src/model_aot.c" not in files
    assert ", NULL, 0 };" in files["src/model_plan.c"].decode()


def test_aot_with_tflm_runtime_or_patches_is_refused(model_path: Path, tmp_path: Path) -> None:
    with pytest.raises(TinyflashError, match="aot.*specialises"):
        codegen.generate(model_path, "mps2-an386", tmp_path / "fw", runtime="tflm", aot=True)
    with pytest.raises(TinyflashError, match="not combined yet"):
        codegen.generate(model_path, "mps2-an386", tmp_path / "fw", patches="2", aot=True)


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize(
    ("board", "kernels"), [("mps2-an386", "dsp"), ("mps2-an385", "portable"), ("host", None)]
)
def test_aot_verifies_exactly(
    model_path: Path, tmp_path: Path, board: str, kernels: str | None
) -> None:
    """generate --aot, then `tinyflash verify` with tolerance 0 (3 random inputs)."""
    if board != "host" and shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    project = tmp_path / "fw"
    command = [*TINYFLASH, "generate", str(model_path), "--board", board, "-o", str(project)]
    command += ["--aot", "--selftest", "0", *(["--kernels", kernels] if kernels else [])]
    gen = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert gen.returncode == 0, gen.stderr[-2000:]
    assert "FULLY_CONNECTED" in (project / "src" / "model_aot.c").read_text()
    verify_exactly(project)


def test_bench_aot_ratios_compare_and_layers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """bench --aot --layers --compare REF.json: AOT / interpreter ratios, the per-operator table
    with MACs per instruction and its ratio to the saved run, and the run's ratios to it."""
    import dataclasses

    from typer.testing import CliRunner

    import tinyflash.bench as bench_module
    from test_bench import _fake_run
    from tinyflash.bench import BenchResult, OpCount
    from tinyflash.cli import app

    ops = (OpCount(0, "CONV_2D", 1_000, 500, 0.5), OpCount(1, "SOFTMAX", 200, 0, 0.0))
    interpreted = dataclasses.replace(_fake_run("kws_ref_model", "dsp", 8_000_000), ops=ops)
    aot = dataclasses.replace(
        _fake_run("kws_ref_model", "dsp-aot", 6_000_000),
        ops=(OpCount(0, "CONV_2D", 800, 500, 0.625), ops[1]),
    )
    result = BenchResult(runs=[interpreted, aot])
    ratios = result.ratios()[0]
    assert ratios["dsp_aot_over_dsp_instructions"] == pytest.approx(0.75)
    assert ratios["dsp_aot_over_tflm_cmsis_nn"] == pytest.approx(6_000_000 / 7_581_889)
    reference = tmp_path / "ref.json"
    saved = [interpreted, dataclasses.replace(interpreted, kernels="dsp-aot")]
    reference.write_text(json.dumps(BenchResult(runs=saved).to_dict()))
    seen: dict[str, object] = {}

    def fake_bench(*args: object, **kwargs: object) -> BenchResult:
        seen.update(kwargs)
        return result

    monkeypatch.setattr(bench_module, "bench", fake_bench)
    monkeypatch.setenv("COLUMNS", "160")
    args = ["bench", "x.tflite", "--aot", "--layers", "--compare", str(reference)]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    assert seen["aot_modes"] == (False, True)
    assert "dsp aot over dsp instructions 0.750" in out.output
    assert "0.625" in out.output  # CONV_2D's MACs per instruction in the AOT run
    assert "0.800" in out.output  # and its instructions over the saved run's
    assert "kws_ref_model dsp on mps2-an386" in out.output and "instructions 1.000" in out.output
    assert "instructions 0.750" in out.output  # the AOT run against the saved interpreter-like one
    as_json = CliRunner().invoke(app, [*args, "--json"])
    document = json.loads(as_json.output)
    assert [c["kernels"] for c in document["compare"]] == ["dsp", "dsp-aot"]
    assert document["compare"][1]["ops"][0]["instructions"] == pytest.approx(0.8)
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    refused = CliRunner().invoke(app, ["bench", "x.tflite", "--compare", str(bad)])
    assert isinstance(refused.exception, TinyflashError)
    assert "is not a saved bench result" in str(refused.exception)
