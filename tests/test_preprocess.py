"""Calibration preprocessing (issue 17): --scale/--mean/--std and preprocess.json for image
folders and CSV files. The slow test is the issue's "done means": a digits model trained on
[-1, 1] inputs, calibrated from a folder of PNGs with the right --scale, reaches the same int8
accuracy as with a hand-made .npz; the default [0, 1] scaling of the same folder does not."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from tinyflash.calibration import (
    InputSpec,
    Preprocess,
    load_calibration,
    make_preprocess,
    resolve_preprocess,
)
from tinyflash.errors import TinyflashError

REPO = Path(__file__).resolve().parents[1]
SPEC = [InputSpec("image", (1, 2, 2, 1))]


def _png_folder(folder: Path, pixels: np.ndarray) -> Path:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for index, image in enumerate(pixels):
        Image.fromarray(image.reshape(image.shape[0], image.shape[1])).save(
            folder / f"{index:04d}.png"
        )
    return folder


def test_default_images_are_scaled_to_unit_range(tmp_path: Path) -> None:
    pixels = np.array([[[0, 51], [255, 102]]], np.uint8)
    folder = _png_folder(tmp_path / "img", pixels)
    calib = load_calibration(folder, SPEC)
    expected = (pixels.astype(np.float32) / np.float32(255.0)).reshape(1, 2, 2, 1)
    assert np.array_equal(calib.arrays[0], expected)
    assert calib.describe() == "x = pixel * 0.00392157 [default]"


def test_options_map_pixels_to_minus_one_one(tmp_path: Path) -> None:
    pixels = np.array([[[0, 51], [255, 102]]], np.uint8)
    folder = _png_folder(tmp_path / "img", pixels)
    pre = make_preprocess("1/127.5", "1", None)
    calib = load_calibration(folder, SPEC, preprocess=pre)
    expected = pixels.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1)
    assert np.array_equal(calib.arrays[0], expected.reshape(1, 2, 2, 1))
    assert calib.arrays[0].min() == -1.0 and calib.arrays[0].max() == 1.0
    assert calib.describe() == "x = (pixel * 0.00784314 - 1)"


def test_json_next_to_the_data(tmp_path: Path) -> None:
    pixels = np.array([[[0, 51], [255, 102]]], np.uint8)
    folder = _png_folder(tmp_path / "img", pixels)
    (folder / "preprocess.json").write_text(json.dumps({"mean": 127.5, "std": 127.5, "scale": 1}))
    calib = load_calibration(folder, SPEC)
    expected = (pixels.astype(np.float32) - np.float32(127.5)) / np.float32(127.5)
    assert np.array_equal(calib.arrays[0], expected.reshape(1, 2, 2, 1))
    assert calib.describe() == "x = (pixel * 1 - 127.5) / 127.5 [preprocess.json]"
    # options given on the command line win over the file
    assert resolve_preprocess(folder, Preprocess(scale=2.0, source="options")).scale == 2.0


def test_csv_per_channel_mean_and_std(tmp_path: Path) -> None:
    csv = tmp_path / "rows.csv"
    csv.write_text("10,20,30\n40,50,60\n")
    spec = [InputSpec("x", (1, 3))]
    pre = make_preprocess(None, "10,20,30", "2,4,5")
    calib = load_calibration(csv, spec, preprocess=pre)
    assert np.allclose(calib.arrays[0], [[0, 0, 0], [15, 7.5, 6]])
    (tmp_path / "rows.preprocess.json").write_text('{"scale": "1/10"}')
    assert np.allclose(load_calibration(csv, spec).arrays[0], [[1, 2, 3], [4, 5, 6]])


def test_bad_preprocessing_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(TinyflashError, match="takes a number or a fraction"):
        make_preprocess("half", None, None)
    folder = _png_folder(tmp_path / "img", np.zeros((1, 2, 2), np.uint8))
    (folder / "preprocess.json").write_text('{"scael": 2}')
    with pytest.raises(TinyflashError, match="unknown key\\(s\\) scael"):
        load_calibration(folder, SPEC)
    npz = tmp_path / "x.npz"
    np.savez(npz, x=np.zeros((1, 2, 2, 1), np.float32))
    with pytest.raises(TinyflashError, match="apply to image folders and CSV files"):
        load_calibration(npz, SPEC, preprocess=make_preprocess("2", None, None))


def _train_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("digits_train", REPO / "examples/digits/train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _to_minus_one_one(pixels: np.ndarray) -> np.ndarray:
    return (pixels.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1))[..., None]


@pytest.mark.slow
def test_minus_one_one_model_calibrated_from_images(tmp_path: Path) -> None:
    import keras
    import tensorflow as tf

    from tinyflash.convert import convert_model
    from tinyflash.evaluate import evaluate

    train = _train_module()
    x_train, y_train, x_test, y_test = train.load_data()
    # the images as PNG pixels (what a user's folder holds), the model trained on [-1, 1]
    px_train = np.round(x_train[..., 0] * 255).astype(np.uint8)
    px_test = np.round(x_test[..., 0] * 255).astype(np.uint8)
    keras.utils.set_random_seed(train.SEED)
    tf.config.experimental.enable_op_determinism()
    model = train.build_model()
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy")
    model.fit(_to_minus_one_one(px_train), y_train, epochs=15, batch_size=64, verbose=0)
    model.save(tmp_path / "pm1.keras")
    np.savez(tmp_path / "test.npz", x=_to_minus_one_one(px_test), y=y_test)

    folder = _png_folder(tmp_path / "images", px_train[:200])
    np.savez(tmp_path / "hand.npz", x=_to_minus_one_one(px_train[:200]))
    keras_path = tmp_path / "pm1.keras"
    right = convert_model(
        keras_path,
        tmp_path / "images.tflite",
        folder,
        preprocess=make_preprocess("1/127.5", "1", None),
    )
    hand = convert_model(keras_path, tmp_path / "hand.tflite", tmp_path / "hand.npz")
    wrong = convert_model(keras_path, tmp_path / "default.tflite", folder)
    assert right.preprocess == "x = (pixel * 0.00784314 - 1)"
    assert wrong.preprocess == "x = pixel * 0.00392157 [default]"
    assert hand.preprocess == "arrays used as they are"

    # what `tinyflash check` shows: the input's float range is the calibration data's
    from tinyflash.calibration import calibrated_ranges
    from tinyflash.model import load_model

    (_, _, low, high) = calibrated_ranges(load_model(right.output))[0]
    assert low == pytest.approx(-1, abs=0.01) and high == pytest.approx(1, abs=0.01)
    (_, _, low, high) = calibrated_ranges(load_model(wrong.output))[0]
    assert low == pytest.approx(0, abs=0.01) and high == pytest.approx(1, abs=0.01)

    def int8_accuracy(tflite: Path) -> float:
        result = evaluate(keras_path, tflite, tmp_path / "test.npz", reference="tflm")
        assert result.accuracy_quant is not None
        return result.accuracy_quant

    acc_right = int8_accuracy(right.output)
    acc_hand = int8_accuracy(hand.output)
    acc_wrong = int8_accuracy(wrong.output)
    # the same 200 samples, preprocessed the same way: the same calibration, the same model
    assert acc_right == acc_hand, (acc_right, acc_hand)
    assert right.output.read_bytes() == hand.output.read_bytes()
    assert acc_right > 0.85, acc_right
    # calibrated on [0, 1] the input quantization clips every negative value: accuracy falls
    assert acc_wrong < acc_right - 0.1, (acc_wrong, acc_right)
