"""`convert --weight-bits K`: per-channel clustering of int8 weights (cluster.py), and `evaluate`
against the unclustered int8 model."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_MODEL_NAMES, shared_model_path
from support.cli import expect_error, tinyflash
from support.models import small_model
from tinyflash.cluster import WEIGHT_OPS, cluster_flatbuffer, optimal_levels
from tinyflash.errors import EXIT_BAD_INPUT
from tinyflash.model import ModelInfo, parse_model

REPO = Path(__file__).resolve().parents[1]
DIGITS_INT8 = REPO / "examples" / "digits" / "digits_int8.tflite"
DIGITS_TEST = REPO / "examples" / "digits" / "test.npz"


def _weights(info: ModelInfo) -> dict[int, tuple[str, np.ndarray]]:
    """Buffer index -> (op, int8 weights) of every clustered op's weight tensor."""
    found = {}
    for op in info.ops:
        if op.name in WEIGHT_OPS:
            t = info.tensor(op.inputs[1])
            found[t.buffer] = (
                op.name,
                np.frombuffer(info.constant_data(t), np.int8).reshape(t.shape),
            )
    return found


def _per_channel_distinct(op: str, w: np.ndarray) -> int:
    axis = 3 if op == "DEPTHWISE_CONV_2D" else 0
    rows = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
    return max(len(np.unique(r)) for r in rows)


def _cost(values: np.ndarray, counts: np.ndarray, mapped: np.ndarray) -> int:
    return int(np.sum(counts * (values.astype(np.int64) - mapped) ** 2))


def test_levels_are_the_optimal_contiguous_partition() -> None:
    """Against brute force over every split into k contiguous groups (integer centres)."""
    rng = np.random.default_rng(3)
    for _ in range(150):
        n = int(rng.integers(2, 9))
        values = np.sort(rng.choice(np.arange(-30, 31), n, replace=False))
        counts = rng.integers(1, 7, n)
        k = int(rng.integers(1, n + 1))
        got = optimal_levels(values, counts, k)
        assert len(np.unique(got)) <= k
        best = None
        for cuts in itertools.combinations(range(1, n), k - 1):
            bounds = [0, *cuts, n]
            mapped = np.empty(n, dtype=np.int64)
            for a, b in zip(bounds, bounds[1:]):
                s = int(np.sum(counts[a:b] * values[a:b]))
                w = int(np.sum(counts[a:b]))
                mapped[a:b] = (2 * s + w) // (2 * w)
            cost = _cost(values, counts, mapped)
            best = cost if best is None else min(best, cost)
        assert _cost(values, counts, got) == best


@pytest.mark.parametrize("bits", [1, 2, 4, 7])
def test_small_model_channels_snap_and_nothing_else_moves(bits: int) -> None:
    model = small_model()
    data, result = cluster_flatbuffer(model, "small.tflite", bits)
    assert len(data) == len(model)
    before, after = parse_model(model, "a"), parse_model(data, "b")
    weights_before, weights_after = _weights(before), _weights(after)
    assert weights_after.keys() == weights_before.keys() and weights_after
    for buffer, (op, w) in weights_after.items():
        assert _per_channel_distinct(op, w) <= 1 << bits
        assert np.abs(w.astype(int) - weights_before[buffer][1].astype(int)).max() <= 127
    # only the weight bytes changed
    changed = np.flatnonzero(np.frombuffer(model, np.uint8) != np.frombuffer(data, np.uint8))
    spans = [after.buffer_spans[b] for b in weights_after]
    assert all(any(s <= i < s + n for s, n in spans) for i in changed)
    assert result.bits == bits and len(result.tensors) == len(weights_after)
    # deterministic: the same bytes again
    assert cluster_flatbuffer(model, "small.tflite", bits)[0] == data


def test_seven_bits_keep_a_channel_that_already_fits() -> None:
    _, result = cluster_flatbuffer(DIGITS_INT8.read_bytes(), "digits.tflite", 7)
    for t in result.tensors:
        if t.distinct_before <= 128:
            assert t.changed == 0, t


def test_cli_clusters_a_tflite_and_refuses_bad_bits(tmp_path: Path) -> None:
    out = tmp_path / "w3.tflite"
    done = tinyflash("convert", DIGITS_INT8, "--weight-bits", "3", "-o", out, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)["clustering"]
    assert report["bits"] == 3 and report["changed"] > 0
    assert report["tflite_bytes"] == out.stat().st_size == DIGITS_INT8.stat().st_size
    for op, w in _weights(parse_model(out.read_bytes(), "w3")).values():
        assert _per_channel_distinct(op, w) <= 8
    expect_error(
        tinyflash("convert", DIGITS_INT8, "--weight-bits", "8", "-o", tmp_path / "x.tflite"),
        EXIT_BAD_INPUT,
        "--weight-bits must be 1 to 7",
    )
    expect_error(
        tinyflash("convert", DIGITS_INT8, "--weight-bits", "4", "-o", out),
        EXIT_BAD_INPUT,
        "already exists",
    )
    assert not (tmp_path / "x.tflite").exists()


@pytest.mark.parametrize("name", SHARED_MODEL_NAMES)
def test_shared_models_cluster_to_sixteen_values(name: str) -> None:
    model = shared_model_path(name).read_bytes()
    data, result = cluster_flatbuffer(model, name, 4)
    assert len(data) == len(model) and result.changed > 0
    for op, w in _weights(parse_model(data, name)).values():
        assert _per_channel_distinct(op, w) <= 16


@pytest.mark.slow
def test_evaluate_shows_the_cost_against_the_int8_model(tmp_path: Path) -> None:
    """With the digits test set: accuracy of both and agreement; the same model against itself
    agrees fully with zero error."""
    clustered = tmp_path / "w2.tflite"
    tinyflash("convert", DIGITS_INT8, "--weight-bits", "2", "-o", clustered, check=True)
    done = tinyflash(
        "evaluate", DIGITS_INT8, clustered, "--data", DIGITS_TEST, "--samples", "60", "--json"
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["baseline"] == "int8" and report["samples"] == 60
    assert report["accuracy_float"] is not None and report["accuracy_quant"] is not None
    assert report["outputs"][0]["max_abs"] > 0
    same = json.loads(
        tinyflash("evaluate", DIGITS_INT8, DIGITS_INT8, "--samples", "20", "--json").stdout
    )
    assert same["top1_agreement"] == 1.0 and same["outputs"][0]["max_abs"] == 0.0
    assert "random inputs" in same["preprocess"]
