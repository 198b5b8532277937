"""Train the keyword example: a small DS-CNN (the keyword-spotting architecture: a Conv2D stem,
depthwise-separable blocks with BatchNorm and ReLU, average pooling, Dense, softmax) on a 49x10
spectrogram-like input (49 frames of 10 features, the shape of MLPerf Tiny's keyword model).

No audio ships in a package, so the labelled inputs are built from scikit-learn's digits (8x8,
1,797 images, no download) with the same split as examples/digits: each image is stretched
bilinearly to 49 rows (time) x 10 columns (frequency) and rounded to steps of 1/32 (a feature
front end's coarse output; it also keeps the .npz files small). Deterministic: fixed seeds,
TensorFlow op determinism. Writes, next to this file (or into --out):

  kws_dscnn.keras        the float Keras 3 model
  calibration.npz        x: 200 training inputs (float32, [0, 1], shape (200, 49, 10, 1))
  test.npz               x: the 449 held-out inputs, y: their labels (int64)
  kws_int8.tflite        `tinyflash convert --mode int8` of the model, unless --no-convert
  kws_16x8.tflite        `tinyflash convert --mode int16x8` of the model, unless --no-convert

Run from the repository: .venv/bin/python examples/kws_dscnn/train.py
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
SEED = 20261208
FRAMES, FEATURES = 49, 10
STEP = 1.0 / 32
EPOCHS = 30
CHANNELS = 24
BLOCKS = 2
OUTPUTS = {"int8": "kws_int8.tflite", "int16x8": "kws_16x8.tflite"}


def _digits_example():  # type: ignore[no-untyped-def]
    """examples/digits/train.py as a module (its data loading and split are reused)."""
    spec = importlib.util.spec_from_file_location(
        "digits_train", HERE.parent / "digits" / "train.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def to_spectrogram(images: np.ndarray) -> np.ndarray:
    """(N, 8, 8, 1) in [0, 1] -> (N, 49, 10, 1): bilinear stretch, rounded to steps of STEP."""
    from scipy.ndimage import zoom

    stretched = zoom(images[..., 0], (1, FRAMES / 8, FEATURES / 8), order=1)
    stepped = np.clip(np.round(stretched / STEP) * STEP, 0.0, 1.0)
    return stepped.astype(np.float32)[..., None]


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x_train, y_train, x_test, y_test = _digits_example().load_data()
    return to_spectrogram(x_train), y_train, to_spectrogram(x_test), y_test


def build_model():  # type: ignore[no-untyped-def]
    import keras

    layers = keras.layers
    inputs = keras.Input(shape=(FRAMES, FEATURES, 1), name="features")
    x = layers.Conv2D(
        CHANNELS, (10, 4), strides=(2, 2), padding="same", use_bias=False, name="stem"
    )(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for block in range(1, BLOCKS + 1):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"dw{block}")(x)
        x = layers.BatchNormalization(name=f"dw{block}_bn")(x)
        x = layers.ReLU(name=f"dw{block}_relu")(x)
        x = layers.Conv2D(CHANNELS, 1, use_bias=False, name=f"pw{block}")(x)
        x = layers.BatchNormalization(name=f"pw{block}_bn")(x)
        x = layers.ReLU(name=f"pw{block}_relu")(x)
    x = layers.AveragePooling2D(pool_size=((FRAMES + 1) // 2, (FEATURES + 1) // 2), name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    outputs = layers.Dense(10, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="kws_dscnn")


def train(out_dir: Path, epochs: int) -> float:
    """Train, save the model and the data files (examples/digits' fit_and_save); returns the
    float test accuracy."""
    accuracy, _, _ = _digits_example().fit_and_save(
        SEED, load_data, build_model, epochs, out_dir / "kws_dscnn.keras"
    )
    return float(accuracy)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output directory (default: here)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--no-convert", action="store_true", help="skip the conversions")
    args = parser.parse_args(argv)
    accuracy = train(args.out, args.epochs)
    print(f"float test accuracy {accuracy:.4f}")
    if not args.no_convert:
        from tinyflash.convert import convert_model

        for mode, name in OUTPUTS.items():
            result = convert_model(
                args.out / "kws_dscnn.keras",
                args.out / name,
                args.out / "calibration.npz",
                mode=mode,
                force=True,
            )
            print(f"{name}: {result.tflite_bytes} B, ops {result.op_histogram}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
