"""The `tinyflash` command line: thin Typer commands over the library modules.

Each command parses its arguments, calls one library function that returns data, and prints it
(rich table, or JSON with --json). A TinyflashError becomes its one sentence on stderr and its exit
code; a traceback appears only with --debug.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

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
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    ctx.obj = {"debug": debug}


def out_console() -> Console:
    return Console(highlight=False)


def err_console() -> Console:
    return Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """Machine-readable output of --json: one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


# ---- commands are added below by each stage ------------------------------------------------


def _runtime_ops_epilog() -> str:
    from tinyflash.opcheck import RUNTIME_KERNELS

    return "Ops of the tinyflash runtime: " + ", ".join(RUNTIME_KERNELS) + "."


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


@app.command("check", epilog=_runtime_ops_epilog())
def check_command(
    model: Path = typer.Argument(..., help="A .tflite model."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Check that MODEL is full int8 and runs on the tinyflash runtime; show ops, MACs and memory.

    Prints a per-op table (dtypes, shapes, per-tensor/per-channel quantization, MACs), the verdict
    with each offender and its fix, model and weight bytes, total MACs, peak activation bytes (the
    lower bound) and the planned arena bytes. In the table 'c' marks a constant, 'per-ch' a
    per-channel quantized tensor. Exit 0 deployable, 1 not deployable, 2 unreadable or corrupt.

    Example: tinyflash check model.tflite --json
    """
    from tinyflash.errors import EXIT_CHECK_FAILED
    from tinyflash.opcheck import check_file

    result = check_file(model)
    data = result.to_dict()
    if as_json:
        print_json(data)
    else:
        from rich.table import Table

        console = out_console()
        table = Table(title=f"{result.info.name} ({result.info.path})", title_justify="left")
        for column in ("#", "op", "inputs", "outputs", "MACs"):
            table.add_column(column, justify="right" if column in ("#", "MACs") else "left")
        for op in data["ops"]:  # type: ignore[union-attr]
            name = op["op"] + (f" '{op['custom_code']}'" if op["custom_code"] else "")
            table.add_row(str(op["index"]), name, _shapes(op["inputs"]), _shapes(op["outputs"]),
                          f"{op['macs']:,}")
        console.print(table)
        info, plan = result.info, result.plan
        console.print(f"model {info.size_bytes:,} B, weights {info.weight_bytes:,} B, "
                      f"{info.total_macs:,} MACs, {len(info.ops)} ops")
        console.print(f"peak activations {plan.lower_bound:,} B (lower bound), planned arena "
                      f"{plan.arena_bytes:,} B, pool {plan.pool_words} words")
        for line in result.report.warnings:
            console.print(f"[yellow]warning:[/] {line}", soft_wrap=True)
        if result.deployable:
            console.print("[bold green]deployable[/]: full int8, every op has a kernel")
        else:
            console.print(f"[bold red]not deployable[/] ({len(result.report.offenders)} problems):")
            for line in result.report.offenders:
                console.print(f"  - {line}", soft_wrap=True)
    if not result.deployable:
        offenders = result.report.offenders
        more = f" (and {len(offenders) - 1} more above)" if len(offenders) > 1 else ""
        raise TinyflashError(f"{model} is not deployable: {offenders[0]}{more}.",
                             EXIT_CHECK_FAILED)


@app.command("generate")
def generate_command(
    model: Path = typer.Argument(..., help="A full-int8 .tflite model (from `tinyflash convert`)."),
    board: str = typer.Option("mps2-an386", "--board", "-b", help="Board id (`tinyflash boards`)."),
    output: Path = typer.Option(..., "--output", "-o", help="Project directory to create."),
    force: bool = typer.Option(False, "--force", help="Replace the generated files in a non-empty DIR."),
    vendor: bool = typer.Option(False, "--vendor",
                                help="Copy the runtime, harness, platform and board into the project."),
    selftest: int = typer.Option(3, "--selftest", min=0, max=3,
                                 help="Embedded self-test vectors (0-3), checked against tflite-micro."),
    kernels: Optional[str] = typer.Option(None, "--kernels",
                                          help="portable or dsp (default: the board's kernel set)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Generate a PlatformIO firmware project for MODEL on a board.

    Checks that the model is deployable, that every op has a kernel and that it fits the board's flash and RAM, then writes platformio.ini, src/ (model array, op table, memory plan, main with self-test vectors) and a README. A non-empty DIR is refused unless --force.

    Example: tinyflash generate model.tflite --board mps2-an386 -o build/fw
    """
    from tinyflash.codegen import generate

    result = generate(model, board, output, force=force, vendor=vendor, selftest=selftest,
                      kernels=kernels)
    if as_json:
        print_json(result.to_dict())
        return
    from rich.table import Table

    console = out_console()
    console.print(f"[bold green]generated[/] {result.project_dir} for board {result.board} "
                  f"({len(result.files)} files{', vendored' if result.vendored else ''})",
                  soft_wrap=True)
    console.print(f"kernels: {', '.join(result.kernels)}; arena {result.arena_bytes:,} B, pool "
                  f"{result.pool_words} words, {result.selftest_count} self-test vectors",
                  soft_wrap=True)
    table = Table("estimate", "bytes", "board limit", "parts", box=None, pad_edge=False)
    for budget in (result.ram, result.flash):
        table.add_row(budget.what, f"{budget.total:,}",
                      f"{budget.limit:,}" if budget.limit is not None else "-",
                      ", ".join(f"{line.name} {line.bytes:,}" for line in budget.lines))
    console.print(table)
    console.print(f"next: tinyflash build {result.project_dir}", soft_wrap=True)


# ---- convert / evaluate (issue 2) ----------------------------------------------------------


def _debug(ctx: typer.Context) -> bool:
    root = ctx.find_root()
    return bool(root.obj and root.obj.get("debug")) or "--debug" in sys.argv[1:]


@app.command("convert")
def convert_command(
    ctx: typer.Context,
    model: str = typer.Argument(..., help="SavedModel dir, .keras, .h5 or path/to/file.py:name."),
    output: Path = typer.Option(..., "--output", "-o", help="The .tflite to write."),
    data: Optional[Path] = typer.Option(None, "--data", "-d",
                                        help="Calibration data: .npy, .npz, .csv or an image folder."),
    mode: str = typer.Option("int8", "--mode", "-m",
                             help="int8 (default), uint8-io, int8-float-io, or host-only "
                                  "int16x8, float16, dynamic."),
    samples: int = typer.Option(200, "--samples", "-n", help="Use at most N calibration samples."),
    signature: Optional[str] = typer.Option(None, "--signature",
                                            help="SavedModel signature key (multi-signature models)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Convert a float TensorFlow/Keras model to a .tflite (full int8 by default).

    The batch dimension is pinned to 1; the TensorFlow converter runs in a child process (a crash
    becomes an error with its remedy). Prints size before/after, the op histogram and whether the
    result is deployable on a microcontroller.

    Example: tinyflash convert examples/digits/digits.keras -o digits.tflite --data examples/digits/calibration.npz
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from tinyflash.convert import convert_model

    debug = _debug(ctx)
    progress = Progress(TextColumn("calibrating"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err_console(), transient=True,
                        disable=as_json)
    with progress:
        task = progress.add_task("calibrating", total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = convert_model(model, output, data, mode=mode, samples=samples,
                               signature=signature, progress=advance, debug=debug)
    if as_json:
        print_json(result.to_json())
        return
    console = out_console()
    ratio = result.tflite_bytes / result.float_weight_bytes if result.float_weight_bytes else 0.0
    console.print(f"[bold green]converted[/] {result.model} -> {result.output} "
                  f"(mode {result.mode}, {result.samples} calibration samples, "
                  f"{result.total_seconds:.1f} s)", soft_wrap=True)
    console.print(f"  size: model file {result.source_bytes:,} B, float32 weights "
                  f"{result.float_weight_bytes:,} B -> .tflite {result.tflite_bytes:,} B"
                  + (f" ({ratio:.2f}x the float weights)" if ratio else ""), soft_wrap=True)
    inputs = ", ".join(f"{s.name} {s.dtype}{list(s.shape)}" for s in result.inputs)
    console.print(f"  inputs (float model, batch pinned to 1): {inputs}")
    if result.op_histogram:
        ops = ", ".join(f"{name} x{count}" for name, count in result.op_histogram.items())
        console.print(f"  ops: {ops}", soft_wrap=True)
    if result.host_only:
        console.print(f"[yellow]host-only[/]: mode {result.mode} runs on the host (TFLite), not on "
                      "a microcontroller; use --mode int8 for a device.")
    elif result.deployable:
        console.print("[bold green]deployable[/]: full int8, every op has a kernel "
                      f"(next: tinyflash check {result.output})", soft_wrap=True)
    elif result.deployable is False:
        console.print("[bold red]not deployable[/]:")
    for line in result.problems[1 if result.host_only else 0:]:
        console.print(f"  - {line}", soft_wrap=True)


@app.command("evaluate")
def evaluate_command(
    ctx: typer.Context,
    float_model: str = typer.Argument(..., help="The float model (SavedModel, .keras, .h5, file.py:name)."),
    quant_model: Path = typer.Argument(..., help="Its converted .tflite."),
    data: Path = typer.Option(..., "--data", "-d", help="Inputs: .npy, .npz, .csv or an image folder."),
    labels: Optional[Path] = typer.Option(None, "--labels", "-l",
                                          help="Class labels (.npy/.npz/.csv); default: 'y' in the --data .npz."),
    samples: Optional[int] = typer.Option(None, "--samples", "-n", help="Use at most N samples."),
    reference: str = typer.Option("tflite-ref", "--reference",
                                  help="Runs the .tflite: tflite-ref, tflm or tflite-default."),
    signature: Optional[str] = typer.Option(None, "--signature", help="SavedModel signature key."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Compare a quantized .tflite with its float model on the host.

    Reports accuracy of both (with labels), top-1 agreement, and the quantized model's output error
    against the float model (max abs, RMSE, cosine similarity).

    Example: tinyflash evaluate examples/digits/digits.keras digits.tflite --data examples/digits/test.npz
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from tinyflash.evaluate import evaluate

    progress = Progress(TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err_console(), transient=True,
                        disable=as_json)
    with progress:
        task = progress.add_task("evaluating", total=None)
        result = evaluate(float_model, quant_model, data, labels=labels, samples=samples,
                          reference=reference, signature=signature,
                          progress=lambda done, total: progress.update(task, completed=done, total=total),
                          quiet=not _debug(ctx))
    if as_json:
        print_json(result.to_json())
        return
    console = out_console()
    console.print(f"{result.quant_model} ({result.reference}) vs {result.float_model}: "
                  f"{result.samples} samples", soft_wrap=True)
    if result.accuracy_float is not None and result.accuracy_quant is not None:
        console.print(f"  accuracy: float {result.accuracy_float:.2%}, quantized "
                      f"{result.accuracy_quant:.2%} ({result.accuracy_quant - result.accuracy_float:+.2%})")
    console.print(f"  top-1 agreement: {result.top1_agreement:.2%}")
    for out in result.outputs:
        console.print(f"  output {out.name}: max abs {out.max_abs:.4g}, mean abs {out.mean_abs:.4g}, "
                      f"RMSE {out.rmse:.4g}, cosine {out.cosine:.5f}", soft_wrap=True)


# ---- boards, doctor, build, flash (boards.py, platformio.py) --------------------------------


def _kib(n: int) -> str:
    return f"{n / 1024:,.1f} KiB" if n < 1024 * 1024 else f"{n / (1024 * 1024):,.1f} MiB"


@app.command("boards")
def boards_command(
    as_json: bool = typer.Option(False, "--json", help="Print the boards as JSON."),
) -> None:
    """List the boards tinyflash can build for, with their CPU, flash and RAM limits.

    Emulated boards run in QEMU; `host` builds a native executable.

    Example: tinyflash boards --json
    """
    from rich.table import Table

    from tinyflash.boards import list_boards

    boards = list_boards()
    if as_json:
        print_json([b.as_dict() for b in boards])
        return
    table = Table(title="tinyflash boards")
    for column in ("board", "cpu", "flash", "RAM", "kernels", "runs on"):
        table.add_column(column, no_wrap=column != "runs on",
                         justify="right" if column in ("flash", "RAM") else "left")
    for b in boards:
        runs = {"qemu": "QEMU", "exec": "host executable"}.get(
            b.flash_method, f"PlatformIO upload ({b.platform or 'platform'})")
        table.add_row(b.id, b.cpu, _kib(b.flash_bytes), _kib(b.ram_bytes), b.kernels, runs)
    out_console().print(table)


@app.command("doctor")
def doctor_command(
    fix: bool = typer.Option(False, "--fix", help="Provision PlatformIO's tool-scons when missing."),
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
) -> None:
    """Check the tools builds and emulation need: pio, tool-scons, arm-none-eabi-gcc, newlib,
    qemu-system-arm, gcc. Prints each version, or the command that fixes what is missing, and
    exits 1 when anything is missing.

    Example: tinyflash doctor --fix
    """
    from rich.table import Table

    from tinyflash.platformio import doctor, ensure_platformio

    if fix:
        ensure_platformio()
    checks = doctor()
    missing = [c for c in checks if not c.ok]
    if as_json:
        print_json({"ok": not missing, "checks": [c.as_dict() for c in checks]})
    else:
        table = Table(title="tinyflash doctor")
        for column in ("tool", "status", "version / fix"):
            table.add_column(column)
        for c in checks:
            table.add_row(c.name, "[green]ok[/]" if c.ok else "[red]missing[/]",
                          c.version if c.ok else f"{c.detail}; fix: {c.fix}")
        out_console().print(table)
    if missing:
        raise typer.Exit(1)


def _usage_table(result: Any) -> Any:
    from rich.table import Table

    size = result.size
    table = Table(title=f"{result.board.id}: {result.elf}")
    for column in ("memory", "used", "limit", "use", "made of"):
        table.add_column(column, justify="left" if column in ("memory", "made of") else "right")
    table.add_row("flash", f"{size.flash_used:,} B", f"{size.flash_limit:,} B",
                  f"{size.flash_percent:.1f}%", f"text {size.text:,} + data {size.data:,}")
    stack = ("" if result.board.is_host
             else f"; bss holds the arena and the {result.board.stack_bytes:,} B stack")
    table.add_row("RAM", f"{size.ram_used:,} B", f"{size.ram_limit:,} B",
                  f"{size.ram_percent:.1f}%", f"data {size.data:,} + bss {size.bss:,}{stack}")
    return table


@app.command("build")
def build_command(
    project: Path = typer.Argument(..., help="A PlatformIO project (from `tinyflash generate`)."),
    env: Optional[str] = typer.Option(None, "--env", "-e", help="platformio.ini environment."),
    as_json: bool = typer.Option(False, "--json", help="Print the build result as JSON."),
) -> None:
    """Build PROJECT offline with `pio run` and show flash and RAM use against the board's limits.

    A failed build prints its first compiler errors and the path of the full log.

    Example: tinyflash build build/demo --json
    """
    from tinyflash.platformio import build_project

    if as_json:
        result = build_project(project, env)
        print_json(result.as_dict())
        return
    with err_console().status(f"Building {project} with PlatformIO…", spinner="dots"):
        result = build_project(project, env)
    out_console().print(_usage_table(result))
    out_console().print(f"built in {result.seconds:.1f} s; map {result.map}; log {result.log}")


@app.command("flash")
def flash_command(
    project: Path = typer.Argument(..., help="A PlatformIO project (from `tinyflash generate`)."),
    env: Optional[str] = typer.Option(None, "--env", "-e", help="platformio.ini environment."),
    upload_port: Optional[str] = typer.Option(
        None, "--upload-port", help="Serial/upload port; for QEMU boards tcp:127.0.0.1:PORT puts "
        "the board's UART on a TCP server."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Build PROJECT and flash it with `pio run -t upload`.

    On emulated boards this runs the firmware in QEMU (on the host: the executable) with its
    serial port on this terminal until it exits; the firmware's exit status is reported.

    Example: tinyflash flash build/demo --upload-port tcp:127.0.0.1:5555
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
    uploaded = upload_project(project, built.env, upload_port=upload_port,
                              pass_stdin=interactive)
    if as_json:
        data = built.as_dict()
        data.update({"upload_exit_code": uploaded.exit_code, "upload_log": str(uploaded.log)})
        print_json(data)
    else:
        marker = "Running "
        lines = uploaded.output.splitlines()
        start = next((i for i, line in enumerate(lines) if line.startswith(marker)), None)
        shown = lines[start:] if start is not None else lines[-40:]
        out_console().print("\n".join(l for l in shown if not l.startswith("=")), markup=False)
    if uploaded.exit_code != 0:
        raise TinyflashError(f"flashing {project} [env:{built.env}] failed or the firmware "
                             f"exited with an error; see {uploaded.log}.", EXIT_CHECK_FAILED)


def main() -> None:
    """Console-script entry point: maps TinyflashError to its sentence and exit code."""
    debug = "--debug" in sys.argv[1:]
    try:
        code = app(standalone_mode=False)  # click returns typer.Exit's code here
        if isinstance(code, int) and code:
            sys.exit(code)
    except TinyflashError as error:
        if debug:
            raise
        err_console().print(f"[bold red]error:[/] {error.message}", soft_wrap=True)
        sys.exit(error.exit_code)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console().print("[bold red]aborted[/]")
        sys.exit(130)
    except Exception as error:  # click usage errors and the like
        import click

        if isinstance(error, click.exceptions.ClickException):
            error.show()
            sys.exit(EXIT_BAD_INPUT if error.exit_code == 2 else error.exit_code)
        if debug:
            raise
        err_console().print(
            f"[bold red]internal error:[/] {type(error).__name__}: {error} "
            "(run again with --debug for the traceback, and please report it)", soft_wrap=True)
        sys.exit(3)


if __name__ == "__main__":
    main()
