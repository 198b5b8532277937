"""`tinyflash generate --runtime tflm`: a project that runs the model with TensorFlow Lite Micro's
tflite::MicroInterpreter behind tinyflash's protocol server (firmware/harness's tfl_server.c with
the C++ backend adapter of firmware/tflm/).

The projects are checked as golden files plus the facts they must state (resolver calls, arena
size, sources); the adapter and main.cpp are compiled against a real TFLM tree when
../shared/tflm is present. tests/test_tflm_double.py compiles and runs the generated C++ against a
small stand-in for TFLM's API.

Goldens: tests/golden/tflm_nano33ble/ (TFLM's Arduino library through lib_deps) and
tests/golden/tflm_mps2-an386/ (a TFLM tree given with --tflm-path, fixed to /opt/tflm). Regenerate
after an intended template change and review the diff:

    TINYFLASH_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_tflm_runtime.py -k golden
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, shared_model_path
from support.models import fc_model
from tinyflash import codegen
from tinyflash.boards import load_board
from tinyflash.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, TinyflashError
from tinyflash.model import load_model
from tinyflash.pipeline import check_model_file
from tinyflash.plan import plan_memory
from tinyflash.reference import tflm_min_arena
from tinyflash.tflm_tree import TflmSources

GOLDEN = REPO / "tests" / "golden"
TINY = GOLDEN / "tiny_cnn.tflite"
UPDATE = os.environ.get("TINYFLASH_UPDATE_GOLDEN") == "1"
FIXED = codegen.FirmwarePaths(
    platform="/opt/tinyflash/firmware/platform",
    runtime="/opt/tinyflash/firmware/runtime",
    harness="/opt/tinyflash/firmware/harness",
    boards_dir="/opt/tinyflash/boards",
)
CASES = {  # golden folder -> (board, --tflm-path)
    "tflm_nano33ble": ("nano33ble", None),
    "tflm_mps2-an386": ("mps2-an386", "/opt/tflm"),
}
GOLDEN_FILES = ("README.md", "platformio.ini", "src/main.cpp", "src/model_data.h", "tinyflash.json")


#: The golden --tflm-path project's TFLM sources (its tree, /opt/tflm, does not exist here).
FIXED_SOURCES = TflmSources(
    "generic",
    ("tensorflow/lite/micro/micro_interpreter.cc",),
    ("tensorflow/lite/micro/kernels/conv.cc", "tensorflow/lite/micro/kernels/conv_common.cc"),
    (),
)


def render(
    board_id: str, tflm_path: str | None, model_path: Path = TINY, selftest: int = 3
) -> codegen.RenderedProject:
    checked = check_model_file(model_path)
    info = checked.info
    vectors = codegen.selftest_vectors(info.data, len(info.inputs), len(info.outputs), selftest)
    return codegen.render_tflm_project(
        checked,
        tflm_min_arena_bytes=tflm_min_arena(info.data),
        board=codegen.board_spec(load_board(board_id)),
        vectors=vectors,
        paths=FIXED,
        vendor=False,
        tflm_path=tflm_path,
        tflm_sources=FIXED_SOURCES if tflm_path == "/opt/tflm" else None,
    )


@pytest.fixture(scope="module")
def projects() -> dict[str, codegen.RenderedProject]:
    return {name: render(board, path) for name, (board, path) in CASES.items()}


@pytest.mark.parametrize("name", GOLDEN_FILES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(projects: dict[str, codegen.RenderedProject], case: str, name: str) -> None:
    golden = GOLDEN / case / name
    actual = projects[case].files[name].decode()
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(actual, encoding="utf-8")
    assert golden.is_file(), f"{golden} is missing: run with TINYFLASH_UPDATE_GOLDEN=1"
    assert actual == golden.read_text(encoding="utf-8"), (
        f"{name} ({case}) differs from {golden}; if intended, regenerate with "
        "TINYFLASH_UPDATE_GOLDEN=1 and review the diff"
    )


def test_model_array_is_the_tinyflash_runtimes(
    projects: dict[str, codegen.RenderedProject],
) -> None:
    """Same aligned model array (same template) as the tinyflash runtime's projects."""
    emulated = (GOLDEN / "tiny_cnn" / "src" / "model_data.c").read_text(encoding="utf-8")
    for case, (board, _) in CASES.items():
        text = projects[case].files["src/model_data.c"].decode()
        assert text == emulated.replace("for board mps2-an386.", f"for board {board}.", 1)
        assert "TFL_ALIGN16" in text and projects[case].files["model.tflite"] == TINY.read_bytes()


@pytest.mark.parametrize("model_name", ["kws_ref_model", "pretrainedResnet_quant", "ad01_int8"])
def test_resolver_has_exactly_the_models_ops(model_name: str) -> None:
    model = shared_model_path(model_name)
    checked = check_model_file(model)
    info = checked.info
    project = codegen.render_tflm_project(
        checked,
        tflm_min_arena_bytes=200,
        board=codegen.board_spec(load_board("nano33ble")),
        vectors=[],
        paths=FIXED,
        vendor=False,
        tflm_path=None,
    )
    main = project.files["src/main.cpp"].decode()
    calls = re.findall(r"resolver\.(Add\w+)\(\) != kTfLiteOk", main)
    ops = sorted({op.name for op in info.ops})
    assert calls == [codegen.TFLM_RESOLVER_METHODS[op] for op in ops]
    assert len(set(calls)) == len(calls)
    assert f"using Resolver = tflite::MicroMutableOpResolver<{len(ops)}>;" in main


def test_arena_is_plan_plus_measured_overhead(projects: dict[str, codegen.RenderedProject]) -> None:
    info = load_model(TINY)
    plan = plan_memory(info)
    measured = tflm_min_arena(info.data)
    arena, overhead = codegen.tflm_arena_bytes(plan.arena_bytes, measured)
    assert overhead == measured - plan.arena_bytes > 0
    assert arena % 16 == 0 and arena >= plan.arena_bytes + overhead + codegen.TFLM_ARENA_ALIGN_SLACK
    assert arena - (plan.arena_bytes + overhead + codegen.TFLM_ARENA_ALIGN_SLACK) < 16
    header = projects["tflm_nano33ble"].files["src/model_data.h"].decode()
    assert f"#define TINY_CNN_TFLM_ARENA_BYTES {arena}\n" in header
    assert f"#define TINY_CNN_PLAN_ARENA_BYTES {plan.arena_bytes}\n" in header
    manifest = json.loads(projects["tflm_nano33ble"].files["tinyflash.json"])
    assert manifest["runtime"] == "tflm" and manifest["arena_bytes"] == arena
    assert manifest["tflm"]["min_arena_x86_64"] == measured
    assert manifest["tflm"]["overhead_bytes"] == overhead
    # The arena really is enough for TFLM (its Python runtime, reference kernels) minus the slack.
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(info.data, arena_size=arena - 16)
    interpreter.invoke()


def test_overhead_never_negative() -> None:
    assert codegen.tflm_arena_bytes(5000, 1000) == (5024, 0)


def test_tflm_sources(projects: dict[str, codegen.RenderedProject]) -> None:
    lib_deps = projects["tflm_nano33ble"].files["platformio.ini"].decode()
    assert f"lib_deps =\n    {codegen.TFLM_ARDUINO_LIBRARY}\n" in lib_deps
    assert "framework = arduino" in lib_deps and "-DTF_LITE_STATIC_MEMORY" in lib_deps
    tree = projects["tflm_mps2-an386"]
    ini = tree.files["platformio.ini"].decode()
    assert "lib_deps" not in ini and "    -I/opt/tflm\n" in ini
    assert "    -I/opt/tflm/third_party/flatbuffers/include\n" in ini
    assert "extra_scripts = post:tflm/build.py\n" in ini and "    -DTF_LITE_STATIC_MEMORY\n" in ini
    assert tree.files["tflm/build.py"] == (REPO / "firmware/tflm/tflm_build.py").read_bytes()
    spec = json.loads(tree.files["tflm/sources.json"])
    assert spec["tree"] == "/opt/tflm" and spec["count"] == 3 and spec["flavour"] == "generic"
    assert spec["groups"] == [
        {"name": "core", "flags": ["-Os"], "sources": list(FIXED_SOURCES.core)},
        {"name": "kernels", "flags": ["-O2"], "sources": list(FIXED_SOURCES.kernels)},
    ]
    assert "tflm/build.py" not in projects["tflm_nano33ble"].files
    assert "    -lsupc++\n" in ini and "-lsupc++" not in lib_deps


def test_vendored_harness_is_the_firmware(projects: dict[str, codegen.RenderedProject]) -> None:
    firmware = REPO / "firmware"
    for case, (board, _) in CASES.items():
        files = projects[case].files
        for source, target in codegen.TFLM_HARNESS_FILES:
            assert files[target] == (firmware / source).read_bytes(), target
        has_port = "lib/port/src/tfl_port_arduino.cpp" in files
        assert has_port == load_board(board).raw["tinyflash"].get("port").startswith("arduino")
        assert not any(name.startswith("lib/runtime/") for name in files)  # no tinyflash runtime
        assert "src/main.cpp" in files and "src/main.c" not in files


def _backend_functions(header: str) -> set[str]:
    """Names of the tfl_backend_* functions tfl_server.h declares (the backend contract)."""
    return set(re.findall(r"^[\w ]+?\**\s*\b(tfl_backend_\w+)\(", header, re.MULTILINE))


def test_both_backends_implement_the_contract_and_only_the_server_speaks_the_protocol() -> None:
    """The one protocol server (firmware/harness/src/tfl_server.c) over two backends: each defines
    every tfl_backend_* function of tfl_server.h, and the TFLM adapter holds no protocol code."""
    firmware = REPO / "firmware"
    contract = _backend_functions((firmware / "harness/include/tfl_server.h").read_text())
    assert contract == {
        f"tfl_backend_{name}"
        for name in (
            "init",
            "error_op",
            "status_name",
            "runtime",
            "tensor_count",
            "get_tensor",
            "op_count",
            "arena_used",
            "has_op_hook",
            "invoke",
            "op_info",
            "op_output",
        )
    }
    adapter = (firmware / "tflm/src/tfl_tflm_backend.cpp").read_text()
    runtime = (firmware / "harness/src/tfl_backend_runtime.c").read_text()
    for source in (adapter, runtime):
        defined = set(
            re.findall(
                r"^(?:extern \"C\" )?[\w ]+?\**\s*\b(tfl_backend_\w+)\([^;]*\{",
                source,
                re.MULTILINE,
            )
        )
        assert defined == contract
    for protocol in (
        "TFL_MSG_",
        "TFL_PERR_",
        "tfl_tx_",
        "tfl_rx_",
        "tfl_port_",
        "selftest=",
        "tfl_harness_internal.h",
    ):
        assert protocol not in adapter and protocol not in runtime, protocol
    assert 'tfl_backend_runtime(void) { return "tflm"; }' in adapter
    vendored = {source for source, _ in codegen.TFLM_HARNESS_FILES}
    assert {"harness/src/tfl_server.c", "tflm/src/tfl_tflm_backend.cpp"} <= vendored
    assert "harness/src/tfl_backend_runtime.c" not in vendored  # one backend per image


TFLM_TREE = REPO.parent / "shared" / "tflm" / "generic"


@pytest.mark.parametrize("compiler", ["g++", "arm-none-eabi-g++"])
def test_adapter_and_main_compile_against_a_real_tflm_tree(tmp_path: Path, compiler: str) -> None:
    """The TFLM backend adapter and the generated main.cpp against TFLM's real headers (the tree
    in ../shared/tflm/generic, as --tflm-path would give it), with the project's C++ flags and
    -Wall -Wextra -Werror (TFLM's own headers as system headers: their warnings are TFLM's):
    what the stand-in of tests/fixtures/tflm_double cannot prove. The vendored C (the protocol
    server) compiles on its own, without the tinyflash runtime's headers."""
    import shutil

    if not (TFLM_TREE / "tensorflow" / "lite" / "micro" / "micro_interpreter.h").is_file():
        pytest.skip(
            f"{TFLM_TREE} is not present (../shared is only in the developers' and CI's checkout)"
        )
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} is not installed")
    project = render("mps2-an386", str(TFLM_TREE), selftest=1)
    for name, data in project.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    tree = [
        TFLM_TREE,
        *(
            TFLM_TREE / "third_party" / p
            for p in ("flatbuffers/include", "gemmlowp", "ruy", "kissfft")
        ),
    ]
    lib = tmp_path / "lib" / "tflm_harness"
    includes = [
        f"-I{lib / 'include'}",
        f"-I{lib / 'src'}",
        f"-I{tmp_path / 'src'}",
        f"-I{REPO / 'firmware' / 'ports' / 'include'}",
    ]
    target = ["-mcpu=cortex-m4", "-mthumb", "-Os"] if compiler.startswith("arm-") else []
    cxx = [
        compiler,
        *target,
        "-std=gnu++17",
        "-fno-exceptions",
        "-fno-rtti",
        "-DTF_LITE_STATIC_MEMORY",
        "-Wall",
        "-Wextra",
        "-Werror",
        *includes,
        *(f for p in tree for f in ("-isystem", str(p))),
    ]
    cc = [
        compiler.replace("g++", "gcc"),
        *target,
        "-std=c99",
        "-Wall",
        "-Wextra",
        "-Werror",
        *includes,
    ]
    jobs = [
        [*cxx, "-c", str(lib / "src" / "tfl_tflm_backend.cpp"), "-o", str(tmp_path / "a.o")],
        [*cxx, "-c", str(tmp_path / "src" / "main.cpp"), "-o", str(tmp_path / "m.o")],
    ]
    jobs += [
        [*cc, "-c", str(c), "-o", str(tmp_path / f"{c.stem}.o")]
        for c in sorted((lib / "src").glob("*.c"))
    ]
    for i in range(0, len(jobs), 2):  # two at a time: the machine has two cores, shared
        procs = [
            (
                cmd,
                subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True),
            )
            for cmd in jobs[i : i + 2]
        ]
        for cmd, proc in procs:
            output = proc.communicate(timeout=600)[0]
            assert proc.returncode == 0, f"{' '.join(cmd)}\n{output[-6000:]}"
    assert (tmp_path / "a.o").stat().st_size > 0 and (tmp_path / "m.o").stat().st_size > 0


def test_generate_tflm_writes_the_project(tmp_path: Path) -> None:
    result = codegen.generate(TINY, "pico", tmp_path / "p", runtime="tflm", selftest=1)
    assert result.kernel_set == "tflm" and result.selftest_count == 1
    written = {
        p.relative_to(tmp_path / "p").as_posix() for p in (tmp_path / "p").rglob("*") if p.is_file()
    }
    assert written == set(result.files)
    assert (
        result.arena_bytes
        == json.loads((tmp_path / "p" / "tinyflash.json").read_text())["arena_bytes"]
    )


def test_bad_options(tmp_path: Path) -> None:
    with pytest.raises(TinyflashError, match="pass `tflm_path` DIR") as error:
        codegen.generate(TINY, "mps2-an386", tmp_path / "a", runtime="tflm")
    assert error.value.exit_code == EXIT_BAD_INPUT
    with pytest.raises(TinyflashError, match="is not a TFLM tree"):
        codegen.generate(TINY, "mps2-an386", tmp_path / "b", runtime="tflm", tflm_path=tmp_path)
    with pytest.raises(TinyflashError, match="only used with `runtime` tflm"):
        codegen.generate(TINY, "nano33ble", tmp_path / "c", tflm_path=tmp_path)
    with pytest.raises(TinyflashError, match="`runtime` must be tinyflash or tflm"):
        codegen.generate(TINY, "nano33ble", tmp_path / "d", runtime="cmsis")
    with pytest.raises(TinyflashError, match="no Add...\\(\\) method") as error:
        codegen.tflm_resolver_calls(["CONV_2D", "NOT_AN_OP"], "m.tflite")
    assert error.value.exit_code == EXIT_CHECK_FAILED


def test_tflm_tree_is_checked(tmp_path: Path) -> None:
    """Not a tree, a tree without its third-party code, a plain tflite-micro checkout: one sentence
    each, exit code 2, no project written."""
    tree = tmp_path / "tree"
    micro = tree / "tensorflow" / "lite" / "micro"
    micro.mkdir(parents=True)
    for case, match in (
        ("none", "is not a TFLM tree"),
        ("bare", "no third_party/flatbuffers"),
        ("checkout", "is a tflite-micro checkout, not an exported tree"),
    ):
        if case == "bare":
            (micro / "micro_interpreter.h").write_text("")
        if case == "checkout":
            (micro / "tools" / "make").mkdir(parents=True)
            (micro / "tools" / "make" / "Makefile").write_text("")
        with pytest.raises(TinyflashError, match=match) as error:
            codegen.generate(TINY, "mps2-an386", tmp_path / case, runtime="tflm", tflm_path=tree)
        assert error.value.exit_code == EXIT_BAD_INPUT and not (tmp_path / case).exists()


def test_does_not_fit_with_tflm_either(tmp_path: Path) -> None:
    """A 130,000-byte input activation: more than the F446's 128 KB of RAM with TFLM too."""
    model = tmp_path / "long.tflite"
    model.write_bytes(fc_model(130_000, 1))
    with pytest.raises(TinyflashError, match="does not fit board nucleo_f446re: RAM") as error:
        codegen.generate(model, "nucleo_f446re", tmp_path / "fw", runtime="tflm")
    assert "tflm arena" in error.value.message and not (tmp_path / "fw").exists()


def test_cli_runtime_tflm_json(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tinyflash.cli",
            "generate",
            str(TINY),
            "--board",
            "nano33ble",
            "--runtime",
            "tflm",
            "-o",
            str(tmp_path / "fw"),
            "--selftest",
            "0",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["kernel_set"] == "tflm" and "src/main.cpp" in report["files"]
    help_text = subprocess.run(
        [sys.executable, "-m", "tinyflash.cli", "generate", "--help"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    assert "--runtime" in help_text and "--tflm-path" in help_text


def test_kernels_option_is_refused_with_tflm(tmp_path: Path) -> None:
    with pytest.raises(
        TinyflashError, match="with `runtime` tflm the kernels are the TFLM tree"
    ) as e:
        codegen.generate(TINY, "nano33ble", tmp_path / "p", runtime="tflm", kernels="portable")
    assert e.value.exit_code == EXIT_BAD_INPUT and not (tmp_path / "p").exists()
