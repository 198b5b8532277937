"""`tinyflash convert --weight-bits K`: post-training weight clustering of an int8 .tflite.

Each output channel of the int8 weights of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and
TRANSPOSE_CONV is snapped to at most 2^K distinct int8 values (K = 1..7) by one-dimensional
k-means on the channel's int8 values, solved exactly: the values of a channel, sorted, are split
into 2^K contiguous groups by dynamic programming over their histogram (an optimal 1-D k-means
partition is always contiguous), each group's value being the integer nearest its weighted mean.
Everything is integer arithmetic on counts, with ties resolved towards the lower index, so the
result is the same on every machine and run: no random initialisation, no iteration limit.

Only the weight bytes change; scales, zero points, biases, shapes and the flatbuffer's layout stay,
so the output is a valid .tflite of the same size that every runtime runs as before. A runtime that
stores few-valued weights compactly (k-bit indices and a value table) is what saves the flash;
`tinyflash evaluate` shows what the clustering costs in accuracy.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError, option
from tinyflash.model import ModelInfo, TensorInfo, parse_model
from tinyflash.records import field_dict

MIN_BITS = 1
MAX_BITS = 7
# Ops whose weights (input 1) are clustered, with the output-channel axis of those weights when
# they are quantized per tensor (per-channel weights use their quantized_dimension).
WEIGHT_OPS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 3, "FULLY_CONNECTED": 0, "TRANSPOSE_CONV": 0}
WEIGHT_INPUT = 1


@dataclass
class ClusteredTensor:
    """One weight tensor: distinct values per channel (largest over its channels) before and
    after, and how much the weights moved (in int8 steps)."""

    name: str
    op: str
    shape: tuple[int, ...]
    channels: int
    distinct_before: int
    distinct_after: int
    changed: int  # weights whose value changed
    elements: int
    rms_change: float  # root mean square of the change, in int8 steps (LSB)
    max_change: int


@dataclass
class ClusterResult:
    """What `--weight-bits K` did to a model."""

    bits: int
    tensors: list[ClusteredTensor] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # weight tensors left alone, with why
    tflite_bytes: int = 0
    weight_elements: int = 0  # int8 weights clustered
    gzip_before: int = 0  # gzip -9 of the .tflite before and after: how compressible it became
    gzip_after: int = 0
    # What k-bit indices plus one 2^K-entry int8 table per channel would take for the clustered
    # tensors, against their dense int8 bytes: the saving a palette encoding can reach at most.
    dense_bytes: int = 0
    palette_bytes: int = 0

    @property
    def changed(self) -> int:
        return sum(t.changed for t in self.tensors)

    def to_json(self) -> dict:
        return field_dict(self) | {"changed": self.changed}


def check_bits(bits: int) -> None:
    if not MIN_BITS <= bits <= MAX_BITS:
        raise TinyflashError(
            f"{option('weight_bits')} must be {MIN_BITS} to {MAX_BITS} (at most 2^K distinct int8 "
            f"values per channel; 8 is plain int8); got {bits}.",
            EXIT_BAD_INPUT,
        )


def optimal_levels(values: np.ndarray, counts: np.ndarray, k: int) -> np.ndarray:
    """The value each of `values` (sorted, distinct integers with their `counts`) is snapped to:
    the optimal partition into at most `k` contiguous groups under squared error, each group
    represented by the integer nearest its weighted mean."""
    n = len(values)
    if n <= k:
        return values.copy()
    v = values.astype(np.int64)
    w = counts.astype(np.int64)
    zero = np.zeros(1, dtype=np.int64)
    cw = np.concatenate([zero, np.cumsum(w)])
    cs = np.concatenate([zero, np.cumsum(w * v)])
    cq = np.concatenate([zero, np.cumsum(w * v * v)])
    # Group i..j (inclusive): W, S, Q sums; centre c = floor(S/W + 1/2) as an exact integer.
    i_idx, j_idx = np.triu_indices(n)
    W = cw[j_idx + 1] - cw[i_idx]
    S = cs[j_idx + 1] - cs[i_idx]
    Q = cq[j_idx + 1] - cq[i_idx]
    c = (2 * S + W) // (2 * W)
    big = np.iinfo(np.int64).max // 4
    cost = np.full((n, n), big, dtype=np.int64)
    cost[i_idx, j_idx] = Q - 2 * c * S + c * c * W
    centre = np.zeros((n, n), dtype=np.int64)
    centre[i_idx, j_idx] = c
    # best[j]: least cost of values 0..j in m groups; start[m][j]: first index of the last group.
    best = cost[0].copy()
    starts = [np.zeros(n, dtype=np.int64)]
    for _ in range(1, k):
        # last group i..j (i >= 1) after the best (m-1)-group cover of 0..i-1
        total = best[:-1, None] + cost[1:, :]
        arg = np.argmin(total, axis=0)  # first minimum: ties go to the lower index
        new = total[arg, np.arange(n)]
        take = new < best
        starts.append(np.where(take, arg + 1, 0))
        best = np.where(take, new, best)
    mapped = np.empty(n, dtype=np.int64)
    j = n - 1
    for start in reversed(starts):
        if j < 0:
            break
        i = int(start[j])
        if i == 0 and start is not starts[0]:
            continue  # this j was best covered with fewer groups: look one level down
        mapped[i : j + 1] = centre[i, j]
        j = i - 1
    return mapped


def cluster_channel(channel: np.ndarray, k: int) -> np.ndarray:
    """One channel's int8 weights snapped to at most k distinct values."""
    values, inverse, counts = np.unique(channel, return_inverse=True, return_counts=True)
    levels = optimal_levels(values, counts, k)
    return levels[inverse].astype(np.int8).reshape(channel.shape)


def _channel_axis(op_name: str, tensor: TensorInfo) -> int:
    if tensor.quant is not None and tensor.quant.per_channel:
        return tensor.quant.axis
    return WEIGHT_OPS[op_name] if len(tensor.shape) > WEIGHT_OPS[op_name] else 0


def _distinct_per_channel(weights: np.ndarray) -> int:
    return max((len(np.unique(ch)) for ch in weights), default=0)


def _palette_bytes(channels: int, per_channel: int, bits: int) -> int:
    return channels * ((per_channel * bits + 7) // 8 + (1 << bits))


def cluster_model(info: ModelInfo, bits: int) -> tuple[bytes, ClusterResult]:
    """The model's flatbuffer with every weight channel snapped to at most 2^bits int8 values,
    and what changed."""
    check_bits(bits)
    k = 1 << bits
    out = bytearray(info.data)
    result = ClusterResult(bits=bits, tflite_bytes=len(info.data))
    done: set[int] = set()
    for op in info.ops:
        if op.name not in WEIGHT_OPS or len(op.inputs) <= WEIGHT_INPUT:
            continue
        index = op.inputs[WEIGHT_INPUT]
        if index < 0:
            continue
        tensor = info.tensor(index)
        if tensor.buffer in done:
            continue
        if not tensor.is_constant or tensor.is_sparse or tensor.dtype != "int8":
            why = (
                "not a constant"
                if not tensor.is_constant
                else "stored sparse"
                if tensor.is_sparse
                else f"{tensor.dtype}, not int8"
            )
            result.skipped.append(f"{tensor.name} ({op.name}): {why}")
            continue
        done.add(tensor.buffer)
        start, length = info.buffer_spans[tensor.buffer]
        flat = np.frombuffer(info.data, dtype=np.int8, count=length, offset=start)
        weights = flat.reshape(tensor.shape)
        axis = _channel_axis(op.name, tensor)
        moved = np.moveaxis(weights, axis, 0)
        channels: np.ndarray = moved.reshape(len(moved), -1)
        snapped = np.stack([cluster_channel(ch, k) for ch in channels])
        clustered = np.moveaxis(snapped.reshape(moved.shape), 0, axis)
        out[start : start + length] = np.ascontiguousarray(clustered).tobytes()
        diff = clustered.astype(np.int32) - weights.astype(np.int32)
        result.tensors.append(
            ClusteredTensor(
                name=tensor.name,
                op=op.name,
                shape=tensor.shape,
                channels=channels.shape[0],
                distinct_before=_distinct_per_channel(channels),
                distinct_after=_distinct_per_channel(snapped),
                changed=int(np.count_nonzero(diff)),
                elements=int(weights.size),
                rms_change=float(np.sqrt(np.mean(diff.astype(np.float64) ** 2))),
                max_change=int(np.max(np.abs(diff))) if diff.size else 0,
            )
        )
        result.weight_elements += int(weights.size)
        result.dense_bytes += int(weights.size)
        result.palette_bytes += _palette_bytes(len(channels), channels.size // len(channels), bits)
    data = bytes(out)
    result.gzip_before = len(gzip.compress(info.data, 9, mtime=0))
    result.gzip_after = len(gzip.compress(data, 9, mtime=0))
    return data, result


def cluster_flatbuffer(flatbuffer: bytes, name: str, bits: int) -> tuple[bytes, ClusterResult]:
    """cluster_model on raw .tflite bytes; the result is parsed again as a check."""
    data, result = cluster_model(parse_model(flatbuffer, name), bits)
    parse_model(data, name)
    if not result.tensors:
        raise TinyflashError(
            f"{name}: has no int8 weights of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED or "
            f"TRANSPOSE_CONV to cluster; {option('weight_bits')} applies to full-int8 (or 16x8) "
            "models.",
            EXIT_BAD_INPUT,
        )
    return data, result


def cluster_file(
    model: str | Path, output: str | Path, bits: int, force: bool = False
) -> ClusterResult:
    """Cluster an existing .tflite into OUTPUT (written atomically; refused if it exists)."""
    from tinyflash.convert import check_output, write_atomic  # noqa: PLC0415
    from tinyflash.model import load_model  # noqa: PLC0415

    check_bits(bits)
    output = Path(output)
    check_output(output, force)
    if Path(model).resolve() == output.resolve():
        raise TinyflashError(
            f"{output}: write the clustered model to another file than its input.", EXIT_BAD_INPUT
        )
    info = load_model(model)
    data, result = cluster_flatbuffer(info.data, Path(model).name, bits)
    if output.parent and not output.parent.exists():
        output.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(output, data)
    return result
