"""Helium (MVE) kernels on mps3-an547 (Cortex-M55): kernel set "mve", TFL_USE_MVE.

Fast: the MVE kernels cross-compile warning-free for the M55 and really contain Helium
instructions there (and none on an M4, where TFL_USE_MVE=1 leaves the DSP paths); the plan's
CONV_2D scratch for "mve" matches the C rule. Slow/QEMU: a small model covering every MVE path
(im2col with padding, dilation and stride, pointwise, channel tails, per-tensor and per-channel
weights, a multiplier above one, DEPTHWISE_CONV_2D, same-shape ADD, MAX/AVERAGE_POOL_2D with
partial windows, FULLY_CONNECTED) verifies exactly against tflite-micro; kws (shared) is exact
with 2x fewer instructions than the DSP kernels on the same board (`tinyflash bench`); the
Helium paths stay exact under patch-based execution (`generate --patches 2`).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_model_path
from support.cli import tinyflash
from support.int16x8 import assert_bit_exact_16x8, verify_json
from support.runtime_build import RUNTIME
from support.tflbuilder import ModelBuilder, Tensor, quantized_bias_scale

KERNELS = RUNTIME / "src" / "kernels"
MVE_FILES = [
    "tfl_kernel_mve.c",
    "op_conv_2d.c",
    "op_depthwise_conv_2d.c",
    "op_fully_connected.c",
    "op_add.c",
    "tfl_kernel_pool2d.c",
]
ARM = shutil.which("arm-none-eabi-gcc")


def _objdump(obj: Path) -> str:
    # binutils 2.40 decodes MVE only when told the architecture
    return subprocess.run(
        ["arm-none-eabi-objdump", "-d", "-m", "armv8.1-m.main", str(obj)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


@pytest.mark.skipif(ARM is None, reason="arm-none-eabi-gcc is not installed")
@pytest.mark.parametrize(("cpu", "mve"), [("cortex-m55", True), ("cortex-m4", False)])
def test_mve_kernels_cross_compile(tmp_path: Path, cpu: str, mve: bool) -> None:
    """-DTFL_USE_MVE=1 builds with -Werror; VMLADAV/VQRDMULH only where the core has Helium."""
    build = subprocess.run(
        [
            "arm-none-eabi-gcc",
            "-std=c99",
            "-Os",
            f"-mcpu={cpu}",
            "-mthumb",
            "-mfloat-abi=hard",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-DTFL_USE_DSP=1",
            "-DTFL_USE_MVE=1",
            "-I",
            str(RUNTIME / "include"),
            "-c",
            *(str(KERNELS / name) for name in MVE_FILES),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    dump = _objdump(tmp_path / "tfl_kernel_mve.o") + _objdump(tmp_path / "op_conv_2d.o")
    assert ("vmlava.s8" in dump and "vqrdmulh.s32" in dump) == mve
    # without Helium the DSP paths stay (SXTAB16), with it they are compiled out
    assert ("sxtab16" in dump) == (not mve)


def test_plan_takes_the_mve_conv_scratch() -> None:
    from tinyflash.model import parse_model
    from tinyflash.plan import plan_memory, scratch_bytes_for_op

    info = parse_model(mve_model(), "mve_model")
    sizes = {
        i: scratch_bytes_for_op(info, op, "mve")
        for i, op in enumerate(info.ops)
        if op.name == "CONV_2D"
    }
    # 3x3x5 im2col row (45 -> 48) + 6 sums; pointwise: 18 sums; dilated 3x3x18 (162 -> 164) + 7
    # sums; pointwise: 7 sums
    assert list(sizes.values()) == [48 + 4 * 6, 4 * 18, 164 + 4 * 7, 4 * 7]
    others = [scratch_bytes_for_op(info, op, "mve") for op in info.ops if op.name != "CONV_2D"]
    assert not any(others)  # depthwise, FC, ADD, pools: no scratch
    plan = plan_memory(info, "mve")
    assert plan.scratch_bytes == tuple(sizes.get(i, 0) for i in range(len(info.ops)))


def _conv_weights(
    b: ModelBuilder,
    rng: np.random.Generator,
    name: str,
    shape: tuple[int, ...],
    in_scale: float,
    scales: list[float],
    dim: int,
    bias: bool = True,
    high: int = 128,
) -> tuple[Tensor, Tensor | int]:
    per_channel = len(scales) > 1
    w = b.tensor(
        name,
        None,
        "int8",
        data=rng.integers(1 - high, high, shape),
        scale=scales if per_channel else scales[0],
        zero_point=[0] * len(scales) if per_channel else 0,
        quantized_dimension=dim,
    )
    if not bias:
        return w, -1
    n = shape[dim]
    bias_t = b.tensor(
        name + "_b",
        None,
        "int32",
        data=rng.integers(-3 * high * high, 3 * high * high, n),
        scale=quantized_bias_scale(in_scale, scales if per_channel else scales * n),
        zero_point=[0] * n,
    )
    return w, bias_t


def _window(padding: str, stride_w: int, stride_h: int, **more: int) -> dict[str, object]:
    """Options of a windowed op (convolutions, pools)."""
    return {"padding": padding, "stride_w": stride_w, "stride_h": stride_h, **more}


def mve_model() -> bytes:
    """Every Helium path in 10 ops (shapes chosen for vector tails: 5, 6, 7, 18 channels)."""
    rng = np.random.default_rng(20261208)
    b = ModelBuilder()
    x = b.tensor("x", [1, 9, 7, 5], "int8", scale=0.0625, zero_point=-3)
    # 3x3 SAME: im2col with padded taps, per-channel, oc 6 (a tail of 2). Power-of-two scales:
    # multipliers 2^-2 .. 2^-4 (Q31 2^30, right shifts 1 .. 3), so a quarter to a half of the
    # values are rounding ties, which the reference rounds away from zero
    s1 = [2.0**-7, 2.0**-6, 2.0**-8, 2.0**-7, 2.0**-6, 2.0**-8]
    w1, b1 = _conv_weights(b, rng, "w1", (6, 3, 3, 5), 0.0625, s1, 0, high=2)
    h1 = b.tensor("h1", [1, 9, 7, 6], "int8", scale=2.0**-8, zero_point=-5)
    b.op("CONV_2D", [x, w1, b1], [h1], **_window("SAME", 1, 1))
    # pointwise, per-tensor weights, multiplier above one (left shift)
    w2, b2 = _conv_weights(b, rng, "w2", (18, 1, 1, 6), 2.0**-8, [0.05], 0, high=2)
    h2 = b.tensor("h2", [1, 9, 7, 18], "int8", scale=0.00018, zero_point=4)
    b.op("CONV_2D", [h1, w2, b2], [h2], **_window("SAME", 1, 1))
    # depthwise 3x3 VALID, strides 1 x 2, 18 channels (a tail of 2)
    s3 = [0.01 + 0.001 * i for i in range(18)]
    w3, b3 = _conv_weights(b, rng, "w3", (1, 3, 3, 18), 0.00018, s3, 3)
    h3 = b.tensor("h3", [1, 7, 3, 18], "int8", scale=0.005, zero_point=1)
    b.op("DEPTHWISE_CONV_2D", [h2, w3, b3], [h3], depth_multiplier=1, **_window("VALID", 2, 1))
    # dilated 3x3 SAME: im2col one tap at a time
    s4 = [0.004 + 0.001 * i for i in range(7)]
    w4, b4 = _conv_weights(b, rng, "w4", (7, 3, 3, 18), 0.005, s4, 0)
    h4 = b.tensor("h4", [1, 7, 3, 7], "int8", scale=0.02, zero_point=-2)
    dilated = {"dilation_w_factor": 2, "dilation_h_factor": 2}
    b.op("CONV_2D", [h3, w4, b4], [h4], **_window("SAME", 1, 1), **dilated)
    s5 = [0.02] * 7
    w5, b5 = _conv_weights(b, rng, "w5", (7, 1, 1, 18), 0.005, s5, 0, high=20)
    h5 = b.tensor("h5", [1, 7, 3, 7], "int8", scale=0.007, zero_point=6)
    b.op("CONV_2D", [h3, w5, b5], [h5], **_window("SAME", 1, 1))
    # same-shape ADD, 147 elements (a tail of 3)
    h6 = b.tensor("h6", [1, 7, 3, 7], "int8", scale=0.02, zero_point=-1)
    b.op("ADD", [h4, h5], [h6], fused_activation_function="RELU")
    h7 = b.tensor("h7", [1, 4, 2, 7], "int8", scale=0.02, zero_point=-1)
    b.op("MAX_POOL_2D", [h6], [h7], **_window("SAME", 2, 2, filter_width=3, filter_height=3))
    h8 = b.tensor("h8", [1, 4, 2, 7], "int8", scale=0.02, zero_point=-1)
    b.op("AVERAGE_POOL_2D", [h7], [h8], **_window("SAME", 1, 1, filter_width=2, filter_height=3))
    h9 = b.tensor("h9", [1, 56], "int8", scale=0.02, zero_point=-1)
    shape = b.tensor("shape", None, "int32", data=np.array([1, 56]))
    b.op("RESHAPE", [h8, shape], [h9], new_shape=[1, 56])
    s10 = [0.01 + 0.002 * i for i in range(10)]
    w10, b10 = _conv_weights(b, rng, "w10", (10, 56), 0.02, s10, 0, high=16)
    y = b.tensor("y", [1, 10], "int8", scale=0.1, zero_point=3)
    b.op("FULLY_CONNECTED", [h9, w10, b10], [y])
    # the intermediate results are outputs too: a one-LSB difference in any layer shows
    return b.build([x], [y, h1, h2, h3, h6, h7, h8])


@pytest.mark.slow
@pytest.mark.qemu
def test_mve_kernels_verify_exactly_on_qemu(tmp_path: Path) -> None:
    """generate for mps3-an547 (its kernel set is mve), `tinyflash verify` with tolerance 0."""
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    model = tmp_path / "mve_model.tflite"
    model.write_bytes(mve_model())
    project = tmp_path / "fw"
    tinyflash(
        "generate", model, "--board", "mps3-an547", "-o", project, "--selftest", "0", check=True
    )
    assert "-DTFL_USE_MVE=1" in (project / "platformio.ini").read_text()
    # exact against tflite-micro, and the arena the device uses is the plan's (MVE scratch)
    assert_bit_exact_16x8(verify_json(project, "--samples", "4", "--tolerance", "0"), 4)


@pytest.mark.slow
@pytest.mark.qemu
def test_mve_kws_exact_and_twice_as_few_instructions(tmp_path: Path) -> None:
    """bench kws on mps3-an547 with the DSP and the MVE kernels: both exact against
    tflite-micro, the arena the device uses is the plan's (MVE scratch included), and MVE needs at
    most half the DSP kernels' instructions (counts are exact under qemu -icount)."""
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    from tinyflash.bench import bench

    model = shared_model_path("kws_ref_model")
    result = bench([model], ["mps3-an547"], ["dsp", "mve"], workdir=tmp_path, repeats=1)
    dsp, mve = (next(r for r in result.runs if r.kernels == k) for k in ("dsp", "mve"))
    assert dsp.exact and mve.exact
    assert mve.ram.arena_used == mve.ram.arena_planned
    print(f"\nkws on mps3-an547: dsp {dsp.instructions:,}, mve {mve.instructions:,} instructions")
    assert mve.instructions * 2 <= dsp.instructions


@pytest.mark.slow
@pytest.mark.qemu
def test_mve_kernels_in_patches_verify_exactly_on_qemu(tmp_path: Path) -> None:
    """Patch-based execution narrows CONV_2D, DEPTHWISE_CONV_2D (dilated) and the pools to
    bands of rows and changes their top padding: the Helium paths stay exact and within their
    planned scratch (the pointwise test reads nothing the narrowing changes)."""
    if shutil.which("qemu-system-arm") is None:
        pytest.skip("qemu-system-arm is not installed")
    from support.patch_models import patch_model

    project = tmp_path / "fw"
    tinyflash(
        "generate",
        patch_model("pools"),
        "--board",
        "mps3-an547",
        "-o",
        project,
        "--selftest",
        "0",
        "--patches",
        "2",
        "--patch-overhead",
        "3",
        check=True,
    )
    assert "-DTFL_USE_MVE=1" in (project / "platformio.ini").read_text()
    assert_bit_exact_16x8(verify_json(project, "--samples", "3", "--tolerance", "0"), 3)


def test_aot_leaves_every_layer_to_the_helium_kernels() -> None:
    """generate --aot with the mve kernel set specialises nothing: each op an AOT body exists for
    has a Helium path, which the portable AOT bodies would replace (measured: kws mve-aot runs
    the same 2,424,906 instructions as mve)."""
    from tinyflash.aot import aot_layers
    from tinyflash.model import parse_model
    from tinyflash.plan import plan_memory

    info = parse_model(mve_model(), "mve_model")
    assert aot_layers(info, plan_memory(info, "dsp"), "dsp")  # the DSP set does specialise
    assert aot_layers(info, plan_memory(info, "mve"), "mve") == []
