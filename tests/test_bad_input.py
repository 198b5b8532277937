"""The bad-input matrix (issue 7) as one parametrised test through the real CLI
(`.venv/bin/tinyflash` in a subprocess): each row is an input, the exact fragment of the one
`error:` sentence it must produce, its exit code, and no traceback. Each row also names the text
of its line in docs/errors.md, and test_every_row_is_documented keeps the table and the test in
step.

Fast rows use files written here (support/tflbuilder.py models, truncated/empty files) and need no
TensorFlow or compiler. Rows marked slow run the TensorFlow converter (calibration shape) or build
firmware: a host firmware serving model A over TCP while `verify` expects model B (different model
hash), a project with a broken source (PlatformIO build error), and an mps2-an386 project verified
with a PATH that has no qemu-system-arm."""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from support.cli import TINYFLASH, expect_error, tinyflash

REPO = Path(__file__).resolve().parents[1]
DIGITS = REPO / "examples" / "digits"
ERRORS_MD = REPO / "docs" / "errors.md"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- the inputs ------------------------------------------------------------------------------


def builder_model(kind: str) -> bytes:
    from support.tflbuilder import ModelBuilder

    rng = np.random.default_rng(1)
    b = ModelBuilder()
    if kind == "float":
        x = b.tensor("x", [1, 4], "float32")
        w = b.tensor("w", None, "float32", data=rng.normal(size=(3, 4)).astype(np.float32))
        y = b.tensor("y", [1, 3], "float32")
        b.op("FULLY_CONNECTED", [x, w, -1], [y])
    elif kind == "hybrid":
        x = b.tensor("x", [1, 4], "float32")
        w = b.tensor(
            "w", None, "int8", data=rng.integers(-127, 127, (3, 4)), scale=0.02, zero_point=0
        )
        y = b.tensor("y", [1, 3], "float32")
        b.op("FULLY_CONNECTED", [x, w, -1], [y])
    elif kind == "atan2":  # int8 ATAN2: a builtin op neither runtime has a kernel for
        x = b.tensor("x", [1, 4], "int8", scale=0.1, zero_point=0)
        y = b.tensor("y", [1, 4], "int8", scale=0.1, zero_point=0)
        b.op("ATAN2", [x, x], [y], options_type=None)
    elif kind == "big":  # 20,000-byte input activation: more than micro:bit's 16 KB of RAM
        x = b.tensor("x", [1, 20000], "int8", scale=0.1, zero_point=0)
        w = b.tensor(
            "w", None, "int8", data=rng.integers(-127, 127, (8, 20000)), scale=0.02, zero_point=0
        )
        y = b.tensor("y", [1, 8], "int8", scale=0.5, zero_point=0)
        b.op("FULLY_CONNECTED", [x, w, -1], [y])
    elif kind == "small":  # int8 FC: deployable, a different model from the digits example
        x = b.tensor("x", [1, 16], "int8", scale=0.05, zero_point=0)
        w = b.tensor(
            "w", None, "int8", data=rng.integers(-127, 127, (4, 16)), scale=0.02, zero_point=0
        )
        y = b.tensor("y", [1, 4], "int8", scale=0.2, zero_point=0)
        b.op("FULLY_CONNECTED", [x, w, -1], [y])
    else:
        raise ValueError(kind)
    return b.build([x], [y])


class Inputs:
    """Files and projects for the rows, made on first use (a fast row never triggers a build)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        return self.root / name

    @functools.cached_property
    def missing(self) -> Path:
        return self.root / "missing.tflite"

    @functools.cached_property
    def unreadable(self) -> Path:
        """A file whose read fails: mode 000 for a normal user; root reads anything, so there
        /proc/self/mem, whose read at offset 0 fails with EIO."""
        if os.geteuid() == 0:
            return Path("/proc/self/mem")
        p = self.root / "unreadable.tflite"
        p.write_bytes((DIGITS / "digits_int8.tflite").read_bytes())
        p.chmod(0)
        return p

    @functools.cached_property
    def empty(self) -> Path:
        p = self.root / "empty.tflite"
        p.write_bytes(b"")
        return p

    @functools.cached_property
    def truncated(self) -> Path:
        p = self.root / "truncated.tflite"
        p.write_bytes((DIGITS / "digits_int8.tflite").read_bytes()[:5000])
        return p

    @functools.cached_property
    def not_tflite(self) -> Path:
        p = self.root / "notes.tflite"
        p.write_bytes(b"these are my notes, not a model\n" * 4)
        return p

    def model(self, kind: str) -> Path:
        p = self.root / f"{kind}.tflite"
        if not p.is_file():
            p.write_bytes(builder_model(kind))
        return p

    @functools.cached_property
    def dir_named_tflite(self) -> Path:
        d = self.root / "folder.tflite"
        d.mkdir()
        return d

    @functools.cached_property
    def not_numpy(self) -> Path:
        p = self.root / "calibration.npy"
        p.write_bytes(b"1,2,3\n4,5,6\n")
        return p

    @functools.cached_property
    def existing_output(self) -> Path:
        p = self.root / "precious.tflite"
        p.write_bytes(b"the user's own file")
        return p

    @functools.cached_property
    def non_empty_dir(self) -> Path:
        d = self.root / "mine"
        d.mkdir()
        (d / "notes.txt").write_text("keep me")
        return d

    def calibration(self, name: str, array: np.ndarray) -> Path:
        p = self.root / name
        np.save(p, array)
        return p

    def keras_variant(self, name: str, edit: Callable[[dict], None]) -> Path:
        """The digits .keras with its config.json edited (weights and metadata as saved)."""
        p = self.root / name
        if not p.is_file():
            with zipfile.ZipFile(KERAS) as source, zipfile.ZipFile(p, "w") as target:
                for item in source.infolist():
                    data = source.read(item.filename)
                    if item.filename == "config.json":
                        config = json.loads(data)
                        edit(config)
                        data = json.dumps(config).encode()
                    target.writestr(item, data)
        return p

    @functools.cached_property
    def custom_layer_keras(self) -> Path:
        """What model.save writes for a model with a user's own layer class (registered with
        keras.saving.register_keras_serializable in the user's module `mylayers`)."""

        def edit(config: dict) -> None:
            layer = config["config"]["layers"][1]
            layer.update(module="mylayers", class_name="Scale", registered_name="Custom>Scale")

        return self.keras_variant("custom_layer.keras", edit)

    @functools.cached_property
    def dynamic_keras(self) -> Path:
        """The digits model with an input of unknown height (keras.Input((None, 8, 1)))."""

        def edit(config: dict) -> None:
            config["config"]["layers"][0]["config"]["batch_shape"] = [None, None, 8, 1]

        return self.keras_variant("dynamic.keras", edit)

    @functools.cached_property
    def weights_only_h5(self) -> Path:
        """What model.save_weights('w.h5') writes: weights, no model_config."""
        import h5py

        p = self.root / "weights.h5"
        with h5py.File(p, "w") as handle:
            handle.attrs["layer_names"] = [b"conv1"]
            handle.create_group("conv1").create_dataset("kernel", data=np.zeros((3, 3, 1, 12)))
        return p

    @functools.cached_property
    def no_signature_py(self) -> Path:
        p = self.root / "fn_model.py"
        p.write_text(
            "import tensorflow as tf\n\n\n@tf.function\ndef model(x):\n    return x * 2.0\n"
        )
        return p

    @functools.cached_property
    def two_signature_savedmodel(self) -> Path:
        """A SavedModel exported by TensorFlow with two signatures and no serving_default."""
        path = self.root / "two_sigs"
        script = (
            "import sys, tensorflow as tf\n"
            "class Two(tf.Module):\n"
            "    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name='x')])\n"
            "    def project(self, x):\n        return {'y': x * 2.0}\n"
            "    @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32, name='x')])\n"
            "    def scale(self, x):\n        return {'y': x * 0.5}\n"
            "m = Two()\n"
            "tf.saved_model.save(m, sys.argv[1], signatures={'project': "
            "m.project.get_concrete_function(), 'scale': m.scale.get_concrete_function()})\n"
        )
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        subprocess.run([sys.executable, "-c", script, str(path)], check=True, env=env)
        return path

    @functools.cached_property
    def images_folder(self) -> Path:
        from PIL import Image

        d = self.root / "images"
        d.mkdir()
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(d / "a.png")
        return d

    @functools.cached_property
    def host_project(self) -> Path:
        """A generated (not built) host project of the digits model."""
        d = self.root / "host_project"
        run = tinyflash("generate", DIGITS / "digits_int8.tflite", "--board", "host", "-o", d)
        assert run.returncode == 0, run.stderr
        return d

    @functools.cached_property
    def closed_port(self) -> int:
        return free_port()  # bound and released: nothing listens there

    @functools.cached_property
    def silent_port(self) -> int:
        """A TCP port that accepts connections (the kernel completes them from the listen
        backlog) and never sends a byte: a serial port with no tinyflash firmware behind it."""
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(4)
        self.sockets.append(server)
        return int(server.getsockname()[1])

    @functools.cached_property
    def sockets(self) -> list[socket.socket]:
        return []

    @functools.cached_property
    def other_model_device(self) -> str:
        """URL of a running host firmware of the `small` model (stopped at session end)."""
        d = self.root / "small_host"
        run = tinyflash("generate", self.model("small"), "--board", "host", "-o", d)
        assert run.returncode == 0, run.stderr
        run = tinyflash("build", d)
        assert run.returncode == 0, run.stdout + run.stderr
        port = free_port()
        program = d / ".pio" / "build" / "host" / "firmware"
        proc = subprocess.Popen(
            [str(program)],
            env=dict(os.environ, TINYFLASH_HOST_TCP_PORT=str(port)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(proc)
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "waiting for connection" in line, line
        return f"socket://127.0.0.1:{port}"

    @functools.cached_property
    def processes(self) -> list[subprocess.Popen]:
        return []

    @functools.cached_property
    def broken_project(self) -> Path:
        d = self.root / "broken_project"
        run = tinyflash("generate", self.model("small"), "--board", "host", "-o", d)
        assert run.returncode == 0, run.stderr
        with open(d / "src" / "main.c", "a", encoding="utf-8") as f:
            f.write("\nthis line is not C;\n")
        return d

    @functools.cached_property
    def built_mps2_project(self) -> Path:
        d = self.root / "mps2_project"
        run = tinyflash("generate", self.model("small"), "--board", "mps2-an386", "-o", d)
        assert run.returncode == 0, run.stderr
        run = tinyflash("build", d)
        assert run.returncode == 0, run.stdout + run.stderr
        return d

    @functools.cached_property
    def path_without_qemu(self) -> dict[str, str]:
        """os.environ with PATH = the venv's bin plus a folder linking every program on PATH
        except qemu-system-arm (so the compilers and PlatformIO are still found)."""
        farm = self.root / "path_without_qemu"
        farm.mkdir(exist_ok=True)
        for folder in os.environ.get("PATH", "").split(os.pathsep):
            if not folder or not Path(folder).is_dir():
                continue
            for program in Path(folder).iterdir():
                link = farm / program.name
                if program.name.startswith("qemu-system-arm") or link.exists() or link.is_symlink():
                    continue
                link.symlink_to(program)
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{farm}")
        assert shutil.which("qemu-system-arm", path=env["PATH"]) is None
        return env


@dataclass
class Row:
    id: str
    doc: str  # text of its docs/errors.md line
    argv: Callable[[Inputs], list]  # command line after `tinyflash`
    exit: int
    fragments: Callable[[Inputs], list[str]]
    slow: bool = False
    env: Callable[[Inputs], dict[str, str]] | None = None
    after: Callable[[Inputs], None] | None = None  # extra checks (nothing lost)
    marks: list = field(default_factory=list)


def _untouched(path_of: Callable[[Inputs], Path], content: bytes) -> Callable[[Inputs], None]:
    def check(inputs: Inputs) -> None:
        assert path_of(inputs).read_bytes() == content

    return check


CALIB = DIGITS / "calibration.npz"
KERAS = DIGITS / "digits.keras"
INT8 = DIGITS / "digits_int8.tflite"
Arg = Callable[[Inputs], object]


def _fixed(value: object) -> Arg:
    return lambda i: value


def convert_argv(out: str, data: Arg = _fixed(CALIB), model: Arg = _fixed(KERAS), *extra: str):
    """`convert MODEL -o OUT --data DATA EXTRA...` with OUT in the row's temporary folder."""
    return lambda i: ["convert", model(i), "-o", i.path(out), "--data", data(i), *extra]


def npy(name: str, array: np.ndarray) -> Arg:
    """Calibration data saved as NAME.npy in the row's folder."""
    return lambda i: i.calibration(name, array)


def bad_model_row(id: str, doc: str, out: str, model: Arg, fragments: list[str], **kw: object):
    """A row converting a bad MODEL (with good calibration data) to OUT: exit 2, nothing written."""
    return Row(
        id, doc, convert_argv(out, model=model), 2, lambda i: fragments, after=nothing_at(out), **kw
    )  # type: ignore[arg-type]


def nothing_at(name: str) -> Callable[[Inputs], None]:
    """The failed command wrote nothing at NAME."""
    return lambda i: None if not i.path(name).exists() else pytest.fail(f"{name} written")


ROWS: list[Row] = [
    Row(
        "check-missing",
        "PATH: no such file — give the path of a .tflite model.",
        lambda i: ["check", i.missing],
        2,
        lambda i: [f"{i.missing}: no such file"],
    ),
    Row(
        "check-unreadable",
        "PATH cannot be read (<reason>) — check the path and its permissions.",
        lambda i: ["check", i.unreadable],
        2,
        lambda i: [f"{i.unreadable} cannot be read ("],
    ),
    Row(
        "check-empty",
        "PATH is not a TFLite model: only N bytes — the file is truncated or empty",
        lambda i: ["check", i.empty],
        2,
        lambda i: [f"{i.empty} is not a TFLite model: only 0 bytes"],
    ),
    Row(
        "check-truncated",
        "PATH is a corrupt TFLite model: <what, e.g. tensor 3",
        lambda i: ["check", i.truncated],
        2,
        lambda i: [
            f"{i.truncated} is a corrupt TFLite model",
            "lies outside the 5000-byte file",
            "convert the model again",
        ],
    ),
    Row(
        "check-not-a-model",
        "PATH is not a TFLite model: the flatbuffer identifier is",
        lambda i: ["check", i.not_tflite],
        2,
        lambda i: [f"{i.not_tflite} is not a TFLite model: the flatbuffer identifier is"],
    ),
    Row(
        "check-float",
        "op N FULLY_CONNECTED computes in float32",
        lambda i: ["check", i.model("float")],
        1,
        lambda i: ["op 0 FULLY_CONNECTED computes in float32", "convert with representative data"],
    ),
    Row(
        "check-hybrid",
        "op N FULLY_CONNECTED is hybrid: int8 weights, float32 activations",
        lambda i: ["check", i.model("hybrid")],
        1,
        lambda i: ["op 0 FULLY_CONNECTED is hybrid: int8 weights, float32 activations"],
    ),
    Row(
        "generate-unsupported-op",
        "MODEL is not deployable: op N OP (TYPES) has no kernel in the tinyflash runtime",
        lambda i: ["generate", i.model("atan2"), "--board", "host", "-o", i.path("p_atan2")],
        1,
        lambda i: [
            "atan2.tflite is not deployable: op 0 ATAN2 (int8 -> int8) has no kernel in the "
            "tinyflash runtime",
            "TensorFlow Lite Micro has no ATAN2 kernel either",
        ],
        after=nothing_at("p_atan2"),
    ),
    Row(
        "generate-unknown-board",
        "unknown board 'ID' (no boards/ID.json); known boards:",
        lambda i: [
            "generate",
            INT8,
            "--board",
            "nope",
            "-o",
            i.path("p_nope"),
        ],
        2,
        lambda i: ["unknown board 'nope'", "known boards: ", "mps2-an386"],
    ),
    Row(
        "generate-does-not-fit",
        "MODEL does not fit board microbit: RAM needs N bytes",
        lambda i: ["generate", i.model("big"), "--board", "microbit", "-o", i.path("p_big")],
        1,
        lambda i: [
            "big.tflite does not fit board microbit: RAM needs",
            "16,384",
            "choose a board with more memory",
        ],
    ),
    Row(
        "generate-non-empty-dir",
        "DIR is not empty; choose an empty or new directory, or pass --force",
        lambda i: [
            "generate",
            INT8,
            "--board",
            "host",
            "-o",
            i.non_empty_dir,
        ],
        2,
        lambda i: [f"{i.non_empty_dir} is not empty", "--force"],
        after=lambda i: (
            None
            if sorted(p.name for p in i.non_empty_dir.iterdir()) == ["notes.txt"]
            else pytest.fail("generate touched a non-empty directory")
        ),
    ),
    Row(
        "convert-output-exists",
        "OUT already exists; pass --force to replace it, or choose another -o.",
        lambda i: ["convert", KERAS, "-o", i.existing_output, "--data", CALIB],
        2,
        lambda i: [f"{i.existing_output} already exists; pass --force"],
        after=_untouched(lambda i: i.existing_output, b"the user's own file"),
    ),
    Row(
        "convert-output-is-dir",
        "OUT is a directory; give -o the path of a .tflite file to write.",
        lambda i: ["convert", KERAS, "-o", i.dir_named_tflite, "--data", CALIB],
        2,
        lambda i: [f"{i.dir_named_tflite} is a directory; give -o the path of a .tflite file"],
    ),
    Row(
        "deploy-non-empty-dir",
        "DIR is not empty; choose an empty or new directory, or pass --force",
        lambda i: [
            "deploy",
            INT8,
            "--board",
            "host",
            "-o",
            i.non_empty_dir,
        ],
        2,
        lambda i: [f"{i.non_empty_dir} is not empty; choose an empty or new directory", "--force"],
    ),
    Row(
        "convert-calibration-missing",
        "CALIB: calibration data not found",
        convert_argv("o1.tflite", lambda i: i.path("none.npz")),
        2,
        lambda i: [f"{i.path('none.npz')}: calibration data not found"],
    ),
    Row(
        "convert-calibration-not-npy",
        "CALIB: not a NumPy .npy file",
        convert_argv("o2.tflite", lambda i: i.not_numpy),
        2,
        lambda i: [f"{i.not_numpy}: not a NumPy .npy file"],
    ),
    Row(
        "convert-calibration-dtype",
        "CALIB: the array has dtype DTYPE, expected numbers",
        convert_argv("o3.tflite", npy("words.npy", np.array([["a", "b"], ["c", "d"]]))),
        2,
        lambda i: ["has dtype <U1, expected numbers"],
    ),
    Row(
        "convert-calibration-nan",
        "CALIB: the array contains NaN or Inf; clean the calibration data.",
        convert_argv(
            "o4.tflite",
            npy(
                "nan.npy",
                np.where(np.arange(320).reshape(5, 8, 8, 1) == 7, np.nan, 0.5).astype(np.float32),
            ),
        ),
        2,
        lambda i: ["contains NaN or Inf"],
        after=nothing_at("o4.tflite"),
    ),
    Row(
        "convert-calibration-shape",
        "CALIB: the array for input 'image' has shape (10, 28, 28)",
        convert_argv("o5.tflite", npy("mnist.npy", np.zeros((10, 28, 28), np.float32))),
        2,
        lambda i: ["input 'image'", "(10, 28, 28)", "(samples, 8, 8, 1)"],
        after=nothing_at("o5.tflite"),
    ),
    bad_model_row(
        "convert-custom-layer",
        "MODEL: layer 'NAME' is the custom class CLS (defined in module M)",
        "o6.tflite",
        lambda i: i.custom_layer_keras,
        [
            "layer 'conv1' is the custom class Scale (defined in module mylayers)",
            "custom_objects={'Scale': Scale}",
            "tinyflash convert model.py:model",
        ],
    ),
    bad_model_row(
        "convert-dynamic-dimension",
        "MODEL: input 'x' has shape (1, None, 3) with an unknown dimension besides the batch",
        "o7.tflite",
        lambda i: i.dynamic_keras,
        ["input 'image' has shape (1, None, 8, 1) with an unknown dimension"],
    ),
    bad_model_row(
        "convert-weights-only-h5",
        "MODEL: the .h5 file holds only weights (model.save_weights), not a model",
        "o8.tflite",
        lambda i: i.weights_only_h5,
        ["holds only weights (model.save_weights), not a model", "model.save("],
    ),
    bad_model_row(
        "convert-no-input-signature",
        "FILE.py:name: the tf.function has no input_signature",
        "o9.tflite",
        lambda i: f"{i.no_signature_py}:model",
        ["fn_model.py:model: the tf.function has no input_signature"],
    ),
    bad_model_row(
        "convert-several-signatures",
        "DIR: the SavedModel has 2 signatures (project, scale); pick one with --signature KEY.",
        "o10.tflite",
        lambda i: i.two_signature_savedmodel,
        ["the SavedModel has 2 signatures (project, scale)", "--signature KEY"],
        slow=True,  # TensorFlow exports the SavedModel (the error itself comes without it)
    ),
    Row(
        "convert-preprocess-on-arrays",
        "CALIB: --scale/--mean/--std apply to image folders and CSV files",
        convert_argv("o11.tflite", _fixed(CALIB), _fixed(KERAS), "--scale", "1/127.5"),
        2,
        lambda i: ["--scale/--mean/--std apply to image folders and CSV files"],
    ),
    Row(
        "convert-preprocess-channels",
        "--mean has N values but the input has C channels",
        convert_argv("o12.tflite", lambda i: i.images_folder, _fixed(KERAS), "--mean", "1,2,3"),
        2,
        lambda i: ["--mean has 3 values but the input has 1 channels"],
    ),
    Row(
        "deploy-host-only-mode",
        "mode float16 is host-only (float16 weights, float32 compute)",
        lambda i: ["deploy", KERAS, "--data", CALIB, "--mode", "float16", "-o", i.path("d1")],
        2,
        lambda i: ["mode float16 is host-only", "deploy with --mode int8", "int16x8"],
        after=nothing_at("d1"),
    ),
    Row(
        "deploy-unknown-board",
        "unknown board 'ID' (no boards/ID.json); known boards:",
        lambda i: ["deploy", KERAS, "--data", CALIB, "--board", "nope", "-o", i.path("d2")],
        2,
        lambda i: ["unknown board 'nope'"],
        after=nothing_at("d2"),
    ),
    Row(
        "deploy-labels-without-data",
        "--labels needs --data",
        lambda i: ["deploy", INT8, "--board", "host", "--labels", CALIB, "-o", i.path("d3")],
        2,
        lambda i: ["--labels needs --data"],
        after=nothing_at("d3"),
    ),
    Row(
        "evaluate-other-model",
        "Q.tflite: input 0 has shape (1, 16) but the float model MODEL takes (1, 8, 8, 1)",
        lambda i: ["evaluate", KERAS, i.model("small"), "--data", CALIB],
        2,
        lambda i: [
            "input 0 has shape (1, 16) but the float model",
            "the shapes differ",
            "converted from another model",
        ],
    ),
    Row(
        "verify-port-does-not-answer",
        "Cannot open serial port URL",
        lambda i: [
            "verify",
            i.host_project,
            "--port",
            f"socket://127.0.0.1:{i.closed_port}",
            "-n",
            "1",
        ],
        2,
        lambda i: [f"Cannot open serial port socket://127.0.0.1:{i.closed_port}"],
    ),
    Row(
        "verify-port-silent",
        "The device on URL printed no tinyflash banner within T s",
        lambda i: [
            "verify",
            i.host_project,
            "--port",
            f"socket://127.0.0.1:{i.silent_port}",
            "-n",
            "1",
        ],
        1,
        lambda i: [
            f"The device on socket://127.0.0.1:{i.silent_port} printed no tinyflash banner "
            "within 10 s",
            "check the port",
        ],
        slow=True,
    ),  # waits the 10 s banner timeout
    Row(
        "verify-different-model",
        "the device at URL runs a different model (SHA-256",
        lambda i: ["verify", i.host_project, "--port", i.other_model_device, "-n", "1"],
        1,
        lambda i: [
            f"the device at {i.other_model_device} runs a different model (SHA-256",
            "flash the firmware generated from model.tflite",
        ],
        slow=True,
    ),
    Row(
        "build-error",
        "build of DIR (env ID) failed: <first error lines>",
        lambda i: ["build", i.broken_project],
        1,
        lambda i: [
            f"build of {i.broken_project} (env host) failed: src/main.c:",
            "tinyflash-build-host.log",
        ],
        slow=True,
    ),
    Row(
        "verify-qemu-missing",
        "qemu-system-arm is not installed; run `bash scripts/bootstrap-system.sh`",
        lambda i: ["verify", i.built_mps2_project, "-n", "1"],
        2,
        lambda i: ["qemu-system-arm is not installed", "bootstrap-system.sh"],
        slow=True,
        env=lambda i: i.path_without_qemu,
    ),
    Row(
        "convert-weight-bits-range",
        "--weight-bits must be 1 to 7 (at most 2^K distinct int8 values per channel; 8 is plain int8); got 8.",
        lambda i: ["convert", INT8, "--weight-bits", "8", "-o", i.path("w8.tflite")],
        2,
        lambda i: ["--weight-bits must be 1 to 7", "got 8"],
        after=nothing_at("w8.tflite"),
    ),
    Row(
        "evaluate-float-without-data",
        "evaluating against the float model MODEL needs --data (its inputs); only a .tflite baseline can run on random inputs.",
        lambda i: ["evaluate", KERAS, INT8],
        2,
        lambda i: [f"the float model {KERAS} needs --data"],
    ),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory):
    made = Inputs(tmp_path_factory.mktemp("bad_input"))
    yield made
    for proc in made.processes:
        proc.kill()
        proc.wait()
    for server in made.sockets:
        server.close()


@pytest.mark.parametrize(
    "row", [pytest.param(r, id=r.id, marks=[pytest.mark.slow] if r.slow else []) for r in ROWS]
)
def test_bad_input(row: Row, inputs: Inputs) -> None:
    argv = row.argv(inputs)
    env = row.env(inputs) if row.env else None
    run = tinyflash(*argv, env=env)
    expect_error(run, row.exit, *row.fragments(inputs))
    if row.after is not None:
        row.after(inputs)


def test_every_row_is_documented() -> None:
    """Every row's message is in docs/errors.md (the table users read)."""
    table = ERRORS_MD.read_text(encoding="utf-8")
    missing = [r.id for r in ROWS if r.doc not in table]
    assert not missing, f"rows without their docs/errors.md line: {missing}"


# ---- nothing lost: atomic outputs, Ctrl-C, no overwrite without --force ----------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") or "tmp" in p.name)


def test_write_atomic_never_leaves_a_part(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tinyflash import convert

    target = tmp_path / "model.tflite"
    convert.write_atomic(target, b"new model")
    assert target.read_bytes() == b"new model" and _leftovers(tmp_path) == []
    # interrupted between writing and renaming (Ctrl-C): the old file is intact, no temp file
    original_replace = os.replace

    def interrupted(src: object, dst: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(convert.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        convert.write_atomic(target, b"half")
    monkeypatch.setattr(convert.os, "replace", original_replace)
    assert target.read_bytes() == b"new model"
    assert _leftovers(tmp_path) == []


def test_generate_interrupted_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while generate writes its files: no project directory and no staging directory."""
    from tinyflash import codegen

    files = {
        "platformio.ini": b"[env]\n",
        "src/main.c": b"int main(void){return 0;}\n",
        "src/model_data.c": b"/* big */\n",
    }
    calls = {"n": 0}
    real_write = Path.write_bytes

    def write_then_interrupt(self: Path, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        codegen.write_project(files, tmp_path / "project")
    monkeypatch.setattr(Path, "write_bytes", real_write)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.slow
def test_convert_sigint_leaves_nothing_behind(tmp_path: Path) -> None:
    """SIGINT to a running `tinyflash convert` (only to the parent, the harder case: the converter
    child does not see it) while the TensorFlow child converts: exit 130 with `aborted`, no
    output file, no temporary file beside it, no converter temp directory, no process left.
    Synchronised on an event, not a delay: with TINYFLASH_TEST_HOLD_CONVERSION the child writes
    the hold file once the converter has taken its first calibration sample and then waits to be
    killed, so the conversion is still running when the signal arrives, however busy the machine."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    hold = tmp_path / "converting"
    env = dict(os.environ, TMPDIR=str(tmp), COLUMNS="400", TINYFLASH_TEST_HOLD_CONVERSION=str(hold))
    proc = subprocess.Popen(
        [str(TINYFLASH), "convert", KERAS, "-o", out_dir / "digits.tflite", "--data", CALIB],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 600
        while not hold.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)  # polls for the event (the hold file); its timing decides nothing
        assert hold.exists() and proc.poll() is None, (
            f"convert never reached the converter (exit {proc.poll()})"
        )
        proc.send_signal(subprocess.signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
    assert proc.returncode == 130, (proc.returncode, stdout, stderr)
    assert "aborted" in stderr and "Traceback" not in stdout + stderr
    assert list(out_dir.iterdir()) == []
    assert list(tmp.iterdir()) == []
    # the parent kills and waits for the converter child before it exits: nothing may be left
    left = subprocess.run(
        ["ps", "-o", "pid=,stat=,args=", "-g", str(proc.pid)], capture_output=True, text=True
    ).stdout.strip()
    assert left == "", f"processes left in the session: {left}"  # the converter child is gone
