"""`tinyflash generate`: a checked model + a board → a PlatformIO project.

The stage itself and the tinyflash-runtime project; the pieces live beside it:
boards.py (BoardSpec, RAM/flash budgets, fit check), render.py (Jinja environment, filters,
vendoring, atomic writing), selftest.py (self-test vectors from the TFLM runner in reference.py),
tflm_project.py (the `--runtime tflm` project). The names tests and callers used from here stay
importable from this module.

Same inputs → byte-identical files: no timestamps, sorted emission, seeded self-test inputs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tinyflash.aot import aot_layers, aot_node_kernels, aot_shapes, table_kernels
from tinyflash.boards import (  # noqa: F401  (re-exported: tests and callers use codegen.X)
    DSP_KERNEL_CODE_ESTIMATE_BYTES,
    HARNESS_CODE_ESTIMATE_BYTES,
    HARNESS_RAM_ESTIMATE_BYTES,
    INTERPRETER_STRUCT_BYTES,
    KERNEL_CODE_ESTIMATE_BYTES,
    NODE_STRUCT_BYTES,
    RUNTIME_CODE_ESTIMATE_BYTES,
    RUNTIME_STACK_BYTES,
    SMALL_THUMB_CODE_FACTOR,
    SMALL_THUMB_CPUS,
    TENSOR_STRUCT_BYTES,
    BoardSpec,
    Budget,
    BudgetLine,
    board_kernel_set,
    board_spec,
    fit_error,
    flash_budget,
    interpreter_struct_bytes,
    project_budgets,
    ram_budget,
)
from tinyflash.errors import EXIT_BAD_INPUT, EXIT_CHECK_FAILED, TinyflashError, option
from tinyflash.patches import parse_mode, patch_keys, plan_with_patches
from tinyflash.plan import verify_plan
from tinyflash.render import (  # noqa: F401  (re-exported)
    ABI_VERSION,
    ARDUINO_PORT_HEADER,
    ARDUINO_VENDORED_DIRS,
    BYTES_PER_LINE,
    INTS_PER_LINE,
    MAX_IDENTIFIER_CHARS,
    MODEL_COPY,
    VENDORED_DIRS,
    FirmwarePaths,
    GenerateResult,
    RenderedProject,
    c_bytes,
    c_comment,
    c_identifier,
    c_ints,
    c_string,
    check_output_dir,
    default_paths,
    json_document,
    kernel_names,
    render_project_files,
    template_environment,
    thousands,
    vendored_files,
    vendored_paths,
    write_generated,
    write_project,
)
from tinyflash.selftest import (  # noqa: F401  (re-exported)
    MAX_SELFTEST_VECTORS,
    SELFTEST_SEED,
    SelftestVector,
    selftest_vectors,
)
from tinyflash.tflm_project import (  # noqa: F401  (re-exported)
    TFLM_ARDUINO_LIBRARY,
    TFLM_ARENA_ALIGN_SLACK,
    TFLM_BUILD_SCRIPT,
    TFLM_CODE_ESTIMATE_BYTES,
    TFLM_HARNESS_FILES,
    TFLM_KERNEL_CODE_ESTIMATE_BYTES,
    TFLM_RESOLVER_METHODS,
    TFLM_TEMPLATES,
    check_tflm_source,
    generate_tflm,
    render_tflm_project,
    tflm_arena_bytes,
    tflm_budgets,
    tflm_resolver_calls,
    tflm_sources_manifest,
)

if TYPE_CHECKING:
    from tinyflash.pipeline import CheckedModel

#: (template under templates/, generated path) in emission order.
TEMPLATES: tuple[tuple[str, str], ...] = (
    ("README.md.j2", "README.md"),
    ("platformio.ini.j2", "platformio.ini"),
    ("src/main.c.j2", "src/main.c"),
    ("src/model_data.c.j2", "src/model_data.c"),
    ("src/model_data.h.j2", "src/model_data.h"),
    ("src/model_plan.c.j2", "src/model_plan.c"),
    ("tinyflash.json.j2", "tinyflash.json"),
)

#: The ahead-of-time layers (generate --aot).
AOT_TEMPLATES: tuple[tuple[str, str], ...] = (("src/model_aot.c.j2", "src/model_aot.c"),)

#: The Arduino entry points (setup/loop) beside the generated C main.
ARDUINO_TEMPLATES: tuple[tuple[str, str], ...] = (("src/sketch.cpp.j2", "src/sketch.cpp"),)

RUNTIMES = ("tinyflash", "tflm")


def available_kernels(runtime_dir: Path | None = None) -> dict[str, str]:
    """Builtin name → kernel lower name, from the runtime's X-macro list tfl_kernels.h."""
    from tinyflash.opcheck import kernel_table

    return kernel_table(runtime_dir)


def project_templates(board: BoardSpec) -> tuple[tuple[str, str], ...]:
    """(template, generated path) of every rendered file of a project for `board`."""
    templates = TEMPLATES + (ARDUINO_TEMPLATES if board.arduino else ())
    return tuple(sorted(templates, key=lambda item: item[1]))


def render_project(
    checked: CheckedModel,
    *,
    board: BoardSpec,
    vectors: Sequence[SelftestVector],
    paths: FirmwarePaths,
    vendor: bool,
    templates: Path | None = None,
    aot: bool = False,
    embedded: bytes | None = None,
    wz_stack_bytes: int = 0,
) -> RenderedProject:
    """Renders every file of the project of the checked model (ModelInfo + memory plan; its
    path's name is the model file's name) in memory. Pure: same arguments → same bytes.
    Kernel objects are `tfl_kernel_<lower-case builtin name>` (the runtime's convention). `aot`
    adds src/model_aot.c, the operators specialised at generate time (aot.py). `embedded`: the
    model bytes the firmware holds when they differ from the file's (compressed weights,
    compress.py; `wz_stack_bytes` their decode buffer, TFL_WZ_STACK_BYTES); the project's model
    copy stays the file."""
    info, plan = checked.info, checked.plan
    model_file = checked.path.name
    model = bytes(info.data) if embedded is None else embedded
    tensor_count = len(info.tensors)
    op_names = [op.name for op in info.ops]
    offsets = list(plan.c_offsets)
    arena_bytes, pool_words = int(plan.arena_bytes), int(plan.pool_words)
    # one offset per tensor, then one scratch offset per op when some kernel takes scratch (or
    # the model has resource variables), then one per resource variable
    resources = len(offsets) - tensor_count - len(op_names)
    if len(offsets) != tensor_count and resources < 0:
        raise TinyflashError(
            f"the memory plan of {model_file} has {len(offsets)} offsets for "
            f"{tensor_count} tensors; report this",
            EXIT_BAD_INPUT,
        )
    # the firmware holds exactly the model's subgraphs and resource variables (C has no empty
    # arrays: at least one record of each)
    capacities = (max(info.subgraph_count, 1), max(resources, 1))
    budgets = project_budgets(
        model,
        tensor_count,
        op_names,
        arena_bytes,
        pool_words,
        board,
        sum(len(v.input) + len(v.output) for v in vectors),
        capacities,
    )
    layers = aot_layers(info, plan, board_kernel_set(board)) if aot else []
    shapes, shape_of = aot_shapes(layers)
    templates_used = project_templates(board)
    if aot:
        templates_used = tuple(sorted(templates_used + AOT_TEMPLATES, key=lambda item: item[1]))
    vendor = vendor or board.arduino  # real-board projects always stand alone
    vendored = vendored_files(board) if vendor else {}
    runtime_keys = {
        "model": model,
        "model_size": len(model),
        "wz_stack_bytes": wz_stack_bytes,
        "tensor_count": tensor_count,
        "node_count": len(op_names),
        "offsets": offsets,
        "plan_scratch": len(offsets) > tensor_count,
        "plan_resources": max(resources, 0),
        "max_subgraphs": capacities[0],
        "max_resources": capacities[1],
        "with_int16": int(info.has_int16),
        "arena_bytes": arena_bytes,
        "pool_words": pool_words,
        "lower_bound": int(plan.lower_bound),
        "aot_layers": layers,
        "aot_kernel_set": board_kernel_set(board),
        "aot_generics": sorted({layer.generic for layer in layers}),
        "aot_node_kernels": aot_node_kernels(layers, len(op_names)),
        "aot_shapes": shapes,
        "table_kernels": table_kernels(op_names, layers),
        "aot_shape_of": shape_of,
        "patches": patch_keys(plan.patches),
    }
    return render_project_files(
        checked,
        board,
        vectors,
        paths,
        vendor,
        templates,
        templates_used,
        budgets,
        vendored,
        runtime_keys,
    )


def generate(
    model_path: Path,
    board_id: str,
    output_dir: Path,
    *,
    force: bool = False,
    vendor: bool = False,
    selftest: int = MAX_SELFTEST_VECTORS,
    kernels: str | None = None,
    runtime: str = "tinyflash",
    tflm_path: Path | None = None,
    checked: CheckedModel | None = None,
    aot: bool = False,
    patches: str = "off",
    patch_overhead: float = 1.25,
    inplace: bool = True,
    compress: str = "auto",
) -> GenerateResult:
    """Checks the model against the runtime and the board, renders the project and writes it.
    `kernels` ("portable", "dsp" or "mve") overrides the board's kernel set; "dsp" needs a board
    whose manifest has the DSP or MVE kernel set (Cortex-M4/M7/M33/M55), "mve" one whose manifest
    has the MVE kernel set (Cortex-M55). `runtime="tflm"` renders a project
    that runs the model with TensorFlow Lite Micro (from `tflm_path`, a TFLM tree, or on Arduino
    boards TFLM's Arduino library through lib_deps). `checked`: the model already loaded,
    checked and planned by the pipeline's check stage (else this does it). `aot`: the operators
    that have a specialised body run it (src/model_aot.c, aot.py); the others keep the generic
    kernels. `inplace`: plan in-place operators (False: the plan with RESHAPE-like views only).
    `compress`: "auto" stores the weights compress.py finds worth it compressed in flash, "off"
    keeps all dense."""
    from tinyflash.boards import load_board
    from tinyflash.pipeline import check_model_file

    model_path = Path(model_path)
    output_dir = Path(output_dir)
    if not 0 <= selftest <= MAX_SELFTEST_VECTORS:
        raise TinyflashError(
            f"{option('selftest')} must be between 0 and {MAX_SELFTEST_VECTORS}, not {selftest}",
            EXIT_BAD_INPUT,
        )
    check_output_dir(output_dir, force)
    if runtime not in RUNTIMES:
        raise TinyflashError(
            f"{option('runtime')} must be {' or '.join(RUNTIMES)}, not {runtime!r}", EXIT_BAD_INPUT
        )
    if aot and runtime == "tflm":
        raise TinyflashError(
            f"{option('aot')} specialises the tinyflash runtime's kernels; drop it with "
            f"{option('runtime')} tflm",
            EXIT_BAD_INPUT,
        )
    if tflm_path is not None and runtime != "tflm":
        raise TinyflashError(
            f"{option('tflm_path')} is only used with {option('runtime')} tflm; "
            f"add {option('runtime')} tflm or drop {option('tflm_path')}",
            EXIT_BAD_INPUT,
        )
    tflm_dir: str | None = None
    if tflm_path is not None:
        from tinyflash.tflm_tree import inspect_tree

        tflm_dir = str(inspect_tree(tflm_path).root)
    board = board_spec(load_board(board_id))
    if runtime == "tflm":
        check_tflm_source(board, tflm_dir)
    if kernels is not None and runtime == "tflm":
        raise TinyflashError(
            f"{option('kernels')} chooses the tinyflash runtime's kernels; with "
            f"{option('runtime')} tflm the kernels are the TFLM tree's (export a CMSIS-NN tree "
            f"for optimized ones): drop {option('kernels')}",
            EXIT_BAD_INPUT,
        )
    if kernels is not None:
        if kernels not in ("portable", "dsp", "mve"):
            raise TinyflashError(
                f"{option('kernels')} must be portable, dsp or mve, not {kernels!r}",
                EXIT_BAD_INPUT,
            )
        if kernels == "mve" and not board.mve:
            raise TinyflashError(
                f"board {board.id} has no Helium (MVE) extension (its manifest's kernel set is "
                f"not mve); use {option('kernels')} dsp or portable, or a Cortex-M55 board",
                EXIT_BAD_INPUT,
            )
        if kernels == "dsp" and not board.dsp:
            raise TinyflashError(
                f"board {board.id} has no DSP extension (its manifest's kernel "
                f"set is portable); use {option('kernels')} portable or a "
                "Cortex-M4/M7/"
                "M33/M55 board",
                EXIT_BAD_INPUT,
            )
        board = dataclasses.replace(board, dsp=kernels != "portable", mve=kernels == "mve")
    # the DSP and MVE kernels take arena scratch, planned like tensors (plan.py); TFLM plans its own
    kernel_set = board_kernel_set(board) if runtime != "tflm" else "portable"
    if checked is None:
        checked = check_model_file(model_path, kernel_set, inplace)
    checked = dataclasses.replace(checked.for_kernels(kernel_set, inplace), path=model_path)
    patch_note = ""
    tiles = parse_mode(patches)
    if aot and tiles != 0:
        raise TinyflashError(
            f"{option('aot')} and {option('patches')} are not combined yet (a patched operator "
            f"runs over windows the ahead-of-time layers do not take); drop one of them",
            EXIT_BAD_INPUT,
        )
    if tiles != 0:  # patch-based execution of the first stages (patches.py)
        if runtime == "tflm":
            raise TinyflashError(
                f"{option('patches')} is the tinyflash runtime's; drop it with "
                f"{option('runtime')} tflm",
                EXIT_BAD_INPUT,
            )
        patched, choice = plan_with_patches(
            checked.info, kernel_set, tiles, patch_overhead, inplace=inplace
        )
        verify_plan(checked.info, patched)
        checked = dataclasses.replace(checked, plan=patched)
        patch_note = choice.reason
    info, report, plan = checked.info, checked.report, checked.plan
    model_file = model_path.name

    # TFLM runs every 16x8 op of its own: an op whose tinyflash kernel is int8-only does not stop
    # a --runtime tflm project
    tflm_runs = ("no-int16-kernel",) if runtime == "tflm" else ()
    reasons = [
        f.message for f in report.findings if f.severity == "error" and f.kind not in tflm_runs
    ]
    if reasons:
        detail = reasons[0] if reasons else "run `tinyflash check` for the details"
        more = f" (and {len(reasons) - 1} more)" if len(reasons) > 1 else ""
        raise TinyflashError(
            f"{model_file} is not deployable: {detail.rstrip('.')}{more}; "
            "fix the conversion and generate again",
            EXIT_CHECK_FAILED,
        )
    op_names = [op.name for op in info.ops]
    model = bytes(info.data)
    sha = info.sha256
    tensor_count = len(info.tensors)
    if runtime == "tflm":
        return generate_tflm(
            checked,
            board,
            output_dir,
            force=force,
            vendor=vendor,
            selftest=selftest,
            tflm_path=tflm_dir,
        )
    # The fit check runs before the (slow) self-test; the vectors are added to flash below.
    rough = project_budgets(
        model,
        tensor_count,
        op_names,
        int(plan.arena_bytes),
        int(plan.pool_words),
        board,
        0,
        (info.subgraph_count, max(len(plan.resource_offsets), 1)),
    )
    error = fit_error(model_file, board.id, rough)
    if error:
        raise TinyflashError(error, EXIT_CHECK_FAILED)
    kernels_by_name = available_kernels()
    missing = sorted({name for name in op_names if name not in kernels_by_name})
    if missing:
        raise TinyflashError(
            f"{model_file} uses {', '.join(missing)}, which this tinyflash "
            "runtime has no kernel for (firmware/runtime/include/tfl_kernels.h); "
            f"convert the model without {'it' if len(missing) == 1 else 'them'} "
            "or add the kernel",
            EXIT_CHECK_FAILED,
        )
    vectors = selftest_vectors(
        model, len(info.inputs), len(info.outputs), selftest, model_name=model_file
    )
    from tinyflash.compress import compress_model

    # weights read in place stay dense: an ahead-of-time body's, an in-place depthwise's
    aot_weights = (
        frozenset(
            info.ops[layer.op_index].inputs[1] for layer in aot_layers(info, plan, kernel_set)
        )
        if aot
        else frozenset()
    )
    inplace_weights = frozenset(
        op.inputs[1]
        for op in info.ops
        if op.name == "DEPTHWISE_CONV_2D" and plan.alias_kinds.get(op.outputs[0]) == "depthwise"
    )
    packed = compress_model(info, compress, dense=aot_weights | inplace_weights)
    # the decode buffer is on the stack: it must leave the kernels theirs
    stack_room = board.stack_bytes - 2 * RUNTIME_STACK_BYTES["dsp" if board.dsp else "portable"]
    if packed.stack_bytes > stack_room:
        packed = compress_model(info, "off")
    project = render_project(
        checked,
        board=board,
        vectors=vectors,
        paths=vendored_paths() if vendor else default_paths(board),
        vendor=vendor,
        aot=aot,
        embedded=packed.data,
        wz_stack_bytes=packed.stack_bytes,
    )
    result = write_generated(
        project,
        model_path,
        sha,
        board.id,
        output_dir,
        force=force,
        arena_bytes=int(plan.arena_bytes),
        pool_words=int(plan.pool_words),
        vendored=vendor or board.arduino,
        kernel_set=board_kernel_set(board),
    )
    return dataclasses.replace(result, patches=patch_note, compression=packed)
