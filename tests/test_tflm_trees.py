"""`--runtime tflm` against the real TFLM trees of ../shared/tflm (an exported generic tree and an
exported CMSIS-NN tree): the sources chosen for a model, then the shared MLPerf Tiny models
generated, built with only those sources, run on QEMU mps2-an386 and compared bit for bit with the
tflite-micro Python runtime.

TFLM's compiled library is cached per (tree, board, flags, op set) in build/tflm-cache (the tests
set TINYFLASH_CACHE_DIR there), so only the first run of this file compiles TFLM (a few minutes
on a busy 2-core machine); later runs link the cached libtflm.a. Skipped when ../shared/tflm is
absent.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO, shared_model_path
from tinyflash import codegen
from tinyflash.errors import TinyflashError
from tinyflash.platformio import build_project, tflm_source_count
from tinyflash.tflm_tree import CMSIS_NN, GENERIC, inspect_tree, select_sources
from tinyflash.verify import verify_project

SHARED_TFLM = REPO.parent / "shared" / "tflm"
TREES = {GENERIC: SHARED_TFLM / "generic", CMSIS_NN: SHARED_TFLM / "cmsis-nn"}
CACHE = REPO / "build" / "tflm-cache"
KWS_METHODS = (
    "AddAveragePool2D",
    "AddConv2D",
    "AddDepthwiseConv2D",
    "AddFullyConnected",
    "AddReshape",
    "AddSoftmax",
)


def _tree(flavour: str) -> Path:
    tree = TREES[flavour]
    if not (tree / "tensorflow" / "lite" / "micro" / "micro_interpreter.h").is_file():
        pytest.skip(
            f"{tree} is not present (../shared is only in the developers' and CI's checkout)"
        )
    return tree


@pytest.fixture(scope="module", autouse=True)
def shared_cache() -> Iterator[None]:
    """One TFLM library cache for every test here and every run (build/ is not committed)."""
    before = os.environ.get("TINYFLASH_CACHE_DIR")
    os.environ["TINYFLASH_CACHE_DIR"] = str(CACHE)
    yield
    if before is None:
        del os.environ["TINYFLASH_CACHE_DIR"]
    else:
        os.environ["TINYFLASH_CACHE_DIR"] = before


@pytest.mark.parametrize("flavour", [GENERIC, CMSIS_NN])
def test_flavour_is_read_from_the_tree(flavour: str) -> None:
    tree = inspect_tree(_tree(flavour))
    assert tree.flavour == flavour
    assert ("CMSIS_NN" in tree.defines) == (flavour == CMSIS_NN)
    assert all(d.is_dir() for d in tree.include_dirs)


@pytest.mark.parametrize("flavour", [GENERIC, CMSIS_NN])
def test_only_the_models_kernels_are_chosen(flavour: str) -> None:
    root = _tree(flavour)
    tree = inspect_tree(root)
    sources = select_sources(tree, KWS_METHODS)
    chosen = [*sources.core, *sources.kernels, *sources.third_party]
    assert all((root / f).is_file() for f in chosen)
    assert not [f for f in chosen if f.endswith("_test.cc") or f.startswith("signal/")]
    names = {f.rsplit("/", 1)[-1] for f in sources.kernels}
    assert {"conv_common.cc", "kernel_util.cc", "softmax_common.cc", "reshape.cc"} <= names
    # nothing of the ops kws does not use
    assert not names & {"add.cc", "mul.cc", "svdf.cc", "transpose_conv.cc", "lstm_eval.cc"}
    everything = [
        p for p in root.rglob("*") if p.suffix in (".c", ".cc") and "examples" not in p.parts
    ]
    assert sources.count < len(everything) / 2
    if flavour == CMSIS_NN:
        assert "tensorflow/lite/micro/kernels/cmsis_nn/conv.cc" in sources.kernels
        assert "third_party/cmsis_nn/Source/ConvolutionFunctions/arm_convolve_s8.c" in (
            sources.third_party
        )
        assert not any("SVDFunctions" in f or "LSTMFunctions" in f for f in sources.third_party)
    else:
        assert "tensorflow/lite/micro/kernels/conv.cc" in sources.kernels
        assert sources.third_party == ()


def test_unknown_kernel_is_one_sentence() -> None:
    tree = inspect_tree(_tree(GENERIC))
    with pytest.raises(TinyflashError, match="has no kernel for MicroMutableOpResolver::AddNope"):
        select_sources(tree, ["AddNope"])


# kws on the generic tree (TFLM's reference kernels, which the tflite-micro Python runtime runs
# already) took 357 s of CI run 4 (on a loaded machine); ad01 covers that flavour end to end.
@pytest.mark.slow
@pytest.mark.parametrize(
    "flavour,model",
    [(GENERIC, "ad01_int8"), (CMSIS_NN, "kws_ref_model"), (CMSIS_NN, "ad01_int8")],
)
def test_shared_model_verifies_bit_exact_on_mps2_an386(
    flavour: str, model: str, tmp_path: Path
) -> None:
    tree = _tree(flavour)
    path = shared_model_path(model)
    project = tmp_path / "p"
    codegen.generate(path, "mps2-an386", project, runtime="tflm", tflm_path=tree, selftest=1)
    assert json.loads((project / "tinyflash.json").read_text())["tflm"]["flavour"] == flavour
    result = verify_project(project, samples=5)
    assert result.passed, result.to_dict()
    exact = result.exact_metrics()
    assert exact and all(m.exact_fraction == 1.0 for m in exact)
    assert result.banner.startswith("tinyflash ready selftest=PASS")
    log = (project / ".pio" / "tinyflash-build-mps2-an386.log").read_text()
    assert "-Wextra" not in log or "tflm/" not in log  # TFLM is not compiled with our warnings


@pytest.mark.slow
def test_second_project_links_the_cached_library(tmp_path: Path) -> None:
    """Two projects with the same tree, board and op set: the second compiles no TFLM source."""
    tree = _tree(CMSIS_NN)
    path = shared_model_path("kws_ref_model")
    for name in ("first", "second"):
        codegen.generate(path, "mps2-an386", tmp_path / name, runtime="tflm", tflm_path=tree)
    assert tflm_source_count(tmp_path / "first") > 50
    progress: list[tuple[str, int, int]] = []
    build_project(tmp_path / "first", progress=lambda *a: progress.append(a))
    assert all(total == tflm_source_count(tmp_path / "first") for _, _, total in progress)
    second = build_project(tmp_path / "second")
    log = second.log.read_text()
    assert "TFLM library from the cache" in log
    assert not [
        line for line in log.splitlines() if line.startswith("Compiling ") and "/tflm/" in line
    ]
    assert second.elf.is_file()


@pytest.mark.slow
def test_bench_runs_tflm_beside_tinyflash(tmp_path: Path) -> None:
    """`bench --runtime tinyflash,tflm`: both runtimes on one model in one result, both exact,
    with the live ratios tinyflash / TFLM."""
    from tinyflash.bench import bench

    tree = _tree(CMSIS_NN)
    path = shared_model_path("ad01_int8")
    result = bench(
        [path],
        ["mps2-an386"],
        ["dsp"],
        workdir=tmp_path,
        repeats=1,
        runtimes=["tinyflash", "tflm"],
        tflm_path=tree,
    )
    kinds = sorted(run.kernels for run in result.runs)
    assert kinds == ["dsp", "tflm-cmsis-nn"]
    assert all(run.exact and run.instructions > 0 for run in result.runs)
    tflm = next(run for run in result.runs if run.kernels == "tflm-cmsis-nn")
    assert tflm.code.runtime > tflm.code.kernels > 0 and tflm.ram.arena_used > 0
    (ratio,) = result.ratios()
    assert ratio["dsp_over_tflm_cmsis_nn_instructions"] == pytest.approx(
        next(r for r in result.runs if r.kernels == "dsp").instructions / tflm.instructions
    )
    assert {"dsp_over_tflm_cmsis_nn_flash", "dsp_over_tflm_cmsis_nn_arena"} <= set(ratio)


def test_bench_tflm_needs_a_tree() -> None:
    from tinyflash.bench import bench

    with pytest.raises(TinyflashError, match="tflm needs `tflm_path` DIR"):
        bench([REPO / "tests/golden/tiny_cnn.tflite"], ["mps2-an386"], ["dsp"], runtimes=["tflm"])
