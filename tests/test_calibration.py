"""Calibration loaders: formats, shape fitting, and every rejection with its sentence (no TF)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tinyflash.calibration import (
    InputSpec,
    load_calibration,
    load_labels,
    npz_labels,
    probe_calibration,
    short_name,
)
from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError

IMG = InputSpec("image", (1, 8, 8, 1))


def _raises(fn, *args, **kwargs) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(TinyflashError) as caught:
        fn(*args, **kwargs)
    assert caught.value.exit_code == EXIT_BAD_INPUT
    message = caught.value.message
    assert "\n" not in message and message.endswith(".")
    return message


def test_npy_exact_and_squeezed_layouts(tmp_path: Path) -> None:
    data = np.arange(3 * 64, dtype=np.float32).reshape(3, 8, 8, 1) / 200
    np.save(tmp_path / "a.npy", data)
    np.save(tmp_path / "b.npy", data[..., 0])  # (N, 8, 8): the channel axis of 1 is implied
    np.save(tmp_path / "one.npy", data[0])  # a single sample without a sample axis
    a = load_calibration(tmp_path / "a.npy", [IMG])
    b = load_calibration(tmp_path / "b.npy", [IMG])
    one = load_calibration(tmp_path / "one.npy", [IMG])
    assert a.count == 3 and np.array_equal(a.arrays[0], data)
    assert np.array_equal(b.arrays[0], data)
    assert one.count == 1 and np.array_equal(one.arrays[0], data[:1])
    assert a.sample(1)[0].shape == (1, 8, 8, 1)


def test_samples_cap_keeps_the_first(tmp_path: Path) -> None:
    data = np.random.default_rng(0).random((50, 8, 8, 1), dtype=np.float32)
    np.save(tmp_path / "c.npy", data)
    calib = load_calibration(tmp_path / "c.npy", [IMG], samples=7)
    assert calib.count == 7 and np.array_equal(calib.arrays[0], data[:7])


def test_npz_keys(tmp_path: Path) -> None:
    x = np.zeros((4, 8, 8, 1), np.float32)
    np.savez(tmp_path / "only.npz", whatever=x)
    np.savez(tmp_path / "xy.npz", x=x + 1, y=np.arange(4))
    np.savez(tmp_path / "named.npz", image=x + 2, other=x)
    assert load_calibration(tmp_path / "only.npz", [IMG]).arrays[0][0, 0, 0, 0] == 0
    assert load_calibration(tmp_path / "xy.npz", [IMG]).arrays[0][0, 0, 0, 0] == 1
    assert load_calibration(tmp_path / "named.npz", [IMG]).arrays[0][0, 0, 0, 0] == 2
    two = [InputSpec("serving_default_a:0", (1, 2)), InputSpec("b", (1, 3))]
    np.savez(tmp_path / "two.npz", a=np.ones((5, 2)), b=np.zeros((5, 3)))
    calib = load_calibration(tmp_path / "two.npz", two)
    assert [a.shape for a in calib.arrays] == [(5, 2), (5, 3)]
    assert calib.arrays[0].dtype == np.float32
    assert short_name("serving_default_a:0") == "a"
    np.savez(tmp_path / "bad.npz", a=np.ones((5, 2)))
    message = _raises(load_calibration, tmp_path / "bad.npz", two)
    assert "no array named 'b'" in message and "(the file has a)" in message


def test_csv_with_header(tmp_path: Path) -> None:
    spec = InputSpec("features", (1, 2, 2))
    (tmp_path / "d.csv").write_text("f0,f1,f2,f3\n1,2,3,4\n\n5,6,7,8.5\n")
    calib = load_calibration(tmp_path / "d.csv", [spec])
    assert calib.arrays[0].shape == (2, 2, 2)
    assert calib.arrays[0][1, 1, 1] == np.float32(8.5)
    (tmp_path / "short.csv").write_text("1,2,3\n")
    message = _raises(load_calibration, tmp_path / "short.csv", [spec])
    assert "line 1 has 3 values" in message and "needs 4 per row" in message
    (tmp_path / "text.csv").write_text("1,2,3,4\n1,x,3,4\n")
    assert "line 2 has a value that is not a number" in _raises(
        load_calibration, tmp_path / "text.csv", [spec]
    )


def test_image_folder_resized_scaled_and_grayscale(tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "images"
    (folder / "sub").mkdir(parents=True)
    Image.new("RGB", (16, 16), (51, 51, 51)).save(folder / "a.png")  # gray 51 = 0.2
    Image.new("L", (4, 4), 255).save(folder / "sub" / "b.bmp")  # white, upscaled
    (folder / "notes.txt").write_text("ignored")
    seen: list[tuple[int, int]] = []
    calib = load_calibration(folder, [IMG], progress=lambda d, t: seen.append((d, t)))
    assert calib.count == 2 and calib.arrays[0].shape == (2, 8, 8, 1)
    assert np.all(calib.arrays[0][0] == np.float32(51) / np.float32(255))  # constant survives
    assert np.all(calib.arrays[0][1] == 1.0)
    assert seen == [(1, 2), (2, 2)]
    rgb = load_calibration(folder, [InputSpec("rgb", (1, 5, 5, 3))], samples=1)
    assert rgb.arrays[0].shape == (1, 5, 5, 3)
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    assert "cannot decode the image" in _raises(load_calibration, folder, [IMG])


def test_wrong_shape_names_file_input_and_shapes(tmp_path: Path) -> None:
    np.save(tmp_path / "w.npy", np.zeros((10, 28, 28), np.float32))
    message = _raises(load_calibration, tmp_path / "w.npy", [IMG])
    assert str(tmp_path / "w.npy") in message
    assert "input 'image'" in message
    assert "(10, 28, 28)" in message and "(samples, 8, 8, 1)" in message


def test_rejections(tmp_path: Path) -> None:
    nan = np.zeros((4, 8, 8, 1), np.float32)
    nan[2, 3, 3, 0] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    assert "NaN or Inf (first in sample 2)" in _raises(
        load_calibration, tmp_path / "nan.npy", [IMG]
    )
    assert "contains NaN or Inf" in _raises(probe_calibration, tmp_path / "nan.npy")
    np.save(tmp_path / "empty.npy", np.zeros((0, 8, 8, 1), np.float32))
    assert "empty" in _raises(load_calibration, tmp_path / "empty.npy", [IMG])
    assert "empty" in _raises(probe_calibration, tmp_path / "empty.npy")
    np.savez(tmp_path / "none.npz")
    assert "holds no arrays" in _raises(probe_calibration, tmp_path / "none.npz")
    (tmp_path / "junk.npz").write_bytes(b"this is not a zip file")
    assert "not a readable NumPy .npz archive" in _raises(probe_calibration, tmp_path / "junk.npz")
    assert "not a readable NumPy .npz archive" in _raises(
        load_calibration, tmp_path / "junk.npz", [IMG]
    )
    (tmp_path / "text.npy").write_text("1,2,3")
    assert "not a NumPy .npy file" in _raises(probe_calibration, tmp_path / "text.npy")
    good = tmp_path / "good.npz"
    np.savez(good, x=np.zeros((4, 8, 8, 1), np.float32))
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[:-40])  # zip directory cut off
    assert "truncated" in _raises(probe_calibration, tmp_path / "cut.npz")
    broken = bytearray(good.read_bytes())
    broken[60:90] = b"\xff" * 30  # inside the member's data: the zip directory is intact
    (tmp_path / "bitrot.npz").write_bytes(bytes(broken))
    assert "cannot read the calibration data" in _raises(probe_calibration, tmp_path / "bitrot.npz")
    (tmp_path / "cut.npy").write_bytes(np.lib.format.magic(1, 0) + b"\x10\x00{'descr'")
    assert "cannot read" in _raises(probe_calibration, tmp_path / "cut.npy")
    assert "not found" in _raises(probe_calibration, tmp_path / "missing.npy")
    (tmp_path / "x.json").write_text("[]")
    assert "unknown calibration format '.json'" in _raises(probe_calibration, tmp_path / "x.json")
    (tmp_path / "noimages").mkdir()
    assert "has no images" in _raises(probe_calibration, tmp_path / "noimages")
    np.save(tmp_path / "strings.npy", np.array(["a", "b"]))
    assert "expected numbers" in _raises(probe_calibration, tmp_path / "strings.npy")
    two = [InputSpec("a", (1, 2)), InputSpec("b", (1, 2))]
    np.save(tmp_path / "ok.npy", np.zeros((3, 2), np.float32))
    assert "model has 2 inputs" in _raises(load_calibration, tmp_path / "ok.npy", two)
    np.savez(tmp_path / "uneven.npz", a=np.zeros((3, 2)), b=np.zeros((4, 2)))
    assert "different sample counts" in _raises(load_calibration, tmp_path / "uneven.npz", two)


def test_integer_inputs(tmp_path: Path) -> None:
    spec = InputSpec("ids", (1, 3), "int32")
    np.save(tmp_path / "ids.npy", np.array([[1.0, 2.0, 3.0]]))
    assert load_calibration(tmp_path / "ids.npy", [spec]).arrays[0].dtype == np.int32
    np.save(tmp_path / "frac.npy", np.array([[1.5, 2.0, 3.0]]))
    assert "fractional" in _raises(load_calibration, tmp_path / "frac.npy", [spec])


def test_labels(tmp_path: Path) -> None:
    np.savez(tmp_path / "t.npz", x=np.zeros((3, 2)), y=np.array([2, 0, 1]))
    assert list(npz_labels(tmp_path / "t.npz")) == [2, 0, 1]  # type: ignore[arg-type]
    np.save(tmp_path / "onehot.npy", np.eye(3)[[1, 2, 0]])
    assert list(load_labels(tmp_path / "onehot.npy")) == [1, 2, 0]
    (tmp_path / "l.csv").write_text("1\n0\n")
    assert list(load_labels(tmp_path / "l.csv")) == [1, 0]
    assert "2 labels for 3 samples" in _raises(load_labels, tmp_path / "l.csv", 3)
    np.savez(tmp_path / "nolabels.npz", x=np.zeros((3, 2)))
    assert npz_labels(tmp_path / "nolabels.npz") is None


def test_example_data_is_what_train_py_makes() -> None:
    """The committed calibration/test sets equal train.py's deterministic split of the digits."""
    import importlib.util

    repo = Path(__file__).resolve().parents[1]
    spec = importlib.util.spec_from_file_location("digits_train", repo / "examples/digits/train.py")
    assert spec is not None and spec.loader is not None
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    x_train, _, x_test, y_test = train.load_data()
    with np.load(repo / "examples/digits/calibration.npz") as calib:
        assert np.array_equal(calib["x"], x_train[: train.CALIBRATION_SAMPLES])
    with np.load(repo / "examples/digits/test.npz") as test:
        assert np.array_equal(test["x"], x_test) and np.array_equal(test["y"], y_test)
    assert x_test.shape == (449, 8, 8, 1) and x_test.dtype == np.float32
    assert 0.0 <= x_test.min() and x_test.max() <= 1.0
