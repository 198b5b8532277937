"""`tinyflash generate --runtime tflm`: the project that runs the model with TensorFlow Lite Micro
(a C++ main over tflite::MicroInterpreter, the harness's C++ adapter, TFLM from a tree given with
--tflm-path or TFLM's Arduino library), its arena from TFLM's measured overhead, and its fit check.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tinyflash.boards import (
    HARNESS_CODE_ESTIMATE_BYTES,
    HARNESS_RAM_ESTIMATE_BYTES,
    BoardSpec,
    Budget,
    BudgetLine,
    fit_error,
)
from tinyflash.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, TinyflashError, option
from tinyflash.render import (
    FirmwarePaths,
    GenerateResult,
    RenderedProject,
    default_paths,
    firmware_file,
    render_project_files,
    vendored_files,
    vendored_paths,
    write_generated,
)
from tinyflash.selftest import SelftestVector, selftest_vectors
from tinyflash.tflm_tree import TflmSources, TflmTree, inspect_tree, select_sources

#: Files of a TFLM project: a C++ main over tflite::MicroInterpreter; the model array is the
#: same template as the tinyflash runtime's.
TFLM_TEMPLATES: tuple[tuple[str, str], ...] = (
    ("tflm/README.md.j2", "README.md"),
    ("tflm/platformio.ini.j2", "platformio.ini"),
    ("tflm/src/main.cpp.j2", "src/main.cpp"),
    ("src/model_data.c.j2", "src/model_data.c"),
    ("tflm/src/model_data.h.j2", "src/model_data.h"),
    ("tinyflash.json.j2", "tinyflash.json"),
)
#: Vendored into lib/tflm_harness: the protocol server (firmware/harness: tfl_server.c and its
#: frame codec) and the C++ backend adapter over MicroInterpreter (firmware/tflm); not the
#: tinyflash runtime's backend: (file under firmware/, file in the project).
TFLM_HARNESS_FILES: tuple[tuple[str, str], ...] = (
    ("tflm/library.json", "lib/tflm_harness/library.json"),
    ("tflm/include/tfl_tflm_harness.h", "lib/tflm_harness/include/tfl_tflm_harness.h"),
    ("tflm/src/tfl_tflm_backend.cpp", "lib/tflm_harness/src/tfl_tflm_backend.cpp"),
    ("harness/include/tfl_server.h", "lib/tflm_harness/include/tfl_server.h"),
    ("harness/src/tfl_harness_internal.h", "lib/tflm_harness/src/tfl_harness_internal.h"),
    ("harness/src/tfl_server.c", "lib/tflm_harness/src/tfl_server.c"),
    ("harness/src/tfl_harness_frame.c", "lib/tflm_harness/src/tfl_harness_frame.c"),
    ("harness/src/tfl_harness_crc.c", "lib/tflm_harness/src/tfl_harness_crc.c"),
)
#: The project's build script for a --tflm-path tree (firmware/tflm/tflm_build.py, a PlatformIO
#: extra script: compiles the model's TFLM sources as libraries, or links them from the cache)
#: and the list of those sources it reads.
TFLM_BUILD_SCRIPT = ("tflm/tflm_build.py", "tflm/build.py")
TFLM_SOURCES_FILE = "tflm/sources.json"
#: TFLM's Arduino library (used through lib_deps when no --tflm-path is given; needs network).
TFLM_ARDUINO_LIBRARY = "https://github.com/tensorflow/tflite-micro-arduino-examples.git"
#: Builtin operator -> the tflite::MicroMutableOpResolver method that registers its kernel
#: (method names from TFLM's micro_mutable_op_resolver.h API).
TFLM_RESOLVER_METHODS: dict[str, str] = {
    "ABS": "AddAbs",
    "ADD": "AddAdd",
    "ADD_N": "AddAddN",
    "ARG_MAX": "AddArgMax",
    "ARG_MIN": "AddArgMin",
    "AVERAGE_POOL_2D": "AddAveragePool2D",
    "BATCH_MATMUL": "AddBatchMatMul",
    "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd",
    "CAST": "AddCast",
    "CEIL": "AddCeil",
    "CONCATENATION": "AddConcatenation",
    "CONV_2D": "AddConv2D",
    "COS": "AddCos",
    "CUMSUM": "AddCumSum",
    "DEPTH_TO_SPACE": "AddDepthToSpace",
    "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEQUANTIZE": "AddDequantize",
    "DIV": "AddDiv",
    "ELU": "AddElu",
    "EQUAL": "AddEqual",
    "EXP": "AddExp",
    "EXPAND_DIMS": "AddExpandDims",
    "FILL": "AddFill",
    "FLOOR": "AddFloor",
    "FLOOR_DIV": "AddFloorDiv",
    "FLOOR_MOD": "AddFloorMod",
    "FULLY_CONNECTED": "AddFullyConnected",
    "GATHER": "AddGather",
    "GATHER_ND": "AddGatherNd",
    "GREATER": "AddGreater",
    "GREATER_EQUAL": "AddGreaterEqual",
    "HARD_SWISH": "AddHardSwish",
    "L2_NORMALIZATION": "AddL2Normalization",
    "L2_POOL_2D": "AddL2Pool2D",
    "LEAKY_RELU": "AddLeakyRelu",
    "LESS": "AddLess",
    "LESS_EQUAL": "AddLessEqual",
    "LOG": "AddLog",
    "LOG_SOFTMAX": "AddLogSoftmax",
    "LOGICAL_AND": "AddLogicalAnd",
    "LOGICAL_NOT": "AddLogicalNot",
    "LOGICAL_OR": "AddLogicalOr",
    "LOGISTIC": "AddLogistic",
    "MAX_POOL_2D": "AddMaxPool2D",
    "MAXIMUM": "AddMaximum",
    "MEAN": "AddMean",
    "MINIMUM": "AddMinimum",
    "MIRROR_PAD": "AddMirrorPad",
    "MUL": "AddMul",
    "NEG": "AddNeg",
    "NOT_EQUAL": "AddNotEqual",
    "PACK": "AddPack",
    "PAD": "AddPad",
    "PADV2": "AddPadV2",
    "PRELU": "AddPrelu",
    "QUANTIZE": "AddQuantize",
    "REDUCE_MAX": "AddReduceMax",
    "RELU": "AddRelu",
    "RELU6": "AddRelu6",
    "RESHAPE": "AddReshape",
    "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor",
    "ROUND": "AddRound",
    "RSQRT": "AddRsqrt",
    "SELECT_V2": "AddSelectV2",
    "SHAPE": "AddShape",
    "SIN": "AddSin",
    "SLICE": "AddSlice",
    "SOFTMAX": "AddSoftmax",
    "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd",
    "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SPLIT": "AddSplit",
    "SPLIT_V": "AddSplitV",
    "SQRT": "AddSqrt",
    "SQUARE": "AddSquare",
    "SQUARED_DIFFERENCE": "AddSquaredDifference",
    "SQUEEZE": "AddSqueeze",
    "STRIDED_SLICE": "AddStridedSlice",
    "SUB": "AddSub",
    "SUM": "AddSum",
    "SVDF": "AddSvdf",
    "TANH": "AddTanh",
    "TRANSPOSE": "AddTranspose",
    "TRANSPOSE_CONV": "AddTransposeConv",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM",
    "UNPACK": "AddUnpack",
    "ZEROS_LIKE": "AddZerosLike",
}
#: Estimates for the fit check of a TFLM project: the interpreter, allocator and flatbuffer
#: reader, and each reference kernel (the build reports the real sizes).
TFLM_CODE_ESTIMATE_BYTES = 48 * 1024
TFLM_KERNEL_CODE_ESTIMATE_BYTES = 4 * 1024
#: Slack on top of the measured arena: TFLM aligns the arena start it is given (up to 15 bytes).
TFLM_ARENA_ALIGN_SLACK = 16


def tflm_resolver_calls(op_names: Iterable[str], model_file: str = "the model") -> list[str]:
    """The sorted MicroMutableOpResolver Add...() method names of a model's operators."""
    names = sorted(set(op_names))
    unknown = [n for n in names if n not in TFLM_RESOLVER_METHODS]
    if unknown:
        raise TinyflashError(
            f"{model_file} uses {', '.join(unknown)}, which tinyflash cannot "
            "register with TFLM's MicroMutableOpResolver (no Add...() method "
            "known for it in tflm_project.TFLM_RESOLVER_METHODS); use "
            f"{option('runtime')} "
            "tinyflash or add the method name",
            EXIT_CHECK_FAILED,
        )
    return [TFLM_RESOLVER_METHODS[n] for n in names]


def tflm_arena_bytes(plan_arena_bytes: int, tflm_min_arena_bytes: int) -> tuple[int, int]:
    """(arena, overhead): the plan's activation arena plus TFLM's own overhead, measured as the
    tflite-micro Python runtime's minimum arena minus the plan (persistent buffers, tensor
    structs, scratch; measured on x86-64, where pointers are 8 bytes, so an upper bound for a
    32-bit MCU), plus alignment slack, rounded up to 16 bytes."""
    overhead = max(0, tflm_min_arena_bytes - plan_arena_bytes)
    total = plan_arena_bytes + overhead + TFLM_ARENA_ALIGN_SLACK
    return (total + 15) // 16 * 16, overhead


def tflm_budgets(
    model: bytes, op_count: int, arena_bytes: int, board: BoardSpec, selftest_bytes: int
) -> tuple[Budget, Budget]:
    """RAM and flash estimates of a TFLM project."""
    ram = Budget(
        "RAM",
        tuple(
            line
            for line in (
                BudgetLine("tflm arena", arena_bytes),
                BudgetLine("harness", HARNESS_RAM_ESTIMATE_BYTES),
                BudgetLine("stack", board.stack_bytes),
                BudgetLine("framework", board.framework_ram_bytes),
            )
            if line.bytes > 0 or line.name != "framework"
        ),
        board.ram_bytes,
    )
    flash = Budget(
        "flash",
        tuple(
            line
            for line in (
                BudgetLine("model", len(model)),
                BudgetLine("selftest", selftest_bytes),
                BudgetLine("tflm code", int(TFLM_CODE_ESTIMATE_BYTES * board.code_factor)),
                BudgetLine(
                    "kernel code",
                    int(TFLM_KERNEL_CODE_ESTIMATE_BYTES * op_count * board.code_factor),
                ),
                BudgetLine("harness code", int(HARNESS_CODE_ESTIMATE_BYTES * board.code_factor)),
                BudgetLine("framework", board.framework_flash_bytes),
            )
            if line.bytes > 0 or line.name != "framework"
        ),
        board.flash_bytes,
    )
    return ram, flash


def _tflm_vendored_files(board: BoardSpec) -> dict[str, bytes]:
    files = {target: firmware_file(source) for source, target in TFLM_HARNESS_FILES}
    if board.arduino:
        files.update(
            {
                name: data
                for name, data in vendored_files(board).items()
                if name.startswith("lib/port/")
            }
        )
    return files


def tflm_sources_manifest(tree: TflmTree, sources: TflmSources) -> bytes:
    """tflm/sources.json: the TFLM tree, its flavour, TFLM's defines and include folders and the
    sources the model needs by optimisation level, for tflm/build.py (sorted, deterministic)."""
    manifest = {
        "tree": str(tree.root),
        "flavour": tree.flavour,
        "defines": list(tree.defines),
        "include_dirs": [str(d) for d in tree.include_dirs],
        "groups": sources.groups(),
        "count": sources.count,
    }
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")


def check_tflm_source(board: BoardSpec, tflm_path: str | None) -> None:
    """TFLM comes from a TFLM tree (`tflm_path`) or, on Arduino boards, from TFLM's Arduino
    library; raises when neither is available."""
    if tflm_path is None and not board.arduino:
        raise TinyflashError(
            f"board {board.id} is not an Arduino board, so TFLM's Arduino "
            f"library cannot be used; pass {option('tflm_path')} DIR (a TFLM "
            "tree made "
            "with TFLM's create_tflm_tree.py)",
            EXIT_BAD_INPUT,
        )


def render_tflm_project(
    checked: Any,
    *,
    tflm_min_arena_bytes: int,
    board: BoardSpec,
    vectors: Sequence[SelftestVector],
    paths: FirmwarePaths,
    vendor: bool,
    tflm_path: str | None,
    tflm_sources: TflmSources | None = None,
    templates: Path | None = None,
) -> RenderedProject:
    """Every file of a `--runtime tflm` project of the checked model (a pipeline.CheckedModel:
    ModelInfo + memory plan; its path's name is the model file's name), in memory. Pure: same
    arguments, same bytes."""
    info, plan = checked.info, checked.plan
    model_file = checked.path.name
    model = bytes(info.data)
    op_names = [op.name for op in info.ops]
    plan_arena_bytes = int(plan.arena_bytes)
    calls = tflm_resolver_calls(op_names, model_file)
    check_tflm_source(board, tflm_path)
    arena, overhead = tflm_arena_bytes(plan_arena_bytes, tflm_min_arena_bytes)
    selftest_bytes = sum(len(v.input) + len(v.output) for v in vectors)
    budgets = tflm_budgets(model, len(calls), arena, board, selftest_bytes)
    vendored = _tflm_vendored_files(board)
    if vendor and not board.arduino:
        vendored.update(
            {
                k: v
                for k, v in vendored_files(board).items()
                if k.startswith(("vendor/platform/", "vendor/ports/", "boards/"))
            }
        )
    tree: TflmTree | None = None
    if tflm_path is not None:
        if tflm_sources is None:
            tflm_sources = select_sources(inspect_tree(tflm_path), calls)
        tree = TflmTree(Path(tflm_path), tflm_sources.flavour)
        vendored[TFLM_BUILD_SCRIPT[1]] = firmware_file(TFLM_BUILD_SCRIPT[0])
        vendored[TFLM_SOURCES_FILE] = tflm_sources_manifest(tree, tflm_sources)
    runtime_keys = {
        "runtime": "tflm",
        "resolver_calls": calls,
        "arena_bytes": arena,
        "plan_arena_bytes": plan_arena_bytes,
        "tflm_min_arena": tflm_min_arena_bytes,
        "tflm_overhead": overhead,
        "tflm_align_slack": TFLM_ARENA_ALIGN_SLACK,
        "pool_words": 0,
        "lower_bound": int(plan.lower_bound),
        "tflm_path": tflm_path,
        "tflm_library": TFLM_ARDUINO_LIBRARY,
        "tflm_flavour": tree.flavour if tree else None,
        "tflm_defines": tree.defines if tree else (),
        "tflm_include_dirs": [str(d) for d in tree.include_dirs] if tree else [],
        "tflm_source_count": tflm_sources.count if tflm_sources else 0,
        "tflm_build_script": TFLM_BUILD_SCRIPT[1],
    }
    return render_project_files(
        checked,
        board,
        vectors,
        paths,
        vendor or board.arduino,
        templates,
        TFLM_TEMPLATES,
        budgets,
        vendored,
        runtime_keys,
    )


def generate_tflm(
    checked: Any,
    board: BoardSpec,
    output_dir: Path,
    *,
    force: bool,
    vendor: bool,
    selftest: int,
    tflm_path: str | None,
) -> GenerateResult:
    """generate() for --runtime tflm: TFLM's overhead measured, fit checked, project written."""
    from tinyflash.reference import tflm_min_arena

    info = checked.info
    model_file = checked.path.name
    model = bytes(info.data)
    calls = tflm_resolver_calls([op.name for op in info.ops], model_file)
    measured = tflm_min_arena(model)
    arena, _ = tflm_arena_bytes(int(checked.plan.arena_bytes), measured)
    error = fit_error(model_file, board.id, tflm_budgets(model, len(calls), arena, board, 0))
    if error:
        raise TinyflashError(error, EXIT_CHECK_FAILED)
    vectors = selftest_vectors(
        model,
        len(info.inputs),
        len(info.outputs),
        selftest,
        model_name=model_file,
        minimum_arena=measured,
    )
    project = render_tflm_project(
        checked,
        tflm_min_arena_bytes=measured,
        board=board,
        vectors=vectors,
        paths=vendored_paths() if vendor else default_paths(board),
        vendor=vendor,
        tflm_path=tflm_path,
    )
    return write_generated(
        project,
        checked.path,
        info.sha256,
        board.id,
        output_dir,
        force=force,
        arena_bytes=arena,
        pool_words=0,
        vendored=True,
        kernel_set="tflm",
    )
