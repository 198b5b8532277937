"""Rendering a verification result: a terminal table (rich) and a self-contained HTML report
(matplotlib figures inlined as SVG; no network assets)."""

from __future__ import annotations

import html
import io
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from tinyflash.verify import EXACT_REFERENCE, VerifyResult


def verdict_line(result: VerifyResult) -> str:
    exact = result.exact_metrics()
    fraction = min((m.exact_fraction for m in exact), default=0.0)
    if result.stream:
        return _stream_verdict(result, fraction)
    if result.passed:
        if result.tolerance == 0:
            return (
                f"PASS: bit-exact with the TFLM reference on {result.samples} inputs "
                f"({fraction:.1%} of values equal)"
            )
        return (
            f"PASS: within {result.tolerance} LSB of the TFLM reference on {result.samples} "
            f"inputs ({fraction:.1%} of values equal)"
        )
    worst = max((m.max_abs_diff_lsb for m in exact), default=0)
    return (
        f"FAIL: the device differs from the TFLM reference by up to {worst} LSB "
        f"(first at input {result.first_mismatch_sample}; tolerance {result.tolerance} LSB)"
    )


def _stream_verdict(result: VerifyResult, fraction: float) -> str:
    within = "bit-exact with" if result.tolerance == 0 else f"within {result.tolerance} LSB of"
    if result.passed:
        return (
            f"PASS: {within} the TFLM reference over {result.stream} consecutive frames (one "
            f"interpreter kept across invokes, {fraction:.1%} of values equal); after RESET the "
            f"next {result.reset_frames} outputs equal a fresh interpreter's"
        )
    if result.first_mismatch_sample is not None:
        worst = max((m.max_abs_diff_lsb for m in result.exact_metrics()), default=0)
        return (
            f"FAIL: the device's stream differs from the TFLM reference by up to {worst} LSB "
            f"(first at frame {result.first_mismatch_sample}; tolerance {result.tolerance} LSB)"
        )
    return (
        f"FAIL: after RESET, frame {result.reset_mismatch_frame}'s output differs from a fresh "
        "TFLM interpreter's — the reset left state behind"
    )


def print_report(result: VerifyResult, console: Console) -> None:
    console.print(f"[bold]model[/] {result.model}  [dim]sha256 {result.model_sha256[:16]}…[/]")
    console.print(f"[bold]board[/] {result.board}  [dim]{result.url}[/]")
    table = Table(title="device vs references (units: LSB of the output's quantization)")
    for column in ("reference", "out", "exact", "max|d|", "MAE", "RMSE", "cosine", "top-1"):
        table.add_column(column, justify="left" if column == "reference" else "right", no_wrap=True)
    for m in result.metrics:
        style = "bold" if m.reference == EXACT_REFERENCE else ""
        table.add_row(
            m.reference,
            str(m.output_index),
            f"{m.exact_fraction:.2%}",
            str(m.max_abs_diff_lsb),
            f"{m.mean_abs_error_lsb:.3f}",
            f"{m.rmse_lsb:.3f}",
            f"{m.cosine_similarity:.5f}",
            f"{m.top1_agreement:.1%}",
            style=style,
        )
    console.print(table)
    for name, why in sorted(result.skipped_references.items()):
        console.print(f"[yellow]reference {name} skipped:[/] {why}")
    t = result.ticks
    console.print(f"ticks per inference: min {t.minimum:,}  median {t.median:,}  max {t.maximum:,}")
    console.print(f"  [dim]1 tick = {t.unit}[/]", soft_wrap=True)
    console.print(
        f"arena: {result.arena_used:,} B used on the device, {result.arena_planned:,} B planned"
    )
    if result.op_ticks:
        ops = Table(title="per-op ticks (one inference)")
        ops.add_column("op", justify="right")
        ops.add_column("name")
        ops.add_column("ticks", justify="right")
        ops.add_column("share", justify="right")
        total = sum(o.ticks for o in result.op_ticks) or 1
        for o in result.op_ticks:
            ops.add_row(str(o.op_index), o.op_name, f"{o.ticks:,}", f"{o.ticks / total:.1%}")
        console.print(ops)
    if result.link.get("retries") or result.link.get("damaged_frames"):
        console.print(
            f"link: {result.link.get('retries', 0)} retries, "
            f"{result.link.get('damaged_frames', 0)} damaged frames, "
            f"{result.link.get('timeouts', 0)} timeouts"
        )
    if result.divergence is not None:
        d = result.divergence
        console.print(
            f"[bold red]first diverging op:[/] op {d.op_index} {d.op_name} (output "
            f"tensor {d.tensor_index}): {d.mismatched_values}/{d.values} values differ, "
            f"up to {d.max_abs_diff_lsb} LSB; options {d.options}; inputs "
            f"{', '.join(d.inputs)}"
        )
    if result.accuracy is not None:
        for line in accuracy_lines(result.accuracy):
            console.print(line, soft_wrap=True)
    colour = "green" if result.passed else "red"
    console.print(f"[bold {colour}]{verdict_line(result)}[/]")


def accuracy_lines(acc: Any) -> list[str]:
    """Accuracy against the labels: device, host int8, float, and the device's agreement."""
    parts = [f"device {acc.device:.2%}", f"host int8 (tflite-micro) {acc.host_int8:.2%}"]
    if acc.float_model is not None:
        parts.append(f"float model {acc.float_model:.2%}")
    agree = [f"with host int8 {acc.agreement_host_int8:.2%}"]
    if acc.agreement_float is not None:
        agree.append(f"with float {acc.agreement_float:.2%}")
    lines = [
        f"accuracy on {acc.samples} labelled samples: {', '.join(parts)}",
        f"  device top-1 agreement: {', '.join(agree)}",
    ]
    if acc.preprocess:
        lines.append(f"  inputs preprocessed: {acc.preprocess}")
    return lines


# ---- HTML -------------------------------------------------------------------------------------


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    # No date or creator metadata: the same result renders to the same bytes.
    figure.savefig(
        buffer, format="svg", bbox_inches="tight", metadata={"Date": None, "Creator": None}
    )
    import matplotlib.pyplot as plt

    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _figures(result: VerifyResult, plan: Any | None, info: Any | None) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "tinyflash"  # deterministic ids in the SVG
    figures: list[tuple[str, str]] = []
    exact = result.exact_metrics()
    if exact and all(set(m.diff_histogram) <= {0} for m in exact):
        # one bar at 0 drawn from -0.4 to 0.4 LSB looks like a bug: say it in words
        values = sum(m.values for m in exact)
        figures.append(
            (
                "Error against the TFLM reference",
                f"<p>all {values:,} values equal the TFLM reference (difference 0 LSB).</p>",
            )
        )
    elif exact:
        fig, ax = plt.subplots(figsize=(6, 3))
        for m in exact:
            keys = sorted(m.diff_histogram)
            ax.bar(
                [k + 0.1 * m.output_index for k in keys],
                [m.diff_histogram[k] for k in keys],
                width=0.8,
                label=f"output {m.output_index}",
            )
        ax.set_xlabel("device − TFLM (LSB)")
        ax.set_ylabel("values")
        ax.legend()
        figures.append(("Error histogram against the TFLM reference", _svg(fig)))
    refs = result.reference_outputs.get(EXACT_REFERENCE) or []
    if refs and result.device_outputs:
        for o in range(len(result.device_outputs[0])):
            dev = np.concatenate([np.asarray(d[o]).ravel() for d in result.device_outputs])
            ref = np.concatenate([np.asarray(r[o]).ravel() for r in refs])
            fig, ax = plt.subplots(figsize=(4, 4))
            ax.scatter(ref, dev, s=4, alpha=0.5)
            lo, hi = float(min(ref.min(), dev.min())), float(max(ref.max(), dev.max()))
            ax.plot([lo, hi], [lo, hi], linewidth=0.8, color="grey")
            ax.set_xlabel("TFLM reference")
            ax.set_ylabel("device")
            figures.append((f"Device vs reference, output {o}", _svg(fig)))
    if result.op_ticks:
        fig, ax = plt.subplots(figsize=(7, max(2.0, 0.25 * len(result.op_ticks))))
        labels = [f"{o.op_index} {o.op_name}" for o in result.op_ticks]
        ax.barh(labels, [o.ticks for o in result.op_ticks])
        ax.invert_yaxis()
        ax.set_xlabel(f"ticks (1 tick = {result.ticks.unit})")
        figures.append(("Ticks per op", _svg(fig)))
    if plan is not None and info is not None:
        fig, ax = plt.subplots(figsize=(7, 4))
        for index, offset in enumerate(plan.offsets):
            first, last = plan.lifetimes[index]
            if offset < 0 or first < 0:
                continue
            size = info.tensors[index].nbytes
            ax.add_patch(
                matplotlib.patches.Rectangle(
                    (first - 0.4, offset), last - first + 0.8, size, alpha=0.6, edgecolor="black"
                )
            )
        for op_index, (offset, size) in enumerate(zip(plan.scratch_offsets, plan.scratch_bytes)):
            if size:  # an op's scratch (DSP im2col, in-place depthwise channel): live at it alone
                ax.add_patch(
                    matplotlib.patches.Rectangle(
                        (op_index - 0.4, offset), 0.8, size, alpha=0.4, hatch="//", fill=False
                    )
                )
        ax.set_xlim(-1, max(len(info.ops), 1))
        ax.set_ylim(0, max(plan.arena_bytes, 1))
        ax.set_xlabel("op")
        ax.set_ylabel("arena offset (bytes)")
        figures.append(
            (
                f"Arena layout ({plan.arena_bytes:,} B, lower bound {plan.lower_bound:,} B, "
                f"planned / lower bound {plan.ratio:.3f}; outputs computed in place share "
                "their input's offset)",
                _svg(fig),
            )
        )
    return figures


def _table(header: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _memory_html(result: VerifyResult) -> str:
    mem = result.memory
    if not mem:
        return ""

    def share(used: int, limit: int) -> str:
        return f"{used / limit:.1%}" if limit else "—"

    rows: list[list[object]] = [
        ["flash", f"{mem['flash_used']:,}", f"{mem['flash_limit']:,}",
         share(mem["flash_used"], mem["flash_limit"]),
         f"model {mem['model_bytes']:,}; runtime, harness and constants "
         f"{mem['flash_used'] - mem['model_bytes']:,}"],
        ["RAM", f"{mem['ram_used']:,}", f"{mem['ram_limit']:,}",
         share(mem["ram_used"], mem["ram_limit"]),
         f"arena {mem['arena_bytes']:,}; stack, harness and runtime state "
         f"{mem['ram_used'] - mem['arena_bytes']:,}"],
    ]  # fmt: skip
    return "<h2>Flash and RAM (bytes)</h2>" + _table(
        ["memory", "used", "limit", "use", "made of"], rows
    )


def _accuracy_html(result: VerifyResult) -> str:
    acc = result.accuracy
    if acc is None:
        return ""
    rows: list[list[object]] = [
        ["device", f"{acc.device:.2%}", "—"],
        ["host int8 (tflite-micro)", f"{acc.host_int8:.2%}", f"{acc.agreement_host_int8:.2%}"],
    ]
    if acc.float_model is not None:
        rows.append(["float model", f"{acc.float_model:.2%}", f"{acc.agreement_float:.2%}"])
    note = f"<p>inputs preprocessed: {html.escape(acc.preprocess)}</p>" if acc.preprocess else ""
    return (
        f"<h2>Accuracy on {acc.samples} labelled samples</h2>"
        + _table(["model", "top-1 accuracy", "device agreement"], rows)
        + note
    )


def _op_table_html(result: VerifyResult, info: Any | None) -> str:
    if not result.op_ticks:
        return ""
    macs = {op.index: op.macs for op in info.ops} if info is not None else {}
    rows: list[list[object]] = []
    for o in result.op_ticks:
        m = macs.get(o.op_index, 0)
        per_tick = f"{m / o.ticks:,.1f}" if o.ticks and m else "—"
        rows.append([o.op_index, o.op_name, f"{o.ticks:,}", f"{m:,}", per_tick])
    return f"<h2>Per op (one inference; 1 tick = {html.escape(result.ticks.unit)})</h2>" + _table(
        ["op", "name", "ticks", "MACs", "MACs per tick"], rows
    )


def _arena_table_html(plan: Any | None, info: Any | None) -> str:
    if plan is None or info is None:
        return ""
    rows: list[list[object]] = []
    for index, offset in enumerate(plan.offsets):
        first, last = plan.lifetimes[index]
        if offset < 0 or first < 0:
            continue
        tensor = info.tensors[index]
        src = plan.aliases.get(index)
        kind = getattr(plan, "alias_kinds", {}).get(index, "")
        shares = f"tensor {src} ({kind})" if src is not None else ""
        rows.append(
            [index, tensor.name, f"{tensor.nbytes:,}", f"{offset:,}", f"op {first}–{last}", shares]
        )
    rows.sort(key=lambda r: (int(str(r[3]).replace(",", "")), int(str(r[0]))))
    header = ["tensor", "name", "bytes", "offset", "live", "shares the bytes of"]
    return "<h2>Arena tensors</h2>" + _table(header, rows)


def _warnings_html(info: Any | None) -> str:
    if info is None:
        return ""
    from tinyflash.opcheck import check_model

    warnings = list(check_model(info).warnings)
    if not warnings:
        return ""
    items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings)
    return f"<h2>Warnings</h2><ul>{items}</ul>"


def write_html(
    result: VerifyResult, path: Path, plan: Any | None = None, info: Any | None = None
) -> Path:
    """One self-contained HTML file: summary, metrics, error histogram, scatter per output,
    per-op ticks and the arena layout."""
    rows = "".join(
        f"<tr><td>{html.escape(m.reference)}</td><td>{m.output_index}</td>"
        f"<td>{m.exact_fraction:.2%}</td><td>{m.max_abs_diff_lsb}</td>"
        f"<td>{m.mean_abs_error_lsb:.3f}</td><td>{m.rmse_lsb:.3f}</td>"
        f"<td>{m.cosine_similarity:.5f}</td><td>{m.top1_agreement:.1%}</td></tr>"
        for m in result.metrics
    )
    sections = "".join(
        f"<h2>{html.escape(title)}</h2><div class='fig'>{svg}</div>"
        for title, svg in _figures(result, plan, info)
    )
    t = result.ticks
    extra = _memory_html(result) + _accuracy_html(result) + _op_table_html(result, info)
    extra += _arena_table_html(plan, info)
    extra += _warnings_html(info)
    verdict = html.escape(verdict_line(result))
    colour = "#1a7f37" if result.passed else "#cf222e"
    document = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>tinyflash verify: {html.escape(Path(result.model).name)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:right}}
.verdict{{font-size:1.3em;font-weight:bold;color:{colour}}}.fig svg{{max-width:100%;height:auto}}</style>
</head><body>
<h1>tinyflash verify</h1>
<p class="verdict">{verdict}</p>
<p>model <code>{html.escape(result.model)}</code> (SHA-256 <code>{result.model_sha256}</code>)<br>
board <b>{html.escape(result.board)}</b> at <code>{html.escape(result.url)}</code><br>
ticks per inference: min {t.minimum:,}, median {t.median:,}, max {t.maximum:,} (1 tick = {html.escape(t.unit)})<br>
arena: {result.arena_used:,} B used on the device, {result.arena_planned:,} B planned</p>
<h2>Device vs references (LSB)</h2>
<table><tr><th>reference</th><th>output</th><th>bit-exact</th><th>max |diff|</th><th>MAE</th><th>RMSE</th><th>cosine</th><th>top-1 agree</th></tr>{rows}</table>
{extra}{sections}
</body></html>
"""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(document, encoding="utf-8")
    tmp.replace(path)
    return path
