"""plan.py: lifetimes, the lower bound of DESIGN.md section 5, reshape aliasing, arena within 1.05x
of the lower bound, verify_plan catching overlaps, and hypothesis-generated graphs."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED_MODEL_NAMES, shared_model_path
from support.tflbuilder import Op, Spec, T, conv_spec, write_model
from tinyflash.errors import TinyflashError
from tinyflash.model import ModelInfo, load_model, parse_model
from tinyflash.plan import (
    ALIGNMENT,
    lower_bound,
    plan_memory,
    scratch_bytes_for_op,
    tensor_lifetimes,
    verify_plan,
)

# DESIGN.md section 5 (activation lower bound over the converter's op order).
DESIGN_LOWER_BOUNDS = {
    "ad01_int8": 1_408,
    "kws_ref_model": 16_490,
    "pretrainedResnet_quant": 52_224,
}
# TFLM's minimum arena, tflite-micro Python runtime on x86-64 (DESIGN.md section 5).
TFLM_MIN_ARENA = {"ad01_int8": 4_632, "kws_ref_model": 24_272, "pretrainedResnet_quant": 55_984}


def _pool_words(info: ModelInfo) -> int:
    """The pool contract, recomputed: 2 words (multiplier, shift) per scale of the weights."""
    return sum(
        2 * len(info.tensors[op.inputs[1]].quant.scales)
        for op in info.ops
        if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")
    )


@pytest.mark.parametrize("name", SHARED_MODEL_NAMES)
def test_shared_model_plan(name: str) -> None:
    info = load_model(shared_model_path(name))
    plan = plan_memory(info)
    verify_plan(info, plan)
    assert plan.lower_bound == DESIGN_LOWER_BOUNDS[name]
    assert plan.arena_bytes <= 1.05 * plan.lower_bound
    assert plan.arena_bytes == plan.aligned_bound  # optimal for these lifetimes
    assert plan.arena_bytes < TFLM_MIN_ARENA[name]
    assert plan.alignment == ALIGNMENT == 4
    # arena_bytes is the end of the highest tensor, what the C runtime reports as arena_used.
    assert plan.arena_bytes == max(
        off + info.tensors[t].nbytes for t, off in enumerate(plan.offsets) if off >= 0
    )
    assert plan.pool_words == _pool_words(info)
    assert plan == plan_memory(info)  # deterministic
    for t, off in enumerate(plan.offsets):
        tensor = info.tensors[t]
        assert (off == -1) == tensor.is_constant
        assert off == -1 or off % ALIGNMENT == 0


# Arena with the DSP kernels' scratch (measured equal to the device's arena_used by
# `tinyflash bench --kernels dsp`, docs/performance.md).
DSP_ARENA = {"ad01_int8": 2_048, "kws_ref_model": 16_746, "pretrainedResnet_quant": 52_656}


@pytest.mark.parametrize("name", SHARED_MODEL_NAMES)
def test_dsp_scratch_is_planned_like_a_one_op_tensor(name: str) -> None:
    info = load_model(shared_model_path(name))
    portable, dsp = plan_memory(info), plan_memory(info, "dsp")
    assert portable.scratch_offsets == portable.scratch_bytes == ()  # the portable build: none
    assert portable.c_offsets == portable.offsets
    verify_plan(info, dsp)
    assert len(dsp.scratch_offsets) == len(dsp.scratch_bytes) == len(info.ops)
    assert dsp.c_offsets == dsp.offsets + dsp.scratch_offsets
    for op, nbytes, off in zip(info.ops, dsp.scratch_bytes, dsp.scratch_offsets):
        assert nbytes == scratch_bytes_for_op(info, op, "dsp")
        assert scratch_bytes_for_op(info, op, "portable") == 0
        assert (nbytes == 0) == (off == -1)
        assert nbytes == 0 or (op.name in ("CONV_2D", "FULLY_CONNECTED") and nbytes % 4 == 0)
    assert any(dsp.scratch_bytes)
    ends = [off + info.tensors[t].nbytes for t, off in enumerate(dsp.offsets) if off >= 0]
    ends += [off + n for off, n in zip(dsp.scratch_offsets, dsp.scratch_bytes) if n]
    assert dsp.arena_bytes == max(ends) == DSP_ARENA[name]
    assert portable.lower_bound <= dsp.lower_bound <= dsp.arena_bytes == dsp.aligned_bound
    assert dsp == plan_memory(info, "dsp")  # deterministic


def test_scratch_sizes_follow_the_kernels_rules() -> None:
    """The C kernels' rules (op_conv_2d.c conv_scratch_bytes, op_fully_connected.c prepare)."""
    kws = load_model(shared_model_path("kws_ref_model"))
    first_conv = kws.ops[0]  # 10x4 filter over one input channel, 64 output channels
    assert first_conv.name == "CONV_2D" and kws.tensors[first_conv.inputs[1]].shape[1:] == (
        10,
        4,
        1,
    )
    assert scratch_bytes_for_op(kws, first_conv, "dsp") == 3 * 40
    pointwise = kws.ops[2]  # 1x1, stride 1, 64 input channels: two expanded pixels
    assert pointwise.name == "CONV_2D" and kws.tensors[pointwise.inputs[1]].shape[1:3] == (1, 1)
    assert scratch_bytes_for_op(kws, pointwise, "dsp") == 4 * 64
    ad01 = load_model(shared_model_path("ad01_int8"))
    fc = ad01.ops[0]  # depth 640: its row expanded, two words per 4 bytes
    assert fc.name == "FULLY_CONNECTED" and ad01.tensors[fc.inputs[1]].shape[1] == 640
    assert scratch_bytes_for_op(ad01, fc, "dsp") == 2 * 640


def test_shared_models_pool_words() -> None:
    # ad01: ten per-tensor FC layers, 2 words each; kws and the ResNet: per-channel convs
    # (2 words per output channel) and one per-tensor FC (2 words).
    expected = {"ad01_int8": 20, "kws_ref_model": 1154, "pretrainedResnet_quant": 674}
    for name, words in expected.items():
        assert plan_memory(load_model(shared_model_path(name))).pool_words == words


def test_kws_reshape_aliases_its_input() -> None:
    info = load_model(shared_model_path("kws_ref_model"))
    plan = plan_memory(info)
    reshape = next(op for op in info.ops if op.name == "RESHAPE")
    src, dst = reshape.inputs[0], reshape.outputs[0]
    assert plan.aliases == {dst: src}
    assert plan.offsets[dst] == plan.offsets[src] >= 0


def test_lifetimes_tiny_model() -> None:
    info = parse_model(write_model(conv_spec()), "tiny")
    life = tensor_lifetimes(info)
    # input lives for the whole invoke, outputs until the end; constants are not planned.
    assert life[0] == (0, 3)
    assert life[3] == (0, 1) and life[5] == (1, 2) and life[8] == (2, 3) and life[9] == (3, 3)
    assert life[1] == life[2] == life[4] == life[6] == life[7] == (-1, -1)
    plan = plan_memory(info)
    verify_plan(info, plan)
    # conv/out (72 B) -> flat (72 B) via RESHAPE: aliased.
    assert plan.aliases == {5: 3} and plan.offsets[5] == plan.offsets[3]
    # lower bound (no aliasing): op 1 RESHAPE has input 108 + conv/out 72 + flat 72 = 252.
    assert plan.lower_bound == 252 == lower_bound(info)
    # The plan shares conv/out and flat, and probs reuses their bytes after op 2: below the bound.
    assert plan.arena_bytes == 108 + 72 + 4
    # per-channel conv (8 scales) + per-tensor FC (1 scale): 2 words per weight scale
    assert plan.pool_words == 2 * 8 + 2 * 1


def _reshape_spec(reuse_later: bool, from_input: bool) -> Spec:
    """x -> ADD -> a -> RESHAPE -> b -> ADD(b, a if reuse_later else b) -> y."""
    tensors = [
        T((1, 8, 8), name="x"),
        T((1, 8, 8), name="a"),
        T((3,), "int32", data=bytes(12), scales=None, name="shape"),
        T((1, 64), name="b"),
        T((1, 64), name="y"),
    ]
    src = 0 if from_input else 1
    ops = [
        Op("ADD", (0, 0), (1,)),
        Op("RESHAPE", (src, 2), (3,)),
        Op("ADD", (3, 1 if reuse_later else 3), (4,)),
    ]
    return Spec(tensors, ops, inputs=(0,), outputs=(4,))


def test_alias_rules() -> None:
    plain = parse_model(write_model(_reshape_spec(False, False)), "plain")
    plan = plan_memory(plain)
    verify_plan(plain, plan)
    assert plan.aliases == {3: 1} and plan.offsets[3] == plan.offsets[1]
    # Input read again after the reshape: no alias, separate bytes.
    later = parse_model(write_model(_reshape_spec(True, False)), "later")
    plan = plan_memory(later)
    verify_plan(later, plan)
    assert plan.aliases == {} and plan.offsets[3] != plan.offsets[1]
    # Reshape of the model input: the input must stay intact, no alias.
    of_input = parse_model(write_model(_reshape_spec(False, True)), "input")
    plan = plan_memory(of_input)
    verify_plan(of_input, plan)
    assert plan.aliases == {}


def test_unused_tensor_not_planned() -> None:
    spec = conv_spec()
    spec.tensors.append(T((1, 100), name="orphan"))
    info = parse_model(write_model(spec), "orphan")
    plan = plan_memory(info)
    assert plan.offsets[-1] == -1 and plan.lifetimes[-1] == (-1, -1)


def test_verify_plan_catches_overlap_and_misalignment() -> None:
    info = load_model(shared_model_path("kws_ref_model"))
    plan = plan_memory(info)
    planned = [t for t, o in enumerate(plan.offsets) if o >= 0]
    squashed = tuple(0 if o >= 0 else -1 for o in plan.offsets)
    with pytest.raises(TinyflashError, match="are live together but overlap"):
        verify_plan(info, dataclasses.replace(plan, offsets=squashed, aliases={}))
    odd = list(plan.offsets)
    odd[planned[0]] += 2
    with pytest.raises(TinyflashError, match="not a multiple of 4"):
        verify_plan(info, dataclasses.replace(plan, offsets=tuple(odd)))
    with pytest.raises(TinyflashError, match="past the"):
        verify_plan(info, dataclasses.replace(plan, arena_bytes=plan.arena_bytes - 4))
    constant = next(t.index for t in info.tensors if t.is_constant)
    wrong = list(plan.offsets)
    wrong[constant] = 0
    with pytest.raises(TinyflashError, match="constant or unused"):
        verify_plan(info, dataclasses.replace(plan, offsets=tuple(wrong)))


# ---- generated graphs ----------------------------------------------------------------------


@st.composite
def graphs(draw: st.DrawFn) -> Spec:
    """A random DAG of activations: each op reads one or two earlier tensors (mostly recent
    ones, sometimes a skip connection) and writes one; some ops are size-preserving RESHAPEs."""
    n_ops = draw(st.integers(1, 30))
    tensors = [T((draw(st.integers(1, 3000)),), name="in")]
    ops: list[Op] = []
    for _ in range(n_ops):
        k = len(tensors)
        a = draw(st.integers(max(0, k - 3), k - 1))
        if draw(st.integers(0, 4)) == 0:
            tensors.append(T((1, tensors[a].shape[0]), name=f"r{k}"))
            tensors[-1].shape = (tensors[a].shape[0],)
            ops.append(Op("RESHAPE", (a,), (k,)))
            continue
        b = draw(st.integers(0, k - 1))
        tensors.append(T((draw(st.integers(1, 3000)),), name=f"t{k}"))
        ops.append(Op("ADD", (a, b), (k,)))
    outputs = (len(tensors) - 1,)
    return Spec(tensors, ops, inputs=(0,), outputs=outputs)


@settings(
    max_examples=80, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(graphs())
def test_generated_graphs_plan_is_sound(spec: Spec) -> None:
    info = parse_model(write_model(spec), "graph")
    plan = plan_memory(info)
    verify_plan(info, plan)
    assert plan == plan_memory(info)
    assert plan.arena_bytes >= plan.aligned_bound
    # Never worse than laying out every activation once (no reuse) ...
    assert plan.arena_bytes <= sum((t.nbytes + 3) // 4 * 4 for t in info.tensors)

    # ... and never below what must coexist at one op once aliases share their bytes.
    def root(t: int) -> int:
        return root(plan.aliases[t]) if t in plan.aliases else t

    for op in info.ops:
        live = {
            root(t) for t, (start, end) in enumerate(plan.lifetimes) if start <= op.index <= end
        }
        assert plan.arena_bytes >= sum(info.tensors[t].nbytes for t in live)


def _chain_net(widths: list[int], skip_every: int) -> Spec:
    """A look-alike of the MLPerf Tiny CNNs: a chain of activations with residual ADDs every
    `skip_every` ops and a RESHAPE before the classifier."""
    tensors = [T((widths[0],), name="in")]
    ops: list[Op] = []
    skip = 0
    for i, w in enumerate(widths[1:], start=1):
        k = len(tensors)
        tensors.append(T((w,), name=f"t{k}"))
        if skip_every and i % skip_every == 0 and tensors[skip].shape == (w,):
            ops.append(Op("ADD", (k - 1, skip), (k,)))
            skip = k
        else:
            ops.append(Op("CONV_2D", (k - 1,), (k,)))
    k = len(tensors)
    tensors.append(T(tensors[-1].shape, name="flat"))
    ops.append(Op("RESHAPE", (k - 1,), (k,)))
    tensors.append(T((10,), name="logits"))
    ops.append(Op("FULLY_CONNECTED", (k,), (k + 1,)))
    return Spec(tensors, ops, inputs=(0,), outputs=(k + 1,))


@pytest.mark.parametrize(
    "widths,skip",
    [
        ([3072] + [16384] * 6 + [8192] * 6 + [4096] * 6 + [64], 2),  # ResNet-8 like
        ([490] + [8000] * 9 + [64], 0),  # DS-CNN like
        ([3072, 12288, 12288, 6144, 12288, 6144, 6144, 3072, 6144, 3072, 3072, 1536, 256], 0),
        ([640] + [128] * 4 + [8] + [128] * 4 + [640], 0),  # FC autoencoder like
    ],
)
def test_lookalike_models_within_5_percent(widths: list[int], skip: int) -> None:
    info = parse_model(write_model(_chain_net(widths, skip)), "lookalike")
    plan = plan_memory(info)
    verify_plan(info, plan)
    assert plan.arena_bytes <= 1.05 * plan.lower_bound


# ---- the plan in the real C runtime ----------------------------------------------------------


def _run_plan_in_runtime(model: bytes, inputs_count: int = 3) -> None:
    """The sanitized host build of firmware/runtime runs `model` with our offsets in an arena of
    exactly the runtime's arena_used bytes: it must report arena_bytes and pool_words exactly and
    match tflite-micro's outputs bit for bit (a plan that overlapped live tensors would not)."""
    import numpy as np

    from support.runtime_host import host_run, random_inputs, run_model_batch, tflm_reference_batch

    info = parse_model(model, "runtime")
    plan = plan_memory(info)
    verify_plan(info, plan)
    run = host_run(model, offsets=plan.offsets)
    assert run.status == "TFL_OK", run.stderr
    assert run.arena_used == plan.arena_bytes
    assert run.pool_used == plan.pool_words
    rng = np.random.default_rng(11)
    batch = [random_inputs(run.inputs, rng) for _ in range(inputs_count)]
    got = run_model_batch(model, batch, offsets=plan.offsets)
    want = tflm_reference_batch(model, batch)
    for g, w in zip(got, want):
        assert len(g) == len(w) and all(np.array_equal(a, b) for a, b in zip(g, w))


@pytest.mark.slow
@pytest.mark.parametrize("name", SHARED_MODEL_NAMES)
def test_plan_runs_in_the_c_runtime(name: str) -> None:
    _run_plan_in_runtime(shared_model_path(name).read_bytes())


@pytest.mark.slow
def test_aliased_reshape_plan_runs_in_the_c_runtime() -> None:
    """conv -> RESHAPE (aliased: same offset, the kernel skips the copy) -> FC -> SOFTMAX."""
    spec = conv_spec()
    spec.tensors[8].scales = (0.1,)
    model = write_model(spec)
    plan = plan_memory(parse_model(model, "tiny"))
    assert plan.aliases == {5: 3}
    _run_plan_in_runtime(model)


# ---- the plan as TFLM offline-planner metadata -------------------------------------------------


def _tflm_outputs(model: bytes, inputs: list) -> list:  # type: ignore[type-arg]
    from tflite_micro.python.tflite_micro import runtime

    outs = []
    for x in inputs:
        it = runtime.Interpreter.from_bytes(model, arena_size=200_000)
        it.set_input(x, 0)
        it.invoke()
        outs.append(it.get_output(0).copy())
    return outs


@pytest.mark.slow
def test_offline_plan_metadata_is_used_by_tflm() -> None:
    import dataclasses
    import struct

    import numpy as np
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    from tinyflash.plan import OFFLINE_METADATA_NAME, with_offline_plan

    info = load_model(shared_model_path("kws_ref_model"))
    plan = plan_memory(info)
    planned = with_offline_plan(info, plan)
    again = parse_model(planned, "planned")
    assert [op.name for op in again.ops] == [op.name for op in info.ops]
    assert plan_memory(again).offsets == plan.offsets
    model = fb.Model.GetRootAs(planned, 0)
    entries = {
        model.Metadata(i).Name().decode(): model.Metadata(i).Buffer()
        for i in range(model.MetadataLength())
    }
    raw = model.Buffers(entries[OFFLINE_METADATA_NAME]).DataAsNumpy().tobytes()
    n = len(info.tensors)
    assert struct.unpack(f"<{n + 3}i", raw) == (0, 0, n, *plan.offsets)
    assert "min_runtime_version" in entries  # the converter's metadata is kept

    rng = np.random.default_rng(5)
    xs = [rng.integers(-128, 128, size=(1, 49, 10, 1), dtype=np.int8) for _ in range(2)]
    want = _tflm_outputs(info.data, xs)
    assert all(np.array_equal(a, b) for a, b in zip(_tflm_outputs(planned, xs), want))
    # TFLM really places tensors by the metadata: a plan squashed to offset 0 corrupts outputs.
    squashed = dataclasses.replace(plan, offsets=tuple(0 if o >= 0 else -1 for o in plan.offsets))
    bad = _tflm_outputs(with_offline_plan(info, squashed), xs)
    assert not all(np.array_equal(a, b) for a, b in zip(bad, want))
    # Writing twice replaces the entry instead of adding a second one.
    twice = fb.Model.GetRootAs(with_offline_plan(again, plan), 0)
    names = [twice.Metadata(i).Name().decode() for i in range(twice.MetadataLength())]
    assert names.count(OFFLINE_METADATA_NAME) == 1
