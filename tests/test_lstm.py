"""Recurrent ops: the fused int8 UNIDIRECTIONAL_SEQUENCE_LSTM and SVDF kernels, bit-exact against
tflite-micro (TFLM's reference kernels) under ASan/UBSan, their state kept between invokes, what
check reports about them, and the converter's fused-LSTM route.

The hypothesis tests build single-op models with tests/support/tflbuilder.py (random units, steps, batch,
time-major, scales, cell clip; SVDF rank, memory size) and run a sequence of random inputs through
the host runner and through tflite-micro in one interpreter each: the recurrent state carries from
one input to the next on both sides, so every output after the first also checks the state. The
example's `seed` drives every random array; a failure prints it with the drawn parameters.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.runtime_host import host_run, init_status, run_model_batch, tflm_reference_batch
from support.tflbuilder import ModelBuilder
from tinyflash.model import parse_model
from tinyflash.opcheck import check_model
from tinyflash.plan import plan_memory

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
SEQUENCE = 5  # consecutive invokes per example: the state carries between them


def assert_same(model: bytes, batch: list[list[np.ndarray]], what: str) -> None:
    got = run_model_batch(model, batch)
    want = tflm_reference_batch(model, batch)
    for k, (g_outs, w_outs) in enumerate(zip(got, want)):
        for i, (g, w) in enumerate(zip(g_outs, w_outs)):
            assert g.dtype == w.dtype and g.shape == w.shape, f"{what}: {g.shape} vs {w.shape}"
            if not np.array_equal(g, w):
                diff = np.argwhere(g != w)
                raise AssertionError(
                    f"{what}: invoke {k} output {i}: {len(diff)} of {g.size} values differ, first "
                    f"at {tuple(diff[0])}: runtime {g[tuple(diff[0])]} tflm {w[tuple(diff[0])]}"
                )


def f32(x: float) -> float:
    return float(np.float32(x))


def lstm_model(
    rng: np.random.Generator,
    batch: int,
    steps: int,
    n_in: int,
    n_cell: int,
    time_major: bool,
    cell_power: int,
    clip: float,
    *,
    projection: bool = False,
    peephole: bool = False,
    variable_states: bool = True,
    state_buffers: bool = False,
    act: str = "int8",
) -> bytes:
    """One UNIDIRECTIONAL_SEQUENCE_LSTM as the converter writes it (24 inputs, TFLite's order);
    act="int16": the 16x8 form (int16 x, h and y at zero point 0, int64 gate biases)."""
    b = ModelBuilder()
    wide = act == "int16"
    narrow = 256.0 if wide else 1.0  # int16 steps: the same real ranges in 256 times the codes
    x_scale = f32(rng.uniform(0.004, 0.02) / narrow)
    h_scale = f32(rng.uniform(0.004, 0.01) / narrow)
    x_shape = [steps, batch, n_in] if time_major else [batch, steps, n_in]
    y_shape = [steps, batch, n_cell] if time_major else [batch, steps, n_cell]
    x_zp = 0 if wide else int(rng.integers(-20, 21))
    x = b.tensor("x", x_shape, act, scale=x_scale, zero_point=x_zp)
    ins: list = [x]
    for fan_in, name in ((n_in, "input"), (n_cell, "recurrent")):
        for gate in "ifco":
            w_scale = f32(rng.uniform(0.5, 3.0) / (127 * 0.02 * 64 * np.sqrt(fan_in)))
            ins.append(
                b.tensor(
                    f"{name}_{gate}",
                    [n_cell, fan_in],
                    "int8",
                    data=rng.integers(-127, 128, size=(n_cell, fan_in)),
                    scale=w_scale,
                    zero_point=0,
                )
            )
    for gate in "ifo":  # peephole weights (cell to gate), absent in Keras LSTMs
        ins.append(
            b.tensor(
                f"peep_{gate}",
                [n_cell],
                "int16",
                data=rng.integers(-99, 99, n_cell),
                scale=1e-3,
                zero_point=0,
            )
            if peephole
            else -1
        )
    for gate in "ifco":
        ins.append(
            b.tensor(
                f"bias_{gate}",
                [n_cell],
                "int64" if wide else "int32",
                data=rng.integers(-3000 * 256, 3001 * 256, size=n_cell)
                if wide
                else rng.integers(-3000, 3001, size=n_cell),
                scale=x_scale * 1e-2,
                zero_point=0,
            )
        )
    if projection:
        ins += [
            b.tensor(
                "proj",
                [n_cell, n_cell],
                "int8",
                data=np.ones((n_cell, n_cell)),
                scale=0.01,
                zero_point=0,
            ),
            -1,
        ]
    else:
        ins += [-1, -1]
    h_zp = 0 if wide else int(rng.integers(-10, 11))
    h_data = np.full((batch, n_cell), h_zp) if state_buffers else None
    c_data = np.zeros((batch, n_cell)) if state_buffers else None
    ins.append(
        b.tensor(
            "h",
            [batch, n_cell],
            act,
            data=h_data,
            scale=h_scale,
            zero_point=h_zp,
            is_variable=variable_states,
        )
    )
    ins.append(
        b.tensor(
            "c",
            [batch, n_cell],
            "int16",
            data=c_data,
            scale=2.0**cell_power,
            zero_point=0,
            is_variable=variable_states,
        )
    )
    ins += [-1, -1, -1, -1]
    y = b.tensor("y", y_shape, act, scale=h_scale, zero_point=h_zp)
    b.op(
        "UNIDIRECTIONAL_SEQUENCE_LSTM",
        ins,
        [y],
        fused_activation_function="TANH",
        cell_clip=clip,
        proj_clip=0.0,
        time_major=time_major,
        asymmetric_quantize_inputs=False,
    )
    return b.build(inputs=[x], outputs=[y])


def random_sequence(rng: np.random.Generator, shape: list[int]) -> list[list[np.ndarray]]:
    return [[rng.integers(-128, 128, size=shape, dtype=np.int8)] for _ in range(SEQUENCE)]


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    batch=st.integers(1, 3),
    steps=st.integers(1, 12),
    n_in=st.integers(1, 20),
    n_cell=st.integers(1, 24),
    time_major=st.booleans(),
    cell_power=st.integers(-15, -8),
    clip=st.sampled_from([0.0, 0.0, 1.5, 3.0]),
)
def test_lstm_matches_tflm(seed, batch, steps, n_in, n_cell, time_major, cell_power, clip):
    print(
        f"seed={seed} batch={batch} steps={steps} n_in={n_in} n_cell={n_cell} "
        f"time_major={time_major} cell_power={cell_power} clip={clip}"
    )
    rng = np.random.default_rng(seed)
    model = lstm_model(rng, batch, steps, n_in, n_cell, time_major, cell_power, clip)
    assert [op.name for op in parse_model(model, "lstm.tflite").ops] == [
        "UNIDIRECTIONAL_SEQUENCE_LSTM"
    ]
    shape = [steps, batch, n_in] if time_major else [batch, steps, n_in]
    assert_same(model, random_sequence(rng, shape), f"LSTM seed={seed}")


def test_lstm_state_buffers_are_ignored_like_tflm():
    """Some converters write an initial value for the state tensors: TFLM ignores it (state starts
    at zero, int8 at its zero point) and so does the runtime; model.py does not call them
    constants, so the plan gives them arena space."""
    rng = np.random.default_rng(7)
    model = lstm_model(rng, 2, 4, 3, 5, False, -11, 0.0, state_buffers=True)
    info = parse_model(model, "lstm")
    states = [t for t in info.tensors if t.is_variable]
    assert len(states) == 2 and not any(t.is_constant for t in states)
    plan = plan_memory(info)
    assert all(plan.offsets[t.index] >= 0 for t in states)
    assert_same(model, random_sequence(rng, [2, 4, 3]), "LSTM with state buffers")
    run = host_run(model, random_sequence(rng, [2, 4, 3]), offsets=list(plan.offsets))
    assert run.status == "TFL_OK", run.stderr


@pytest.mark.parametrize(
    "variant, status, kind",
    [
        ({"projection": True}, "TFL_ERR_UNSUPPORTED_OPTION", "projection"),
        ({"peephole": True}, "TFL_ERR_UNSUPPORTED_OPTION", "peephole"),
        ({"variable_states": False}, "TFL_ERR_MODEL_INVALID", "not a variable"),
    ],
)
def test_lstm_variants_refused_by_runtime_and_check(variant, status, kind):
    """TFLM's integer LSTM has no projection, peephole or layer norm; the runtime refuses them in
    prepare and check says why, in one sentence."""
    model = lstm_model(np.random.default_rng(3), 1, 3, 4, 4, False, -11, 0.0, **variant)
    assert init_status(model) == status
    report = check_model(parse_model(model, "lstm"))
    assert not report.deployable
    assert any(kind in message for message in report.offenders), report.offenders


def test_lstm_non_power_of_two_cell_scale_refused():
    b_model = lstm_model(np.random.default_rng(4), 1, 3, 4, 4, False, -11, 0.0)
    info = parse_model(b_model, "lstm")
    assert check_model(info).deployable
    # rewrite the cell state's scale (2^-11) to 3 * 2^-13 in place
    pattern = np.float32(2.0**-11).tobytes()
    assert b_model.count(pattern) == 1
    bad = b_model.replace(pattern, np.float32(3 * 2.0**-13).tobytes())
    assert init_status(bad) == "TFL_ERR_BAD_QUANTIZATION"
    report = check_model(parse_model(bad, "lstm"))
    assert any("power of two" in m for m in report.offenders), report.offenders


def test_check_counts_lstm_macs_and_int16_state_is_int8_op_set():
    model = lstm_model(np.random.default_rng(5), 2, 7, 3, 5, False, -11, 0.0)
    info = parse_model(model, "lstm")
    report = check_model(info)
    assert report.deployable, report.offenders
    assert not [f for f in report.findings if f.kind == "int16"]
    assert info.ops[0].macs == 4 * 5 * (3 + 5) * 7 * 2


# ---- SVDF ----------------------------------------------------------------------------------


def svdf_model(
    rng: np.random.Generator,
    batch: int,
    n_in: int,
    n_unit: int,
    rank: int,
    memory: int,
    with_bias: bool,
) -> bytes:
    """One SVDF with scales that keep the state and the outputs in range (real values: inputs in
    +-1, features and outputs of about +-0.3 to 1, state of about +-2)."""
    b = ModelBuilder()
    n_filter = n_unit * rank
    x_scale = f32(rng.uniform(0.5, 2.0) / 128)
    wf_scale = f32(rng.uniform(0.3, 1.5) / np.sqrt(n_in) / 127)
    state_scale = f32(rng.uniform(1.0, 4.0) / 32768)
    wt_scale = f32(rng.uniform(0.5, 2.0) / np.sqrt(memory * rank) / 32767)
    out_scale = f32(rng.uniform(0.3, 2.0) / 128)
    bias_scale = f32(np.float32(state_scale) * np.float32(wt_scale))
    bias_limit = int(0.2 / bias_scale)
    x = b.tensor("x", [batch, n_in], "int8", scale=x_scale, zero_point=int(rng.integers(-30, 31)))
    wf = b.tensor(
        "wf",
        [n_filter, n_in],
        "int8",
        data=rng.integers(-127, 128, size=(n_filter, n_in)),
        scale=wf_scale,
        zero_point=0,
    )
    wt = b.tensor(
        "wt",
        [n_filter, memory],
        "int16",
        data=rng.integers(-32767, 32768, size=(n_filter, memory)),
        scale=wt_scale,
        zero_point=0,
    )
    bias = (
        b.tensor(
            "bias",
            [n_unit],
            "int32",
            data=rng.integers(-bias_limit, bias_limit + 1, size=n_unit),
            scale=bias_scale,
            zero_point=0,
        )
        if with_bias
        else -1
    )
    state = b.tensor(
        "state",
        [batch, memory * n_filter],
        "int16",
        scale=state_scale,
        zero_point=0,
        is_variable=True,
    )
    y = b.tensor(
        "y", [batch, n_unit], "int8", scale=out_scale, zero_point=int(rng.integers(-20, 21))
    )
    b.op("SVDF", [x, wf, wt, bias, state], [y], rank=rank, fused_activation_function="RELU")
    return b.build(inputs=[x], outputs=[y])


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    batch=st.integers(1, 3),
    n_in=st.integers(1, 40),
    n_unit=st.integers(1, 16),
    rank=st.integers(1, 3),
    memory=st.integers(1, 12),
)
def test_svdf_matches_tflm(seed, batch, n_in, n_unit, rank, memory):
    print(f"seed={seed} batch={batch} n_in={n_in} n_unit={n_unit} rank={rank} memory={memory}")
    rng = np.random.default_rng(seed)
    model = svdf_model(rng, batch, n_in, n_unit, rank, memory, with_bias=True)
    assert [op.name for op in parse_model(model, "svdf.tflite").ops] == ["SVDF"]
    batch_inputs = [
        [rng.integers(-128, 128, size=(batch, n_in), dtype=np.int8)] for _ in range(memory + 3)
    ]  # past the memory: old frames drop out
    assert_same(model, batch_inputs, f"SVDF seed={seed}")


def test_svdf_check_and_macs():
    model = svdf_model(np.random.default_rng(1), 1, 10, 4, 2, 6, with_bias=True)
    info = parse_model(model, "svdf")
    report = check_model(info)
    assert report.deployable, report.offenders
    assert info.ops[0].macs == 8 * 10 + 8 * 6


def test_svdf_state_must_be_variable():
    b = ModelBuilder()
    x = b.tensor("x", [1, 4], "int8", scale=0.01, zero_point=0)
    wf = b.tensor("wf", [2, 4], "int8", data=np.ones((2, 4)), scale=0.01, zero_point=0)
    wt = b.tensor("wt", [2, 3], "int16", data=np.ones((2, 3)), scale=1e-4, zero_point=0)
    state = b.tensor("state", [1, 6], "int16", scale=0.01, zero_point=0)  # not a variable
    y = b.tensor("y", [1, 2], "int8", scale=0.01, zero_point=0)
    b.op("SVDF", [x, wf, wt, -1, state], [y], rank=1)
    assert init_status(b.build(inputs=[x], outputs=[y])) == "TFL_ERR_MODEL_INVALID"


@pytest.mark.parametrize("which", ["lstm", "svdf"])
def test_reset_variables_zeroes_state_in_c(which: str) -> None:
    """tfl_reset_variables (and tfl_init) zero the state: after a reset the next invoke repeats the
    first invoke's outputs although a second invoke in between changed the state (checked in C by
    `tfl_runner --api`, with the rest of the API contract)."""
    from support.runtime_host import api_checks

    rng = np.random.default_rng(9)
    model = (
        lstm_model(rng, 1, 4, 3, 6, False, -11, 0.0)
        if which == "lstm"
        else svdf_model(rng, 1, 5, 3, 2, 4, with_bias=True)
    )
    if which == "svdf":  # larger outputs than svdf_model's at this size: the fuzz seed
        sys.path.insert(0, str(Path(__file__).resolve().parent / "fuzz"))
        try:
            import fuzzlib
        finally:
            sys.path.pop(0)
        model = fuzzlib.kernel_seed_models()["kernel_svdf.tflite"]
    results = api_checks(model)
    failed = {k: v[1] for k, v in results.items() if not v[0]}
    assert not failed, failed
    assert {"reset_variables", "reset_zeroes_variables", "reset_repeats_first_invoke"} <= set(
        results
    )
    # the state really changes between invokes: without the reset the outputs would differ
    x = rng.integers(-128, 128, size=(1, 4, 3) if which == "lstm" else (1, 6), dtype=np.int8)
    first, second = run_model_batch(model, [[x], [x]])
    assert not np.array_equal(first[0], second[0])
