"""tfl_init's checks, seen through the host runner: each malformed or unsupported model gives
its status name (and the failing operator), and a memory plan handed in as offsets is honoured."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_model_path
from support.runtime_host import (
    ALIASING_OPS,
    api_checks,
    greedy_plan,
    host_run,
    init_status,
    model_info,
    random_inputs,
    run_model_batch,
    tflm_reference_batch,
)
from support.tflbuilder import ModelBuilder


def fc_model(
    units: int = 3,
    out_units: int | None = None,
    weight_bytes: bytes | None = None,
    op: str = "FULLY_CONNECTED",
    **build_kw,
) -> bytes:
    b = ModelBuilder()
    x = b.tensor("x", [1, 4], "int8", scale=0.1, zero_point=0)
    data = weight_bytes if weight_bytes is not None else np.ones((units, 4), np.int8)
    w = b.tensor("w", [units, 4], "int8", data=data, scale=0.01, zero_point=0)
    y = b.tensor("y", [1, out_units or units], "int8", scale=0.2, zero_point=0)
    if op == "FULLY_CONNECTED":
        b.op(op, [x, w, -1], [y])
    else:
        b.op(op, [x], [y], options_type=None)
    return b.build([x], [y], **build_kw)


def test_valid_model_initialises() -> None:
    info = model_info(fc_model())
    assert info.status == "TFL_OK" and info.op_count == 1 and info.tensor_count == 3
    assert [d.shape for d in info.inputs] == [(1, 4)] and [d.shape for d in info.outputs] == [
        (1, 3)
    ]
    assert info.pool_used == 2  # per-tensor weights: one multiplier and one shift


def test_not_a_tflite_file() -> None:
    model = bytearray(fc_model())
    model[4:8] = b"XXXX"
    assert init_status(bytes(model)) == "TFL_ERR_MODEL_IDENTIFIER"


def test_truncated_header() -> None:
    assert init_status(fc_model()[:6]) == "TFL_ERR_MODEL_TRUNCATED"


def test_schema_version() -> None:
    assert init_status(fc_model(version=2)) == "TFL_ERR_MODEL_VERSION"


def test_subgraph_count_limits() -> None:
    """Up to TFL_MAX_SUBGRAPHS (4) subgraphs are read (the extra ones here run by no operator);
    more, or none, are refused."""
    assert init_status(fc_model(subgraph_count=2)) == "TFL_OK"
    assert init_status(fc_model(subgraph_count=4)) == "TFL_OK"
    assert init_status(fc_model(subgraph_count=5)) == "TFL_ERR_SUBGRAPH_COUNT"
    assert init_status(fc_model(subgraph_count=0)) == "TFL_ERR_SUBGRAPH_COUNT"


def test_unsupported_op_names_operator_and_code() -> None:
    run = host_run(fc_model(op="FLOOR", out_units=4))
    assert (run.status, run.error_op, run.builtin_code) == ("TFL_ERR_UNSUPPORTED_OP", 0, 8)


def test_opcode_above_127_uses_builtin_code() -> None:
    # deprecated_builtin_code is clamped to 127 (the schema's placeholder), builtin_code is the
    # real one: the runtime must report max() of the two.
    run = host_run(fc_model(op="RFFT2D", out_units=4))  # 131: no kernel in the runtime
    assert run.status == "TFL_ERR_UNSUPPORTED_OP"
    assert run.builtin_code == 131


def test_wrong_output_shape() -> None:
    run = host_run(fc_model(units=3, out_units=5))
    assert (run.status, run.error_op) == ("TFL_ERR_BAD_SHAPE", 0)


def test_constant_buffer_size_mismatch() -> None:
    assert init_status(fc_model(weight_bytes=b"\x01" * 11)) == "TFL_ERR_BAD_BUFFER"


def test_operator_tensor_index_out_of_range() -> None:
    b = ModelBuilder()
    x = b.tensor("x", [1, 4], "int8", scale=0.1, zero_point=0)
    y = b.tensor("y", [1, 4], "int8", scale=0.1, zero_point=0)
    b.op("RESHAPE", [x, 7], [y])
    assert init_status(b.build([x], [y])) == "TFL_ERR_MODEL_INVALID"


def test_plan_offsets_count_must_match() -> None:
    run = host_run(fc_model(), offsets=[0, -1])
    assert run.status == "TFL_ERR_PLAN_MISMATCH"


def test_plan_offset_on_constant_is_rejected() -> None:
    run = host_run(fc_model(), offsets=[0, 64, 128])
    assert run.status == "TFL_ERR_PLAN_MISMATCH"


def test_plan_beyond_arena() -> None:
    run = host_run(fc_model(), offsets=[0, -1, 200 * 1024 * 1024])
    assert run.status == "TFL_ERR_ARENA_TOO_SMALL"


@pytest.mark.parametrize("alias", [False, True], ids=["copy", "alias"])
@pytest.mark.parametrize("name", ["kws_ref_model", "pretrainedResnet_quant"])
def test_memory_plan_is_used(name: str, alias: bool) -> None:
    """The runtime places tensors where the plan says (arena_used is the plan's end) and the
    results stay exact, also when reshape-like outputs alias their inputs."""
    model = shared_model_path(name).read_bytes()
    offsets, planned = greedy_plan(model, alias)
    if alias:
        from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

        m = schema.Model.GetRootAs(bytearray(model), 0)
        sg = m.Subgraphs(0)
        pairs = []
        for o in range(sg.OperatorsLength()):
            op = sg.Operators(o)
            code = m.OperatorCodes(op.OpcodeIndex())
            if max(code.DeprecatedBuiltinCode(), code.BuiltinCode()) in ALIASING_OPS:
                pairs.append((int(op.Inputs(0)), int(op.Outputs(0))))
        assert pairs, "model has no reshape-like op to alias"
        assert all(offsets[a] == offsets[b] >= 0 for a, b in pairs)
    sequential = model_info(model)
    planned_run = host_run(model, offsets=offsets)
    assert planned_run.status == "TFL_OK"
    assert planned_run.arena_used == planned < sequential.arena_used
    rng = np.random.default_rng(7)
    batch = [random_inputs(sequential.inputs, rng) for _ in range(4)]
    got = run_model_batch(model, batch, offsets=offsets)
    want = tflm_reference_batch(model, batch)
    for g, w in zip(got, want):
        assert all(np.array_equal(a, b) for a, b in zip(g, w))


@pytest.mark.parametrize("name", ["kws_ref_model", "small"])
def test_c_api_contract(name: str) -> None:
    """NULL arguments, NOT_READY, accessor ranges, the per-op hook (called once per op, stops
    invoke with TFL_ERR_HOOK naming the op), capacities one short of what init reported
    (TOO_MANY_TENSORS/OPS, ARENA_TOO_SMALL, POOL_TOO_SMALL) and exactly enough, unaligned arena,
    an empty op table, and the status tables — checked in C by `tfl_runner --api`."""
    model = fc_model() if name == "small" else shared_model_path(name).read_bytes()
    results = api_checks(model)
    failed = {k: v[1] for k, v in results.items() if not v[0]}
    assert len(results) >= 25 and not failed, failed
