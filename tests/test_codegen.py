"""`tinyflash generate` (codegen.py + templates/): golden files, determinism, output-directory
rules, identifiers, board fit, and the generated C compiled with real compilers.

Goldens live in tests/golden/tiny_cnn/ (rendered from tests/golden/tiny_cnn.tflite for
mps2-an386, with firmware paths fixed to /opt/tinyflash/... so they do not depend on the checkout).
After an intended change to a template, regenerate them and review the diff:

    TINYFLASH_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_codegen.py -k golden
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO, shared_model_path
from support.cli import tinyflash
from tinyflash import codegen
from tinyflash.boards import load_board
from tinyflash.cli import error_sentence
from tinyflash.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, TinyflashError
from tinyflash.model import load_model
from tinyflash.pipeline import check_model_file
from tinyflash.plan import plan_memory

GOLDEN = Path(__file__).resolve().parent / "golden"
TINY = GOLDEN / "tiny_cnn.tflite"  # CONV_2D, MAX_POOL_2D, RESHAPE, FULLY_CONNECTED, SOFTMAX
MLP = GOLDEN / "tiny_mlp.tflite"  # FULLY_CONNECTED only
UPDATE = os.environ.get("TINYFLASH_UPDATE_GOLDEN") == "1"
FIXED_PATHS = codegen.FirmwarePaths(
    platform="/opt/tinyflash/firmware/platform",
    runtime="/opt/tinyflash/firmware/runtime",
    harness="/opt/tinyflash/firmware/harness",
    boards_dir="/opt/tinyflash/boards",
)
FIRMWARE = REPO / "firmware"
INCLUDES = [f"-I{FIRMWARE / 'runtime' / 'include'}", f"-I{FIRMWARE / 'harness' / 'include'}"]
C_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]


def render(
    model_path: Path = TINY,
    board_id: str = "mps2-an386",
    vendor: bool = False,
    model_file: str | None = None,
    selftest: int = 3,
    paths: codegen.FirmwarePaths | None = FIXED_PATHS,
) -> codegen.RenderedProject:
    checked = check_model_file(model_path)
    if model_file is not None:
        checked = dataclasses.replace(checked, path=model_path.with_name(model_file))
    info = checked.info
    vectors = codegen.selftest_vectors(info.data, len(info.inputs), len(info.outputs), selftest)
    return codegen.render_project(
        checked,
        board=codegen.board_spec(load_board(board_id)),
        vectors=vectors,
        paths=codegen.vendored_paths() if vendor else paths,
        vendor=vendor,
    )


@pytest.fixture(scope="module")
def tiny() -> codegen.RenderedProject:
    return render()


# ---- golden files ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [out for _, out in codegen.TEMPLATES])
def test_golden(tiny: codegen.RenderedProject, name: str) -> None:
    golden = GOLDEN / "tiny_cnn" / name
    actual = tiny.files[name]
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(actual)
    assert golden.is_file(), f"{golden} is missing: run with TINYFLASH_UPDATE_GOLDEN=1"
    assert actual.decode() == golden.read_text(encoding="utf-8"), (
        f"{name} differs from {golden}; if the change is intended, regenerate with "
        "TINYFLASH_UPDATE_GOLDEN=1 and review the diff"
    )


def test_golden_vendored_platformio_ini() -> None:
    project = render(vendor=True, selftest=0)
    golden = GOLDEN / "tiny_cnn_vendor" / "platformio.ini"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(project.files["platformio.ini"])
    assert project.files["platformio.ini"].decode() == golden.read_text(encoding="utf-8")


def test_project_contents(tiny: codegen.RenderedProject) -> None:
    """What the files say, independent of the goldens: model bytes, SHA, kernels, plan."""
    info = load_model(TINY)
    plan = plan_memory(info)
    files = {name: data.decode() for name, data in tiny.files.items() if name != "model.tflite"}
    assert tiny.files["model.tflite"] == info.data

    data_c = files["src/model_data.c"]
    hex_bytes = re.findall(r"0x([0-9a-f]{2})", data_c.split("_model_sha256")[0])
    assert bytes(int(h, 16) for h in hex_bytes) == info.data
    model_lines = [
        ln for ln in data_c.split("_model_sha256")[0].splitlines() if ln.startswith("  0x")
    ]
    assert all(ln.count("0x") == codegen.BYTES_PER_LINE for ln in model_lines[:-1])
    assert len(model_lines) == -(-len(info.data) // codegen.BYTES_PER_LINE)
    sha_block = data_c.split("tiny_cnn_model_sha256[32] = {")[1]
    assert bytes(int(h, 16) for h in re.findall(r"0x([0-9a-f]{2})", sha_block)).hex() == info.sha256
    assert "TFL_ALIGN16" in data_c and "aligned(16)" in files["src/model_data.h"]
    assert "#if TFL_ABI_VERSION != 1" in files["src/model_data.h"]

    plan_c = files["src/model_plan.c"]
    assert re.findall(r"&tfl_kernel_(\w+),", plan_c) == sorted({op.name.lower() for op in info.ops})
    offsets = plan_c.split("_offsets[TINY_CNN_TENSOR_COUNT] = {")[1].split("};")[0]
    assert [int(v) for v in re.findall(r"-?\d+", offsets)] == list(plan.offsets)
    assert f"#define TINY_CNN_ARENA_BYTES {plan.arena_bytes}\n" in files["src/model_data.h"]
    assert f"#define TINY_CNN_POOL_WORDS {plan.pool_words}\n" in files["src/model_data.h"]

    manifest = json.loads(files["tinyflash.json"])
    assert manifest["board"] == "mps2-an386" and manifest["model"]["sha256"] == info.sha256
    assert manifest["files"] == sorted(tiny.files)
    assert "-DTFL_USE_DSP=1" in files["platformio.ini"]


def test_platformio_ini_shape(tiny: codegen.RenderedProject) -> None:
    ini = tiny.files["platformio.ini"].decode()
    body = [ln for ln in ini.splitlines() if ln and not ln.startswith(";")]
    assert body[:3] == [
        "[platformio]",
        "default_envs = mps2-an386",
        "boards_dir = /opt/tinyflash/boards",
    ]
    assert body[3:] == [
        "[env:mps2-an386]",
        "platform = symlink:///opt/tinyflash/firmware/platform",
        "board = mps2-an386",
        "lib_deps =",
        "    symlink:///opt/tinyflash/firmware/runtime",
        "    symlink:///opt/tinyflash/firmware/harness",
        "build_flags = -DTFL_USE_DSP=1 -DTFL_MAX_SUBGRAPHS=1 -DTFL_MAX_RESOURCES=1 "
        "-DTFL_WITH_INT16=0 -DTFL_WITH_WZ=0",
    ]


def test_portable_board_gets_dsp_off() -> None:
    project = render(board_id="mps2-an385", selftest=0)
    assert "build_flags = -DTFL_USE_DSP=0 " in project.files["platformio.ini"].decode()


# ---- determinism -------------------------------------------------------------------------------


def test_render_is_deterministic(tiny: codegen.RenderedProject) -> None:
    again = render()
    assert list(again.files) == sorted(again.files)
    assert again.files == tiny.files


def test_selftest_vectors_match_tflm_and_are_seeded() -> None:
    import numpy as np
    from tflite_micro.python.tflite_micro import runtime

    data = TINY.read_bytes()
    vectors = codegen.selftest_vectors(data, 1, 1, 3)
    assert len(vectors) == 3 and len({v.input for v in vectors}) == 3
    assert codegen.selftest_vectors(data, 1, 1, 3) == vectors
    # Independent check: a fresh TFLM interpreter gives the recorded outputs for those inputs.
    interpreter = runtime.Interpreter.from_bytes(data, arena_size=1 << 16)
    for vector in vectors:
        interpreter.set_input(np.frombuffer(vector.input, np.int8).reshape(1, 8, 8, 1), 0)
        interpreter.invoke()
        assert interpreter.get_output(0).astype(np.int8).tobytes() == vector.output
    assert codegen.selftest_vectors(data, 1, 1, 0) == []


# ---- identifiers and escaping ------------------------------------------------------------------


@pytest.mark.parametrize(
    "stem, expected",
    [
        ("tiny_cnn", "tiny_cnn"),
        ("pretrainedResnet_quant", "pretrainedresnet_quant"),
        ("my model-v2.int8", "my_model_v2_int8"),
        ("9lives", "model_9lives"),
        ("int", "model_int"),
        ("__weird__", "weird"),
        ("", "model"),
        ("---", "model"),
        ("tfl_runtime", "m_tfl_runtime"),
        ("modèle", "mod_le"),
        ("a" * 60, "a" * codegen.MAX_IDENTIFIER_CHARS),
    ],
)
def test_c_identifier(stem: str, expected: str) -> None:
    ident = codegen.c_identifier(stem)
    assert ident == expected
    assert re.fullmatch(r"[a-z][a-z0-9_]*", ident) and not ident.endswith("_")


def test_comment_and_string_escaping() -> None:
    assert "*/" not in codegen.c_comment("a */ b /* c\nd")
    assert codegen.c_string('say "hi"\\?\n') == '"say \\"hi\\"\\\\\\?\\012"'


def test_hostile_file_name_compiles(tmp_path: Path) -> None:
    """A model file name with a newline, quotes, a backslash, `*`, non-ASCII and a leading digit
    (all legal in a Linux file name) still yields C that compiles cleanly."""
    project = render(model_file='9 evil*\n"name"\\ é.tflite', selftest=1)
    assert project.identifier == "model_9_evil_name"
    src = tmp_path / "src"
    for name, data in project.files.items():
        if name.startswith("src/"):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes(data)
    for c_file in ("model_data.c", "model_plan.c", "main.c"):
        _compile("gcc", [], src / c_file, tmp_path / f"{c_file}.o", src)


# ---- output directory rules --------------------------------------------------------------------


def test_refuses_non_empty_dir_and_force_replaces(
    tmp_path: Path, tiny: codegen.RenderedProject
) -> None:
    out = tmp_path / "fw"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(TinyflashError) as refused:
        codegen.write_project(tiny.files, out)
    assert refused.value.exit_code == EXIT_BAD_INPUT and refused.value.options == ("force",)
    assert "pass --force to replace" in error_sentence(refused.value)  # the CLI words the option
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]

    (out / "src").mkdir()
    (out / "src" / "main.c").write_text("old")
    (out / "src" / "stale.c").write_text("listed by the previous generation")
    (out / "tinyflash.json").write_text(json.dumps({"files": ["src/stale.c", "src/main.c"]}))
    codegen.write_project(tiny.files, out, force=True)
    assert (out / "notes.txt").read_text() == "mine"  # not ours: kept
    assert not (out / "src" / "stale.c").exists()  # ours, no longer generated: removed
    for name, data in tiny.files.items():
        assert (out / name).read_bytes() == data
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".fw.tmp")]


def test_empty_and_new_dirs_are_fine(tmp_path: Path, tiny: codegen.RenderedProject) -> None:
    (tmp_path / "empty").mkdir()
    codegen.write_project(tiny.files, tmp_path / "empty")
    codegen.write_project(tiny.files, tmp_path / "new" / "nested")
    for out in (tmp_path / "empty", tmp_path / "new" / "nested"):
        assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == sorted(
            tiny.files
        )


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    # "a" is both a file and a folder: writing fails part-way through.
    files = {"README.md": b"x", "a": b"file", "a/b": b"clash"}
    with pytest.raises(TinyflashError):
        codegen.write_project(files, tmp_path / "fw")
    assert list(tmp_path.iterdir()) == []


def test_output_path_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "fw").write_text("x")
    with pytest.raises(TinyflashError, match="not a directory"):
        codegen.write_project({"README.md": b"x"}, tmp_path / "fw", force=True)


# ---- board fit ---------------------------------------------------------------------------------


def test_resnet_does_not_fit_microbit(tmp_path: Path) -> None:
    model = shared_model_path("pretrainedResnet_quant")
    with pytest.raises(TinyflashError) as error:
        codegen.generate(model, "microbit", tmp_path / "fw")
    message = error.value.message
    assert error.value.exit_code == EXIT_CHECK_FAILED
    assert "does not fit board microbit: RAM needs" in message and "flash needs" not in message
    plan = plan_memory(load_model(model))
    board = load_board("microbit")
    info = load_model(model)
    ram = codegen.ram_budget(
        arena_bytes=plan.arena_bytes,
        pool_words=plan.pool_words,
        tensor_count=len(info.tensors),
        node_count=len(info.ops),
        stack_bytes=board.stack_bytes,
        limit=board.ram_bytes,
        interpreter_bytes=codegen.interpreter_struct_bytes(1, 1),  # one subgraph, no variable
    )
    assert f"{ram.total - board.ram_bytes:,} bytes too many" in message
    assert ram.total - board.ram_bytes > plan.arena_bytes - board.ram_bytes > 0
    assert not (tmp_path / "fw").exists()


def test_budget_lines_and_limits() -> None:
    ram = codegen.ram_budget(
        arena_bytes=1000, pool_words=10, tensor_count=2, node_count=1, stack_bytes=512, limit=2000
    )
    assert (
        ram.total
        == 1000
        + 40
        + 2 * codegen.TENSOR_STRUCT_BYTES
        + codegen.NODE_STRUCT_BYTES
        + codegen.INTERPRETER_STRUCT_BYTES
        + codegen.HARNESS_RAM_ESTIMATE_BYTES
        + max(512, codegen.RUNTIME_STACK_BYTES["portable"])
    )  # never below the runtime's worst case
    assert not ram.fits and ram.excess == ram.total - 2000
    sentence = codegen.fit_error("m.tflite", "b", [ram])
    assert sentence is not None and f"{ram.excess:,} bytes too many" in sentence
    assert codegen.fit_error("m.tflite", "b", [codegen.Budget("RAM", ram.lines, None)]) is None


def test_runtime_struct_sizes_match_the_estimate(tmp_path: Path) -> None:
    """The RAM estimate's struct sizes are those arm-none-eabi-gcc gives the runtime header."""
    if not shutil.which("arm-none-eabi-gcc"):
        pytest.skip("arm-none-eabi-gcc is not installed (scripts/bootstrap-system.sh)")
    source = tmp_path / "sizes.c"
    source.write_text(
        '#include "tfl_runtime.h"\n'
        f'_Static_assert(sizeof(tfl_tensor) == {codegen.TENSOR_STRUCT_BYTES}, "tensor");\n'
        f'_Static_assert(sizeof(tfl_node) == {codegen.NODE_STRUCT_BYTES}, "node");\n'
        f'_Static_assert(sizeof(tfl_interpreter) == {codegen.INTERPRETER_STRUCT_BYTES}, "it");\n'
    )
    _compile(
        "arm-none-eabi-gcc",
        ["-mcpu=cortex-m4", "-mthumb", "-std=c11"],
        source,
        tmp_path / "sizes.o",
        tmp_path,
        std=False,
    )
    # a generated project's capacities: the model's subgraphs and resource variables
    capacities = tmp_path / "capacities.c"
    capacities.write_text(
        '#include "tfl_runtime.h"\n'
        f"_Static_assert(sizeof(tfl_interpreter) == {codegen.interpreter_struct_bytes(2, 3)}, "
        '"it");\n'
    )
    _compile(
        "arm-none-eabi-gcc",
        [
            "-mcpu=cortex-m4",
            "-mthumb",
            "-std=c11",
            "-DTFL_MAX_SUBGRAPHS=2",
            "-DTFL_MAX_RESOURCES=3",
        ],
        capacities,
        tmp_path / "capacities.o",
        tmp_path,
        std=False,
    )


def test_abi_version_matches_runtime() -> None:
    config = (FIRMWARE / "runtime" / "include" / "tfl_config.h").read_text()
    assert re.search(r"#define TFL_ABI_VERSION (\d+)", config).group(1) == str(codegen.ABI_VERSION)


# ---- the generated C with real compilers -------------------------------------------------------


def _compile(
    cc: str, flags: list[str], source: Path, obj: Path, src_dir: Path, std: bool = True
) -> None:
    cmd = [
        cc,
        *(C_FLAGS if std else ["-Wall", "-Wextra", "-Werror"]),
        *flags,
        *INCLUDES,
        f"-I{src_dir}",
        "-c",
        str(source),
        "-o",
        str(obj),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(cmd)}\n{done.stderr}"


@pytest.mark.parametrize(
    "cc, flags",
    [
        ("gcc", ["-fsanitize=address,undefined"]),
        ("arm-none-eabi-gcc", ["-mcpu=cortex-m4", "-mthumb", "-Os"]),
        ("arm-none-eabi-gcc", ["-mcpu=cortex-m0", "-mthumb", "-Os"]),
    ],
)
def test_generated_c_compiles(
    tmp_path: Path, tiny: codegen.RenderedProject, cc: str, flags: list[str]
) -> None:
    if not shutil.which(cc):
        pytest.skip(f"{cc} is not installed (scripts/bootstrap-system.sh)")
    for name, data in tiny.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    for c_file in ("model_data.c", "model_plan.c", "main.c"):
        _compile(cc, flags, tmp_path / "src" / c_file, tmp_path / f"{c_file}.o", tmp_path / "src")
    if cc != "gcc":
        # The model array stays in flash (.rodata) and the arena is 16-byte aligned in .bss.
        objdump = subprocess.run(
            ["arm-none-eabi-objdump", "-h", str(tmp_path / "model_data.c.o")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert re.search(r"\.rodata\s+([0-9a-f]+)", objdump)
        size = int(re.search(r"\.rodata\s+([0-9a-f]+)", objdump).group(1), 16)
        assert size >= len(tiny.files["model.tflite"]) + 32
        plan_dump = subprocess.run(
            ["arm-none-eabi-objdump", "-h", str(tmp_path / "model_plan.c.o")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert re.search(
            r"\.bss\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+2\*\*4", plan_dump
        ), plan_dump


def test_dsp_plan_puts_scratch_offsets_after_the_tensors(tmp_path: Path) -> None:
    """With the DSP kernels the C plan array holds one scratch offset per op after the tensors'
    (tfl_memory.offsets_count = tensors + ops); the portable project keeps the tensors' alone."""
    checked = check_model_file(TINY, "dsp")
    dsp = checked.plan
    assert any(dsp.scratch_bytes)  # CONV_2D's im2col, FULLY_CONNECTED's expanded row
    board = codegen.board_spec(load_board("mps2-an386"))
    project = codegen.render_project(
        checked, board=board, vectors=[], paths=FIXED_PATHS, vendor=False
    )
    plan_c = project.files["src/model_plan.c"].decode()
    assert "tiny_cnn_offsets[TINY_CNN_TENSOR_COUNT + TINY_CNN_NODE_COUNT] = {" in plan_c
    values = [
        int(v)
        for v in re.findall(
            r"-?\d+", plan_c.split("tiny_cnn_offsets[", 1)[1].split("{", 1)[1].split("}", 1)[0]
        )
    ]
    assert values == list(dsp.offsets) + list(dsp.scratch_offsets)
    assert (
        ".offsets_count = TINY_CNN_TENSOR_COUNT + TINY_CNN_NODE_COUNT,"
        in project.files["src/main.c"].decode()
    )
    for name, data in project.files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    if shutil.which("gcc"):
        for c_file in ("model_data.c", "model_plan.c", "main.c"):
            _compile(
                "gcc", [], tmp_path / "src" / c_file, tmp_path / f"{c_file}.o", tmp_path / "src"
            )
    with pytest.raises(TinyflashError, match="offsets for"):
        short = dataclasses.replace(dsp, scratch_offsets=dsp.scratch_offsets[:-1])
        codegen.render_project(
            dataclasses.replace(checked, plan=short),
            board=board,
            vectors=[],
            paths=FIXED_PATHS,
            vendor=False,
        )


# ---- generate() and the CLI end to end ---------------------------------------------------------


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_generate_twice_is_byte_identical(tmp_path: Path) -> None:
    first = codegen.generate(MLP, "mps2-an386", tmp_path / "a")
    second = codegen.generate(MLP, "mps2-an386", tmp_path / "b")
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert first.files == second.files and first.kernels == tuple(sorted(first.kernels))
    assert first.ram.fits and first.flash.fits and first.selftest_count == 3
    again = codegen.generate(MLP, "mps2-an386", tmp_path / "a", force=True)
    assert again.files == first.files and _tree(tmp_path / "a") == _tree(tmp_path / "b")


def test_generate_vendored_stands_alone(tmp_path: Path) -> None:
    result = codegen.generate(MLP, "mps2-an386", tmp_path / "fw", vendor=True, selftest=0)
    out = tmp_path / "fw"
    ini = (out / "platformio.ini").read_text()
    assert str(REPO) not in ini and "symlink://${PROJECT_DIR}/lib/runtime" in ini
    for folder in (
        "lib/runtime/include",
        "lib/harness/include",
        "vendor/platform",
        "vendor/ports/include",
    ):
        assert (out / folder).is_dir(), folder
    assert (out / "boards" / "mps2-an386.json").read_bytes() == (
        REPO / "boards" / "mps2-an386.json"
    ).read_bytes()
    assert (out / "lib/runtime/include/tfl_runtime.h").read_bytes() == (
        FIRMWARE / "runtime/include/tfl_runtime.h"
    ).read_bytes()
    assert result.vendored
    # Regenerating without --vendor removes the vendored copies it had written.
    codegen.generate(MLP, "mps2-an386", out, force=True, selftest=0)
    assert not (out / "lib" / "runtime").exists() and not (out / "vendor").exists()


def test_cli_generate_json_and_refusal(tmp_path: Path) -> None:
    out = tmp_path / "fw"
    done = tinyflash("generate", str(MLP), "--board", "mps2-an386", "-o", str(out), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["board"] == "mps2-an386" and report["arena_bytes"] > 0
    assert report["ram"]["fits"] and "platformio.ini" in report["files"]
    refused = tinyflash("generate", str(MLP), "--board", "mps2-an386", "-o", str(out))
    assert refused.returncode == EXIT_BAD_INPUT
    assert "is not empty" in refused.stderr and "Traceback" not in refused.stderr


def test_cli_does_not_fit_exit_code(tmp_path: Path) -> None:
    model = shared_model_path("pretrainedResnet_quant")
    done = tinyflash("generate", str(model), "--board", "microbit", "-o", str(tmp_path / "fw"))
    assert done.returncode == EXIT_CHECK_FAILED
    assert "does not fit board microbit: RAM" in done.stderr and "Traceback" not in done.stderr


# ---- generate -> pio run -> run (real PlatformIO, real QEMU) --------------------------------


def _build(tmp_path: Path, model: Path, board_id: str, vendor: bool = False) -> Any:
    from tinyflash.platformio import build_project

    out = tmp_path / board_id
    codegen.generate(model, board_id, out, vendor=vendor)
    return build_project(out, timeout=600)


def _check_banner(banner: str, model: Path, kernels: str) -> None:
    assert "tinyflash ready" in banner and "selftest=PASS vectors=3" in banner, banner
    used = int(re.search(r"arena=(\d+)", banner).group(1))
    # one number: the plan for the project's kernel set (the DSP kernels' scratch included) is
    # what the device reports as used
    assert 0 < used == plan_memory(load_model(model), kernels).arena_bytes, banner


def _check_estimates(project: Path, built: Any) -> None:
    """generate's estimates against the linked image. They are estimates, so a band, not
    equality: RAM (arena, arrays, stack: all sized exactly, only the harness/libc part is
    guessed) within 15%; flash (code size per kernel is guessed) within 0.6x-1.5x."""
    manifest = json.loads((project / "tinyflash.json").read_text())
    ram, flash = manifest["ram_estimate"]["total"], manifest["flash_estimate"]["total"]
    assert 0.85 * ram <= built.size.ram_used <= 1.15 * ram, (built.size, ram)
    assert 0.6 * flash <= built.size.flash_used <= 1.5 * flash, (built.size, flash)


@pytest.mark.slow
@pytest.mark.parametrize("model", [MLP, TINY], ids=["mlp", "cnn"])
def test_host_build_runs_selftest(tmp_path: Path, model: Path) -> None:
    """Generated project for the host board: pio run, then the executable prints its banner
    with the self-test verdict (stdin closed: the protocol loop ends and it exits 0)."""
    from tinyflash.emulator import run_to_exit

    built = _build(tmp_path, model, "host")
    code, output = run_to_exit(load_board("host"), built.elf, timeout=60)
    _check_banner(output.decode("ascii", "replace"), model, load_board("host").kernels)
    assert code == 0


def _qemu_banner(board_id: str, elf: Path) -> str:
    import serial

    from tinyflash.emulator import start_device

    line = ""
    with start_device(load_board(board_id), elf) as device:
        link = serial.serial_for_url(device.url, timeout=120)
        try:
            for _ in range(20):
                line = link.read_until(b"\n", 4096).decode("ascii", "replace")
                if not line or "tinyflash ready" in line:
                    break
        finally:
            link.close()
    return line


def _needs_qemu() -> None:
    if not shutil.which("qemu-system-arm"):
        pytest.skip("qemu-system-arm is not installed (scripts/bootstrap-system.sh)")


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize(
    "model, board_id, vendor",
    [
        (MLP, "mps2-an386", True),
        (TINY, "mps2-an386", False),
        (MLP, "microbit", False),
    ],
    ids=["mlp-an386-vendored", "cnn-an386", "mlp-microbit"],
)
def test_qemu_selftest_pass(tmp_path: Path, model: Path, board_id: str, vendor: bool) -> None:
    """generate -> pio run -> the board in QEMU -> the banner says selftest=PASS (the firmware's
    outputs for the embedded inputs equal the tflite-micro runtime's, byte for byte)."""
    _needs_qemu()
    built = _build(tmp_path, model, board_id, vendor=vendor)
    _check_estimates(tmp_path / board_id, built)
    _check_banner(_qemu_banner(board_id, built.elf), model, load_board(board_id).kernels)


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize("name", ["ad01_int8", "kws_ref_model", "pretrainedResnet_quant"])
def test_shared_model_selftest_on_mps2_an386(tmp_path: Path, name: str) -> None:
    """The MLPerf Tiny models from ../shared: generated, built and self-tested in QEMU."""
    _needs_qemu()
    model = shared_model_path(name)
    built = _build(tmp_path, model, "mps2-an386")
    _check_estimates(tmp_path / "mps2-an386", built)
    _check_banner(_qemu_banner("mps2-an386", built.elf), model, "dsp")


# ---- checks before anything is written ---------------------------------------------------------


def test_not_deployable_model_is_refused(tmp_path: Path) -> None:
    """A float32 FULLY_CONNECTED model (written with support/tflbuilder.py) is not full int8."""
    import numpy as np

    from support.tflbuilder import ModelBuilder

    b = ModelBuilder()
    x = b.tensor("x", [1, 4], "float32")
    w = b.tensor("w", [2, 4], "float32", data=np.ones((2, 4), np.float32))
    y = b.tensor("y", [1, 2], "float32")
    b.op("FULLY_CONNECTED", [x, w, -1], [y])
    model = tmp_path / "float_fc.tflite"
    model.write_bytes(b.build(inputs=[x], outputs=[y]))
    with pytest.raises(TinyflashError) as error:
        codegen.generate(model, "mps2-an386", tmp_path / "fw")
    assert error.value.exit_code == EXIT_CHECK_FAILED
    assert error.value.message.startswith("float_fc.tflite is not deployable: ")
    assert not (tmp_path / "fw").exists()


def test_kernel_list_matches_kernel_files() -> None:
    """generate's kernel check reads tfl_kernels.h; every entry there has its op_<name>.c."""
    kernels = codegen.available_kernels()
    for name, lower in kernels.items():
        assert lower == {"IF": "if_else", "WHILE": "while_loop"}.get(name, name.lower())
        assert (FIRMWARE / "runtime" / "src" / "kernels" / f"op_{lower}.c").is_file(), lower


def test_kernel_set_override(tmp_path: Path) -> None:
    result = codegen.generate(MLP, "mps2-an386", tmp_path / "fw", kernels="portable", selftest=0)
    assert result.kernel_set == "portable"
    assert "build_flags = -DTFL_USE_DSP=0 " in (tmp_path / "fw" / "platformio.ini").read_text()
    with pytest.raises(TinyflashError, match="board microbit has no DSP extension") as error:
        codegen.generate(MLP, "microbit", tmp_path / "mb", kernels="dsp")
    assert error.value.exit_code == EXIT_BAD_INPUT and not (tmp_path / "mb").exists()


# ---- the pipeline's check stage feeds generate -------------------------------------------------


def test_generate_reads_the_checked_model_not_the_file(tmp_path: Path) -> None:
    """The pipeline loads, checks and plans the model once; generate works from that object (the
    file may even be gone) and produces the same project as generating from the file."""
    from tinyflash.pipeline import Pipeline

    model = tmp_path / TINY.name
    shutil.copy(TINY, model)
    stages: list[str] = []
    pipeline = Pipeline.start(model, "mps2-an386", stage=stages.append)
    assert pipeline.model.deployable and stages == ["check"]
    model.unlink()
    from_pipeline = pipeline.generate(tmp_path / "a", selftest=1)
    assert stages == ["check", "generate"]
    from_file = codegen.generate(TINY, "mps2-an386", tmp_path / "b", selftest=1)
    assert from_pipeline.arena_bytes == pipeline.model.plan.arena_bytes == from_file.arena_bytes
    for name in from_file.files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
