"""Agreement metrics of verify, on hand-made outputs whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from tinyflash.metrics import compare_outputs, tick_stats


def test_identical_outputs_are_bit_exact() -> None:
    a = [np.array([[1, -2, 3]], np.int8), np.array([[4, 5, -6]], np.int8)]
    m = compare_outputs("tflm", 0, a, [x.copy() for x in a])
    assert m.exact_fraction == 1.0 and m.max_abs_diff_lsb == 0
    assert m.mean_abs_error_lsb == 0.0 and m.rmse_lsb == 0.0
    assert m.cosine_similarity == 1.0 and m.top1_agreement == 1.0
    assert m.diff_histogram == {0: 6}


def test_differences_in_lsb() -> None:
    device = [np.array([10, 0, 0, 0], np.int8), np.array([0, 5, 0, 0], np.int8)]
    reference = [np.array([9, 0, 0, 0], np.int8), np.array([0, 0, 7, 0], np.int8)]
    m = compare_outputs("tflm", 1, device, reference)
    assert m.samples == 2 and m.values == 8
    assert m.exact_fraction == pytest.approx(5 / 8)
    assert m.max_abs_diff_lsb == 7
    assert m.mean_abs_error_lsb == pytest.approx((1 + 5 + 7) / 8)
    assert m.rmse_lsb == pytest.approx(np.sqrt((1 + 25 + 49) / 8))
    assert m.top1_agreement == 0.5
    assert m.diff_histogram == {-7: 1, 0: 5, 1: 1, 5: 1}


def test_int8_extremes_do_not_wrap() -> None:
    m = compare_outputs("tflm", 0, [np.array([127], np.int8)], [np.array([-128], np.int8)])
    assert m.max_abs_diff_lsb == 255


def test_mismatched_samples_are_refused() -> None:
    with pytest.raises(ValueError):
        compare_outputs("tflm", 0, [np.zeros(3, np.int8)], [])


def test_tick_stats() -> None:
    s = tick_stats([5, 1, 9, 3], "40 instructions")
    assert (s.minimum, s.median, s.maximum) == (1, 5, 9)
    assert tick_stats([], "x").maximum == 0
