"""Streaming models (issue 12): state kept between invokes in resource variables, several
subgraphs, CALL_ONCE, `verify --stream`.

Fast tests use the fuzz seed kernel_stream (tests/fuzz/fuzzlib.py, written with the flatbuffer
builder: a resource variable that a CALL_ONCE init subgraph sets to a non-zero value, then
READ_VARIABLE + ADD + ASSIGN_VARIABLE every invoke) against tflite-micro's Python runtime kept
across invokes. The slow tests convert examples/streaming_kws once (module fixture: the one
TensorFlow conversion of this file) and verify it over 50 frames on mps2-an386 and the host."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from support.cli import tinyflash
from support.runtime_host import (
    api_checks,
    host_run,
    init_status,
    run_model_batch,
    tflm_reference_batch,
)
from support.tflbuilder import ModelBuilder
from tinyflash.errors import TinyflashError
from tinyflash.model import parse_model
from tinyflash.opcheck import check_model
from tinyflash.plan import op_timeline, plan_memory, resource_variables, verify_plan

REPO = Path(__file__).resolve().parents[1]
SQ = {"scale": 0.1, "zero_point": -3}


def stream_seed() -> bytes:
    sys.path.insert(0, str(REPO / "tests" / "fuzz"))
    try:
        import fuzzlib
    finally:
        sys.path.pop(0)
    return fuzzlib.kernel_seed_models()["kernel_stream.tflite"]


def frames(n: int, seed: int = 3) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [[rng.integers(-128, 128, (1, 8), dtype=np.int8)] for _ in range(n)]


@pytest.mark.parametrize("plan", ["none", "portable", "dsp"])
def test_stream_seed_is_bit_exact_over_50_invokes(plan: str) -> None:
    """CALL_ONCE, VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE: 50 consecutive invokes of the C runtime (sequential layout, or tinyflash's plan) equal one
    TFLM interpreter over the same frames; the state really carries (a fresh interpreter on a
    later frame gives another output)."""
    model = stream_seed()
    batch = frames(50)
    offsets = None if plan == "none" else list(plan_memory(parse_model(model, "s"), plan).c_offsets)
    got = run_model_batch(model, batch, offsets=offsets)
    ref = tflm_reference_batch(model, batch)
    for i, (g, r) in enumerate(zip(got, ref)):
        assert np.array_equal(g[0], r[0]), f"frame {i}: {g[0]} != {r[0]}"
    fresh = tflm_reference_batch(model, [batch[10]])[0][0]
    assert not np.array_equal(fresh, ref[10][0])


def test_plan_keeps_resource_storage_apart_and_exact() -> None:
    """The plan has one entry per resource variable after the tensors' and operators' entries;
    its storage overlaps nothing; the C runtime, given the plan, uses exactly the planned arena;
    the init subgraph's ops run inside CALL_ONCE on the timeline."""
    model = stream_seed()
    info = parse_model(model, "s")
    assert [len(sg.ops) for sg in info.subgraphs] == [5, 2]
    assert op_timeline(info) == (0, 5, 6, 0, 1, 2, 3, 4)
    assert resource_variables(info) == (("acc", 8, (-3) & 0xFF),)
    plan = plan_memory(info)
    verify_plan(info, plan)
    assert plan.resource_bytes == (8,) and plan.state_bytes == 8
    assert len(plan.c_offsets) == len(info.tensors) + len(info.ops) + 1
    r0 = plan.resource_offsets[0]
    for t, off in enumerate(plan.offsets):
        if off >= 0:
            assert off + info.tensors[t].nbytes <= r0 or r0 + 8 <= off
    run = host_run(model, frames(3), offsets=list(plan.c_offsets))
    assert run.returncode == 0, run.stderr
    assert run.arena_used == plan.arena_bytes
    # a plan without the resource entry is refused, as is one with an extra entry
    for bad in (plan.c_offsets[:-1], plan.c_offsets + (0,)):
        assert host_run(model, 1, offsets=list(bad)).status == "TFL_ERR_PLAN_MISMATCH"


def test_reset_variables_reruns_the_init_subgraph() -> None:
    """tfl_reset_variables re-arms CALL_ONCE: after a reset the next invoke repeats the first
    one's outputs (checked in C by `tfl_runner --api` with the rest of the API contract)."""
    results = api_checks(stream_seed())
    failed = {k: v[1] for k, v in results.items() if not v[0]}
    assert not failed, failed
    assert "reset_repeats_first_invoke" in results


def _stream_model(
    call_index: int = 1, init_value_shape: tuple[int, ...] = (1, 8), names: int = 1
) -> bytes:
    """The seed's structure with knobs for the malformed cases."""
    b = ModelBuilder()
    x = b.tensor("x", [1, 8], "int8", scale=0.05, zero_point=1)
    y = b.tensor("y", [1, 8], "int8", **SQ)
    b.op("CALL_ONCE", [], [], init_subgraph_index=call_index)
    for k in range(names):
        h = b.tensor(f"h{k}", [], "resource")
        s = b.tensor(f"s{k}", [1, 8], "int8", **SQ)
        b.op("VAR_HANDLE", [], [h], container="", shared_name=f"v{k}")
        b.op("READ_VARIABLE", [h], [s])
        b.op("ASSIGN_VARIABLE", [h, x if k else s], [])
    b.op("ADD", [s, x], [y])
    init = ModelBuilder()
    for k in range(names):
        h1 = init.tensor(f"h{k}", [], "resource")
        v = init.tensor("v", list(init_value_shape), "int8", data=np.ones(init_value_shape), **SQ)
        init.op("VAR_HANDLE", [], [h1], container="", shared_name=f"v{k}")
        init.op("ASSIGN_VARIABLE", [h1, v], [])
    return b.build([x], [y], subgraphs=[(init, [], [])])


def test_malformed_streaming_models_are_refused() -> None:
    assert init_status(_stream_model()) == "TFL_OK"
    # CALL_ONCE running its own subgraph (would recurse) or one that does not exist
    assert init_status(_stream_model(call_index=0)) == "TFL_ERR_MODEL_INVALID"
    with pytest.raises(TinyflashError, match="runs subgraph 7"):
        parse_model(_stream_model(call_index=7), "bad")
    # the variable assigned with two sizes
    assert init_status(_stream_model(init_value_shape=(1, 4))) == "TFL_ERR_BAD_SHAPE"
    # more resource variables than TFL_MAX_RESOURCES (8)
    assert init_status(_stream_model(names=8)) == "TFL_OK"
    too_many = _stream_model(names=9)
    assert init_status(too_many) == "TFL_ERR_TOO_MANY_RESOURCES"
    report = check_model(parse_model(too_many, "many"))
    assert not report.deployable and any("9 resource variables" in o for o in report.offenders)


def test_read_of_a_never_assigned_variable_fails_at_invoke() -> None:
    b = ModelBuilder()
    x = b.tensor("x", [1, 4], "int8", **SQ)
    h = b.tensor("h", [], "resource")
    s = b.tensor("s", [1, 4], "int8", **SQ)
    y = b.tensor("y", [1, 4], "int8", **SQ)
    b.op("VAR_HANDLE", [], [h], container="", shared_name="never")
    b.op("READ_VARIABLE", [h], [s])
    b.op("ADD", [s, x], [y])
    run = host_run(b.build([x], [y]), 1)
    assert run.status == "TFL_OK" and run.invoke_status == "TFL_ERR_BAD_SHAPE"


@pytest.mark.parametrize("zero_point", [-128, -3, 0, 77])
def test_a_variable_without_init_starts_at_its_zero_point(zero_point: int) -> None:
    """No init subgraph: the variable starts where the first ASSIGN_VARIABLE's prepare leaves it
    (every byte = the value's zero point, as TFLM's resource variables do), and then
    accumulates; 12 invokes equal TFLM's, and a fresh run repeats them."""
    q = {"scale": 0.1, "zero_point": zero_point}
    b = ModelBuilder()
    x = b.tensor("x", [1, 2, 3], "int8", scale=0.07, zero_point=5)
    h = b.tensor("h", [], "resource")
    s = b.tensor("s", [1, 2, 3], "int8", **q)
    y = b.tensor("y", [1, 2, 3], "int8", **q)
    b.op("VAR_HANDLE", [], [h], shared_name="acc")  # no container: matches any
    b.op("READ_VARIABLE", [h], [s])
    b.op("ADD", [s, x], [y])
    b.op("ASSIGN_VARIABLE", [h, y], [])
    model = b.build([x], [y])
    rng = np.random.default_rng(zero_point & 0xFF)
    batch = [[rng.integers(-128, 128, (1, 2, 3), dtype=np.int8)] for _ in range(12)]
    ref = tflm_reference_batch(model, batch)
    plan = list(plan_memory(parse_model(model, "z")).c_offsets)
    for got in (run_model_batch(model, batch), run_model_batch(model, batch, offsets=plan)):
        assert all(np.array_equal(g[0], r[0]) for g, r in zip(got, ref))


def test_check_accepts_the_stream_ops_and_warns_of_unrun_subgraphs() -> None:
    report = check_model(parse_model(stream_seed(), "s"))
    assert report.deployable, report.offenders
    assert not report.warnings
    # the same model without its CALL_ONCE: subgraph 1 is run by nothing
    b = ModelBuilder()
    x = b.tensor("x", [1, 4], "int8", **SQ)
    y = b.tensor("y", [1, 4], "int8", **SQ)
    b.op("RELU", [x], [y])
    init = ModelBuilder()
    z = init.tensor("z", [1, 4], "int8", **SQ)
    init.op("RELU", [z], [z])
    report = check_model(parse_model(b.build([x], [y], subgraphs=[(init, [z], [z])]), "u"))
    assert report.deployable and any(
        "subgraph 1 is run by no operator" in w for w in report.warnings
    )


# ---- the Done-means model: examples/streaming_kws converted with TensorFlow ----------------------


@pytest.fixture(scope="module")
def streaming_kws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("streaming_kws")
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "streaming_kws" / "build.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out / "streaming_kws.tflite"


@pytest.mark.slow
def test_streaming_kws_converts_to_resource_variables(streaming_kws: Path) -> None:
    info = parse_model(streaming_kws.read_bytes(), "kws")
    assert info.subgraph_count == 2
    names = {op.name for op in info.ops}
    assert {"CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"} <= names
    assert all(t.dtype in ("int8", "int32", "resource") for t in info.tensors)
    assert check_model(info).deployable
    # the window (8 frames x 10 features, int8) is the state; on the host runtime too
    assert [r[1] for r in resource_variables(info)] == [80]
    rng = np.random.default_rng(5)
    batch = [[rng.integers(-128, 128, (1, 10), dtype=np.int8)] for _ in range(50)]
    plan = plan_memory(info)
    got = run_model_batch(streaming_kws.read_bytes(), batch, offsets=list(plan.c_offsets))
    ref = tflm_reference_batch(streaming_kws.read_bytes(), batch)
    assert all(np.array_equal(g[0], r[0]) for g, r in zip(got, ref))


TOOLS = ("arm-none-eabi-gcc", "qemu-system-arm")


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.skipif(not all(map(shutil.which, TOOLS)), reason=f"{' and '.join(TOOLS)} are needed")
@pytest.mark.parametrize("board", ["mps2-an386", "host"])
def test_streaming_kws_verifies_a_50_frame_stream(
    streaming_kws: Path, board: str, tmp_path: Path
) -> None:
    """verify --stream 50: 50 consecutive frames bit-exact with one TFLM interpreter, then a
    RESET after which the next outputs equal a fresh interpreter's (the init subgraph ran
    again)."""
    project = ["--board", board, "-o", str(tmp_path / "p")]
    done = tinyflash("verify", streaming_kws, *project, "--stream", "50", "--json")
    assert "Traceback" not in done.stderr, done.stderr
    result = json.loads(done.stdout)
    assert done.returncode == 0 and result["passed"] is True, done.stdout[-3000:]
    assert result["samples"] == 50
    assert result["stream"] == {
        "frames": 50,
        "frames_after_reset": 10,
        "first_mismatch_after_reset": None,
    }
    assert result["arena_used"] == result["arena_planned"]
