"""IF and WHILE (issue 15): control flow over the runtime's subgraphs.

The fuzz seeds kernel_if and kernel_while (tests/fuzz/fuzzlib.py, written with the flatbuffer
builder; three subgraphs each) run on the C runtime, with the sequential layout and with
tinyflash's plans, bit-exact against the tflite-micro Python runtime; malformed variants are
refused by prepare with a status code."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.cli import tinyflash
from support.compare import assert_batch_same_as_tflm
from support.runtime_host import host_run, init_status, run_model_batch, tflm_reference_batch
from support.strategies import kernel_settings, quants, seeds, shapes
from support.tflbuilder import ModelBuilder
from tinyflash.model import parse_model
from tinyflash.opcheck import check_model
from tinyflash.plan import op_timeline, plan_memory, verify_plan

REPO = Path(__file__).resolve().parents[1]
Q = {"scale": 0.05, "zero_point": 1}
ONE = {"scale": 0.5, "zero_point": 0}


def cf_models() -> dict[str, bytes]:
    sys.path.insert(0, str(REPO / "tests" / "fuzz"))
    try:
        import fuzzlib
    finally:
        sys.path.pop(0)
    return fuzzlib.control_flow_models()


def if_batch(n: int, seed: int) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        [rng.integers(-128, 128, (1, 8), dtype=np.int8), rng.integers(-3, 4, (1,), dtype=np.int8)]
        for _ in range(n)
    ]


def while_batch(n: int, seed: int) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [
        [
            rng.integers(-128, 128, (1,), dtype=np.int8),  # start of i: 0 to 138 body runs
            rng.integers(-128, 128, (1, 8), dtype=np.int8),
            rng.integers(-6, 7, (1, 8), dtype=np.int8),
        ]
        for _ in range(n)
    ]


@pytest.mark.parametrize("plan", ["none", "portable", "dsp"])
@pytest.mark.parametrize("kind", ["IF", "WHILE"])
def test_control_flow_seed_is_bit_exact(kind: str, plan: str) -> None:
    """Both branches of IF, and WHILE from 0 to 138 body runs, equal TFLM's outputs."""
    model = cf_models()[kind.lower()]
    info = parse_model(model, kind)
    assert kind in [op.name for op in info.ops]
    seed = 15
    batch = (if_batch if kind == "IF" else while_batch)(40, seed)
    offsets = None if plan == "none" else list(plan_memory(info, plan).c_offsets)
    got = run_model_batch(model, batch, offsets=offsets)
    ref = tflm_reference_batch(model, batch)
    for i, (g, r) in enumerate(zip(got, ref)):
        for k, (gk, rk) in enumerate(zip(g, r)):
            assert np.array_equal(gk, rk), f"seed {seed}, sample {i}, output {k}: {gk} != {rk}"
    if kind == "IF":  # both branches taken: x + 1.0 where c > 0, x - 1.0 elsewhere
        taken = {bool(s[1][0] > 0) for s in batch}
        assert taken == {True, False}
    else:  # the loop ran to i = 10 where i started below, did not run elsewhere
        for s, r in zip(batch, ref):
            assert r[0][0] == max(int(s[0][0]), 10)
            if s[0][0] >= 10:
                assert np.array_equal(r[1], s[1])


@pytest.mark.parametrize("kind", ["if", "while"])
def test_plan_runs_the_called_subgraphs_inside_the_op(kind: str) -> None:
    """The timeline puts the called subgraphs' ops between two steps of the control-flow op; the
    plan verifies and the C runtime uses exactly the planned arena."""
    model = cf_models()[kind]
    info = parse_model(model, kind)
    assert info.subgraph_count == 3
    timeline = op_timeline(info)
    op = 1 if kind == "if" else 0
    assert timeline.count(op) == 2 and set(timeline) == set(range(len(info.ops)))
    first, last = timeline.index(op), len(timeline) - 1 - timeline[::-1].index(op)
    assert set(timeline[first + 1 : last]) == set(range(len(info.ops))) - set(info.subgraphs[0].ops)
    plan = plan_memory(info)
    verify_plan(info, plan)
    batch = (if_batch if kind == "if" else while_batch)(3, 1)
    run = host_run(model, batch, offsets=list(plan.c_offsets))
    assert run.returncode == 0, run.stderr
    assert run.arena_used == plan.arena_bytes
    report = check_model(info)
    assert report.deployable, report.offenders
    assert not report.warnings


def _if_model(
    then: int = 1,
    else_: int = 2,
    cond_type: str = "bool",
    cond_shape: tuple[int, ...] = (1,),
    branch_shape: tuple[int, ...] = (1, 8),
    branch_inputs: int = 1,
) -> bytes:
    b = ModelBuilder()
    x = b.tensor("x", [1, 8], "int8", **Q)
    flag = b.tensor("flag", list(cond_shape), cond_type, **({} if cond_type == "bool" else ONE))
    y = b.tensor("y", [1, 8], "int8", **Q)
    b.op("IF", [flag, x], [y], then_subgraph_index=then, else_subgraph_index=else_)
    branches = []
    for k in range(2):
        g = ModelBuilder()
        shape = list(branch_shape) if k == 1 else [1, 8]
        ins = [g.tensor(f"x{i}", shape, "int8", **Q) for i in range(branch_inputs)]
        out = g.tensor("y", shape, "int8", **Q)
        g.op("RELU", [ins[0]], [out])
        branches.append((g, ins, [out]))
    return b.build([flag, x], [y], subgraphs=branches)


def _while_model(
    cond_output: str = "bool", size: int = 1, body_outputs: int = 1, body: int = 2
) -> bytes:
    """WHILE x < 0.05: x = relu(x) over `size` elements (init only: it would not end)."""
    b = ModelBuilder()
    x = b.tensor("x", [size], "int8", **Q)
    y = b.tensor("y", [size], "int8", **Q)
    b.op("WHILE", [x], [y], cond_subgraph_index=1, body_subgraph_index=body)
    cond = ModelBuilder()
    cx = cond.tensor("x", [size], "int8", **Q)
    k = cond.tensor("k", [1], "int8", data=np.array([2]), **Q)
    more = cond.tensor("more", [size], cond_output, **({} if cond_output == "bool" else Q))
    cond.op("LESS" if cond_output == "bool" else "MINIMUM", [cx, k], [more])
    bb = ModelBuilder()
    bx = bb.tensor("x", [size], "int8", **Q)
    outs = [bb.tensor(f"y{i}", [size], "int8", **Q) for i in range(body_outputs)]
    for o in outs:
        bb.op("RELU", [bx], [o])
    return b.build([x], [y], subgraphs=[(cond, [cx], [more]), (bb, [bx], outs)])


def test_malformed_control_flow_is_refused() -> None:
    assert init_status(_if_model()) == "TFL_OK"
    # a branch that is the IF's own subgraph (would recurse)
    assert init_status(_if_model(then=0)) == "TFL_ERR_MODEL_INVALID"
    assert init_status(_if_model(else_=0)) == "TFL_ERR_MODEL_INVALID"
    # the condition: bool with one element (as TFLM)
    assert init_status(_if_model(cond_type="int8")) == "TFL_ERR_UNSUPPORTED_TYPE"
    assert init_status(_if_model(cond_shape=(2,))) == "TFL_ERR_BAD_SHAPE"
    # a branch whose tensors do not fit the operator's: count, then bytes
    assert init_status(_if_model(branch_inputs=2)) == "TFL_ERR_MODEL_INVALID"
    assert init_status(_if_model(branch_shape=(1, 4))) == "TFL_ERR_BAD_SHAPE"
    # WHILE: the condition's first output is not one bool; the body's outputs do not fit
    assert init_status(_while_model()) == "TFL_OK"
    assert init_status(_while_model(body=0)) == "TFL_ERR_MODEL_INVALID"
    assert init_status(_while_model(cond_output="int8")) == "TFL_ERR_UNSUPPORTED_TYPE"
    assert init_status(_while_model(size=2)) == "TFL_ERR_BAD_SHAPE"  # two bools
    assert init_status(_while_model(body_outputs=2)) == "TFL_ERR_MODEL_INVALID"


# ---- converted with TensorFlow: examples/control_flow -------------------------------------------

TOOLS = ("arm-none-eabi-gcc", "qemu-system-arm")
EXAMPLE = REPO / "examples" / "control_flow" / "model.py"


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """examples/control_flow's two models through `tinyflash convert`, calibrated on 100 seeded
    samples (the two TensorFlow conversions of this file)."""
    out = tmp_path_factory.mktemp("control_flow")
    data = out / "cal.npy"
    np.save(data, np.random.default_rng(0).uniform(-1, 1, (100, 1, 8)).astype(np.float32))
    models = {}
    for kind in ("cond", "while"):
        model = out / f"{kind}.tflite"
        done = tinyflash(
            "convert", f"{EXAMPLE}:{kind}_model", "-o", model, "--data", data, "--json"
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert json.loads(done.stdout)["deployable"] is True
        models[kind] = model
    return models


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["cond", "while"])
def test_converted_control_flow_is_bit_exact_on_the_host_runtime(
    converted: dict[str, Path], kind: str
) -> None:
    """The converter keeps tf.cond as IF and tf.while_loop as WHILE (three subgraphs, int8
    arithmetic, float32 only in the tensors the op carries); 60 inputs through the C runtime with
    tinyflash's plan equal TFLM's, and tf.cond takes both branches over them."""
    model = converted[kind].read_bytes()
    info = parse_model(model, kind)
    assert info.subgraph_count == 3
    names = [op.name for op in info.ops]
    assert ("IF" if kind == "cond" else "WHILE") in names and "SELECT" not in names
    assert check_model(info).deployable
    rng = np.random.default_rng(7)
    batch = [[rng.integers(-128, 128, (1, 8), dtype=np.int8)] for _ in range(60)]
    got = run_model_batch(model, batch, offsets=list(plan_memory(info).c_offsets))
    ref = tflm_reference_batch(model, batch)
    for i, (g, r) in enumerate(zip(got, ref)):
        assert np.array_equal(g[0], r[0]), f"sample {i}: {g[0]} != {r[0]}"
    if kind == "cond":
        zp = info.tensors[info.inputs[0]].quant.zero_points[0]
        signs = {bool((s[0].astype(np.int32) - zp).sum() > 0) for s in batch}
        assert signs == {True, False}


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.skipif(not all(map(shutil.which, TOOLS)), reason=f"{' and '.join(TOOLS)} are needed")
@pytest.mark.parametrize("kind", ["cond", "while"])
def test_converted_control_flow_verifies_on_mps2_an386(
    converted: dict[str, Path], kind: str, tmp_path: Path
) -> None:
    """generate, build and run on QEMU mps2-an386: outputs bit-exact with tflite-micro."""
    project = ["--board", "mps2-an386", "-o", str(tmp_path / "p")]
    done = tinyflash("verify", converted[kind], *project, "--samples", "20", "--json")
    assert "Traceback" not in done.stderr, done.stderr
    result = json.loads(done.stdout)
    assert done.returncode == 0 and result["passed"] is True, done.stdout[-3000:]
    assert result["arena_used"] == result["arena_planned"]


# ---- hypothesis: shapes, quantization, the branch taken and the trip count -------------------


@kernel_settings(25)
@given(shape=shapes(), q=quants, seed=seeds)
def test_if_property_matches_tflm(shape: list[int], q: tuple[float, int], seed: int) -> None:
    """IF on a bool model input: RELU in the then branch, the input passed straight through
    (the else subgraph's input is its output) in the other."""
    qd = {"scale": q[0], "zero_point": q[1]}
    b = ModelBuilder()
    flag = b.tensor("flag", [1], "bool")
    x = b.tensor("x", shape, "int8", **qd)
    y = b.tensor("y", shape, "int8", **qd)
    b.op("IF", [flag, x], [y], then_subgraph_index=1, else_subgraph_index=2)
    then = ModelBuilder()
    tx, ty = then.tensor("x", shape, "int8", **qd), then.tensor("y", shape, "int8", **qd)
    then.op("RELU", [tx], [ty])
    other = ModelBuilder()
    ox = other.tensor("x", shape, "int8", **qd)
    other.op("RELU", [ox], [other.tensor("unused", shape, "int8", **qd)])
    model = b.build([flag, x], [y], subgraphs=[(then, [tx], [ty]), (other, [ox], [ox])])
    rng = np.random.default_rng(seed)
    batch = [
        [np.array([k % 2 == 0]), rng.integers(-128, 128, shape, dtype=np.int8)] for k in range(4)
    ]
    assert_batch_same_as_tflm(model, batch, f"IF {shape} q={q} seed={seed}")


@kernel_settings(25)
@given(shape=shapes(), q=quants, limit=st.integers(-3, 12), seed=seeds)
def test_while_property_matches_tflm(
    shape: list[int], q: tuple[float, int], limit: int, seed: int
) -> None:
    """WHILE i < limit: i += 1, acc += step (a constant of the body), from i = 0."""
    qd = {"scale": q[0], "zero_point": q[1]}
    rng = np.random.default_rng(seed)

    def carried(g: ModelBuilder) -> list:
        return [g.tensor("i", [1], "int8", **ONE), g.tensor("acc", shape, "int8", **qd)]

    b = ModelBuilder()
    ins, outs = carried(b), carried(b)
    b.op("WHILE", ins, outs, cond_subgraph_index=1, body_subgraph_index=2)
    cond = ModelBuilder()
    ci = carried(cond)
    lim = cond.tensor("limit", [1], "int8", data=np.array([limit]), **ONE)
    more = cond.tensor("more", [1], "bool")
    cond.op("LESS", [ci[0], lim], [more])
    body = ModelBuilder()
    bi = carried(body)
    one = body.tensor("one", [1], "int8", data=np.array([1]), **ONE)
    step = body.tensor("step", shape, "int8", data=rng.integers(-20, 21, shape), **qd)
    i2, acc2 = body.tensor("i2", [1], "int8", **ONE), body.tensor("acc2", shape, "int8", **qd)
    body.op("ADD", [bi[0], one], [i2], fused_activation_function="NONE")
    body.op("ADD", [bi[1], step], [acc2], fused_activation_function="NONE")
    model = b.build(ins, outs, subgraphs=[(cond, ci, [more]), (body, bi, [i2, acc2])])
    batch = [
        [np.zeros(1, np.int8), rng.integers(-128, 128, shape, dtype=np.int8)] for _ in range(3)
    ]
    assert_batch_same_as_tflm(model, batch, f"WHILE {shape} q={q} limit={limit} seed={seed}")
