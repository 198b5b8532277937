"""What tinyflash.preflight reads without TensorFlow (issue 17): the example's .keras config, a
config with a custom layer or a custom activation function, .h5 model_config attributes, and the
top level of a file.py. (Its SavedModel parser is checked on TensorFlow's own saved_model.pb in
tests/test_convert.py, the CLI rows in tests/test_bad_input.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tinyflash.calibration import InputSpec
from tinyflash.errors import TinyflashError
from tinyflash.floatmodel import parse_model_spec
from tinyflash.preflight import custom_classes, model_inputs

REPO = Path(__file__).resolve().parents[1]
KERAS = REPO / "examples" / "digits" / "digits.keras"


def _config() -> dict:
    import zipfile

    with zipfile.ZipFile(KERAS) as archive:
        return json.loads(archive.read("config.json"))


def test_example_inputs_without_tensorflow() -> None:
    assert model_inputs(parse_model_spec(KERAS)) == [InputSpec("image", (1, 8, 8, 1), "float32")]
    assert custom_classes(_config()) == []


def test_custom_activation_function_is_named() -> None:
    config = _config()
    layer = config["config"]["layers"][1]
    layer["config"]["activation"] = {
        "module": "builtins",
        "class_name": "function",
        "config": "my_swish",
        "registered_name": "function",
    }
    assert custom_classes(config) == [("my_swish", "builtins", "conv1", False)]


def test_h5_model_config(tmp_path: Path) -> None:
    import h5py

    config = {
        "class_name": "Sequential",
        "config": {
            "name": "s",
            "layers": [
                {
                    "class_name": "InputLayer",
                    "config": {"batch_input_shape": [None, 16], "dtype": "float32", "name": "x"},
                },
                {"class_name": "Dense", "config": {"name": "d", "units": 4}},
            ],
        },
    }
    path = tmp_path / "m.h5"
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps(config)
        handle.create_group("model_weights").create_dataset("w", data=np.zeros(2))
    assert model_inputs(parse_model_spec(path)) == [InputSpec("x", (1, 16), "float32")]
    config["config"]["layers"][0]["config"]["batch_input_shape"] = [None, None]
    with h5py.File(path, "w") as handle:
        handle.attrs["model_config"] = json.dumps(config)
    with pytest.raises(TinyflashError, match=r"input 'x' has shape \(1, None\)"):
        model_inputs(parse_model_spec(path))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("import tensorflow as tf\nmodel = None\n", None),
        ("def build():\n    return 1\n", "defines no 'model'"),
        ("def model(:\n", "SyntaxError"),
        (
            "import tensorflow as tf\n@tf.function(jit_compile=True)\ndef model(x):\n    return x\n",
            "the tf.function has no input_signature",
        ),
        (
            "import tensorflow as tf\n"
            "@tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32)])\n"
            "def model(x):\n    return x\n",
            None,
        ),
        ("from mylib import *\n", None),  # a star import may define it: left to the import
    ],
)
def test_python_file_top_level(tmp_path: Path, source: str, message: str | None) -> None:
    path = tmp_path / "m.py"
    path.write_text(source)
    spec = parse_model_spec(f"{path}:model")
    if message is None:
        assert model_inputs(spec) is None
    else:
        with pytest.raises(TinyflashError, match=message):
            model_inputs(spec)


def test_size_warning_names_the_unrolled_layer() -> None:
    from tinyflash.convert import size_warnings

    # the case: an unrolled LSTM at 5.3x its float32 weights
    (warning,) = size_warnings(53_000, 10_000, recurrent=True, rolled=[])
    assert warning.startswith("the .tflite is 5.3x the float32 weights (53,000 B against 10,000")
    assert "unroll=False" in warning
    assert size_warnings(3_800, 10_000, recurrent=True, rolled=[]) == []  # digits: 0.38x
    (other,) = size_warnings(30_000, 10_000, recurrent=False, rolled=[])
    assert "unroll" not in other
