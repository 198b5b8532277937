"""Patch-based execution of a CNN's first stages (`tinyflash generate --patches auto|N|off`).

The first layers of a vision CNN hold the largest feature maps, so the arena's peak usually sits
there. Running those layers tile by tile (MCUNetV2's patch-based inference) keeps one tile of
their intermediate feature maps alive at a time instead of whole tensors.

The prefix: the longest chain of spatial operators from the model's first operator on (CONV_2D,
DEPTHWISE_CONV_2D, AVERAGE_POOL_2D, MAX_POOL_2D with batch 1; each reads the previous one's output
as input 0, and that tensor is read by nothing else and is not a model output). Its last output is
split into `tiles` bands of rows. For each band, the rows every earlier operator must produce are
found by walking the chain backwards (the receptive field: rows overlapping between neighbouring
bands are computed once per band), and each operator runs over just those rows (a window, see
firmware/runtime/include/tfl_patches.h): its input and output narrowed to the rows, its padding
above the window the true padding only where the window starts above the image's top row. Every
output element is then the same sum of the same integer products as without patches, so the
results are bit-exact by construction; tests/test_patches.py checks it end to end.

Memory: the tensors inside the prefix hold one band (their largest band's rows); the prefix's
input stays whole and alive (as the model's input it is anyway), the prefix's output is whole and
alive from the prefix's first operator on (every band writes into it). The plan is otherwise the
ordinary one (plan.plan_memory with these sizes and lifetimes).

Cost: the rows computed twice. `work` estimates each operator's instructions from its
multiply-accumulates and output elements (COST_PER_MAC, COST_PER_ELEMENT: measured on the portable
kernels); the overhead is the work with patches over the work without, an estimate of the
instruction ratio (measure the real one with `tinyflash bench`; the DSP kernels spend fewer
instructions per MAC, so patches cost them a larger share).

Choice (`auto`): every prefix length and every number of bands from 2 to the prefix output's
height; the plan with the smallest estimated peak whose overhead is within `max_overhead`, fewer
bands and then a shorter prefix on ties. A fixed N takes N bands and the best prefix length.
Rows only: the bands span whole rows, so each band of a tensor is one contiguous run of bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError, option
from tinyflash.model import ModelInfo, OpInfo
from tinyflash.plan import MemoryPlan, TensorOverrides, op_timeline, plan_memory, tensor_lifetimes

PATCH_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D"})
DEFAULT_OVERHEAD = 1.25
MAX_TILES = 64  # more bands than this costs more than it saves on any model we have seen


@dataclass(frozen=True)
class Window:
    """One operator's rows in one band: input rows [in_row, in_row + in_rows) and output rows
    [out_row, out_row + out_rows) counted from the start of each tensor's storage (0 for the
    band-sized tensors inside the prefix), and the padding rows above the window."""

    in_row: int
    in_rows: int
    out_row: int
    out_rows: int
    pad_top: int


@dataclass(frozen=True)
class PatchPlan:
    ops: tuple[int, ...]  # the prefix's operators, in order
    tiles: int
    windows: tuple[tuple[Window, ...], ...]  # [band][operator]
    tile_tensors: tuple[tuple[int, int], ...]  # (tensor, bytes of its largest band)
    work: int  # estimated work of the whole model with patches
    base_work: int  # ... and without
    peak: int  # estimated peak arena bytes (live bytes at the worst op), the choice's criterion

    @property
    def overhead(self) -> float:
        return self.work / self.base_work if self.base_work else 1.0

    def overrides(self, info: ModelInfo) -> TensorOverrides:
        """The tensors' arena bytes and lifetimes under this plan (module docstring)."""
        lifetimes = dict(enumerate(tensor_lifetimes(info)))
        first, last = self.ops[0], self.ops[-1]
        x = info.ops[first].inputs[0]
        y = info.ops[last].outputs[0]
        changed = {
            x: (lifetimes[x][0], max(lifetimes[x][1], last)),
            y: (min(lifetimes[y][0], first), lifetimes[y][1]),
        }
        return TensorOverrides(sizes=dict(self.tile_tensors), lifetimes=changed)

    def c_windows(self) -> list[int]:
        """The C plan's window table (tfl_patch_plan.windows): band-major, five ints each."""
        return [
            v
            for band in self.windows
            for w in band
            for v in (w.in_row, w.in_rows, w.out_row, w.out_rows, w.pad_top)
        ]


@dataclass(frozen=True)
class PatchChoice:
    """What `choose_patches` decided: a plan or none, and the sentence saying why."""

    plan: PatchPlan | None
    reason: str
    unpatched_peak: int = 0


@dataclass(frozen=True)
class _Geometry:
    stride: int
    extent: int  # rows one output row reads: (kernel - 1) * dilation + 1
    pad_top: int
    in_h: int
    out_h: int


def _geometry(info: ModelInfo, op: OpInfo) -> _Geometry:
    x, y = info.tensors[op.inputs[0]].shape, info.tensors[op.outputs[0]].shape
    stride = int(op.options.get("stride_h", 1) or 1)
    if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        kernel = info.tensors[op.inputs[1]].shape[1]
        dilation = int(op.options.get("dilation_h_factor", 1) or 1)
    else:
        kernel, dilation = int(op.options.get("filter_height", 1) or 1), 1
    extent = (kernel - 1) * dilation + 1
    # TFLite's padding before the first row (0 for VALID): the C runtime's tfl_conv_padding
    pad_top = max((y[1] - 1) * stride + extent - x[1], 0) // 2
    return _Geometry(stride, extent, pad_top, x[1], y[1])


def _unsupported(info: ModelInfo, op: OpInfo) -> str:
    """Why `op` cannot run over a window ('' when it can)."""
    if op.name not in PATCH_OPS:
        return f"{op.name} has no windowed form"
    if op.subgraph != 0 or len(op.outputs) != 1 or not op.inputs or op.inputs[0] < 0:
        return f"{op.name} (operator {op.index}) is not a plain one-output operator"
    x, y = info.tensors[op.inputs[0]], info.tensors[op.outputs[0]]
    if x.is_constant or len(x.shape) != 4 or len(y.shape) != 4 or x.shape[0] != 1:
        return f"{op.name} (operator {op.index}) does not take one 4-D image of batch 1"
    if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D") and (
        len(op.inputs) < 2 or op.inputs[1] < 0 or len(info.tensors[op.inputs[1]].shape) != 4
    ):
        return f"{op.name} (operator {op.index}) has no 4-D filter"
    return ""


def chain_prefix(info: ModelInfo) -> tuple[tuple[int, ...], str]:
    """The longest chain of windowable operators from operator 0 (module docstring), and the
    sentence saying what ends it."""
    if info.subgraph_count > 1:
        return (), f"{info.name} has {info.subgraph_count} subgraphs; patches need one"
    ops = [op for op in info.ops if op.subgraph == 0]
    if op_timeline(info) != tuple(range(len(info.ops))):
        return (), f"{info.name}'s operators do not run in file order"
    readers: dict[int, int] = {}
    for op in ops:
        for t in op.inputs:
            if t >= 0:
                readers[t] = readers.get(t, 0) + 1
    chain: list[int] = []
    reason = f"the model ends after operator {len(ops) - 1}"
    for op in ops:
        why = _unsupported(info, op)
        if not why and chain:
            prev = info.ops[chain[-1]].outputs[0]
            if op.inputs[0] != prev:
                why = f"{op.name} (operator {op.index}) does not read operator {chain[-1]}'s output"
            elif readers.get(prev, 0) != 1 or prev in info.outputs:
                why = f"operator {chain[-1]}'s output is read by more than the next operator"
        if why:
            reason = why
            break
        chain.append(op.index)
    return tuple(chain), reason


# Instructions per multiply-accumulate and per output element of the portable kernels on
# Cortex-M4 (a least-squares fit of `tinyflash bench --kernels portable` per-op counts of the
# MobileNet-v1 look-alike in tests/support/patch_models.py, 2026-12-08): a CONV_2D costs about
# 3 per MAC + 70 per output element (requantization), a DEPTHWISE_CONV_2D 13 per MAC. Pools and
# other ops: guesses of the same size (they are a small share of any model patches help).
COST_PER_MAC = {"CONV_2D": 3, "DEPTHWISE_CONV_2D": 13}
COST_PER_ELEMENT = {"CONV_2D": 70, "DEPTHWISE_CONV_2D": 0}
POOL_COST_PER_TAP = 8
OTHER_COST_PER_MAC = 3
OTHER_COST_PER_ELEMENT = 20


def _work(info: ModelInfo, op: OpInfo, out_rows: int | None = None) -> int:
    """Estimated instructions of `op` over `out_rows` rows of its output (all rows when None)."""
    y = info.tensors[op.outputs[0]].shape if op.outputs and op.outputs[0] >= 0 else ()
    elements = 1
    for d in y:
        elements *= max(d, 1)
    macs_per_element = op.macs / elements if elements else 0.0
    if op.name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        taps = int(op.options.get("filter_height", 1) or 1) * int(
            op.options.get("filter_width", 1) or 1
        )
        per: float = POOL_COST_PER_TAP * taps + OTHER_COST_PER_ELEMENT
    else:
        per = COST_PER_MAC.get(op.name, OTHER_COST_PER_MAC) * macs_per_element + (
            COST_PER_ELEMENT.get(op.name, OTHER_COST_PER_ELEMENT)
        )
    if out_rows is not None and len(y) == 4 and y[1]:
        elements = elements // y[1] * out_rows
    return max(round(per * elements), 1)


def tile_windows(
    info: ModelInfo, ops: tuple[int, ...], tiles: int
) -> tuple[tuple[Window, ...], ...]:
    """The windows of every operator of the chain `ops` for `tiles` bands of the last output's
    rows (as even as possible, the first bands one row taller)."""
    geos = [_geometry(info, info.ops[k]) for k in ops]
    height = geos[-1].out_h
    if not 1 <= tiles <= height:
        raise TinyflashError(
            f"{tiles} patches cannot split the {height} rows of the prefix's output; "
            f"use 1 to {height}",
            EXIT_BAD_INPUT,
        )
    bands = []
    start = 0
    for b in range(tiles):
        rows = height // tiles + (1 if b < height % tiles else 0)
        bands.append((start, start + rows))
        start += rows
    result = []
    for o0, o1 in bands:
        spans: list[tuple[int, int, int, int, int]] = []  # (r0, r1, o0, o1, pad) per op, reversed
        for g in reversed(geos):
            r0 = max(0, o0 * g.stride - g.pad_top)
            r1 = min(g.in_h, (o1 - 1) * g.stride - g.pad_top + g.extent)
            pad = r0 - (o0 * g.stride - g.pad_top)
            spans.append((r0, r1, o0, o1, pad))
            o0, o1 = r0, r1
        spans.reverse()
        windows = []
        last = len(spans) - 1
        for i, (r0, r1, p0, p1, pad) in enumerate(spans):
            # whole tensors (the prefix's input and output) are addressed from their top row,
            # band-sized ones from the band's first row
            in_row = r0 if i == 0 else 0
            out_row = p0 if i == last else 0
            windows.append(Window(in_row, r1 - r0, out_row, p1 - p0, pad))
        result.append(tuple(windows))
    return tuple(result)


def _row_bytes(info: ModelInfo, t: int) -> int:
    tensor = info.tensors[t]
    return tensor.nbytes // tensor.shape[1]


def _peak(info: ModelInfo, overrides: TensorOverrides | None) -> int:
    """Largest sum of live tensor bytes at one operator (the lower bound's sweep, with the
    overrides' sizes and lifetimes)."""
    lifetimes = list(tensor_lifetimes(info))
    sizes = {}
    if overrides is not None:
        for t, span in overrides.lifetimes.items():
            lifetimes[t] = span
        sizes = overrides.sizes
    n = max(len(info.ops), 1)
    live = [0] * (n + 1)
    for t, (start, end) in enumerate(lifetimes):
        if start >= 0:
            nbytes = sizes.get(t, info.tensors[t].nbytes)
            live[start] += nbytes
            live[end + 1] -= nbytes
    best = running = 0
    for i in range(n):
        running += live[i]
        best = max(best, running)
    return best


def build_patch_plan(info: ModelInfo, ops: tuple[int, ...], tiles: int) -> PatchPlan:
    """The plan for the chain `ops` in `tiles` bands, with its work and estimated peak."""
    windows = tile_windows(info, ops, tiles)
    tile_tensors = []
    for i, k in enumerate(ops[:-1]):
        t = info.ops[k].outputs[0]
        rows = max(band[i].out_rows for band in windows)
        tile_tensors.append((t, rows * _row_bytes(info, t)))
    base = sum(_work(info, op) for op in info.ops)
    extra = sum(
        _work(info, info.ops[k], band[i].out_rows) for band in windows for i, k in enumerate(ops)
    ) - sum(_work(info, info.ops[k]) for k in ops)
    plan = PatchPlan(ops, tiles, windows, tuple(tile_tensors), base + extra, base, 0)
    return PatchPlan(
        ops,
        tiles,
        windows,
        tuple(tile_tensors),
        base + extra,
        base,
        _peak(info, plan.overrides(info)),
    )


def parse_mode(value: str) -> int | None:
    """`--patches` value: None for auto, 0 for off, else the number of bands."""
    text = value.strip().lower()
    if text == "auto":
        return None
    if text == "off":
        return 0
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise TinyflashError(
        f"{option('patches')} takes auto, off or a number of patches (2 or more), not {value!r}",
        EXIT_BAD_INPUT,
    )


def choose_patches(
    info: ModelInfo, tiles: int | None, max_overhead: float = DEFAULT_OVERHEAD
) -> PatchChoice:
    """The best patch plan for `info` (module docstring): `tiles` None chooses the number of
    bands, else exactly that many. No plan (with the reason) when the model has no windowable
    prefix, or no split lowers the peak within `max_overhead`. A fixed number the model cannot
    take raises TinyflashError."""
    if max_overhead < 1.0:
        raise TinyflashError(
            f"{option('patch_overhead')} is a ratio of instructions, at least 1.0, not {max_overhead}",
            EXIT_BAD_INPUT,
        )
    unpatched = _peak(info, None)
    chain, reason = chain_prefix(info)
    if not chain:
        sentence = f"{info.name} cannot run in patches: {reason}."
        if tiles is not None:
            raise TinyflashError(sentence[:-1] + f"; use {option('patches')} off.", EXIT_BAD_INPUT)
        return PatchChoice(None, sentence, unpatched)
    if tiles is not None and tiles < 2:
        raise TinyflashError(
            f"{option('patches')} {tiles} would run the prefix once, as without patches; give 2 or more, "
            "auto or off",
            EXIT_BAD_INPUT,
        )
    best: PatchPlan | None = None
    fixed_fits = False
    for end in range(1, len(chain) + 1):
        ops = chain[:end]
        height = info.tensors[info.ops[ops[-1]].outputs[0]].shape[1]
        counts = [tiles] if tiles is not None else range(2, min(height, MAX_TILES) + 1)
        for n in counts:
            if n > height:
                continue
            fixed_fits = True
            candidate = build_patch_plan(info, ops, n)
            if candidate.overhead > max_overhead:
                continue
            if best is None or candidate.peak < best.peak:
                best = candidate
    if tiles is not None and not fixed_fits:
        raise TinyflashError(
            f"{info.name}: {tiles} patches are more than the rows of any prefix output "
            f"of its first operators; give fewer, or auto",
            EXIT_BAD_INPUT,
        )
    if best is None or best.peak >= unpatched:
        what = (
            f"no split of its first {len(chain)} operator(s) lowers the peak of "
            f"{unpatched:,} B within {max_overhead:g}x the work"
        )
        sentence = f"{info.name} gets no patches: {what} ({reason})."
        if tiles is not None:
            raise TinyflashError(sentence, EXIT_BAD_INPUT)
        return PatchChoice(None, sentence, unpatched)
    return PatchChoice(
        best,
        f"{info.name}: operators {best.ops[0]}-{best.ops[-1]} in {best.tiles} patches, estimated "
        f"peak {best.peak:,} B instead of {unpatched:,} B, {best.overhead:.3f}x the work.",
        unpatched,
    )


def plan_with_patches(
    info: ModelInfo,
    kernels: str,
    tiles: int | None,
    max_overhead: float = DEFAULT_OVERHEAD,
    inplace: bool = True,
) -> tuple[MemoryPlan, PatchChoice]:
    """The memory plan of `info` with the chosen patches (the ordinary plan when none), with
    in-place operators outside the patched tensors unless `inplace` is False."""
    choice = choose_patches(info, tiles, max_overhead)
    if choice.plan is None:
        return plan_memory(info, kernels, inplace=inplace), choice
    plan = plan_memory(
        info,
        kernels,
        overrides=choice.plan.overrides(info),
        patches=choice.plan,
        inplace=inplace,
    )
    return plan, choice


def patch_keys(plan: PatchPlan | None) -> dict[str, Any] | None:
    """The template data of `plan` (templates/src/model_plan.c.j2), None without patches."""
    if plan is None:
        return None
    return {
        "first": plan.ops[0],
        "last": plan.ops[-1],
        "count": len(plan.ops),
        "tiles": plan.tiles,
        "overhead": f"{plan.overhead:.3f}",
        "windows": plan.c_windows(),
        "tensors": [v for pair in plan.tile_tensors for v in pair],
    }
