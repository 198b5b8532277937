"""Agreement metrics between a device's int8 outputs and a reference's, in quantized units (LSB)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OutputMetrics:
    """How one output tensor of the device compares with one reference over all samples."""

    reference: str
    output_index: int
    samples: int
    values: int
    exact_fraction: float  # fraction of values equal to the bit
    max_abs_diff_lsb: int
    mean_abs_error_lsb: float
    rmse_lsb: float
    cosine_similarity: float
    top1_agreement: float  # fraction of samples whose argmax agrees
    diff_histogram: dict[int, int]  # signed difference in LSB -> count


def compare_outputs(
    reference: str, output_index: int, device: Sequence[np.ndarray], expected: Sequence[np.ndarray]
) -> OutputMetrics:
    """Compares per-sample arrays (same shapes, integer or float) element by element."""
    if len(device) != len(expected) or not device:
        raise ValueError("device and reference need the same, non-zero number of samples")
    dev = np.stack([np.asarray(a) for a in device]).astype(np.float64)
    ref = np.stack([np.asarray(a) for a in expected]).astype(np.float64)
    if dev.shape != ref.shape:
        raise ValueError(f"shape mismatch {dev.shape} vs {ref.shape}")
    diff = dev - ref
    flat_dev = dev.reshape(len(device), -1)
    flat_ref = ref.reshape(len(device), -1)
    norms = np.linalg.norm(flat_dev) * np.linalg.norm(flat_ref)
    # Clipped: rounding can put the quotient of equal vectors a hair above 1.
    cosine = (
        float(np.clip(np.sum(flat_dev * flat_ref) / norms, -1.0, 1.0))
        if norms > 0
        else (1.0 if np.array_equal(flat_dev, flat_ref) else 0.0)
    )
    top1 = float(np.mean(np.argmax(flat_dev, axis=1) == np.argmax(flat_ref, axis=1)))
    rounded = np.rint(diff).astype(np.int64).ravel()
    values, counts = np.unique(rounded, return_counts=True)
    return OutputMetrics(
        reference=reference,
        output_index=output_index,
        samples=len(device),
        values=int(diff.size),
        exact_fraction=float(np.mean(diff == 0)),
        max_abs_diff_lsb=int(np.max(np.abs(rounded))) if rounded.size else 0,
        mean_abs_error_lsb=float(np.mean(np.abs(diff))),
        rmse_lsb=float(np.sqrt(np.mean(diff * diff))),
        cosine_similarity=cosine,
        top1_agreement=top1,
        diff_histogram={int(v): int(c) for v, c in zip(values, counts)},
    )


@dataclass(frozen=True)
class TickStats:
    unit: str
    minimum: int
    median: int
    maximum: int


def tick_stats(ticks: Sequence[int], unit: str) -> TickStats:
    ordered = sorted(int(t) for t in ticks)
    if not ordered:
        return TickStats(unit, 0, 0, 0)
    return TickStats(unit, ordered[0], ordered[len(ordered) // 2], ordered[-1])
