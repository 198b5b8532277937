"""In-place operators in the memory plan (issue 18): plan.alias_rule's rules, including the cases
that must not alias, `--no-inplace` reproducing the plan from before in-place operators, and the
in-place plans run by the sanitized C runtime bit-exact with tflite-micro."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED_MODEL_NAMES, shared_model_path
from support.tflbuilder import ModelBuilder, Tensor, quantized_bias_scale
from tinyflash.errors import TinyflashError
from tinyflash.model import ModelInfo, load_model, parse_model
from tinyflash.plan import MemoryPlan, plan_memory, plan_peak, verify_plan

REPO = Path(__file__).resolve().parents[1]
GOLDEN = REPO / "tests" / "golden" / "plan_views_only.json"
# The models of the golden file (written by the planner before in-place operators existed).
GOLDEN_MODELS = {
    "tiny_cnn.tflite": REPO / "tests" / "golden" / "tiny_cnn.tflite",
    "tiny_mlp.tflite": REPO / "tests" / "golden" / "tiny_mlp.tflite",
    "digits_int8.tflite": REPO / "examples" / "digits" / "digits_int8.tflite",
    "digits_16x8.tflite": REPO / "examples" / "digits" / "digits_16x8.tflite",
    "kws_int8.tflite": REPO / "examples" / "kws_dscnn" / "kws_int8.tflite",
    "kws_16x8.tflite": REPO / "examples" / "kws_dscnn" / "kws_16x8.tflite",
}


def _weights(b: ModelBuilder, name: str, shape: list[int], rng: np.random.Generator) -> Tensor:
    return b.tensor(
        name,
        None,
        "int8",
        data=rng.integers(-127, 128, shape),
        scale=[0.02] * shape[-1 if name.startswith("dw") else 0],
        zero_point=[0] * shape[-1 if name.startswith("dw") else 0],
        quantized_dimension=3 if name.startswith("dw") else 0,
    )


def _bias(b: ModelBuilder, name: str, n: int, in_scale: float, rng: np.random.Generator) -> Tensor:
    return b.tensor(
        name,
        None,
        "int32",
        data=rng.integers(-300, 300, n),
        scale=quantized_bias_scale(in_scale, [0.02] * n),
        zero_point=[0] * n,
    )


def _depthwise3x3(
    b: ModelBuilder,
    suffix: str,
    x: Tensor,
    y: Tensor,
    in_scale: float,
    stride: int,
    rng: np.random.Generator,
    **options: str,
) -> None:
    """A 16-channel DEPTHWISE_CONV_2D 3x3 SAME of x into y, per-channel weights and a bias."""
    weights = _weights(b, f"dw{suffix}", [1, 3, 3, 16], rng)
    bias = _bias(b, f"db{suffix}", 16, in_scale, rng)
    b.op(
        "DEPTHWISE_CONV_2D",
        [x, weights, bias],
        [y],
        padding="SAME",
        stride_w=stride,
        stride_h=stride,
        depth_multiplier=1,
        **options,
    )


def inplace_model() -> bytes:
    """Every in-place kind and the cases that must not alias, in one graph:

    op 0  CONV_2D 1x1     x [1,8,8,4] (model input) -> h1 [1,8,8,16]
    op 1  DEPTHWISE 3x3   h1 -> h2 [1,8,8,16], stride 1: the memory peak (depthwise)
    op 2  LEAKY_RELU      h2 -> h3 (elementwise)
    op 3  DEPTHWISE 3x3   h3 -> h4 [1,4,4,16], stride 2: a smaller output (depthwise)
    op 4  QUANTIZE        h4 -> h5, int8 -> int8 rescale (quantize)
    op 5  TANH            h5 -> h6: h5 is read again by op 6, no alias
    op 6  ADD             (h6, h5) -> h7: both die, input 0 taken (binary)
    op 7  MUL             (h7, c [16] constant, broadcast) -> h8: no alias
    op 8  RESHAPE         h8 -> h9 [1,256] (view)
    op 9  FULLY_CONNECTED h9 -> h10 [1,4]
    op 10 RELU            h10 -> y: y is the model output, no alias
    """
    rng = np.random.default_rng(18)
    b = ModelBuilder()
    x = b.tensor("x", [1, 8, 8, 4], "int8", scale=0.05, zero_point=-1)
    h1 = b.tensor("h1", [1, 8, 8, 16], "int8", scale=0.08, zero_point=-20)
    b.op(
        "CONV_2D",
        [x, _weights(b, "w1", [16, 1, 1, 4], rng), _bias(b, "b1", 16, 0.05, rng)],
        [h1],
        padding="SAME",
        stride_w=1,
        stride_h=1,
        fused_activation_function="RELU",
    )
    h2 = b.tensor("h2", [1, 8, 8, 16], "int8", scale=0.1, zero_point=3)
    _depthwise3x3(b, "1", h1, h2, 0.08, 1, rng)
    h3 = b.tensor("h3", [1, 8, 8, 16], "int8", scale=0.07, zero_point=-10)
    b.op("LEAKY_RELU", [h2], [h3], alpha=0.2)
    h4 = b.tensor("h4", [1, 4, 4, 16], "int8", scale=0.12, zero_point=5)
    _depthwise3x3(b, "2", h3, h4, 0.07, 2, rng, fused_activation_function="RELU6")
    h5 = b.tensor("h5", [1, 4, 4, 16], "int8", scale=0.05, zero_point=-7)
    b.op("QUANTIZE", [h4], [h5])
    h6 = b.tensor("h6", [1, 4, 4, 16], "int8", scale=1 / 128, zero_point=0)
    b.op("TANH", [h5], [h6])
    h7 = b.tensor("h7", [1, 4, 4, 16], "int8", scale=0.06, zero_point=2)
    b.op("ADD", [h6, h5], [h7])
    c = b.tensor("c", None, "int8", data=rng.integers(-100, 100, [16]), scale=0.01, zero_point=0)
    h8 = b.tensor("h8", [1, 4, 4, 16], "int8", scale=0.03, zero_point=1)
    b.op("MUL", [h7, c], [h8])
    shape = b.tensor("shape", None, "int32", data=np.array([1, 256]))
    h9 = b.tensor("h9", [1, 256], "int8", scale=0.03, zero_point=1)
    b.op("RESHAPE", [h8, shape], [h9], new_shape=[1, 256])
    w3 = b.tensor("w3", None, "int8", data=rng.integers(-127, 128, (4, 256)), scale=0.01)
    h10 = b.tensor("h10", [1, 4], "int8", scale=0.2, zero_point=0)
    b.op("FULLY_CONNECTED", [h9, w3, -1], [h10])
    y = b.tensor("y", [1, 4], "int8", scale=0.1, zero_point=-128)
    b.op("RELU", [h10], [y])
    return b.build([x], [y])


def _by_name(info: ModelInfo) -> dict[str, int]:
    return {t.name: t.index for t in info.tensors}


def test_alias_rules_every_kind_and_the_refusals() -> None:
    info = parse_model(inplace_model(), "inplace")
    plan = plan_memory(info)
    verify_plan(info, plan)
    n = _by_name(info)
    names = {
        info.tensors[dst].name: (info.tensors[src].name, plan.alias_kinds[dst])
        for dst, src in plan.aliases.items()
    }
    assert names == {
        "h2": ("h1", "depthwise"),
        "h3": ("h2", "elementwise"),
        "h4": ("h3", "depthwise"),
        "h5": ("h4", "quantize"),
        "h7": ("h6", "binary"),
        "h9": ("h8", "view"),
    }
    # refused: the model input (h1's source x), an input read later (TANH's h5), a broadcast
    # with a constant (MUL), the model output (RELU's y)
    for t in ("h1", "h6", "h8", "h10", "y"):
        assert n[t] not in plan.aliases
    for dst, src in plan.aliases.items():
        assert plan.offsets[dst] == plan.offsets[src]
    # each in-place depthwise has a one-channel scratch (8x8 and 4x4 outputs)
    assert plan.scratch_bytes[1] == 64 and plan.scratch_bytes[3] == 16
    # the peak without in-place is the first depthwise: x + h1 + h2
    off = plan_memory(info, inplace=False)
    verify_plan(info, off)
    assert off.arena_bytes == off.lower_bound == 256 + 1024 + 1024
    assert plan.lower_bound == off.lower_bound  # the lower bound does not change
    assert plan.baseline_bytes == off.arena_bytes and off.baseline_bytes == off.arena_bytes
    # with it the first depthwise needs x + h1 (h2 in its bytes) + its scratch; the stride-2 one
    # writes its smaller output into h3's bytes, which are then free beyond h4's 256 (segments)
    peak = plan_peak(info, plan)
    assert (peak.op, peak.live_bytes, peak.scratch_bytes) == (1, 256 + 1024 + 64, 64)
    assert peak.live_bytes == plan.arena_bytes == plan.aligned_bound
    assert {info.tensors[t].name for t in peak.tensors} == {"x", "h1", "h2"}
    assert plan.ratio == pytest.approx(1344 / 2304)
    assert off.aliases == {n["h9"]: n["h8"]} and set(off.alias_kinds.values()) == {"view"}


POOL4 = {"padding": "VALID", "stride_w": 4, "stride_h": 4, "filter_width": 4, "filter_height": 4}


def _plan_around_depthwise(
    after: str, dtype: str = "int8", dm: int = 1
) -> tuple[ModelInfo, MemoryPlan]:
    """x [1,8,8,16] -> QUANTIZE -> h1 (dtype) -> DEPTHWISE_CONV_2D 3x3 SAME (depth multiplier
    dm) -> h2 -> `after` -> y, and its verified in-place plan. after "pool": MAX_POOL_2D 4x4 to a
    small y, so the depthwise is the memory peak; "widen": QUANTIZE to an int16 y twice h2's
    size, so the peak is there."""
    rng = np.random.default_rng(3)
    b = ModelBuilder()
    x = b.tensor("x", [1, 8, 8, 16], "int8", scale=0.05)
    h1 = b.tensor("h1", [1, 8, 8, 16], dtype, scale=0.05)
    b.op("QUANTIZE", [x], [h1])
    h2 = b.tensor("h2", [1, 8, 8, 16 * dm], dtype, scale=0.05)
    dw = _weights(b, "dw", [1, 3, 3, 16 * dm], rng)
    same = {"padding": "SAME", "stride_w": 1, "stride_h": 1, "depth_multiplier": dm}
    b.op("DEPTHWISE_CONV_2D", [h1, dw, -1], [h2], **same)
    if after == "pool":
        y = b.tensor("y", [1, 2, 2, 16 * dm], dtype, scale=0.05)
        b.op("MAX_POOL_2D", [h2], [y], **POOL4)
    else:
        y = b.tensor("y", [1, 8, 8, 16 * dm], "int16", scale=0.05)
        b.op("QUANTIZE", [h2], [y])
    info = parse_model(b.build([x], [y]), "around-depthwise")
    plan = plan_memory(info)
    verify_plan(info, plan)
    return info, plan


def test_depthwise_in_place_only_where_it_lowers_the_arena() -> None:
    """A depthwise that is not at the memory peak keeps its out-of-place (faster) eval."""
    _, plan = _plan_around_depthwise("widen")
    assert "depthwise" not in plan.alias_kinds.values() and not plan.scratch_bytes
    # the same depthwise at the peak is in place, with its one-channel scratch
    _, plan = _plan_around_depthwise("pool")
    assert "depthwise" in plan.alias_kinds.values() and plan.scratch_bytes[1] == 64


def test_depth_multiplier_and_int16_do_not_alias() -> None:
    for dtype, dm in (("int8", 2), ("int16", 1)):
        _, plan = _plan_around_depthwise("pool", dtype, dm)
        assert "depthwise" not in plan.alias_kinds.values()


def test_verify_plan_refuses_an_alias_the_rules_do_not_allow() -> None:
    info = parse_model(inplace_model(), "inplace")
    plan = plan_memory(info)
    n = _by_name(info)
    # TANH's input is read later: sharing its bytes would corrupt ADD's second operand
    offsets = list(plan.offsets)
    offsets[n["h6"]] = offsets[n["h5"]]
    bad = dataclasses.replace(
        plan, offsets=tuple(offsets), aliases={**plan.aliases, n["h6"]: n["h5"]}
    )
    with pytest.raises(TinyflashError, match="may not alias"):
        verify_plan(info, bad)
    # an in-place plan checked as a views-only plan: its in-place aliases are refused
    with pytest.raises(TinyflashError, match="may not alias"):
        verify_plan(info, dataclasses.replace(plan, inplace=False))
    # an in-place depthwise without its scratch
    with pytest.raises(TinyflashError, match="has no scratch"):
        verify_plan(info, dataclasses.replace(plan, scratch_bytes=(0,) * len(info.ops)))


def _golden_cases() -> list[tuple[str, Path]]:
    paths = dict(GOLDEN_MODELS)
    for name in SHARED_MODEL_NAMES:
        paths[f"{name}.tflite"] = shared_model_path(name)  # absent: skipped below
    return [(key, paths[key.split("/")[0]]) for key in sorted(json.loads(GOLDEN.read_text()))]


@pytest.mark.parametrize("key,path", _golden_cases(), ids=lambda v: str(v).split("/")[-1])
def test_no_inplace_reproduces_the_plan_before_in_place(key: str, path: Path) -> None:
    """tests/golden/plan_views_only.json: the plans (C offsets with scratch, arena, lower bound,
    aliases) of the planner before in-place operators, for both kernel sets."""
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    want = json.loads(GOLDEN.read_text())[key]
    info = load_model(path)
    assert info.sha256 == want["sha256"]
    plan = plan_memory(info, key.split("/")[1], inplace=False)
    verify_plan(info, plan)
    assert list(plan.c_offsets) == want["offsets"]
    assert plan.arena_bytes == want["arena_bytes"] and plan.lower_bound == want["lower_bound"]
    assert {str(k): v for k, v in plan.aliases.items()} == want["aliases"]
    # with in-place the arena never grows and the lower bound is the same number
    on = plan_memory(info, key.split("/")[1])
    verify_plan(info, on)
    assert on.arena_bytes <= plan.arena_bytes and on.lower_bound == plan.lower_bound


def _run_in_c_runtime(model: bytes, inplace: bool, samples: int = 4) -> None:
    """The sanitized host runtime with the plan's offsets (scratch entries included) in an
    arena of exactly the bytes it uses: arena_bytes reported exactly, outputs equal to
    tflite-micro's bit for bit."""
    from support.runtime_host import host_run, random_inputs, run_model_batch, tflm_reference_batch

    info = parse_model(model, "inplace")
    plan = plan_memory(info, inplace=inplace)
    verify_plan(info, plan)
    run = host_run(model, offsets=plan.c_offsets)
    assert run.status == "TFL_OK", run.stderr
    assert run.arena_used == plan.arena_bytes
    rng = np.random.default_rng(18)
    batch = [random_inputs(run.inputs, rng) for _ in range(samples)]
    got = run_model_batch(model, batch, offsets=plan.c_offsets)
    want = tflm_reference_batch(model, batch)
    for g, w in zip(got, want, strict=True):
        assert len(g) == len(w) and all(np.array_equal(a, b) for a, b in zip(g, w))


@pytest.mark.slow
@pytest.mark.parametrize("inplace", [True, False], ids=["inplace", "views-only"])
def test_inplace_plan_is_bit_exact_in_the_c_runtime(inplace: bool) -> None:
    _run_in_c_runtime(inplace_model(), inplace, samples=8)


@pytest.mark.slow
def test_runtime_refuses_an_in_place_depthwise_without_its_scratch() -> None:
    """The depthwise output at its input's offset but no scratch entry in the plan: prepare
    refuses the plan instead of overwriting channels before they are read."""
    from support.runtime_host import host_run

    model = inplace_model()
    plan = plan_memory(parse_model(model, "inplace"))
    assert plan.alias_kinds and plan.scratch_bytes
    run = host_run(model, offsets=plan.offsets)  # the tensors' offsets alone
    assert run.status == "TFL_ERR_PLAN_MISMATCH"


@pytest.mark.slow
def test_depthwise_kernel_in_place_with_stride_1_and_2() -> None:
    """The C kernel's in-place form on both depthwise ops of inplace_model(), the stride-2 one
    (smaller output) included, independent of the planner: a hand-made plan, every
    activation in its own bytes but each depthwise output at its input's offset, one-channel
    scratch after them. Bit-exact with tflite-micro."""
    from support.runtime_host import host_run, random_inputs, run_model_batch, tflm_reference_batch

    model = inplace_model()
    info = parse_model(model, "inplace")
    n = _by_name(info)
    offsets, top = [-1] * len(info.tensors), 0
    for t in info.tensors:
        if not t.is_constant:
            offsets[t.index], top = top, top + (t.nbytes + 3) // 4 * 4
    offsets[n["h2"]], offsets[n["h4"]] = offsets[n["h1"]], offsets[n["h3"]]
    scratch = [-1] * len(info.ops)
    scratch[1], scratch[3] = top, top + 64
    run = host_run(model, offsets=offsets + scratch)
    assert run.status == "TFL_OK", run.stderr
    rng = np.random.default_rng(5)
    batch = [random_inputs(run.inputs, rng) for _ in range(8)]
    got = run_model_batch(model, batch, offsets=offsets + scratch)
    want = tflm_reference_batch(model, batch)
    for g, w in zip(got, want, strict=True):
        assert all(np.array_equal(a, b) for a, b in zip(g, w, strict=True))


def _plan_offsets(project: Path) -> list[int]:
    """The offsets array of a generated project's src/model_plan.c."""
    import re

    text = (project / "src" / "model_plan.c").read_text()
    body = re.search(r"_offsets\[[^\]]*\] = \{(.*?)\};", text, re.S)
    assert body is not None
    return [int(v) for v in re.findall(r"-?\d+", body.group(1))]


def test_check_plan_explains_the_peak_and_the_saving(tmp_path: Path) -> None:
    from support.cli import tinyflash

    model = tmp_path / "inplace.tflite"
    model.write_bytes(inplace_model())
    done = tinyflash("check", model, "--plan")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "peak: 1,344 B live at op 1 (DEPTHWISE_CONV_2D), 64 B of it scratch" in out
    assert "in-place: 2,304 B without, 1,344 B with (saved 960 B)" in out
    assert "1 binary, 2 depthwise, 1 elementwise, 1 quantize, 1 view" in out
    assert "planned / lower bound 0.583" in out and "(= 1, depthwise)" in out
    assert "planned arena 1,344 B (0.583 x lower bound)" in out
    data = json.loads(tinyflash("check", model, "--json", "--no-inplace").stdout)["plan"]
    assert data["inplace"] is False and set(data["alias_kinds"].values()) == {"view"}
    assert data["arena_bytes"] == data["arena_without_inplace"] == data["lower_bound"] == 2304
    assert data["peak"]["op"] == 1 and data["peak"]["live_bytes"] == 2304
    assert {t["name"] for t in data["peak"]["tensors"]} == {"x", "h1", "h2"}


@pytest.mark.slow
def test_generate_no_inplace_writes_the_views_only_plan(tmp_path: Path) -> None:
    from support.cli import tinyflash

    model = tmp_path / "inplace.tflite"
    model.write_bytes(inplace_model())
    info = parse_model(inplace_model(), "inplace")
    for flag, inplace in (("--no-inplace", False), (None, True)):
        out = tmp_path / f"fw-{inplace}"
        args = ["generate", model, "--board", "host", "-o", out, "--selftest", "1"]
        done = tinyflash(*args, *([flag] if flag else []))
        assert done.returncode == 0, done.stderr
        assert _plan_offsets(out) == list(plan_memory(info, inplace=inplace).c_offsets)


@st.composite
def depthwise_chains(draw: st.DrawFn) -> bytes:
    """A random chain of NHWC activations: depthwise convolutions (stride 1 or 2, so outputs the
    same size or smaller), RELUs, residual ADDs onto an earlier tensor of the same shape and 1x1
    convolutions changing the channels; the planner's shrinking alias groups (segments) among
    everything else."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    b = ModelBuilder()
    hw, ch = draw(st.sampled_from([4, 8, 16])), draw(st.sampled_from([2, 4, 8]))
    cur = b.tensor("x", [1, hw, hw, ch], "int8", scale=0.05)
    seen = [cur]
    for k in range(draw(st.integers(2, 12))):
        kind = draw(st.sampled_from(["dw1", "dw2", "relu", "add", "conv"]))
        shape = list(cur.shape)
        if kind == "dw2" and shape[1] >= 2:
            shape = [1, (shape[1] + 1) // 2, (shape[2] + 1) // 2, shape[3]]
        elif kind == "conv":
            shape[3] = draw(st.sampled_from([2, 4, 8, 16]))
        out = b.tensor(f"t{k}", shape, "int8", scale=0.05)
        if kind in ("dw1", "dw2"):
            w = _weights(b, f"dw{k}", [1, 3, 3, shape[3]], rng)
            bias = _bias(b, f"db{k}", shape[3], 0.05, rng)  # tflite-micro's int8 kernels need it
            stride = 2 if shape[1] < cur.shape[1] else 1
            b.op("DEPTHWISE_CONV_2D", [cur, w, bias], [out], padding="SAME", stride_w=stride,
                 stride_h=stride, depth_multiplier=1)  # fmt: skip
        elif kind == "conv":
            w = _weights(b, f"w{k}", [shape[3], 1, 1, cur.shape[3]], rng)
            bias = _bias(b, f"b{k}", shape[3], 0.05, rng)
            b.op("CONV_2D", [cur, w, bias], [out], padding="SAME", stride_w=1, stride_h=1)
        elif kind == "add":
            other = draw(st.sampled_from([t for t in seen if t.shape == cur.shape]))
            b.op("ADD", [cur, other], [out])
        else:
            b.op("RELU", [cur], [out])
        seen.append(out)
        cur = out
    return b.build([seen[0]], [cur])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(depthwise_chains())
def test_generated_depthwise_chains_plan_soundly(model: bytes) -> None:
    """verify_plan (no two live tensors overlap but by an allowed alias, offsets aligned and
    inside the arena) holds for random chains; the arena is never above the views-only plan's
    and never below the bytes live at any op."""
    info = parse_model(model, "chain")
    plan = plan_memory(info)
    verify_plan(info, plan)
    assert plan.arena_bytes <= plan.baseline_bytes
    assert plan.arena_bytes >= plan_peak(info, plan).live_bytes
    assert plan == plan_memory(info)  # deterministic


@pytest.mark.slow
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(depthwise_chains())
def test_generated_depthwise_chains_are_bit_exact_in_place(model: bytes) -> None:
    _run_in_c_runtime(model, inplace=True, samples=2)


def test_aot_leaves_in_place_depthwise_to_the_generic_kernel() -> None:
    """generate --aot specialises DEPTHWISE_CONV_2D with an out-of-place body: an operator the
    plan computes in place keeps the generic kernel (its in-place eval)."""
    from tinyflash.aot import aot_layers

    info = parse_model(inplace_model(), "inplace")
    depthwise = {op.index for op in info.ops if op.name == "DEPTHWISE_CONV_2D"}
    views_only = {
        layer.op_index for layer in aot_layers(info, plan_memory(info, inplace=False), "dsp")
    }
    assert depthwise <= views_only
    in_place = {layer.op_index for layer in aot_layers(info, plan_memory(info), "dsp")}
    assert not depthwise & in_place
