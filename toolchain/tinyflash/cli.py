"""The `tinyflash` command line: thin Typer commands over the library modules.

Each command parses its arguments, calls one library function that returns data, and prints it
(rich table, or JSON with --json). A TinyflashError becomes its one sentence on stderr and its exit
code; a traceback appears only with --debug.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from tinyflash import __version__
from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError

app = typer.Typer(
    name="tinyflash",
    help="Keras/TensorFlow model → full-int8 TFLite → microcontroller firmware, verified bit for bit.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"tinyflash {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    ctx.obj = {"debug": debug}


def out_console() -> Console:
    return Console(highlight=False)


def err_console() -> Console:
    return Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """Machine-readable output of --json: one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def narrow_table(console: Console) -> dict[str, Any]:
    """Table options for a terminal under 100 columns: a header rule instead of a box and one
    space less padding per cell (the boxed tables need ~100 columns and wrap cells at 80)."""
    from rich import box

    if console.width >= 100:
        return {}
    return {"box": box.SIMPLE_HEAD, "show_edge": False, "pad_edge": False, "collapse_padding": True}


def pack_parts(parts: list[str], width: int, sep: str = ", ", indent: str = "  ") -> list[str]:
    """`parts` (rich markup) joined by `sep` into as few lines of at most `width` cells as
    possible, broken only between parts (never inside a number with its unit, or a path; a part
    wider than `width` gets a line of its own); continuation lines start with `indent`."""
    from rich.text import Text

    joiner, space = sep.rstrip(), " " if sep.endswith(" ") else ""
    lines: list[str] = []
    line = ""
    for i, part in enumerate(parts):
        piece = part + (joiner if i < len(parts) - 1 else "")
        candidate = f"{line}{space}{piece}" if line else piece
        if line and Text.from_markup(candidate).cell_len > width:
            lines.append(line)
            line = indent + piece
        else:
            line = candidate
    if line:
        lines.append(line)
    return lines


def print_parts(console: Console, parts: list[str], sep: str = ", ", indent: str = "  ") -> None:
    """Prints `parts` on as few lines as the console's width allows (pack_parts)."""
    for line in pack_parts(parts, console.width, sep, indent):
        console.print(line, soft_wrap=True)


# ---- commands are added below by each stage ------------------------------------------------


def _runtime_ops_epilog() -> str:
    from tinyflash.opcheck import runtime_kernels

    try:
        return "Ops of the tinyflash runtime: " + ", ".join(runtime_kernels()) + "."
    except TinyflashError as error:  # --help still works; check itself reports the error
        return error.message


def _shapes(tensors: list[dict[str, Any]]) -> str:
    """One line per tensor: dtype[shape], 'per-ch' when quantized per channel, 'c' constant."""
    lines = []
    for t in tensors:
        if t.get("tensor", -1) < 0:
            continue
        quant = ""
        if str(t["quantization"]).startswith("per-channel"):
            quant = " per-ch"
        elif t["quantization"] == "none" and t["dtype"] in ("int8", "uint8", "int16"):
            quant = " unquantized"
        shape = "x".join(str(d) for d in t["shape"]) or "scalar"
        lines.append(f"{t['dtype']}[{shape}]{quant}{' c' if t['constant'] else ''}")
    return "\n".join(lines)


def _compression_table(weights: Any, console: Any) -> Any:
    """check's table of the weight tensors generate could store compressed."""
    from rich.table import Table

    table = Table(
        title="weights in flash (generate --compress auto)",
        title_justify="left",
        **narrow_table(console),
    )
    for column in ("tensor", "op", "values", "per ch.", "zeros", "encoding", "bytes", "saved"):
        table.add_column(column, justify="left" if column in ("op", "encoding") else "right")
    for w in weights:
        table.add_row(
            str(w.tensor),
            w.op,
            f"{w.distinct}",
            f"{w.distinct_channel}",
            f"{w.sparsity:.0%}",
            w.encoding,
            f"{w.size:,}",
            f"{w.saved:,}",
        )
    return table


def _plan_explained(plan: dict[str, Any]) -> list[str]:
    """check --plan's summary: the peak, the tensors live there, what in-place saved."""
    peak = plan["peak"]
    kinds: dict[str, int] = {}
    for kind in plan["alias_kinds"].values():
        kinds[kind] = kinds.get(kind, 0) + 1
    lines = [
        f"peak: {peak['live_bytes']:,} B live at op {peak['op']} ({peak['op_name']})"
        + (f", {peak['scratch_bytes']:,} B of it scratch" if peak["scratch_bytes"] else ""),
        "live there:",
        *(
            f"  tensor {t['tensor']} ({t['bytes']:,} B"
            + (f", in tensor {t['shares']}'s bytes" if t["shares"] is not None else "")
            + f") {t['name']}"
            for t in peak["tensors"]
        ),
    ]
    if plan["inplace"]:
        shared = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
        lines.append(
            f"in-place: {plan['arena_without_inplace']:,} B without, {plan['arena_bytes']:,} B "
            f"with (saved {plan['inplace_saved_bytes']:,} B); outputs sharing an input: {shared}"
        )
    else:
        lines.append("in-place: off (views only)")
    lines.append(
        f"lower bound {plan['lower_bound']:,} B; planned / lower bound "
        f"{plan['planned_over_lower_bound']:.3f}"
    )
    return lines


@app.command("check", epilog=_runtime_ops_epilog())
def check_command(
    model: Path = typer.Argument(..., help="A .tflite model."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    show_plan: bool = typer.Option(
        False, "--plan", help="Also list each activation's lifetime and arena offset."
    ),
    kernels: str = typer.Option(
        "portable",
        "--kernels",
        help="Plan the arena of a firmware with this kernel set: "
        "portable, dsp or mve (the DSP and MVE kernels' scratch is in the "
        "arena).",
    ),
    no_inplace: bool = typer.Option(
        False,
        "--no-inplace",
        help="Plan without in-place operators (outputs over inputs that die there): "
        "RESHAPE-like views only, the plan before in-place operators.",
    ),
) -> None:
    """Check that MODEL is full int8 and runs on the tinyflash runtime; show ops, MACs and memory.

    Prints a per-op table (dtypes, shapes, per-tensor/per-channel quantization, MACs), the verdict with each offender and its fix, model and weight bytes, total MACs, peak activation bytes (the lower bound) and the planned arena bytes (--plan: the offset of every activation; --json always includes it). In the table 'c' marks a constant, 'per-ch' a per-channel quantized tensor. Exit 0 deployable, 1 not deployable, 2 unreadable or corrupt.

    Example: tinyflash check model.tflite --json
    """
    from tinyflash.errors import EXIT_CHECK_FAILED
    from tinyflash.opcheck import check_file, deployable_text

    if kernels not in ("portable", "dsp", "mve"):
        raise TinyflashError(
            f"--kernels must be portable, dsp or mve, not {kernels!r}", EXIT_BAD_INPUT
        )
    from tinyflash.calibration import calibrated_ranges
    from tinyflash.compress import analyze

    result = check_file(model, kernels, not no_inplace)
    data = result.to_dict()
    weights = analyze(result.info) if result.info.subgraph_count == 1 else ()
    data["compression"] = [w.to_dict() for w in weights]
    ranges = calibrated_ranges(result.info)
    data["input_ranges"] = [
        {"name": n, "dtype": d, "low": lo, "high": hi} for n, d, lo, hi in ranges
    ]
    if as_json:
        print_json(data)
    else:
        from rich.table import Table

        console = out_console()
        table = Table(
            title=f"{result.info.name} ({result.info.path})",
            title_justify="left",
            **narrow_table(console),
        )
        for column in ("#", "op", "inputs", "outputs", "MACs"):
            table.add_column(
                column,
                justify="right" if column in ("#", "MACs") else "left",
                no_wrap=column in ("#", "op", "MACs"),
            )
        for op in data["ops"]:  # type: ignore[attr-defined]
            name = op["op"] + (f" '{op['custom_code']}'" if op["custom_code"] else "")
            table.add_row(
                str(op["index"]),
                name,
                _shapes(op["inputs"]),
                _shapes(op["outputs"]),
                f"{op['macs']:,}",
            )
        console.print(table)
        info, plan = result.info, result.plan
        if show_plan:
            ptable = Table(title="memory plan", title_justify="left")
            for column in ("tensor", "name", "bytes", "ops", "offset"):
                ptable.add_column(column, justify="left" if column == "name" else "right")
            for row in sorted(
                data["plan"]["tensors"],  # type: ignore[index]
                key=lambda r: (r["offset"], r["first_op"]),
            ):
                alias = plan.aliases.get(row["tensor"])
                kind = plan.alias_kinds.get(row["tensor"], "")
                ptable.add_row(
                    str(row["tensor"]),
                    row["name"],
                    f"{row['bytes']:,}",
                    f"{row['first_op']}-{row['last_op']}",
                    f"{row['offset']:,}" + (f" (= {alias}, {kind})" if alias is not None else ""),
                )
            for row in data["plan"]["scratch"]:  # type: ignore[index]
                ptable.add_row(
                    "-",
                    f"scratch of op {row['op']}",
                    f"{row['bytes']:,}",
                    f"{row['op']}-{row['op']}",
                    f"{row['offset']:,}",
                )
            for row in data["plan"]["resources"]:  # type: ignore[index]
                ptable.add_row(
                    "-",
                    f"variable {row['variable']} (state)",
                    f"{row['bytes']:,}",
                    "all",
                    f"{row['offset']:,}",
                )
            console.print(ptable)
            for line in _plan_explained(data["plan"]):  # type: ignore[arg-type]
                console.print(line, markup=False, highlight=False)
        if weights:
            console.print(_compression_table(weights, console))
        print_parts(
            console,
            [
                f"model {info.size_bytes:,} B",
                f"weights {info.weight_bytes:,} B",
                f"{info.total_macs:,} MACs",
                f"{len(info.ops)} ops",
            ],
        )
        print_parts(
            console,
            [
                f"peak activations {plan.lower_bound:,} B (lower bound)",
                f"planned arena {plan.arena_bytes:,} B ({plan.ratio:.3f} x lower bound)",
                f"pool {plan.pool_words:,} words",
            ],
        )
        for name, dtype, low, high in ranges:
            print_parts(
                console,
                [
                    f"input '{name}' {dtype} covers [{low:.4g}, {high:.4g}] in float",
                    "(the calibration data's range: it should match the training inputs)",
                ],
                sep=" ",
            )
        for line in result.report.warnings:
            console.print(f"[yellow]warning:[/] {line}", soft_wrap=True)
        if result.deployable:
            console.print(f"[bold green]deployable[/]: {deployable_text(result.report.scheme)}")
        else:
            console.print(f"[bold red]not deployable[/] ({len(result.report.offenders)} problems):")
            for line in result.report.offenders:
                console.print(f"  - {line}", soft_wrap=True)
    if not result.deployable:
        offenders = result.report.offenders
        more = f" (and {len(offenders) - 1} more above)" if len(offenders) > 1 else ""
        raise TinyflashError(f"{model} is not deployable: {offenders[0]}{more}.", EXIT_CHECK_FAILED)


@app.command("generate")
def generate_command(
    model: Path = typer.Argument(..., help="A full-int8 .tflite model (from `tinyflash convert`)."),
    board: str = typer.Option("mps2-an386", "--board", "-b", help="Board id (`tinyflash boards`)."),
    output: Path = typer.Option(..., "--output", "-o", help="Project directory to create."),
    force: bool = typer.Option(
        False, "--force", help="Replace the generated files in a non-empty DIR."
    ),
    vendor: bool = typer.Option(
        False, "--vendor", help="Copy the runtime, harness, platform and board into the project."
    ),
    selftest: int = typer.Option(
        3,
        "--selftest",
        min=0,
        max=3,
        help="Embedded self-test vectors (0-3), checked against tflite-micro.",
    ),
    kernels: str | None = typer.Option(
        None, "--kernels", help="portable, dsp or mve (default: the board's kernel set)."
    ),
    runtime: str = typer.Option(
        "tinyflash",
        "--runtime",
        help="tinyflash (built-in C runtime) or tflm (TensorFlow Lite Micro's MicroInterpreter).",
    ),
    tflm_path: Path | None = typer.Option(
        None,
        "--tflm-path",
        help="With --runtime tflm: a TFLM tree (from TFLM's "
        "create_tflm_tree.py); default on Arduino "
        "boards: TFLM's Arduino library via lib_deps.",
    ),
    no_inplace: bool = typer.Option(
        False,
        "--no-inplace",
        help="Plan without in-place operators (docs/memory-plan.md): RESHAPE-like views "
        "only, the plan before in-place operators.",
    ),
    patches: str = typer.Option(
        "off",
        "--patches",
        help="Run the first CNN stages tile by tile to lower peak RAM: auto, off or a number of "
        "patches (row bands).",
    ),
    patch_overhead: float = typer.Option(
        1.25,
        "--patch-overhead",
        help="With --patches: the most estimated work (instructions) patches may add, as a ratio.",
    ),
    compress: str = typer.Option(
        "auto",
        "--compress",
        help="auto: store clustered or pruned weights compressed in flash; off: all dense.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    aot: bool = typer.Option(
        False,
        "--aot/--no-aot",
        help="Ahead-of-time layers: FULLY_CONNECTED, 1x1 CONV_2D and DEPTHWISE_CONV_2D run "
        "kernel bodies specialised with the layer's constants (src/model_aot.c); --no-aot: "
        "the interpreter's generic kernels only.",
    ),
) -> None:
    """Generate a PlatformIO firmware project for MODEL on a board.

    Checks that the model is deployable, that every op has a kernel and that it fits the board's flash and RAM, then writes platformio.ini, src/ (model array, op table, memory plan, main with self-test vectors) and a README. A non-empty DIR is refused unless --force.

    Real boards (nano33ble, esp32dev, pico, nucleo_f446re, ...) get a standalone Arduino project for PlatformIO's standard platform. --runtime tflm runs the model with TensorFlow Lite Micro instead, with the same verification protocol.

    Example: tinyflash generate model.tflite --board mps2-an386 -o build/fw

    Example: tinyflash generate model.tflite --board nano33ble --runtime tflm -o build/nano
    """
    from tinyflash.codegen import generate

    result = generate(
        model,
        board,
        output,
        force=force,
        vendor=vendor,
        selftest=selftest,
        kernels=kernels,
        runtime=runtime,
        tflm_path=tflm_path,
        aot=aot,
        patches=patches,
        patch_overhead=patch_overhead,
        inplace=not no_inplace,
        compress=compress,
    )
    if as_json:
        print_json(result.to_dict())
        return
    from rich.table import Table

    console = out_console()
    print_parts(
        console,
        [
            f"[bold green]generated[/] {result.project_dir}",
            f"for board {result.board}",
            f"({len(result.files)} files{', vendored' if result.vendored else ''})",
        ],
        sep=" ",
    )
    kernel_list = list(result.kernels)
    print_parts(
        console,
        [f"kernels: {kernel_list[0]}", *kernel_list[1:]] if kernel_list else ["kernels: -"],
    )
    # TFLM has no tinyflash pool: "pool 0 words" would read as a measurement.
    memory = (
        [f"arena {result.arena_bytes:,} B (TFLM arena)"]
        if result.kernel_set == "tflm"
        else [f"arena {result.arena_bytes:,} B", f"pool {result.pool_words:,} words"]
    )
    print_parts(console, [*memory, f"{result.selftest_count} self-test vectors"])
    if result.patches:
        print_parts(console, [f"patches: {result.patches}"])
    packed = result.compression
    if packed is not None and packed.compressed_count:
        print_parts(
            console,
            [
                f"model {packed.dense_bytes:,} B -> {len(packed.data):,} B in flash",
                f"{packed.compressed_count} weight tensors compressed",
                f"{packed.saved:,} B saved",
            ],
        )
    table = Table("estimate", "bytes", "board limit", "parts", box=None, pad_edge=False)
    rows = [
        (
            budget.what,
            f"{budget.total:,}",
            f"{budget.limit:,}" if budget.limit is not None else "-",
            [f"{line.name} {line.bytes:,}" for line in budget.lines],
        )
        for budget in (result.ram, result.flash)
    ]
    # The parts column gets what the others leave (2 cells between columns); its lines break
    # between parts, never between a part's name and its bytes.
    room = console.width - sum(
        max(len(header), *(len(row[i]) for row in rows)) + 2
        for i, header in enumerate(("estimate", "bytes", "board limit"))
    )
    for what, total, limit, parts in rows:
        table.add_row(what, total, limit, "\n".join(pack_parts(parts, max(room, 20), indent="")))
    console.print(table)
    print_parts(console, ["next:", f"tinyflash build {result.project_dir}"], sep=" ")


# ---- convert / evaluate (issue 2) ----------------------------------------------------------


class _LazyBar:
    """A rich progress bar on stderr that appears with the first update (so errors raised before
    any work print nothing but their sentence)."""

    def __init__(self, label: str, disable: bool = False) -> None:
        self.label = label
        self.disable = disable
        self.progress: Any = None
        self.task: Any = None

    def update(self, done: int, total: int) -> None:
        if self.disable:
            return
        if self.progress is None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            console = err_console()
            if not console.is_interactive:  # rich would leave a blank line on a pipe or file
                self.disable = True
                return
            self.progress = Progress(
                TextColumn(self.label),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task(self.label, total=total)
        self.progress.update(self.task, completed=done, total=total)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def _debug(ctx: typer.Context) -> bool:
    root = ctx.find_root()
    return bool(root.obj and root.obj.get("debug")) or "--debug" in sys.argv[1:]


# Preprocessing of raw data (image folders, CSV): x = (raw * scale - mean) / std. Shared by
# convert, evaluate, verify and deploy; calibration.resolve_preprocess documents the JSON file.
SCALE_OPTION = typer.Option(
    None,
    "--scale",
    help="Image folders/CSV: multiply raw values by this (e.g. 1/127.5; images default 1/255).",
)
MEAN_OPTION = typer.Option(
    None, "--mean", help="Then subtract this (one value or one per channel, e.g. 1 or 0.5,0.5,0.5)."
)
STD_OPTION = typer.Option(
    None, "--std", help="Then divide by this (one value or one per channel); default 1."
)

LABELS_OPTION = typer.Option(
    None,
    "--labels",
    "-l",
    help="Class labels of the --data samples: report device, host int8 and float accuracy.",
)


def _preprocess(scale: str | None, mean: str | None, std: str | None) -> Any:
    from tinyflash.calibration import make_preprocess

    return make_preprocess(scale, mean, std)


@app.command("convert")
def convert_command(
    ctx: typer.Context,
    model: str = typer.Argument(
        ...,
        help="SavedModel dir, .keras, .h5 or path/to/file.py:name (a .tflite with --weight-bits).",
    ),
    output: Path = typer.Option(..., "--output", "-o", help="The .tflite to write."),
    data: Path | None = typer.Option(
        None,
        "--data",
        "-d",
        help="Calibration data: .npy, .npz, .csv or an image folder (not needed by a "
        "quantization-aware trained model).",
    ),
    mode: str = typer.Option(
        "int8",
        "--mode",
        "-m",
        help="int8 (default), uint8-io, int8-float-io, int16x8 (16x8: int16 activations, int8 "
        "weights), or host-only float16, dynamic.",
    ),
    samples: int = typer.Option(200, "--samples", "-n", help="Use at most N calibration samples."),
    signature: str | None = typer.Option(
        None, "--signature", help="SavedModel signature key (multi-signature models)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    force: bool = typer.Option(False, "--force", help="Replace an existing -o file."),
    stateful: bool = typer.Option(
        False,
        "--stateful",
        help="Keep the model's variables as state between invokes (resource variables); "
        "automatic when the call assigns a variable.",
    ),
    weight_bits: int | None = typer.Option(
        None,
        "--weight-bits",
        "-k",
        help="Cluster the int8 weights of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and "
        "TRANSPOSE_CONV to at most 2^K values per output channel (K = 1..7; k-means on the int8 "
        "values). MODEL may then be a .tflite.",
    ),
    scale: str | None = SCALE_OPTION,
    mean: str | None = MEAN_OPTION,
    std: str | None = STD_OPTION,
) -> None:
    """Convert a float TensorFlow/Keras model to a .tflite (full int8 by default).

    The batch dimension is pinned to 1; the TensorFlow converter runs in a child process (a crash becomes an error with its remedy). Prints size before/after, the op histogram and whether the result is deployable on a microcontroller. Exit 1 when the result is written but not deployable. A quantization-aware trained model (tfmot) converts with its own ranges, without --data. --weight-bits K clusters the weights after conversion, or of a .tflite given as MODEL; `tinyflash evaluate` shows what it costs.

    Example: tinyflash convert examples/digits/digits.keras -o digits.tflite --data examples/digits/calibration.npz
    """
    from tinyflash.convert import convert_model
    from tinyflash.opcheck import SCHEME_16X8, SCHEME_INT8, deployable_text

    if weight_bits is not None and model.lower().endswith(".tflite"):
        _cluster_tflite(model, output, weight_bits, force, as_json)
        return
    debug = _debug(ctx)
    bar = _LazyBar("calibrating", disable=as_json)
    try:
        result = convert_model(
            model,
            output,
            data,
            mode=mode,
            samples=samples,
            signature=signature,
            progress=bar.update,
            debug=debug,
            force=force,
            stateful=stateful,
            preprocess=_preprocess(scale, mean, std),
            weight_bits=weight_bits,
        )
    finally:
        bar.stop()
    if as_json:
        print_json(result.to_json())
        if not result.host_only and result.deployable is False:
            raise typer.Exit(1)
        return
    console = out_console()
    ratio = result.tflite_bytes / result.float_weight_bytes if result.float_weight_bytes else 0.0
    print_parts(
        console,
        [
            f"[bold green]converted[/] {result.model}",
            f"-> {result.output}",
            f"(mode {result.mode},",
            "no calibration (QAT ranges),"
            if result.trained_ranges
            else f"{result.samples} calibration samples,",
            f"{result.total_seconds:.1f} s)",
        ],
        sep=" ",
    )
    print_parts(
        console,
        [
            f"  size: model file {result.source_bytes:,} B,",
            f"float32 weights {result.float_weight_bytes:,} B",
            f"-> .tflite {result.tflite_bytes:,} B",
        ]
        + ([f"({ratio:.2f} x the float32 weight bytes)"] if ratio else []),
        sep=" ",
        indent="    ",
    )
    inputs = [f"{s.name} {s.dtype}{list(s.shape)}" for s in result.inputs]
    print_parts(
        console,
        [f"  inputs (float model, batch pinned to 1): {inputs[0]}", *inputs[1:]]
        if inputs
        else ["  inputs: -"],
        indent="    ",
    )
    if result.stateful:
        console.print(
            "  stateful: variables kept between invokes as resource variables (reset with "
            "the protocol RESET / tfl_reset_variables)"
        )
    if result.preprocess:
        console.print(f"  calibration data: {result.preprocess}", soft_wrap=True)
    if result.trained_ranges:
        console.print("  ranges: learnt in quantization-aware training (fake-quant ops)")
    for line in result.notes:
        console.print(f"[cyan]note:[/] {line}", soft_wrap=True)
    if result.clustering is not None:
        _print_clustering(console, result.clustering)
    if result.op_histogram:
        ops = [f"{name} x{count}" for name, count in result.op_histogram.items()]
        print_parts(console, [f"  ops: {ops[0]}", *ops[1:]], indent="    ")
    for line in result.warnings:
        console.print(f"[yellow]warning:[/] {line}", soft_wrap=True)
    if result.host_only:
        console.print(
            f"[yellow]host-only[/]: mode {result.mode} runs on the host (TFLite), not on "
            "a microcontroller; use --mode int8 or int16x8 for a device."
        )
    elif result.deployable:
        print_parts(
            console,
            [
                "[bold green]deployable[/]: "
                + deployable_text(SCHEME_16X8 if result.mode == "int16x8" else SCHEME_INT8),
                f"(next: tinyflash check {result.output})",
            ],
            sep=" ",
        )
    elif result.deployable is False:
        console.print("[bold red]not deployable[/]:")
    for line in result.problems[1 if result.host_only else 0 :]:
        console.print(f"  - {line}", soft_wrap=True)
    if not result.host_only and result.deployable is False:
        from tinyflash.errors import EXIT_CHECK_FAILED

        # Name the op that matters, not the QUANTIZE/DEQUANTIZE the converter wrapped around it.
        edges = (" QUANTIZE ", " DEQUANTIZE ")
        ranked = sorted(result.problems, key=lambda p: any(e in p for e in edges))
        first = ranked[0].rstrip(".") if ranked else "see tinyflash check"
        raise TinyflashError(
            f"{result.output} was written but is not deployable in mode {result.mode}: {first} "
            f"({len(result.problems)} problem(s) in all; `tinyflash check {result.output}` lists "
            "them).",
            EXIT_CHECK_FAILED,
        )


def _cluster_tflite(model: str, output: Path, bits: int, force: bool, as_json: bool) -> None:
    from tinyflash.cluster import cluster_file

    result = cluster_file(model, output, bits, force=force)
    if as_json:
        print_json({"model": model, "output": str(output), "clustering": result.to_json()})
        return
    console = out_console()
    console.print(f"[bold green]clustered[/] {model} -> {output}", soft_wrap=True)
    _print_clustering(console, result)


def _print_clustering(console: Any, result: Any) -> None:
    """The lines `convert --weight-bits` prints (result: cluster.ClusterResult)."""
    moved = max((t.rms_change for t in result.tensors), default=0.0)
    console.print(
        f"  weights: {len(result.tensors)} tensors, {result.weight_elements:,} int8 values "
        f"snapped to <= {1 << result.bits} per output channel ({result.bits} bits); "
        f"{result.changed:,} changed (largest RMS change {moved:.2f} LSB in one tensor)",
        soft_wrap=True,
    )
    console.print(
        f"  size: .tflite {result.tflite_bytes:,} B (unchanged: weights stay int8 bytes); "
        f"{result.bits}-bit indices + per-channel tables would take {result.palette_bytes:,} B "
        f"of the {result.dense_bytes:,} B of weights; gzip -9 {result.gzip_before:,} -> "
        f"{result.gzip_after:,} B",
        soft_wrap=True,
    )
    for line in result.skipped:
        console.print(f"  [yellow]not clustered[/]: {line}", soft_wrap=True)
    console.print(
        "  cost: `tinyflash evaluate FLOAT_MODEL_OR_INT8.tflite CLUSTERED.tflite --data ...`",
        soft_wrap=True,
    )


@app.command("evaluate")
def evaluate_command(
    ctx: typer.Context,
    float_model: str = typer.Argument(
        ...,
        help="The float model (SavedModel, .keras, .h5, file.py:name), or a baseline .tflite "
        "(e.g. the int8 model before --weight-bits).",
    ),
    quant_model: Path = typer.Argument(..., help="Its converted .tflite."),
    data: Path | None = typer.Option(
        None,
        "--data",
        "-d",
        help="Inputs: .npy, .npz, .csv or an image folder (required with a float model; with a "
        ".tflite baseline the default is 200 random inputs, seed 0).",
    ),
    labels: Path | None = typer.Option(
        None,
        "--labels",
        "-l",
        help="Class labels (.npy/.npz/.csv); default: 'y' in the --data .npz.",
    ),
    samples: int | None = typer.Option(None, "--samples", "-n", help="Use at most N samples."),
    reference: str = typer.Option(
        "tflite-ref", "--reference", help="Runs the .tflite: tflite-ref, tflm or tflite-default."
    ),
    signature: str | None = typer.Option(None, "--signature", help="SavedModel signature key."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    scale: str | None = SCALE_OPTION,
    mean: str | None = MEAN_OPTION,
    std: str | None = STD_OPTION,
) -> None:
    """Compare a quantized .tflite with its float model on the host.

    Reports accuracy of both (with labels), top-1 agreement, and the quantized model's output error against the float model (max abs, mean abs, RMSE, cosine similarity). With a .tflite as the first model, the two .tflite models are compared the same way (what `convert --weight-bits` costs against the int8 model).

    Example: tinyflash evaluate examples/digits/digits.keras digits.tflite --data examples/digits/test.npz
    """
    from tinyflash.evaluate import evaluate

    bar = _LazyBar("evaluating", disable=as_json)
    try:
        result = evaluate(
            float_model,
            quant_model,
            data,
            labels=labels,
            samples=samples,
            reference=reference,
            signature=signature,
            progress=bar.update,
            quiet=not _debug(ctx),
            preprocess=_preprocess(scale, mean, std),
        )
    finally:
        bar.stop()
    if as_json:
        print_json(result.to_json())
        return
    console = out_console()
    print_parts(
        console,
        [
            f"{result.quant_model} ({result.reference})",
            f"vs {result.float_model}:",
            f"{result.samples} samples",
        ],
        sep=" ",
    )
    console.print(f"  data: {result.preprocess}", soft_wrap=True)
    if result.accuracy_float is not None and result.accuracy_quant is not None:
        console.print(
            f"  accuracy: {result.baseline} {result.accuracy_float:.2%}, "
            f"{'quantized' if result.baseline == 'float' else 'this .tflite'} "
            f"{result.accuracy_quant:.2%} ({result.accuracy_quant - result.accuracy_float:+.2%})"
        )
    console.print(f"  top-1 agreement: {result.top1_agreement:.2%}")
    for out in result.outputs:
        print_parts(
            console,
            [
                f"  output {out.name}: max abs {out.max_abs:.4g}",
                f"mean abs {out.mean_abs:.4g}",
                f"RMSE {out.rmse:.4g}",
                f"cosine {out.cosine:.5f}",
            ],
            indent="    ",
        )


# ---- end of convert / evaluate (issue 2) ----------------------------------------------


# ---- boards, doctor, build, flash (boards.py, platformio.py) --------------------------------


def _kib(n: int) -> str:
    return f"{n / 1024:,.1f} KiB" if n < 1024 * 1024 else f"{n / (1024 * 1024):,.1f} MiB"


@app.command("boards")
def boards_command(
    as_json: bool = typer.Option(False, "--json", help="Print the boards as JSON."),
) -> None:
    """List the boards tinyflash can build for, with their CPU, flash and RAM limits.

    Emulated boards run in QEMU; `host` builds a native executable. Real boards build with PlatformIO's standard platform and the Arduino framework (network needed on the first build).

    Example: tinyflash boards --json
    """
    from rich.table import Table

    from tinyflash.boards import list_boards

    boards = list_boards()
    if as_json:
        print_json([b.as_dict() for b in boards])
        return
    from rich import box

    console = out_console()
    # The ruled table needs ~100 columns; narrower, its rules would leave "runs on" 4 characters.
    narrow = (
        {
            "box": box.SIMPLE_HEAD,
            "show_edge": False,
            "pad_edge": False,
            "collapse_padding": True,
            "title_justify": "left",
        }
        if console.width < 100
        else {}
    )
    # Narrow, "runs on" names the PlatformIO platform alone (a wrapped "(arduino)" would double
    # the table's height) and the frameworks follow the table once.
    frameworks = sorted(
        {f for b in boards if b.flash_method not in ("qemu", "exec") for f in b.frameworks}
    )
    table = Table(title="tinyflash boards", **narrow)  # type: ignore[arg-type]
    for column in ("board", "cpu", "flash", "RAM", "kernels", "runs on"):
        table.add_column(
            column,
            no_wrap=column != "runs on",
            justify="right" if column in ("flash", "RAM") else "left",
        )
    for b in boards:
        platform = b.platform or "PlatformIO"
        runs = {"qemu": "QEMU", "exec": "this host" if narrow else "host executable"}.get(
            b.flash_method, platform if narrow else f"{platform} ({', '.join(b.frameworks)})"
        )
        table.add_row(b.id, b.cpu, _kib(b.flash_bytes), _kib(b.ram_bytes), b.kernels, runs)
    console.print(table)
    if narrow and frameworks:
        console.print(
            f"Real boards build with the PlatformIO platform named and the "
            f"{', '.join(frameworks)} framework."
        )


@app.command("ops")
def ops_command(
    as_json: bool = typer.Option(False, "--json", help="Print the table as JSON."),
    op: str | None = typer.Option(None, "--op", help="Only this operator (e.g. ARG_MAX)."),
) -> None:
    """Operator coverage: which TFLite operators and types tflite-micro and tinyflash run.

    Every builtin operator and integer type combination, probed with single-op models (docs/ops.md). Operators TFLM does not register and tinyflash has no kernel for are listed after the table.

    Example: tinyflash ops --op ARG_MAX
    """
    from rich.table import Table

    from tinyflash.ops import TFLM_UNREGISTERED, load_table, row_test_text, table_dict

    meta, rows = load_table()
    if op is not None:
        rows = [r for r in rows if r.op == op.upper()]
        if not rows:
            raise TinyflashError(
                f"{op} is not a TFLite builtin operator name (e.g. ARG_MAX); "
                "`tinyflash ops` lists them all",
                EXIT_BAD_INPUT,
            )
    if as_json:
        print_json(table_dict(rows, meta))
        return
    console = out_console()
    table = Table(
        title=f"operators (tflite-micro {meta.get('tflite_micro', '?')})",
        title_justify="left",
        **narrow_table(console),
    )
    for column in ("operator", "types", "TFLM", "tinyflash", "test"):
        table.add_column(column, no_wrap=column in ("operator", "TFLM", "tinyflash"))
    hidden = sorted({r.op for r in rows if r.tflm == TFLM_UNREGISTERED and not r.tinyflash})
    for r in rows:
        if r.op in hidden:
            continue
        table.add_row(r.op, r.types, r.tflm, "yes" if r.tinyflash else "no", row_test_text(r))
    console.print(table)
    summary = table_dict(rows, meta)["summary"]
    console.print(
        f"TFLM runs {summary['tflm_yes']} rows; tinyflash runs {summary['both_yes']} of them."
    )
    if hidden:
        console.print(
            "Not registered in TFLM, no tinyflash kernel: " + ", ".join(hidden), soft_wrap=True
        )


@app.command("doctor")
def doctor_command(
    fix: bool = typer.Option(
        False, "--fix", help="Provision PlatformIO's tool-scons when missing."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
    tflm_path: Path | None = typer.Option(
        None,
        "--tflm-path",
        help="Also check this TFLM tree (layout, flavour, versions, kernels).",
    ),
) -> None:
    """Check the tools that builds and emulation need.

    Checks pio, tool-scons, arm-none-eabi-gcc, newlib, qemu-system-arm and gcc (and with --tflm-path a TFLM tree: exported layout, generic or CMSIS-NN, versions, kernels). Prints each version, or the command that fixes what is missing, and exits 1 when anything is missing.

    Example: tinyflash doctor --fix
    """
    from rich.table import Table

    from tinyflash.platformio import doctor, ensure_platformio

    if fix:
        ensure_platformio()
    checks = doctor()
    if tflm_path is not None:
        from tinyflash.platformio import ToolStatus
        from tinyflash.tflm_tree import tree_checks

        for name, ok, found, remedy in tree_checks(tflm_path):
            found = found if ok else error_sentence(TinyflashError(found))
            checks.append(ToolStatus(name, ok, found, found, remedy))
    missing = [c for c in checks if not c.ok]
    if as_json:
        print_json({"ok": not missing, "checks": [c.as_dict() for c in checks]})
    else:
        console = out_console()
        table = Table(title="tinyflash doctor", title_justify="left", **narrow_table(console))
        for column in ("tool", "status", "version / fix"):
            table.add_column(column, no_wrap=column != "version / fix")
        for c in checks:
            table.add_row(
                c.name,
                "[green]ok[/]" if c.ok else "[red]missing[/]",
                c.version if c.ok else f"{c.detail}; fix: {c.fix}",
            )
        console.print(table)
    if missing:
        raise typer.Exit(1)


def _usage_table(result: Any) -> Any:
    from rich.table import Table

    size = result.size
    table = Table(title=f"{result.board.id}: {result.elf}")
    for column in ("memory", "used", "limit", "use", "made of"):
        table.add_column(column, justify="left" if column in ("memory", "made of") else "right")
    table.add_row(
        "flash",
        f"{size.flash_used:,} B",
        f"{size.flash_limit:,} B",
        f"{size.flash_percent:.1f}%",
        f"text {size.text:,} + data {size.data:,}",
    )
    stack = (
        ""
        if result.board.is_host
        else f"; bss holds the arena and the {result.board.stack_bytes:,} B stack"
    )
    table.add_row(
        "RAM",
        f"{size.ram_used:,} B",
        f"{size.ram_limit:,} B",
        f"{size.ram_percent:.1f}%",
        f"data {size.data:,} + bss {size.bss:,}{stack}",
    )
    if result.model_bytes is not None:
        table.add_row("  model", f"{result.model_bytes:,} B", "", "", "in flash")
    if result.arena_bytes is not None:
        table.add_row("  arena", f"{result.arena_bytes:,} B", "", "", "in RAM (bss)")
    return table


@app.command("build")
def build_command(
    project: Path = typer.Argument(..., help="A PlatformIO project (from `tinyflash generate`)."),
    env: str | None = typer.Option(None, "--env", "-e", help="platformio.ini environment."),
    as_json: bool = typer.Option(False, "--json", help="Print the build result as JSON."),
) -> None:
    """Build PROJECT offline with `pio run` and show flash and RAM use against the board's limits.

    A failed build prints its first compiler errors and the path of the full log.

    Example: tinyflash build build/demo --json
    """
    from tinyflash.platformio import build_project, build_timeout, tflm_source_count

    if as_json:
        result = build_project(project, env)
        print_json(result.as_dict())
        return
    if tflm_source_count(project):
        err_console().print(
            f"Building {project}: up to {tflm_source_count(project)} TFLM sources to compile "
            f"(none when its cache has them); time limit {build_timeout(project):.0f} s",
            markup=False,
        )
        with _progress_display(False) as display:
            result = build_project(project, env, progress=_stage_progress(display))
    else:
        with err_console().status(f"Building {project} with PlatformIO…", spinner="dots"):
            result = build_project(project, env)
    out_console().print(_usage_table(result))
    print_parts(
        out_console(),
        [f"built in {result.seconds:.1f} s", f"map {result.map}", f"log {result.log}"],
        sep="; ",
    )


@app.command("flash")
def flash_command(
    project: Path = typer.Argument(..., help="A PlatformIO project (from `tinyflash generate`)."),
    env: str | None = typer.Option(None, "--env", "-e", help="platformio.ini environment."),
    upload_port: str | None = typer.Option(
        None,
        "--upload-port",
        help="Serial/upload port; for QEMU boards tcp:127.0.0.1:PORT puts "
        "the board's UART on a TCP server.",
    ),
    timeout: float = typer.Option(
        120.0,
        "--timeout",
        help="Seconds before the upload (on emulated boards: the running firmware) is stopped.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Build PROJECT and flash it with `pio run -t upload`.

    On emulated boards this runs the firmware in QEMU (on the host: the executable) with its serial port on this terminal until it exits or --timeout passes; the firmware's exit status is reported. A generated firmware waits for a host after its banner, so here it runs until --timeout (exit 1): use `tinyflash verify`, or --upload-port tcp:… and then probe/verify --port, to talk to it. On real boards it is PlatformIO's own upload to --upload-port (without it, PlatformIO picks the port); then run `tinyflash verify`.

    Example: tinyflash flash build/demo --upload-port tcp:127.0.0.1:5555

    Example: tinyflash flash build/nano --upload-port /dev/ttyACM0
    """
    from tinyflash.errors import EXIT_CHECK_FAILED
    from tinyflash.platformio import build_project, upload_project

    interactive = sys.stdin.isatty() and not as_json
    if as_json:
        built = build_project(project, env)
    else:
        with err_console().status(f"Building {project} with PlatformIO…", spinner="dots"):
            built = build_project(project, env)
        out_console().print(_usage_table(built))
        err_console().print(f"Flashing {built.board.id} ({built.board.flash_method})…")
    shown = {"on": False}

    def _show(line: str) -> None:
        # pio's own chatter first; from its "Running …" line on, the firmware's serial output.
        if shown["on"] and not line.startswith("====="):
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        elif line.startswith("Running ") or line.startswith("Uploading"):
            shown["on"] = True
            err_console().print(line, markup=False, highlight=False)

    uploaded = upload_project(
        project,
        built.env,
        timeout=timeout,
        upload_port=upload_port,
        pass_stdin=interactive,
        on_line=None if as_json else _show,
    )
    if as_json:
        data = built.as_dict()
        data.update({"upload_exit_code": uploaded.exit_code, "upload_log": str(uploaded.log)})
        print_json(data)
    if uploaded.exit_code != 0:
        raise TinyflashError(
            f"flashing {project} (env {built.env}) failed or the firmware "
            f"exited with an error; see {uploaded.log}.",
            EXIT_CHECK_FAILED,
        )


# ---- verify / deploy (issue 5) --------------------------------------------------------------


def _verify_output(
    result: Any,
    as_json: bool,
    html_path: Path | None,
    extra: dict[str, Any] | None = None,
    info: Any = None,
) -> None:
    from tinyflash.errors import EXIT_CHECK_FAILED
    from tinyflash.report import print_report, write_html

    if html_path is not None:
        from tinyflash.model import load_model
        from tinyflash.plan import plan_memory

        if info is None:
            info = load_model(Path(result.model))
        write_html(result, html_path, plan_memory(info), info)
    if as_json:
        data = result.to_dict()
        if extra:
            data = {**extra, "verify": data}
        print_json(data)
    else:
        print_report(result, out_console())
        if html_path is not None:
            out_console().print(f"report: {html_path}")
    if not result.passed:
        raise typer.Exit(EXIT_CHECK_FAILED)


def _progress_display(disable: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = err_console()
    # Not on a terminal the display draws nothing, but its stop() would print a blank line on
    # stderr (before an error's sentence, say).
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=disable or not console.is_interactive,
    )


def _stage_progress(display: Any) -> Callable[[str, int, int], None]:
    """A progress callback (stage, done, total) that keeps one bar per stage on `display`."""
    tasks: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = display.add_task(stage, total=total)
        display.update(tasks[stage], completed=done, total=total)

    return progress


def _real_board_port(project: Path, quiet: bool) -> str | None:
    """For a real board's project: the serial port of the one connected board (`pio device
    list`), else None (emulated boards and the host are started by verify itself)."""
    from tinyflash.boards import load_board
    from tinyflash.platformio import detect_serial_port
    from tinyflash.verify import read_project

    board = load_board(read_project(project).board)
    if board.emulated or board.is_host:
        return None
    port = detect_serial_port(board)
    if not quiet:
        err_console().print(
            f"using serial port {port} (the one board `pio device list` shows)", markup=False
        )
    return port


PLACE_HELP = "Run on this labgrid place (acquired, flashed, released afterwards)."
TAG_HELP = (
    "Reserve a labgrid place with this tag (KEY=VALUE, repeatable) and wait for it, "
    "instead of --place."
)
FARM_HELP = "labgrid coordinator HOST:PORT (default: $LG_COORDINATOR)."


@contextmanager
def _farm_lease(
    farm: str | None, place: str | None, tags: list[str] | None, quiet: bool
) -> Iterator[Any]:
    """Holds the labgrid place for the block (released on every way out, Ctrl-C included)."""
    from tinyflash.farm import lease, parse_tags

    with lease(farm, place, parse_tags(tags or [])) as held:
        if not quiet:
            for note in held.notes:
                err_console().print(f"note: {note}", soft_wrap=True, markup=False)
            err_console().print(
                f"on place {held.place} (serial {held.url})", soft_wrap=True, markup=False
            )
        yield held


@app.command("verify")
def verify_command(
    target: Path = typer.Argument(
        ...,
        help="A project directory (from `tinyflash generate`) or a "
        ".tflite model (then --board is used to generate one).",
    ),
    board: str = typer.Option("mps2-an386", "--board", "-b", help="Board for a .tflite target."),
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        help="Project directory for a .tflite target (default: a fresh temporary directory).",
    ),
    port: str | None = typer.Option(
        None,
        "--port",
        "-p",
        help="Serial port URL of a real board (/dev/ttyACM0, COM3, "
        "socket://host:port); default: start the emulator, "
        "or for a real board the one USB serial device "
        "connected.",
    ),
    data: Path | None = typer.Option(
        None,
        "--data",
        "-d",
        help="Float inputs (.npy/.npz/.csv/images), quantized per "
        "input; default: random int8 inputs.",
    ),
    samples: int = typer.Option(10, "--samples", "-n", min=1, help="Number of inputs to run."),
    stream: int | None = typer.Option(
        None,
        "--stream",
        min=1,
        help="Streaming check (replaces --samples): N consecutive frames from a RESET, state "
        "carried between invokes, each compared with one TFLM interpreter run over the same "
        "frames; then RESET and the first frames again must equal a fresh interpreter's.",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the random inputs."),
    tolerance: int = typer.Option(
        0,
        "--tolerance",
        min=0,  # refused before any build
        help="Allowed difference from the TFLM reference, in LSB (default 0: bit-exact).",
    ),
    per_layer: bool = typer.Option(
        False,
        "--per-layer",
        help="On a mismatch, fetch every intermediate tensor and name the first op that diverges.",
    ),
    float_model: Path | None = typer.Option(
        None, "--float-model", help="Also compare with the float model."
    ),
    force: bool = typer.Option(False, "--force", help="Replace generated files in --output."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    html_path: Path | None = typer.Option(
        None, "--html", help="Also write a self-contained HTML report."
    ),
    labels: Path | None = LABELS_OPTION,
    scale: str | None = SCALE_OPTION,
    mean: str | None = MEAN_OPTION,
    std: str | None = STD_OPTION,
    place: str | None = typer.Option(None, "--place", help=PLACE_HELP),
    tag: list[str] | None = typer.Option(None, "--tag", help=TAG_HELP),
    farm: str | None = typer.Option(None, "--farm", help=FARM_HELP),
) -> None:
    """Run inputs on the device and compare with the host references, bit for bit.

    The tflite-micro Python runtime (TFLM's reference kernels) is the exact reference; TFLite's BUILTIN_REF and default kernels (and the float model with --float-model) are reported beside it. Emulated boards and host firmware are started (and stopped) here; QEMU runs with -icount shift=0, so ticks are deterministic instruction counts. Exit 1 when the device differs from TFLM by more than --tolerance LSB.

    Stateful models (LSTM/SVDF state, resource variables) start from a RESET; --stream N checks a stream of N frames and that RESET restores a fresh interpreter's outputs.

    Example: tinyflash verify model.tflite --board mps2-an386 --samples 20 --html report.html
    """
    from tinyflash.deploy import project_for_model
    from tinyflash.verify import verify_project

    if labels is not None and data is None:  # refused before any build
        raise TinyflashError(
            "--labels needs --data: labels name the classes of the data's samples (random "
            "inputs have none)",
            EXIT_BAD_INPUT,
        )
    project = target
    info = None  # the model's ModelInfo once parsed here (then verify does not parse it again)
    if target.suffix.lower() == ".tflite":
        if not target.is_file():
            raise TinyflashError(
                f"{target} does not exist; give a .tflite model or a project directory.",
                EXIT_BAD_INPUT,
            )
        project, info = project_for_model(target, board, output, force)
    elif not target.is_dir():
        raise TinyflashError(
            f"{target} is neither a .tflite model nor a project directory.", EXIT_BAD_INPUT
        )
    options: dict[str, Any] = dict(
        data=data,
        samples=samples,
        seed=seed,
        tolerance=tolerance,
        per_layer=per_layer,
        float_model=float_model,
        info=info,
        stream=stream,
        labels=labels,
        preprocess=_preprocess(scale, mean, std),
    )
    if place or tag:
        from tinyflash.farm import run_on_place

        with _farm_lease(farm, place, tag, as_json) as held, _progress_display(as_json) as display:
            result = run_on_place(project, held, progress=_stage_progress(display), **options)
        _verify_output(result, as_json, html_path, extra={"place": held.place}, info=info)
        return
    if port is None:
        port = _real_board_port(project, quiet=as_json)
    with _progress_display(as_json) as display:
        result = verify_project(project, port=port, progress=_stage_progress(display), **options)
    _verify_output(result, as_json, html_path, info=info)


@app.command("deploy")
def deploy_command(
    ctx: typer.Context,
    model: str = typer.Argument(
        ...,
        help="A float model (SavedModel, .keras, .h5, file.py:name) "
        "or an already converted .tflite.",
    ),
    data: Path | None = typer.Option(
        None, "--data", "-d", help="Calibration data (also the verification inputs)."
    ),
    board: str = typer.Option("mps2-an386", "--board", "-b", help="Board id (`tinyflash boards`)."),
    output: Path = typer.Option(
        Path("build/deploy"), "--output", "-o", help="Directory for model.tflite and project/."
    ),
    samples: int = typer.Option(
        10, "--samples", "-n", min=1, help="Inputs to verify on the device."
    ),
    mode: str = typer.Option("int8", "--mode", "-m", help="Conversion mode (int8 deploys)."),
    port: str | None = typer.Option(None, "--port", "-p", help="Serial port of a real board."),
    force: bool = typer.Option(False, "--force", help="Replace tinyflash's files in --output."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    html_path: Path | None = typer.Option(None, "--html", help="Also write an HTML report."),
    labels: Path | None = LABELS_OPTION,
    scale: str | None = SCALE_OPTION,
    mean: str | None = MEAN_OPTION,
    std: str | None = STD_OPTION,
    runtime: str = typer.Option(
        "tinyflash", "--runtime", help="tinyflash or tflm (as for `tinyflash generate`)."
    ),
    tflm_path: Path | None = typer.Option(
        None, "--tflm-path", help="With --runtime tflm: a TFLM tree (from create_tflm_tree.py)."
    ),
    place: str | None = typer.Option(None, "--place", help=PLACE_HELP),
    tag: list[str] | None = typer.Option(None, "--tag", help=TAG_HELP),
    farm: str | None = typer.Option(None, "--farm", help=FARM_HELP),
) -> None:
    """Convert, check, generate, build, flash and verify in one command.

    MODEL may be an already converted .tflite (conversion is then skipped). Artefacts are kept in --output. Ends with the verification report; exit 1 if the device is not bit-exact with TFLM.

    Example: tinyflash deploy examples/digits/digits.keras --data examples/digits/calibration.npz --board mps2-an386 -o build/demo
    """
    from tinyflash.deploy import deploy

    console = err_console()
    with _progress_display(as_json) as display:

        def stage(name: str) -> None:
            if not as_json:
                console.print(f"[bold]▸ {name}[/]")

        result = deploy(
            model,
            board=board,
            output_dir=output,
            data=data,
            samples=samples,
            mode=mode,
            force=force,
            port=port,
            stage=stage,
            progress=_stage_progress(display),
            debug=_debug(ctx),
            labels=labels,
            preprocess=_preprocess(scale, mean, std),
            runtime=runtime,
            tflm_path=tflm_path,
            farm_lease=((lambda: _farm_lease(farm, place, tag, as_json)) if place or tag else None),
        )
    if not as_json:
        print_parts(
            out_console(),
            [
                f"artefacts: {result.output_dir}",
                f"(model {result.model},",
                f"project {result.project_dir});",
                f"arena {result.arena_bytes:,} B planned,",
                f"lower bound {result.lower_bound:,} B",
            ],
            sep=" ",
        )
    _verify_output(
        result.verify,
        as_json,
        html_path,
        extra={k: v for k, v in result.to_dict().items() if k != "verify"},
    )


# ---- probe (issue 5: the serial link) --------------------------------------------------------


@app.command("probe")
def probe_command(
    port: str | None = typer.Option(
        None,
        "--port",
        "-p",
        help="Serial port URL: /dev/ttyACM0, COM3, socket://127.0.0.1:PORT (required unless "
        "--place or --tag).",
    ),
    timeout: float = typer.Option(5.0, "--timeout", help="Seconds to wait for each answer."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    place: str | None = typer.Option(
        None, "--place", help="Probe the board of this labgrid place (held while probing)."
    ),
    tag: list[str] | None = typer.Option(None, "--tag", help=TAG_HELP),
    farm: str | None = typer.Option(None, "--farm", help=FARM_HELP),
) -> None:
    """Ask a running tinyflash firmware what it is (the INFO request of docs/protocol.md).

    Prints the banner, model SHA-256, runtime, board, arena, input/output tensors and tick unit. Exit 1 when the device could not initialise its model or its self-test failed.

    Example: tinyflash probe --port socket://127.0.0.1:4444 --json
    """
    from rich.table import Table

    from tinyflash.errors import EXIT_CHECK_FAILED
    from tinyflash.link import probe

    if place or tag:
        with _farm_lease(farm, place, tag, as_json) as held:
            result = probe(held.url, timeout=timeout)
    elif port is None:
        raise TinyflashError(
            "give the serial port (--port URL) or a labgrid place (--place NAME)", EXIT_BAD_INPUT
        )
    else:
        result = probe(port, timeout=timeout)
    if as_json:
        print_json(result.to_dict())
    else:
        info = result.info
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(no_wrap=True)
        table.add_column(overflow="fold")  # the whole SHA-256, folded, never cut with an ellipsis
        table.add_row("banner", result.banner.text)
        table.add_row("model sha256", info.model_sha256)
        table.add_row("runtime", f"{info.runtime_version} (protocol {info.protocol_version})")
        table.add_row("board", info.board)
        table.add_row(
            "init",
            f"{info.init_status_name or info.init_status}"
            + ("" if info.ready else f" at op {info.error_op}"),
        )
        table.add_row(
            "arena",
            f"{info.arena_used:,} B used, {info.arena_planned:,} B planned, "
            f"{info.arena_bytes:,} B given",
        )
        table.add_row("ops", str(info.op_count))
        for kind, specs in (("input", info.inputs), ("output", info.outputs)):
            for i, t in enumerate(specs):
                table.add_row(
                    f"{kind} {i}",
                    f"{t.dtype.name} {list(t.shape)} scale {t.scale:.6g} zero point {t.zero_point}",
                )
        table.add_row("tick", info.tick_unit)
        table.add_row("frame payload", f"up to {info.max_payload:,} B")
        out_console().print(table)
    if not result.info.ready or result.banner.selftest == "FAIL":
        raise typer.Exit(EXIT_CHECK_FAILED)


# ---- bench (issue 6: performance) ------------------------------------------------------------


@app.command("bench")
def bench_command(
    models: list[Path] | None = typer.Argument(
        None,
        help="int8 .tflite models (default: examples/digits/digits_int8.tflite and "
        "../shared/models/*.tflite when present).",
    ),
    board: list[str] | None = typer.Option(
        None, "--board", "-b", help="Emulated board id; repeat for several (default: mps2-an386)."
    ),
    kernels: str = typer.Option(
        "portable,dsp", "--kernels", help="Comma-separated kernel sets to run: portable, dsp, mve."
    ),
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Where the projects are built (default: a new temporary directory)."
    ),
    repeats: int = typer.Option(2, "--repeats", min=1, help="Timed invokes per run."),
    runtime: str = typer.Option(
        "tinyflash",
        "--runtime",
        help="Comma-separated runtimes: tinyflash, tflm (TFLM needs --tflm-path).",
    ),
    tflm_path: Path | None = typer.Option(
        None, "--tflm-path", help="The TFLM tree (create_tflm_tree.py) for --runtime tflm."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    wide: bool = typer.Option(
        False,
        "--wide",
        help="Every column in the table (MACs, kernel, model and image bytes, runtime state).",
    ),
    place: str | None = typer.Option(
        None, "--place", help="Run on this labgrid place (no stack high-water mark there)."
    ),
    tag: list[str] | None = typer.Option(None, "--tag", help=TAG_HELP),
    farm: str | None = typer.Option(None, "--farm", help=FARM_HELP),
    aot: bool = typer.Option(
        False,
        "--aot/--no-aot",
        help="Also run every kernel set with ahead-of-time layers (generate --aot; kernels "
        "column KERNELS-aot) beside the interpreter.",
    ),
    layers: bool = typer.Option(
        False, "--layers", help="A per-operator table: instructions, MACs, MACs per instruction."
    ),
    compare: Path | None = typer.Option(
        None, "--compare", help="A saved `bench --json` result: print the ratios to it."
    ),
    patches: str = typer.Option(
        "off", "--patches", help="generate's --patches for the tinyflash runs: auto, off or N."
    ),
    patch_overhead: float = typer.Option(
        1.25, "--patch-overhead", help="generate's --patch-overhead for the tinyflash runs."
    ),
    compress: str = typer.Option(
        "auto",
        "--compress",
        help="Comma-separated: auto (compressed weights where found), off (all dense); "
        "auto,off runs both (the dense runs say KERNELS dense).",
    ),
) -> None:
    """Benchmark models on emulated boards: instructions, code and RAM per model and kernel set.

    Measures instructions per inference (SysTick ticks x the instructions per tick, 40 on MPS2, under QEMU -icount shift=0, exact and repeatable), MACs per instruction, runtime/kernel code and model bytes from the linker map, arena, runtime state, stack high-water mark, and portable vs DSP kernels against TFLM's numbers. Every run also checks the outputs against tflite-micro; exit 1 when one differs.

    With --runtime tinyflash,tflm --tflm-path DIR each model also runs on TensorFlow Lite Micro built from the tree DIR (its kernels column says tflm-generic or tflm-cmsis-nn), and the ratios tinyflash / TFLM of instructions, flash image and arena follow the table.

    With --aot each kernel set also runs with ahead-of-time layers (generate --aot) and the ratios AOT / interpreter follow the table. --layers adds the per-operator view; --compare REF.json prints this run's ratios to a saved --json result (per run, and per operator with --layers).

    Example: tinyflash bench /work/shared/models/ad01_int8.tflite --board mps2-an386 --kernels portable,dsp --json
    """
    from rich.table import Table

    from tinyflash.bench import bench, default_models, load_reference
    from tinyflash.bench import table as bench_table

    reference = load_reference(compare) if compare is not None else None

    sets = [k.strip() for k in kernels.split(",") if k.strip()]
    chosen = list(models) if models else default_models()
    boards = list(board) if board else ["mps2-an386"]
    console = err_console()
    quiet = as_json or not sys.stderr.isatty()

    def progress(label: str) -> None:
        if not quiet:
            console.print(f"bench: {label}", soft_wrap=True)

    runner = None
    if place or tag:
        from tinyflash.farm import parse_tags, place_runner

        runner = place_runner(farm, place, parse_tags(tag or []))
    result = bench(
        chosen,
        boards,
        sets,
        workdir=workdir,
        repeats=repeats,
        progress=progress,
        runtimes=[r.strip() for r in runtime.split(",") if r.strip()],
        tflm_path=tflm_path,
        runner=runner,
        aot_modes=(False, True) if aot else (False,),
        patches=patches,
        patch_overhead=patch_overhead,
        compress_modes=[m.strip() for m in compress.split(",") if m.strip()],
    )
    result.command = "tinyflash bench " + " ".join(sys.argv[2:])
    compared = result.compare(reference) if reference is not None else []
    if as_json:
        document = result.to_dict()
        if reference is not None:
            document["compare"] = compared
        print_json(document)
    else:
        out = out_console()
        from rich import box

        for board_id in dict.fromkeys(run.board for run in result.runs):
            header, rows = bench_table([r for r in result.runs if r.board == board_id], wide)
            # One space (the box's separator) between columns: the default set fits 80.
            table = Table(
                title=f"{board_id}: instructions per inference (qemu -icount shift=0); "
                "code, arena, stack in bytes",
                box=box.SIMPLE_HEAD,
                show_edge=False,
                pad_edge=False,
                padding=(0, 0),
            )
            for column in header:
                table.add_column(
                    column,
                    justify="left" if column in ("model", "kernels") else "right",
                    no_wrap=not wide,
                )
            for row in rows:
                table.add_row(*row)
            out.print(table)
        for ratio in result.ratios():
            parts = [
                f"{key.replace('_', ' ')} {value:.3f}"
                for key, value in ratio.items()
                if isinstance(value, float)
            ]
            if parts:
                parts[0] = f"{ratio['model']} on {ratio['board']}: {parts[0]}"
                print_parts(out, parts, sep="; ")
        if layers:
            _print_bench_layers(out, result.runs, compared)
        for entry in compared:
            found = [
                f"{key} {entry[key]:.3f}"
                for key in ("instructions", "image", "arena")
                if entry[key] is not None
            ]
            label = f"{entry['model']} {entry['kernels']} on {entry['board']} / {compare}: "
            out.print(label + ("; ".join(found) or "nothing to compare"), soft_wrap=True)
        for note in result.notes:
            out.print(f"note: {note}", soft_wrap=True)
    if not all(run.exact for run in result.runs):
        raise typer.Exit(1)


def _print_bench_layers(out: Any, runs: list[Any], compared: list[dict[str, Any]]) -> None:
    """bench --layers: the per-operator table, with the instruction ratio to --compare's run."""
    from rich import box
    from rich.table import Table

    from tinyflash.bench import layer_table

    header, rows = layer_table(runs)
    ratio = {
        (c["model"], c["kernels"], str(op["op_index"])): op["instructions"]
        for c in compared
        for op in c["ops"]
    }
    if compared:
        header.append("/ ref")
        for row in rows:
            value = ratio.get((row[0], row[1], row[2]))
            row.append("-" if value is None else f"{value:.3f}")
    table = Table(title="per operator", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in header:
        table.add_column(
            column, justify="left" if column in ("model", "kernels", "name") else "right"
        )
    for row in rows:
        table.add_row(*row)
    out.print(table)


# ---- farm (issue 20: board farms through labgrid) ---------------------------------------------

farm_app = typer.Typer(
    help="Board farms through labgrid: run jobs on shared places, export emulated boards.\n\n"
    "Example: tinyflash farm run ../shared/models/*.tflite --boards mps2-an386 --farm "
    "127.0.0.1:20408",
    no_args_is_help=True,
)
app.add_typer(farm_app, name="farm")


def _split(values: list[str] | None) -> list[str]:
    """Repeated and comma-separated option values, in order."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


@farm_app.command("run")
def farm_run_command(
    model: list[Path] | None = typer.Argument(None, help="int8 .tflite models."),
    models: list[str] | None = typer.Option(
        None, "--models", "-m", help="More models (comma-separated or repeated)."
    ),
    boards: list[str] | None = typer.Option(
        None, "--boards", "-b", help="Board ids (comma-separated or repeated; default mps2-an386)."
    ),
    tag: list[str] | None = typer.Option(
        None, "--tag", help="Extra tag every job's place must have (KEY=VALUE, repeatable)."
    ),
    farm: str | None = typer.Option(None, "--farm", help=FARM_HELP),
    samples: int = typer.Option(10, "--samples", "-n", min=1, help="Inputs verified per job."),
    parallel: int | None = typer.Option(
        None, "--parallel", min=1, help="Jobs at once (default: the number of matching places)."
    ),
    timeout: float = typer.Option(
        600.0, "--timeout", help="Seconds a job waits for a place before it fails."
    ),
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Where the projects are built (default: a new temporary directory)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the merged result as JSON."),
    html_path: Path | None = typer.Option(
        None, "--html", help="Also write the board x model matrix as HTML."
    ),
) -> None:
    """Run every model on every board over the farm's places in parallel, one reservation per job.

    Builds each model x board here, then each job reserves a place (emulated boards: any place tagged emulator=qemu; real boards: board=<id>), flashes it, runs the unchanged verification and releases it. Prints one merged result (bit-exact, instructions, flash/RAM per board and model); exit 1 when a job failed or differs.

    Example: tinyflash farm run ../shared/models/*.tflite --boards mps2-an386 --farm 127.0.0.1:20408 --html matrix.html
    """
    from rich.table import Table

    from tinyflash.farm import farm_run, html_matrix, parse_tags

    chosen = [*(model or []), *(Path(m) for m in _split(models))]
    board_ids = _split(boards) or ["mps2-an386"]
    console = err_console()
    quiet = as_json or not sys.stderr.isatty()

    def progress(label: str) -> None:
        if not quiet:
            console.print(f"farm: {label}", soft_wrap=True, markup=False)

    run = farm_run(
        chosen,
        board_ids,
        farm=farm,
        tags=parse_tags(tag or []),
        workdir=workdir,
        samples=samples,
        parallel=parallel,
        timeout=timeout,
        progress=progress,
    )
    if html_path is not None:
        html_path.write_text(html_matrix(run), encoding="utf-8")
    if as_json:
        print_json(run.to_dict())
    else:
        table = Table(title=f"farm run on {run.coordinator}: {run.seconds:.1f} s")
        for column in ("board", "model", "place", "result", "instructions", "flash B", "RAM B"):
            table.add_column(column, justify="left" if column in ("board", "model") else "right")
        for job in run.jobs:
            r = job.result
            verdict = "error" if job.error else ("bit-exact" if r.get("exact") else "differs")
            table.add_row(
                job.board,
                job.model.stem,
                job.place or "-",
                verdict,
                f"{r.get('instructions', 0):,}" if r else "-",
                f"{r.get('flash_bytes', 0):,}" if r else "-",
                f"{r.get('ram_bytes', 0):,}" if r else "-",
            )
        out_console().print(table)
        for job in run.jobs:
            for note in job.notes:
                out_console().print(f"note: {note}", soft_wrap=True, markup=False)
            if job.error:
                out_console().print(
                    f"{job.model.stem} on {job.board}: {job.error}", soft_wrap=True, markup=False
                )
        if html_path is not None:
            out_console().print(f"report: {html_path}")
    if not all(job.passed for job in run.jobs):
        raise typer.Exit(1)


@farm_app.command("exporter")
def farm_exporter_command(
    config: Path = typer.Argument(..., help="The exporter's resource YAML (docs/farm.md)."),
    farm: str | None = typer.Option(None, "--farm", help=FARM_HELP),
    name: str | None = typer.Option(
        None, "--name", "-n", help="The exporter's name (default: the host name)."
    ),
    hostname: str | None = typer.Option(
        None,
        "--hostname",
        help="Address clients reach this host's resources at (default: the host name).",
    ),
) -> None:
    """Run labgrid's exporter with tinyflash's QEMU board resource (TinyflashQEMU) registered.

    A TinyflashQEMU resource is an emulated board: while a place holds it, the client uploads the ELF and the exporter (re)starts QEMU with the command line `tinyflash verify` uses (-icount shift=0), its UART on the resource's TCP port. Other resources (NetworkSerialPort, USBSerialPort, ...) are exported as by labgrid-exporter. Runs until stopped (Ctrl-C); exit 100 means the coordinator went away (restart it, as labgrid's exporter service does).

    Example: tinyflash farm exporter qemu-boards.yaml --farm 127.0.0.1:20408 --name qemu-host
    """
    from tinyflash.farm import run_exporter

    code = run_exporter(config, farm, name, hostname)
    if code:
        raise typer.Exit(code)


#: How the CLI names the library's options inside error sentences (errors.option marks): the
#: flag that sets each keyword argument. Flag names live here, not in the library.
OPTION_FLAGS: dict[str, str] = {
    "aot": "--aot",
    "boards": "--boards",
    "compare": "--compare",
    "compress": "--compress",
    "data": "--data",
    "debug": "--debug",
    "farm": "--farm",
    "force": "--force",
    "kernels": "--kernels",
    "labels": "--labels",
    "mean": "--mean",
    "models": "--models",
    "mode": "--mode",
    "output": "-o",
    "output_dir": "--output",
    "patch_overhead": "--patch-overhead",
    "patches": "--patches",
    "place": "--place",
    "port": "--port",
    "reference": "--reference",
    "repeats": "--repeats",
    "runtime": "--runtime",
    "samples": "--samples",
    "scale": "--scale",
    "selftest": "--selftest",
    "signature": "--signature",
    "std": "--std",
    "stream": "--stream",
    "tflm_path": "--tflm-path",
    "tolerance": "--tolerance",
    "vendor": "--vendor",
    "weight_bits": "--weight-bits",
}


def error_sentence(error: TinyflashError) -> str:
    """The sentence the CLI prints for `error`: its options named as flags."""
    return error.worded(OPTION_FLAGS)


def main() -> None:
    """Console-script entry point: maps TinyflashError to its sentence and exit code."""
    debug = "--debug" in sys.argv[1:]
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code here
        if code == 130:  # Typer's translation of Ctrl-C (KeyboardInterrupt)
            err_console().print("[bold red]aborted[/]")
        if isinstance(code, int) and code:
            sys.exit(code)
    except TinyflashError as error:
        if debug:
            raise
        err_console().print(f"[bold red]error:[/] {error_sentence(error)}", soft_wrap=True)
        sys.exit(error.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console().print("[bold red]aborted[/]")
        sys.exit(130)
    except Exception as error:  # click usage errors and the like
        # Typer vendors its own click (typer._click): its usage errors are TyperExceptions with
        # show(), not instances of the separately installed click package's ClickException.
        if isinstance(error, typer.TyperException) and hasattr(error, "show"):
            error.show()
            sys.exit(EXIT_BAD_INPUT if error.exit_code == 2 else error.exit_code)
        if debug:
            raise
        err_console().print(
            f"[bold red]internal error:[/] {type(error).__name__}: {error} "
            "(run again with --debug for the traceback, and please report it)",
            soft_wrap=True,
        )
        sys.exit(3)


if __name__ == "__main__":
    main()
