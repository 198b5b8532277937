"""The activation memory plan: one arena offset per tensor, computed once from the op order.

Lifetimes: a tensor is live from the first op that produces or reads it to the last op that reads
it (inclusive). Model inputs are live for the whole invoke (from op 0 to the last op): no op
overwrites them, so repeated invokes on one input (benchmarks, the harness's self-test) see the
same data and the host can read the input back; this is also the convention of the lower bounds in
DESIGN.md section 5. Model outputs live from the op that writes them until the last op, variable
tensors for the whole run. Constants live in the model and get offset -1, as do tensors no op
touches.

Aliasing: RESHAPE, SQUEEZE and EXPAND_DIMS do not move data. Their output shares the input's bytes
when the input is an activation of the same size that no later op reads and that is neither a model
input nor a model output; the C kernel copies only when the two pointers differ. Chains of such ops
share one buffer.

In-place: with `inplace` (the default) an operator's output may also take the bytes of an input
that dies at that op (alias_rule): elementwise activations, QUANTIZE between types of one size,
ADD/SUB/MUL without broadcasting, and DEPTHWISE_CONV_2D channel by channel with a one-channel
scratch (kept only where it lowers the arena: its eval is slower). Neither tensor may be an input
or output of any subgraph. Every alias is recorded with its kind (MemoryPlan.alias_kinds);
`inplace=False` gives the plan with views only, the plan from before in-place operators.

Placement: each buffer (an alias group) is a rectangle in (op time x bytes). Buffers are placed one
after another at the lowest-waste offset (best fit between the buffers already placed that overlap
it in time, else on top), for several deterministic orderings; the smallest arena wins, ties go to
the earlier ordering.

Offsets are multiples of 4 (placement rounds sizes up to 4): the arena itself is 16-byte aligned,
so every tensor starts on a word boundary, which int32 tensors need on every Cortex-M (and which
lets int8 kernels use 32-bit loads and the DSP's SIMD loads without unaligned-access faults on
Cortex-M0/M0+). arena_bytes is the end of the highest tensor (offset + its real size), the same
number the C runtime reports as used (tfl_interpreter.arena_used), so it need not be a multiple
of 4.

Lower bound: the largest sum of the (unrounded) sizes of the activation tensors live at any one op,
over the converter's op order and without aliasing (DESIGN.md section 5). With aliasing the arena
can be below it.

Scratch: the DSP kernels (kernel set "dsp") expand their activations into a buffer that only
their own eval uses: CONV_2D's pointwise path 4 * input channels bytes, its im2col path 3 x the
filter size rounded up to 4, FULLY_CONNECTED 2 x its depth rounded down to 4 (scratch_bytes_for_op,
the same numbers as the C kernels' prepare). Each is planned like a tensor live at its op alone,
so it costs nothing when that op is not at the memory peak; the C runtime finds its offset after
the tensors' (MemoryPlan.scratch_offsets, one per op, -1 for none; empty when no op takes
scratch, always for the portable kernels). The lower bound counts it too. The Helium kernels
(kernel set "mve") take scratch for CONV_2D only: the im2col row (filter size rounded up to 4;
none for a pointwise convolution, which reads the pixel itself) then one int32 weight sum per
output channel (mve_conv_scratch_bytes, the same numbers as tfl_kernel_mve.c's).

Subgraphs: tensors and ops are numbered over all subgraphs (ModelInfo, as the C runtime numbers
them). Time is a timeline of subgraph 0's ops in which an op that runs other subgraphs (CALL_ONCE,
IF, WHILE: every `*_subgraph_index` option) is followed by those subgraphs' ops and then by itself
again, so its own tensors and the callees' inputs and outputs live across the call and the callees'
tensors only inside it; subgraphs no op runs come last. A single-subgraph model's timeline is its
op order.

Resource variables (VAR_HANDLE container/shared_name, bound by the first ASSIGN_VARIABLE prepared
for them, as the C runtime does) live for the whole run like variable tensors: one buffer each,
never shared, after the tensors' and the operators' entries in the C plan (resource_offsets).

pool_words: for CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and TRANSPOSE_CONV, two int32 words
(multiplier and shift) per weight scale: 2 for per-tensor weights, 2 * output channels for
per-channel weights (pool_words_for_op); UNIDIRECTIONAL_SEQUENCE_LSTM 22 words; ELU 64 (its
table of 256 int8 outputs); the C runtime
allocates exactly this many words in prepare. The LSTM and SVDF kernels need no scratch memory:
their state tensors are variables (live for the whole invoke, so never shared), int16/int32
tensors are sized by their element size like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from tinyflash import schema
from tinyflash.errors import EXIT_CHECK_FAILED, TinyflashError
from tinyflash.model import ModelInfo, OpInfo, SubgraphInfo

ALIGNMENT = 4
ALIAS_OPS = frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS"})
POOL_OPS = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"})
NOT_PLANNED = (-1, -1)
# The fused LSTM's (multiplier, shift) pairs: input and recurrent per gate, then its three
# elementwise products (op_unidirectional_sequence_lstm.c).
LSTM_POOL_WORDS = 22
# ELU's table of the 256 int8 outputs (op_elu.c), built in prepare
ELU_POOL_WORDS = 64


@dataclass(frozen=True)
class TensorOverrides:
    """Arena bytes and lifetimes that replace some tensors' own: patch-based execution
    (patches.py) gives the tensors inside the patched prefix one band's bytes and keeps the
    prefix's input and output alive across it."""

    sizes: dict[int, int]
    lifetimes: dict[int, tuple[int, int]]

    def size(self, info: ModelInfo, t: int) -> int:
        return self.sizes.get(t, info.tensors[t].nbytes)


@dataclass(frozen=True)
class MemoryPlan:
    offsets: tuple[int, ...]  # one per tensor; -1 for constants and unused tensors
    arena_bytes: int
    lower_bound: int
    lifetimes: tuple[tuple[int, int], ...]  # (first op, last op) per tensor; (-1, -1) unplanned
    pool_words: int
    alignment: int = ALIGNMENT
    aliases: dict[int, int] = field(default_factory=dict, hash=False, compare=False)
    strategy: str = ""  # the ordering that won
    # No plan with these aliases and 4-byte aligned offsets can be smaller than this; it exceeds
    # lower_bound on models of a few tiny tensors (rounding 7 bytes to 8 is 14 %).
    aligned_bound: int = 0
    # Arena offset of each op's scratch (-1: none); empty when no op takes scratch.
    scratch_offsets: tuple[int, ...] = ()
    scratch_bytes: tuple[int, ...] = ()  # bytes of each op's scratch (0: none); empty likewise
    # Arena offset and bytes of each resource variable (-1 / 0: never assigned); empty: none.
    resource_offsets: tuple[int, ...] = ()
    resource_bytes: tuple[int, ...] = ()
    op_count: int = 0  # operators over all subgraphs
    # In-place operators (see "In-place" in the module docstring): whether they were planned, the
    # kind of every alias (aliased output -> "view", "elementwise", "binary", "quantize" or
    # "depthwise") and the arena of the same model planned without them (views only: the plan
    # before in-place operators existed).
    inplace: bool = True
    alias_kinds: dict[int, str] = field(default_factory=dict, hash=False, compare=False)
    baseline_bytes: int = 0
    # Patch-based execution (patches.py): the sizes/lifetimes planned instead of the tensors'
    # own, and the patches.PatchPlan the firmware runs; None without patches.
    overrides: TensorOverrides | None = field(default=None, hash=False, compare=False)
    patches: Any = field(default=None, hash=False, compare=False)

    @property
    def c_offsets(self) -> tuple[int, ...]:
        """The C runtime's plan array (tfl_memory.offsets): the tensors' offsets, then the
        scratch offsets when there are any (one -1 per op when only resources need the
        section), then the resource variables'."""
        if not self.resource_offsets:
            return self.offsets + self.scratch_offsets
        scratch = self.scratch_offsets or (-1,) * self.op_count
        return self.offsets + scratch + self.resource_offsets

    @property
    def state_bytes(self) -> int:
        """Bytes of state kept between invokes: resource variables' storage (variable tensors
        count as tensors)."""
        return sum(self.resource_bytes)

    @property
    def ratio(self) -> float:
        """arena_bytes / lower_bound (1.0 for a model without activations)."""
        return self.arena_bytes / self.lower_bound if self.lower_bound else 1.0


def _align(n: int) -> int:
    return (n + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT


# More timeline steps than this means subgraphs calling each other in a way no real model does.
MAX_TIMELINE = 1_000_000


def called_subgraphs(op: OpInfo) -> tuple[int, ...]:
    """The subgraphs `op` runs (its `*_subgraph_index` options, in declaration order)."""
    return tuple(
        int(v) for k, v in op.options.items() if k.endswith("_subgraph_index") and v is not None
    )


def _subgraphs(info: ModelInfo) -> tuple[SubgraphInfo, ...]:
    if info.subgraphs:
        return info.subgraphs
    return (
        SubgraphInfo(0, range(len(info.tensors)), range(len(info.ops)), info.inputs, info.outputs),
    )


def op_timeline(info: ModelInfo) -> tuple[int, ...]:
    """Global op indices in the order they run (see the module docstring); an op that runs
    subgraphs appears before and after their ops."""
    subs = _subgraphs(info)
    steps: list[int] = []
    visited: set[int] = set()

    def visit(g: int, stack: frozenset[int]) -> None:
        visited.add(g)
        for k in subs[g].ops:
            steps.append(k)
            callees = [c for c in called_subgraphs(info.ops[k]) if 0 <= c < len(subs)]
            callees = [c for c in callees if c not in stack]
            for c in callees:
                visit(c, stack | {c})
            if callees:
                steps.append(k)
            if len(steps) > MAX_TIMELINE:
                raise TinyflashError(
                    f"{info.name}: its subgraphs call each other more than {MAX_TIMELINE} times "
                    "per invoke — the model cannot be planned.",
                    EXIT_CHECK_FAILED,
                )

    visit(0, frozenset({0}))
    for g in range(1, len(subs)):
        if g not in visited:
            visit(g, frozenset({g}))
    return tuple(steps)


def _op_times(info: ModelInfo, timeline: tuple[int, ...]) -> list[tuple[int, int]]:
    """(first, last) timeline position of every global op."""
    times = [(-1, -1)] * len(info.ops)
    for t, k in enumerate(timeline):
        first, _ = times[k]
        times[k] = (t if first < 0 else first, t)
    return times


def _timed_ops(info: ModelInfo, timeline: tuple[int, ...]) -> list[OpInfo]:
    """The ops in timeline order, each with `index` = its position (single subgraph: info.ops)."""
    if timeline == tuple(range(len(info.ops))):
        return list(info.ops)
    return [replace(info.ops[k], index=t) for t, k in enumerate(timeline)]


def tensor_lifetimes(info: ModelInfo) -> tuple[tuple[int, int], ...]:
    """(first, last) timeline position of every activation tensor; (-1, -1) for constants and
    unused ones."""
    timeline = op_timeline(info)
    n_ops = len(timeline)
    last_op = max(n_ops - 1, 0)
    first = [-1] * len(info.tensors)
    last = [-1] * len(info.tensors)

    def touch(t: int, i: int) -> None:
        if t < 0 or info.tensors[t].is_constant:
            return
        if first[t] < 0 or i < first[t]:
            first[t] = i
        if i > last[t]:
            last[t] = i

    for t in info.inputs:  # intact for the whole invoke (see the module docstring)
        touch(t, 0)
        touch(t, last_op)
    for op in _timed_ops(info, timeline):
        for t in op.inputs:
            touch(t, op.index)
        for t in op.outputs:
            touch(t, op.index)
    subs = _subgraphs(info)
    for k, (start, end) in enumerate(_op_times(info, timeline)):
        for c in called_subgraphs(info.ops[k]):  # a callee's inputs/outputs: across the call
            if 0 <= c < len(subs) and start >= 0:
                for t in subs[c].inputs + subs[c].outputs:
                    touch(t, start)
                    touch(t, end)
    for t in info.outputs:
        touch(t, last_op)
    for t, tensor in enumerate(info.tensors):
        if tensor.is_variable and first[t] >= 0:
            first[t], last[t] = 0, last_op
    return tuple(zip(first, last))


def resource_variables(info: ModelInfo) -> tuple[tuple[str, int, int], ...]:
    """(shared_name, bytes, initial byte) of each resource variable, in the C runtime's id order
    (VAR_HANDLEs in prepare order, one id per container/shared_name; an absent container matches
    any); bytes and initial value from the first ASSIGN_VARIABLE prepared for it (0 bytes: never
    assigned)."""
    keys: list[tuple[str, str]] = []
    sizes: list[tuple[int, int]] = []
    handle: dict[int, int] = {}  # handle tensor -> resource id, as VAR_HANDLE's prepare leaves it
    for op in info.ops:  # prepare order: subgraph by subgraph, op by op
        if op.name == "VAR_HANDLE" and len(op.outputs) == 1:
            container = op.options.get("container")
            name = op.options.get("shared_name") or ""
            found = next(
                (
                    i
                    for i, (c, n) in enumerate(keys)
                    if (container is None or container == c) and n == name
                ),
                -1,
            )
            if found < 0:
                keys.append((container or "", name))
                sizes.append((0, 0))
                found = len(keys) - 1
            handle[op.outputs[0]] = found
        elif op.name == "ASSIGN_VARIABLE" and len(op.inputs) == 2:
            r = handle.get(op.inputs[0], -1)
            if r >= 0 and sizes[r][0] == 0 and op.inputs[1] >= 0:
                value = info.tensors[op.inputs[1]]
                initial = value.quant.zero_points[0] & 0xFF if value.quant is not None else 0
                sizes[r] = (value.nbytes, initial)
    return tuple((n, nbytes, init) for (_, n), (nbytes, init) in zip(keys, sizes))


def lower_bound(
    info: ModelInfo,
    lifetimes: tuple[tuple[int, int], ...] | None = None,
    scratch: tuple[int, ...] = (),
    resources: tuple[int, ...] = (),
) -> int:
    """Largest total size of the activation tensors (the op's scratch, resource variables) live
    at any one op. `scratch` has one entry per global op, `resources` one per variable."""
    lifetimes = lifetimes or tensor_lifetimes(info)
    timeline = op_timeline(info)
    n = max(len(timeline), 1)
    live = [0] * (n + 1)
    for (start, end), nbytes in zip(_op_times(info, timeline), scratch):
        if nbytes and start >= 0:
            live[start] += nbytes
            live[end + 1] -= nbytes
    live[0] += sum(resources)
    for t, (start, end) in enumerate(lifetimes):
        if start >= 0:
            live[start] += info.tensors[t].nbytes
            live[end + 1] -= info.tensors[t].nbytes
    best = running = 0
    for i in range(n):
        running += live[i]
        best = max(best, running)
    return best


# In-place operators: element i of the output depends only on element i of the input(s), and
# the kernel reads it before it writes output element i (each eval was checked for out == in:
# tfl_lut8_eval, tfl_map16_eval, tfl_q4_map, relu6_eval, rsqrt_eval, quantize_eval,
# tfl_broadcast_run's rows and add_run_same walk one index and load before they store).
INPLACE_UNARY = frozenset(
    {"ABS", "RELU", "RELU6", "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH", "RSQRT"}
)
INPLACE_BINARY = frozenset({"ADD", "SUB", "MUL"})
INPLACE_DTYPES = frozenset({"int8", "int16"})  # the element types those kernels were checked for
DEPTHWISE = "DEPTHWISE_CONV_2D"


def _io_tensors(info: ModelInfo) -> frozenset[int]:
    """Inputs and outputs of every subgraph: the caller (harness, application, a control-flow
    op) reads or writes them outside the op, so no in-place op may take their bytes."""
    io = set(info.inputs) | set(info.outputs)
    for sub in _subgraphs(info):
        io |= set(sub.inputs) | set(sub.outputs)
    return frozenset(io)


def _depthwise_inplace(info: ModelInfo, op: OpInfo) -> bool:
    """DEPTHWISE_CONV_2D that the C kernel runs channel by channel over its own input
    (op_depthwise_conv_2d.c, tfl_dwconv_inplace_eval): int8, NHWC, depth multiplier 1 (weights
    [1, KH, KW, C] for C input channels), at least 2 channels. Output channel c then occupies
    a subset of input channel c's bytes (the output may be smaller: stride 2, VALID padding): the
    kernel computes channel c into a one-channel scratch buffer and only then overwrites it. A
    smaller output makes its alias group a buffer of segments (one per member, at one offset),
    so the input's larger size is reserved only while it lives."""
    if len(op.inputs) < 2 or op.inputs[1] < 0:
        return False
    x, w, y = info.tensors[op.inputs[0]], info.tensors[op.inputs[1]], info.tensors[op.outputs[0]]
    return (
        x.dtype == y.dtype == "int8"
        and len(x.shape) == len(y.shape) == len(w.shape) == 4
        and x.shape[3] == y.shape[3] == w.shape[3] >= 2
        and x.shape[0] == y.shape[0]
        and 0 < y.nbytes <= x.nbytes
    )


def alias_rule(
    info: ModelInfo,
    op: OpInfo,
    lifetimes: tuple[tuple[int, int], ...],
    inplace: bool = True,
    io: frozenset[int] | None = None,
) -> tuple[int, int, str] | None:
    """(input, output, kind) when the output of `op` (op.index its timeline position) may take
    the bytes of that input, else None. Kinds: "view" (RESHAPE, SQUEEZE, EXPAND_DIMS; the only
    kind when `inplace` is False), "elementwise" (INPLACE_UNARY), "quantize" (QUANTIZE between
    types of one size), "binary" (ADD, SUB, MUL without broadcasting; input 0 first when both
    die here), "depthwise" (_depthwise_inplace). The input must be an activation that no later op
    reads, and neither may be a model input/output (in-place: any subgraph's)."""
    if not op.inputs or len(op.outputs) != 1 or op.outputs[0] < 0:
        return None
    dst = op.outputs[0]
    b = info.tensors[dst]

    def dies_here(src: int) -> bool:
        if src < 0 or src == dst:
            return False
        a = info.tensors[src]
        return not (
            a.is_constant
            or b.is_constant
            or a.is_variable
            or b.is_variable
            or lifetimes[src][1] != op.index
            or lifetimes[dst][0] != op.index
        )

    if op.name in ALIAS_OPS:  # the rule before in-place operators, unchanged
        src = op.inputs[0]
        outer = set(info.inputs) | set(info.outputs)
        if dies_here(src) and src not in outer and info.tensors[src].nbytes == b.nbytes:
            return src, dst, "view"
        return None
    if not inplace:
        return None
    io = _io_tensors(info) if io is None else io
    if dst in io:
        return None
    first = info.tensors[op.inputs[0]] if op.inputs[0] >= 0 else None
    sources: tuple[int, ...] = ()
    kind = ""
    if first is None:
        return None
    if op.name in INPLACE_UNARY or op.name == "QUANTIZE":
        if first.nbytes == b.nbytes and first.elements == b.elements:
            if op.name == "QUANTIZE" and first.dtype in INPLACE_DTYPES | {"uint8"}:
                sources, kind = op.inputs[:1], "quantize"
            elif first.dtype == b.dtype and b.dtype in INPLACE_DTYPES:
                sources, kind = op.inputs[:1], "elementwise"
    elif op.name in INPLACE_BINARY and len(op.inputs) >= 2 and op.inputs[1] >= 0:
        second = info.tensors[op.inputs[1]]
        if (
            first.shape == second.shape == b.shape
            and first.dtype == second.dtype == b.dtype
            and b.dtype in INPLACE_DTYPES
        ):
            sources, kind = op.inputs[:2], "binary"
    elif op.name == DEPTHWISE and _depthwise_inplace(info, op):
        sources, kind = op.inputs[:1], "depthwise"
    for src in sources:
        if src not in io and dies_here(src):
            return src, dst, kind
    return None


def _alias_map(
    info: ModelInfo,
    lifetimes: tuple[tuple[int, int], ...],
    inplace: bool = True,
    skip: frozenset[int] = frozenset(),
    io: frozenset[int] | None = None,
) -> dict[int, tuple[int, str]]:
    """output tensor -> (input tensor whose bytes it reuses, kind); outputs in `skip` are left
    out; `io`: the tensors in-place operators may not touch (default: _io_tensors)."""
    io = _io_tensors(info) if io is None else io
    aliases: dict[int, tuple[int, str]] = {}
    for op in _timed_ops(info, op_timeline(info)):
        rule = alias_rule(info, op, lifetimes, inplace, io)
        if rule is not None and rule[1] not in skip:
            aliases[rule[1]] = (rule[0], rule[2])
    return aliases


def inplace_scratch_bytes(info: ModelInfo, op: OpInfo) -> int:
    """The scratch the in-place DEPTHWISE_CONV_2D takes (one output channel: output elements /
    channels, int8); 0 for any other op."""
    if op.name != DEPTHWISE or not op.outputs:
        return 0
    y = info.tensors[op.outputs[0]]
    return y.elements // y.shape[3] if len(y.shape) == 4 and y.shape[3] else 0


def _root(aliases: dict[int, int], t: int) -> int:
    seen = 0
    while t in aliases and seen <= len(aliases):
        t = aliases[t]
        seen += 1
    return t


@dataclass
class _Buffer:
    root: int
    first: int
    last: int
    size: int  # bytes rounded up to ALIGNMENT: what the placement reserves
    actual: int  # bytes the largest member really uses
    # A group whose members differ in size (an in-place depthwise with a smaller output): one
    # (first, last, size, actual) per member, all at the group's offset; empty: one rectangle.
    segments: tuple[tuple[int, int, int, int], ...] = ()


def _spans(b: _Buffer) -> tuple[tuple[int, int, int, int], ...]:
    """(first, last, size, actual) of each rectangle the buffer occupies at its offset."""
    return b.segments or ((b.first, b.last, b.size, b.actual),)


def _lowest_fit(placed: list[tuple[int, int, int, int]], b: _Buffer) -> int:
    """The lowest offset at which every segment of `b` misses every placed rectangle live with
    it."""
    spans = _spans(b)
    clash = [
        (o, e, size)
        for o, e, start, end in placed
        for first, last, size, _ in spans
        if start <= last and first <= end
    ]
    for cand in sorted({0} | {e for _, e, _ in clash}):
        if all(not (o < cand + size and cand < e) for o, e, size in clash):
            return cand
    return 0  # not reached: the highest end fits


def _place(buffers: list[_Buffer], order: list[int], best_fit: bool) -> tuple[dict[int, int], int]:
    placed: list[tuple[int, int, int, int]] = []  # (offset, end, first, last)
    offsets: dict[int, int] = {}
    top = 0
    for k in order:
        b = buffers[k]
        if b.segments:  # members of different sizes at one offset: the lowest that fits
            chosen = _lowest_fit(placed, b)
            offsets[b.root] = chosen
            placed.extend((chosen, chosen + size, f, last) for f, last, size, _ in b.segments)
            top = max(top, chosen + b.actual)
            continue
        busy = sorted((o, e) for o, e, start, end in placed if start <= b.last and b.first <= end)
        chosen, chosen_gap, cursor = -1, 0, 0
        for o, e in busy:
            gap = o - cursor
            if gap >= b.size and (chosen < 0 or (best_fit and gap < chosen_gap)):
                chosen, chosen_gap = cursor, gap
                if not best_fit:
                    break
            cursor = max(cursor, e)
        if chosen < 0:
            chosen = cursor
        offsets[b.root] = chosen
        placed.append((chosen, chosen + b.size, b.first, b.last))
        top = max(top, chosen + b.actual)  # the arena ends at the last byte really used
    return offsets, top


_ORDERINGS: tuple[tuple[str, Callable[[_Buffer], tuple[int, ...]]], ...] = (
    ("size", lambda b: (-b.size, b.first, b.root)),
    ("size*time", lambda b: (-b.size * (b.last - b.first + 1), -b.size, b.root)),
    ("first-use", lambda b: (b.first, -b.size, b.root)),
    ("duration", lambda b: (-(b.last - b.first), -b.size, b.root)),
    ("last-use", lambda b: (-b.last, -b.size, b.root)),
)


def _breadth_order(buffers: list[_Buffer], n_ops: int) -> list[int]:
    """Ops by the bytes live at them (largest first); at each op its not yet ordered buffers,
    largest first ("greedy by breadth")."""
    live: list[list[int]] = [[] for _ in range(max(n_ops, 1))]
    for k, b in enumerate(buffers):
        for i in range(b.first, b.last + 1):
            live[i].append(k)
    ops = sorted(range(len(live)), key=lambda i: (-sum(buffers[k].actual for k in live[i]), i))
    order: list[int] = []
    seen: set[int] = set()
    for i in ops:
        for k in sorted(live[i], key=lambda k: (-buffers[k].size, buffers[k].first, k)):
            if k not in seen:
                seen.add(k)
                order.append(k)
    return order


def _group_bound(buffers: list[_Buffer], n_ops: int) -> int:
    """No plan with these buffers and 4-byte aligned offsets can be smaller: at every op the live
    buffers are disjoint, each but the highest occupies its rounded size, so the arena is at least
    the sum of their rounded sizes minus the largest rounding of one of them."""
    live: list[dict[int, tuple[int, int]]] = [{} for _ in range(max(n_ops, 1))]
    for k, b in enumerate(buffers):
        for first, last, size, actual in _spans(b):
            for i in range(first, last + 1):
                old = live[i].get(k, (0, 0))
                live[i][k] = (max(old[0], size), max(old[1], actual))
    best = 0
    for ks in live:
        if ks:
            total = sum(size for size, _ in ks.values())
            best = max(best, total - max(size - actual for size, actual in ks.values()))
    return best


# Local search after the greedy orderings: a fixed seed keeps the plan deterministic.
_SEARCH_SEED = 20261125
_SEARCH_WORK = 1_000_000  # budget in buffer-pair comparisons (~0.3 s of Python at most)


def _improve(
    buffers: list[_Buffer], order: list[int], best: tuple[int, dict[int, int], str], bound: int
) -> tuple[int, dict[int, int], str]:
    """Moves one buffer earlier in the placement order at a time, keeping any change that does not
    grow the arena, until the arena meets `bound` or the work budget is spent."""
    import random

    n = len(order)
    if n < 3:
        return best
    rng = random.Random(_SEARCH_SEED)
    top, offsets, label = best
    iterations = min(600, _SEARCH_WORK // (n * n))
    improved = False
    for _ in range(iterations):
        i, j = sorted(rng.sample(range(n), 2))
        candidate = order[:i] + [order[j]] + order[i:j] + order[j + 1 :]
        cand_offsets, cand_top = _place(buffers, candidate, True)
        if cand_top <= top:
            improved = improved or cand_top < top
            order, top, offsets = candidate, cand_top, cand_offsets
            if top <= bound:
                break
    return top, offsets, label + ("+search" if improved else "")


def _overridden(info: ModelInfo, overrides: TensorOverrides | None) -> tuple[tuple[int, int], ...]:
    lifetimes = tensor_lifetimes(info)
    if overrides is None:
        return lifetimes
    return tuple(overrides.lifetimes.get(t, span) for t, span in enumerate(lifetimes))


def _inplace_barred(info: ModelInfo, overrides: TensorOverrides | None) -> frozenset[int]:
    """Tensors no in-place operator may touch: every subgraph's inputs and outputs, and the
    tensors patch-based execution gives other sizes or lifetimes (a patched op runs over
    windows of band buffers, not over its whole input)."""
    io = _io_tensors(info)
    if overrides is None:
        return io
    return io | frozenset(overrides.sizes) | frozenset(overrides.lifetimes)


def plan_memory(
    info: ModelInfo,
    kernels: str = "portable",
    overrides: TensorOverrides | None = None,
    patches: Any = None,
    inplace: bool = True,
) -> MemoryPlan:
    """Plans the arena for subgraph 0 of `info` for a firmware with the kernel set `kernels`
    ("portable" or "dsp": the DSP kernels take scratch); deterministic for a given model.
    `overrides` and `patches`: patch-based execution (patches.plan_with_patches); the lower
    bound stays the model's own. `inplace`: plan in-place operators (alias_rule; never on the
    patched tensors); False gives the plan with views only. An in-place DEPTHWISE_CONV_2D runs
    slower (channel by channel), so each is kept only when dropping it would grow the arena."""

    def once(inplace: bool, skip: frozenset[int]) -> MemoryPlan:
        return _plan_once(info, kernels, inplace, skip, overrides, patches)

    baseline = once(False, frozenset())
    if not inplace:
        return replace(baseline, inplace=False, baseline_bytes=baseline.arena_bytes)
    plan = once(True, frozenset())
    skip: frozenset[int] = frozenset()
    for dst, kind in plan.alias_kinds.items():
        if kind == "depthwise":
            trial = once(True, skip | {dst})
            if trial.arena_bytes <= plan.arena_bytes:
                plan, skip = trial, skip | {dst}
    if plan.arena_bytes > baseline.arena_bytes:
        # Best fit is a heuristic: the lifetimes in-place operators make can place worse than the
        # views alone (an unrolled LSTM's tiny tensors: 183 vs 173 B). Never plan worse than that.
        return replace(baseline, inplace=False, baseline_bytes=baseline.arena_bytes)
    return replace(plan, baseline_bytes=baseline.arena_bytes)


def _plan_once(
    info: ModelInfo,
    kernels: str,
    inplace: bool,
    skip: frozenset[int],
    overrides: TensorOverrides | None,
    patches: Any,
) -> MemoryPlan:
    """One placement with the aliases alias_rule allows, but the outputs in `skip`."""
    lifetimes = _overridden(info, overrides)
    rules = _alias_map(info, lifetimes, inplace, skip, _inplace_barred(info, overrides))
    aliases = {dst: src for dst, (src, _) in rules.items()}
    groups: dict[int, _Buffer] = {}
    for t, (start, end) in enumerate(lifetimes):
        if start < 0:
            continue
        r = _root(aliases, t)
        nbytes = overrides.size(info, t) if overrides else info.tensors[t].nbytes
        if r in groups:
            g = groups[r]
            if nbytes != g.actual or g.segments:  # members of different sizes: segments
                g.segments = _spans(g) + ((start, end, _align(nbytes), nbytes),)
            g.first, g.last = min(g.first, start), max(g.last, end)
            g.actual = max(g.actual, nbytes)
            g.size = _align(g.actual)
        else:
            groups[r] = _Buffer(r, start, end, _align(nbytes), nbytes)
    buffers = [groups[r] for r in sorted(groups)]
    timeline = op_timeline(info)
    n_times = len(timeline)
    op_times = _op_times(info, timeline)
    kernel_scratch = tuple(scratch_bytes_for_op(info, op, kernels) for op in info.ops)
    depthwise = {dst for dst, (_, kind) in rules.items() if kind == "depthwise"}
    scratch = tuple(
        n + (inplace_scratch_bytes(info, op) if set(op.outputs) & depthwise else 0)
        for n, op in zip(kernel_scratch, info.ops)
    )
    if not any(kernel_scratch):
        kernel_scratch = ()
    if not any(scratch):
        scratch = ()
    for i, nbytes in enumerate(scratch):
        if nbytes:  # a buffer of its own, keyed after every tensor, live at op i alone
            start, end = op_times[i]
            buffers.append(_Buffer(len(info.tensors) + i, start, end, _align(nbytes), nbytes))
    resources = resource_variables(info)
    resource_key = len(info.tensors) + len(info.ops)
    for r, (_, nbytes, _) in enumerate(resources):
        if nbytes:  # state: live for the whole run, like a variable tensor
            buffers.append(
                _Buffer(resource_key + r, 0, max(n_times - 1, 0), _align(nbytes), nbytes)
            )

    best: tuple[int, dict[int, int], str] | None = None
    best_order: list[int] = []
    candidates = [
        (label, sorted(range(len(buffers)), key=lambda k: key(buffers[k])))
        for label, key in _ORDERINGS
    ]
    candidates.append(("breadth", _breadth_order(buffers, n_times)))
    for label, order in candidates:
        for best_fit in (True, False):
            offsets, top = _place(buffers, order, best_fit)
            if best is None or top < best[0]:
                best = (top, offsets, f"{label}/{'best' if best_fit else 'first'}-fit")
                best_order = order
    bound = _group_bound(buffers, n_times)
    if best is not None and best[0] > bound:
        best = _improve(buffers, best_order, best, bound)
    arena, root_offsets, strategy = best if best else (0, {}, "empty")

    tensor_offsets = tuple(
        root_offsets[_root(aliases, t)] if lifetimes[t][0] >= 0 else -1
        for t in range(len(info.tensors))
    )
    scratch_offsets = tuple(
        root_offsets[len(info.tensors) + i] if nbytes else -1 for i, nbytes in enumerate(scratch)
    )
    resource_offsets = tuple(
        root_offsets[resource_key + r] if nbytes else -1
        for r, (_, nbytes, _) in enumerate(resources)
    )
    pool_words = sum(pool_words_for_op(info, op) for op in info.ops)
    return MemoryPlan(
        offsets=tensor_offsets,
        arena_bytes=arena,
        lower_bound=lower_bound(
            info, tensor_lifetimes(info), kernel_scratch, tuple(r[1] for r in resources)
        ),
        resource_offsets=resource_offsets,
        resource_bytes=tuple(r[1] for r in resources),
        op_count=len(info.ops),
        aligned_bound=bound,
        scratch_offsets=scratch_offsets,
        scratch_bytes=scratch,
        lifetimes=lifetimes,
        pool_words=pool_words,
        alignment=ALIGNMENT,
        aliases=dict(sorted(aliases.items())),
        strategy=strategy,
        inplace=inplace,
        alias_kinds={dst: kind for dst, (_, kind) in sorted(rules.items())},
        overrides=overrides,
        patches=patches,
    )


# The DSP kernels' limits (firmware/runtime/src/kernels: TFL_MAC_PATCH_BYTES in tfl_mac.h,
# CONV_PW_MAX_IC in op_conv_2d.c).
PATCH_BYTES = 768
POINTWISE_MAX_IC = 256
SCRATCH_KERNEL_SETS = frozenset({"dsp", "mve"})
# The Helium kernels' largest filter (weights per output channel, TFL_MVE_MAX_FILTER in
# tfl_kernel_mve.h): larger ones take the portable loops and no scratch.
MVE_MAX_FILTER = 4096


def mve_conv_scratch_bytes(
    x: tuple[int, ...], w: tuple[int, ...], y: tuple[int, ...], stride_w: int, stride_h: int
) -> int:
    """CONV_2D's scratch with the Helium kernels (one group): the im2col row, filter size
    rounded up to 4 (none for a 1x1, stride-1 convolution keeping height and width), then 4
    bytes per output channel for the weight sums; 0 above MVE_MAX_FILTER."""
    oc, kh, kw, fic = w
    filter_size = kh * kw * fic
    if filter_size > MVE_MAX_FILTER:
        return 0
    pointwise = kh == kw == 1 and stride_w == stride_h == 1 and x[1:3] == y[1:3]
    return (0 if pointwise else _align(filter_size)) + 4 * oc


def _shape(info: ModelInfo, index: int) -> tuple[int, ...]:
    return info.tensors[index].shape if 0 <= index < len(info.tensors) else ()


def scratch_bytes_for_op(info: ModelInfo, op: OpInfo, kernels: str) -> int:
    """The scratch bytes the C kernel of `op` takes in prepare with the kernel set `kernels`
    (tfl_scratch_request; the same rules as conv_scratch_bytes in op_conv_2d.c and fc_prepare in
    op_fully_connected.c); 0 for none, always for the portable kernels. Shapes the kernel
    refuses give 0 (the model does not get that far)."""
    if kernels not in SCRATCH_KERNEL_SETS or len(op.inputs) < 2 or not op.outputs:
        return 0
    if op.inputs[0] >= 0 and info.tensors[op.inputs[0]].dtype == "int16":
        return 0  # the 16x8 evals take no scratch
    x, w, y = _shape(info, op.inputs[0]), _shape(info, op.inputs[1]), _shape(info, op.outputs[0])
    if op.name == "CONV_2D" and len(x) == len(w) == len(y) == 4:
        oc, kh, kw, fic = w
        ic = x[3]
        if fic <= 0 or ic % fic != 0 or ic // fic != 1:
            return 0  # grouped: no DSP path
        stride_w = int(op.options.get("stride_w", 1)) or 1
        stride_h = int(op.options.get("stride_h", 1)) or 1
        if kernels == "mve":
            return mve_conv_scratch_bytes(x, w, y, stride_w, stride_h)
        # 1x1 with stride 1 and the input's height and width has no padding (SAME or VALID)
        if (
            kh == kw == 1
            and stride_w == stride_h == 1
            and x[1:3] == y[1:3]
            and ic % 4 == 0
            and ic <= POINTWISE_MAX_IC
        ):
            return 4 * ic
        filter_size = kh * kw * fic
        return 3 * _align(filter_size) if filter_size <= PATCH_BYTES - 3 and oc >= 4 else 0
    if op.name == "FULLY_CONNECTED" and len(w) == 2 and kernels != "mve":
        depth = w[1]
        quant = info.tensors[op.inputs[1]].quant
        offset = quant.zero_points[0] if quant is not None and len(quant.scales) == 1 else 0
        return 2 * (depth & ~3) if offset == 0 and 4 <= depth <= PATCH_BYTES else 0
    return 0


def pool_words_for_op(info: ModelInfo, op: OpInfo) -> int:
    """The pool words the C runtime allocates in op's prepare: two (multiplier, shift) per scale
    of the weights (input 1), so 2 for per-tensor and 2 * output channels for per-channel weights;
    0 for ops that use no pool. Weights without quantization count as one scale (the runtime
    refuses them anyway)."""
    if op.name == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        return LSTM_POOL_WORDS
    if op.name == "ELU":
        return ELU_POOL_WORDS
    if op.name not in POOL_OPS or len(op.inputs) < 2 or op.inputs[1] < 0:
        return 0
    quant = info.tensors[op.inputs[1]].quant
    return 2 * (len(quant.scales) if quant is not None and quant.scales else 1)


@dataclass(frozen=True)
class PlanPeak:
    """Where the plan's memory peaks: the op (its first timeline position), the bytes live
    there (each alias group counted once at its largest member, plus the op's scratch and
    the resource variables) and the tensors live there."""

    op: int  # global op index; -1 for a model without ops
    step: int  # timeline position
    live_bytes: int
    tensors: tuple[int, ...]
    scratch_bytes: int


def plan_peak(info: ModelInfo, plan: MemoryPlan) -> PlanPeak:
    """The op at which the planned buffers need the most bytes (the earliest on a tie); the
    arena is at least this (more when the placement leaves gaps)."""
    timeline = op_timeline(info)
    if not timeline:
        return PlanPeak(-1, -1, sum(plan.resource_bytes), (), 0)
    scratch_at = [0] * len(timeline)
    for i, (start, end) in enumerate(_op_times(info, timeline)):
        for step in {start, end} if plan.scratch_bytes and plan.scratch_bytes[i] else ():
            scratch_at[step] = plan.scratch_bytes[i]
    best: PlanPeak | None = None
    for step, k in enumerate(timeline):
        live = tuple(t for t, (first, last) in enumerate(plan.lifetimes) if first <= step <= last)
        group_bytes: dict[int, int] = {}  # an alias group's bytes: its largest member live here
        for t in live:
            r = _root(plan.aliases, t)
            group_bytes[r] = max(group_bytes.get(r, 0), info.tensors[t].nbytes)
        total = sum(group_bytes.values()) + scratch_at[step] + sum(plan.resource_bytes)
        if best is None or total > best.live_bytes:
            best = PlanPeak(k, step, total, live, scratch_at[step])
    assert best is not None
    return best


def verify_plan(info: ModelInfo, plan: MemoryPlan) -> None:
    """Raises TinyflashError (exit 1) naming the tensors when the plan is unsafe: two tensors live
    at the same op overlap in the arena (other than an allowed alias), an offset is misaligned or
    outside the arena, or a constant/unused tensor got an offset."""
    tensors = info.tensors

    def fail(what: str) -> None:
        raise TinyflashError(
            f"memory plan of {info.name}: {what} — this is a tinyflash bug, "
            "please report it with the model.",
            EXIT_CHECK_FAILED,
        )

    if len(plan.offsets) != len(tensors) or len(plan.lifetimes) != len(tensors):
        fail(f"{len(plan.offsets)} offsets for {len(tensors)} tensors")
    expected = _overridden(info, plan.overrides)
    sizes = [
        plan.overrides.size(info, t) if plan.overrides else t_info.nbytes
        for t, t_info in enumerate(tensors)
    ]
    placed: list[int] = []
    for t, off in enumerate(plan.offsets):
        if plan.lifetimes[t] != expected[t]:
            fail(
                f"tensor {t} ({tensors[t].name}) has lifetime {plan.lifetimes[t]}, "
                f"expected {expected[t]}"
            )
        if expected[t][0] < 0:
            if off != -1:
                fail(f"tensor {t} ({tensors[t].name}) is constant or unused but has offset {off}")
            continue
        if off < 0 or off % plan.alignment:
            fail(
                f"tensor {t} ({tensors[t].name}) has offset {off}, not a multiple of "
                f"{plan.alignment}"
            )
        if off + sizes[t] > plan.arena_bytes:
            fail(
                f"tensor {t} ({tensors[t].name}) ends at {off + sizes[t]}, past the "
                f"{plan.arena_bytes}-byte arena"
            )
        placed.append(t)

    groups = {t: _root(plan.aliases, t) for t in placed}
    timeline = op_timeline(info)
    io = _inplace_barred(info, plan.overrides)
    allowed = {
        rule[1]: rule[0]
        for rule in (
            alias_rule(info, op, expected, plan.inplace, io) for op in _timed_ops(info, timeline)
        )
        if rule is not None
    }
    producer = {op.outputs[0]: op for op in info.ops if len(op.outputs) == 1}
    for dst, src in plan.aliases.items():
        if plan.alias_kinds.get(dst) == "depthwise" and (
            dst not in producer
            or not plan.scratch_bytes
            or plan.scratch_bytes[producer[dst].index] < inplace_scratch_bytes(info, producer[dst])
        ):
            fail(f"the in-place depthwise convolution writing tensor {dst} has no scratch")
        if (
            allowed.get(dst) != src
            or plan.offsets[dst] != plan.offsets[src]
            or tensors[dst].nbytes > tensors[src].nbytes
        ):
            fail(
                f"tensor {dst} ({tensors[dst].name}) may not alias tensor {src} "
                f"({tensors[src].name})"
            )

    order = sorted(placed, key=lambda t: expected[t][0])
    for i, a in enumerate(order):
        if sizes[a] == 0:
            continue
        fa, la = expected[a]
        a0, a1 = plan.offsets[a], plan.offsets[a] + sizes[a]
        for b in order[i + 1 :]:
            fb, lb = expected[b]
            if fb > la:
                break
            if groups[a] == groups[b]:
                continue
            b0, b1 = plan.offsets[b], plan.offsets[b] + sizes[b]
            if a0 < b1 and b0 < a1 and fa <= lb and fb <= la:
                fail(
                    f"tensors {a} ({tensors[a].name}) and {b} ({tensors[b].name}) are live "
                    f"together but overlap at bytes {max(a0, b0)}..{min(a1, b1)}"
                )

    if plan.scratch_offsets and len(plan.scratch_offsets) != len(info.ops):
        fail(f"{len(plan.scratch_offsets)} scratch offsets for {len(info.ops)} ops")
    op_times = _op_times(info, timeline)
    for i, (off, nbytes) in enumerate(zip(plan.scratch_offsets, plan.scratch_bytes)):
        start, end = op_times[i]
        if nbytes == 0:
            if off != -1:
                fail(f"op {i} takes no scratch but has scratch offset {off}")
            continue
        if off < 0 or off % plan.alignment or off + nbytes > plan.arena_bytes:
            fail(
                f"op {i}'s {nbytes}-byte scratch at {off} is misaligned or outside the "
                f"{plan.arena_bytes}-byte arena"
            )
        for t in placed:
            t0, t1 = plan.offsets[t], plan.offsets[t] + sizes[t]
            if expected[t][0] <= end and start <= expected[t][1] and off < t1 and t0 < off + nbytes:
                fail(f"op {i}'s scratch overlaps tensor {t} ({tensors[t].name}), live at that op")

    resources = resource_variables(info)
    if plan.resource_bytes != tuple(r[1] for r in resources) or len(plan.resource_offsets) != len(
        resources
    ):
        fail(f"{len(plan.resource_offsets)} resource offsets for {len(resources)} variables")
    spans = [(plan.offsets[t], plan.offsets[t] + sizes[t], tensors[t].name) for t in placed]
    spans += [
        (off, off + n, f"op {i}'s scratch")
        for i, (off, n) in enumerate(zip(plan.scratch_offsets, plan.scratch_bytes))
        if n
    ]
    for r, (off, nbytes) in enumerate(zip(plan.resource_offsets, plan.resource_bytes)):
        if nbytes == 0:
            if off != -1:
                fail(f"resource variable {r} is never assigned but has offset {off}")
            continue
        if off < 0 or off % plan.alignment or off + nbytes > plan.arena_bytes:
            fail(f"resource variable {r} at {off} is misaligned or outside the arena")
        others = spans + [
            (o, o + n, f"resource variable {q}")
            for q, (o, n) in enumerate(zip(plan.resource_offsets, plan.resource_bytes))
            if n and q != r
        ]
        for o0, o1, what in others:  # state lives for the whole run: it may share nothing
            if o0 < off + nbytes and off < o1:
                fail(f"resource variable {r} ({resources[r][0]}) overlaps {what}")


OFFLINE_METADATA_NAME = "OfflineMemoryAllocation"


def with_offline_plan(info: ModelInfo, plan: MemoryPlan) -> bytes:
    """The model's bytes with the plan written into its metadata in TFLM's offline memory
    allocation format, so TFLite Micro can place the activations the same way: a buffer of
    little-endian int32 [format version 0, subgraph index 0, tensor count N, N offsets], offset -1
    for tensors TFLM allocates itself (constants, unused tensors), under the metadata name
    'OfflineMemoryAllocation' (an existing entry of that name is replaced)."""
    import struct

    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    if info.subgraph_count > 1:  # the format places one subgraph; the plan spans them all
        raise TinyflashError(
            f"{info.name} has {info.subgraph_count} subgraphs; TFLM's offline memory plan "
            "describes one — let TFLM plan this model itself.",
            EXIT_CHECK_FAILED,
        )
    values = [0, 0, len(plan.offsets), *plan.offsets]
    model = fb.ModelT.InitFromPackedBuf(bytearray(info.data), 0)
    buffer = fb.BufferT()
    buffer.data = list(struct.pack(f"<{len(values)}i", *values))
    model.buffers = list(model.buffers or []) + [buffer]
    entry = fb.MetadataT()
    entry.name = OFFLINE_METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    kept = [
        m
        for m in (model.metadata or [])
        if (m.name.decode() if isinstance(m.name, bytes) else m.name) != OFFLINE_METADATA_NAME
    ]
    model.metadata = kept + [entry]
    builder = flatbuffers.Builder(len(info.data) + 4 * len(values) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=schema.FILE_IDENTIFIER)
    return bytes(builder.Output())
