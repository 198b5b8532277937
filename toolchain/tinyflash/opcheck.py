"""Is a model deployable on the tinyflash runtime? Full int8 (TFLITE_BUILTINS_INT8) and a kernel
for every op.

The rules, per operator of every subgraph (at most 4 subgraphs and 8 resource variables, the C
runtime's capacities; a subgraph no control-flow op runs gets a warning):
- an op without a kernel (not in runtime_kernels()) is reported alone, first, with its types and
  the TFLM verdict of docs/ops.md (ops_table.json): `--runtime tflm` or replace the layer;
- activations (non-constant tensors) are int8 with per-tensor quantization, except ARG_MAX /
  ARG_MIN's int32 positions, GATHER's int32 positions, the comparisons' bool results and
  SELECT_V2's bool condition, and the int32/bool tensors of the ops that run them (CAST, SHAPE,
  LOGICAL_*, EMBEDDING_LOOKUP, GATHER_ND, ..., the int32 comparisons, the int32 forms of ADD,
  SUB, MUL, CONCATENATION, PACK, SLICE, STRIDED_SLICE: shape arithmetic) (INT32_OUTPUT_OPS,
  BOOL_OUTPUT_OPS, TYPED_INPUTS, INTEGER_TENSOR_OPS);
- a float op in a calibrated model (after a DEQUANTIZE of int8 activations: the converter kept
  it float) is reported like an op without a kernel for its types, not as missing data;
- CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV: int8 weights (per-tensor or
  per-channel), int32 bias; other constant inputs are int8 data or int32/int64 parameters;
- no float tensors, except float model inputs/outputs quantized by a QUANTIZE / produced by a
  DEQUANTIZE at the model's edge (int8-float-io: deployable, with a warning);
- no custom ops, and the op has a kernel (runtime_kernels(), read from
  firmware/runtime/include/tfl_kernels.h);
- int16 appears only where TFLITE_BUILTINS_INT8 itself has it: the integer LSTM's cell state
  (UNIDIRECTIONAL_SEQUENCE_LSTM input 19) and SVDF's activation state (input 4), both variable
  tensors, and SVDF's time weights (input 2) — or the model is 16x8 (int16 activations, int8
  weights, EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8): then every op with an
  int16 activation must be in the runtime's 16x8 list (firmware/runtime/include/
  tfl_kernels_int16.h, int16_kernels()), int16 activations are symmetric (zero point 0), an int16
  GREATER's two inputs share one scale and zero point (TensorFlow Lite compares the stored
  values), and the weight ops' bias may be int64; the model's inputs and outputs may be int16. The fused LSTM must have the form TFLM runs (input
  gate, no peephole, projection or layer norm, power-of-two cell-state scale).
Each offender is one sentence naming the op (or model input/output) and its fix.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tinyflash import resources
from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError
from tinyflash.model import ModelInfo, OpInfo, TensorInfo, load_model
from tinyflash.plan import called_subgraphs
from tinyflash.schema import FLOAT_TYPES

if TYPE_CHECKING:
    from tinyflash.plan import MemoryPlan

# One line of the runtime's X-macro op list: TFL_KERNEL(lower, code, "NAME").
_KERNEL_ROW = re.compile(r'^\s*TFL_KERNEL\(\s*(\w+)\s*,\s*(\d+)\s*,\s*"(\w+)"\s*\)', re.MULTILINE)


def kernel_table(runtime_dir: Path | None = None) -> dict[str, str]:
    """Builtin name -> kernel lower name ("CONV_2D" -> "conv_2d") of every kernel the C runtime
    has, in the order of its one op list, firmware/runtime/include/tfl_kernels.h (read once per
    process)."""
    root = runtime_dir if runtime_dir is not None else resources.firmware_dir() / "runtime"
    return dict(_read_kernel_table(root / "include" / "tfl_kernels.h"))


def _read_list(header: Path, what: str) -> str:
    """The text of one of the runtime's X-macro op lists; `what` names it in the error."""
    try:
        return header.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise TinyflashError(
            f"cannot read the runtime's {what} {header} ({reason}); reinstall tinyflash",
            EXIT_BAD_INPUT,
        ) from error


@functools.lru_cache(maxsize=4)
def _read_kernel_table(header: Path) -> tuple[tuple[str, str], ...]:
    text = _read_list(header, "kernel list")
    rows = tuple((name, lower) for lower, _code, name in _KERNEL_ROW.findall(text))
    if not rows:
        raise TinyflashError(
            f"the runtime's kernel list {header} names no kernel (no "
            "TFL_KERNEL line); reinstall tinyflash",
            EXIT_BAD_INPUT,
        )
    return rows


# One line of the runtime's 16x8 op list: TFL_KERNEL_INT16(lower, "NAME").
_INT16_ROW = re.compile(r'^\s*TFL_KERNEL_INT16\(\s*(\w+)\s*,\s*"(\w+)"\s*\)', re.MULTILINE)

SCHEME_INT8 = "int8"
SCHEME_16X8 = "16x8: int16 activations, int8 weights"
INT16X8_FIX = (
    "convert with --mode int8, or replace the layer with ops that run 16x8 "
    "(`tinyflash ops` lists them)"
)


def int16_kernels(runtime_dir: Path | None = None) -> tuple[str, ...]:
    """The op names whose kernels also run 16x8 (int16 activations, int8 weights), from the one
    list firmware/runtime/include/tfl_kernels_int16.h (read once per process)."""
    root = runtime_dir if runtime_dir is not None else resources.firmware_dir() / "runtime"
    return _read_int16_table(root / "include" / "tfl_kernels_int16.h")


@functools.lru_cache(maxsize=4)
def _read_int16_table(header: Path) -> tuple[str, ...]:
    text = _read_list(header, "16x8 kernel list")
    return tuple(name for _lower, name in _INT16_ROW.findall(text))


def model_scheme(info: ModelInfo) -> str:
    """SCHEME_16X8 when some activation is int16 other than the int8 scheme's own int16 state
    (INT16_STATE: the integer LSTM's cell state, SVDF's), else SCHEME_INT8."""
    state = {
        op.inputs[k]
        for op in info.ops
        for k in INT16_STATE.get(op.name, {})
        if k < len(op.inputs) and op.inputs[k] >= 0
    }
    for op in info.ops:
        for i in (*op.inputs, *op.outputs):
            if i < 0 or i in state:
                continue
            t = info.tensors[i]
            if t.dtype == "int16" and not t.is_constant:
                return SCHEME_16X8
    return SCHEME_INT8


def deployable_text(scheme: str) -> str:
    """The verdict line of a deployable model: 'full int8, every op has a kernel' or
    '16x8: int16 activations, int8 weights, every op has an int16 kernel'."""
    if scheme == SCHEME_16X8:
        return f"{SCHEME_16X8}, every op has an int16 kernel"
    return "full int8, every op has a kernel"


def runtime_kernels() -> tuple[str, ...]:
    """The op names of the C runtime's kernels ("ADD", "AVERAGE_POOL_2D", ...), from
    tfl_kernels.h."""
    return tuple(kernel_table())


# int16 tensors that are part of TFLITE_BUILTINS_INT8: op -> {input index: must be variable}
INT16_STATE: dict[str, dict[int, bool]] = {
    "UNIDIRECTIONAL_SEQUENCE_LSTM": {19: True},  # cell state
    "SVDF": {2: False, 4: True},  # time weights (constant), activation state
}

# Ops whose resource-typed tensors hold a resource variable's id (VAR_HANDLE output, the others'
# input 0).
RESOURCE_OPS: frozenset[str] = frozenset({"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"})
# Ops whose int32 outputs (positions, not quantized values) the runtime runs; such an output
# may be a model output.
INT32_OUTPUT_OPS: frozenset[str] = frozenset({"ARG_MAX", "ARG_MIN"})
# Ops whose outputs are bool (comparisons); such an output may be a model output.
BOOL_OUTPUT_OPS: frozenset[str] = frozenset(
    {"EQUAL", "NOT_EQUAL", "GREATER", "GREATER_EQUAL", "LESS", "LESS_EQUAL"}
)
# Op -> (input index, dtype) of an input that is not int8 data: GATHER's int32 positions (an
# embedding lookup by token ids), SELECT_V2's bool condition; it may be a model input or an
# activation.
TYPED_INPUTS: dict[str, tuple[int, str]] = {"GATHER": (1, "int32"), "SELECT_V2": (0, "bool")}
# Ops whose kernels take and give integer tensors that are not quantized int8 data: the
# non-int8 dtypes any of their activations (and model inputs/outputs next to them) may have.
_INTEGER_TENSOR_DTYPES: dict[frozenset[str], tuple[str, ...]] = {
    frozenset({"int32"}): (
        "SHAPE",
        "EMBEDDING_LOOKUP",
        "GATHER_ND",
        "BROADCAST_ARGS",
        "DYNAMIC_UPDATE_SLICE",
        "ZEROS_LIKE",
        "FILL",
        "MAXIMUM",
        "MINIMUM",
        "SQUARED_DIFFERENCE",
        # the int32 forms TFLM runs on shape vectors (a dynamic batch's SHAPE arithmetic)
        "ADD",
        "SUB",
        "MUL",
        "PACK",
        "SLICE",
        "STRIDED_SLICE",
        "QUANTIZE",  # int8/int16 -> int32
    ),
    frozenset({"bool"}): ("LOGICAL_AND", "LOGICAL_OR", "LOGICAL_NOT"),
    frozenset({"int32", "bool"}): ("CAST", "CONCATENATION", *sorted(BOOL_OUTPUT_OPS)),
}
# Control flow: their kernels copy tensors of any type unchanged between the operator and the
# subgraphs it runs. The converter leaves the tensors they carry float32 (a DEQUANTIZE before
# the op or in the subgraph, a QUANTIZE after), so those float32 tensors are accepted.
CONTROL_FLOW_OPS: frozenset[str] = frozenset({"IF", "WHILE"})
INTEGER_TENSOR_OPS: dict[str, frozenset[str]] = {
    op: dtypes for dtypes, ops in _INTEGER_TENSOR_DTYPES.items() for op in ops
}

# op -> (weights input index, bias input index)
WEIGHT_OPS: dict[str, tuple[int, int]] = {
    "CONV_2D": (1, 2),
    "DEPTHWISE_CONV_2D": (1, 2),
    "FULLY_CONNECTED": (1, 2),
    "TRANSPOSE_CONV": (1, 3),
    "BATCH_MATMUL": (1, -1),
    "CONV_3D": (1, 2),
    "CONV_3D_TRANSPOSE": (1, 3),
    "UNIDIRECTIONAL_SEQUENCE_LSTM": (1, -1),
    "SVDF": (1, -1),
    "LSTM": (1, -1),
    "EMBEDDING_LOOKUP": (1, -1),
}

REPRESENTATIVE_FIX = "convert with representative data (tinyflash convert --data ...)"
# Data cannot help a float16 or dynamic-range conversion: the mode is what must change.
HOST_MODE_FIX = (
    "a host-only mode (--mode {mode}); for a device: tinyflash convert --mode int8 --data ..."
)
INT8_FIX = "convert with --mode int8 (tinyflash convert --data ...)"


@dataclass(frozen=True)
class Finding:
    """One problem (severity 'error': not deployable) or remark ('warning')."""

    severity: str  # 'error' | 'warning'
    kind: str  # custom, hybrid, float16, float, int16, dtype, quant, io, no-kernel, float-io, ...
    message: str
    op_index: int | None = None
    op_name: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class CheckReport:
    model: str
    deployable: bool
    findings: tuple[Finding, ...]
    float_io: bool  # float inputs/outputs quantized at the edges (int8-float-io mode)
    scheme: str = SCHEME_INT8  # SCHEME_INT8 or SCHEME_16X8

    @property
    def offenders(self) -> tuple[str, ...]:
        return tuple(f.message for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(f.message for f in self.findings if f.severity == "warning")


def _tname(t: TensorInfo) -> str:
    return f"tensor {t.index} '{t.name}'"


def _quant_problem(t: TensorInfo, per_channel_ok: bool) -> str | None:
    q = t.quant
    if q is None or not q.scales:
        return f"{_tname(t)} is {t.dtype} without quantization parameters"
    if q.per_channel and not per_channel_ok:
        return f"{_tname(t)} is quantized per channel ({len(q.scales)} scales), which only weights may be"
    if not all(math.isfinite(s) and s > 0 for s in q.scales):
        return f"{_tname(t)} has a scale that is not a positive finite number"
    lo, hi = {"int8": (-128, 127), "int16": (-32768, 32767)}.get(t.dtype, (-(2**31), 2**31 - 1))
    if t.dtype == "int16" and not t.is_constant and any(z != 0 for z in q.zero_points):
        return f"{_tname(t)} is int16 with zero point {q.zero_points[0]}, not 0 (16x8 is symmetric)"
    if not all(lo <= z <= hi for z in q.zero_points):
        return f"{_tname(t)} has a zero point outside [{lo}, {hi}]"
    return None


def _check_op(info: ModelInfo, op: OpInfo, out: list[Finding], scheme: str = SCHEME_INT8) -> None:
    """Findings of one op of a model quantized with `scheme` (model_scheme)."""
    tensors = info.tensors
    head = f"op {op.index} {op.name}"
    sixteen = scheme == SCHEME_16X8 and op.name in int16_kernels()
    qtypes = ("int8", "int16") if sixteen else ("int8",)

    def add(kind: str, text: str, severity: str = "error") -> None:
        out.append(Finding(severity, kind, f"{head} {text}", op.index, op.name))

    if op.custom_code is not None or op.name == "CUSTOM":
        add(
            "custom",
            f"is the custom op '{op.custom_code or '?'}', which neither "
            "TFLITE_BUILTINS_INT8 nor the tinyflash runtime provides — rebuild the model from "
            "builtin ops",
        )
        return

    ins = [tensors[i] if i >= 0 else None for i in op.inputs]
    outs = [tensors[i] for i in op.outputs]
    model_in, model_out = set(info.inputs), set(info.outputs)
    weight_idx, bias_idx = WEIGHT_OPS.get(op.name, (-1, -1))

    # Float at the model's edge: QUANTIZE float input -> int8, DEQUANTIZE int8 -> float output.
    if (
        op.name == "QUANTIZE"
        and ins
        and ins[0] is not None
        and ins[0].dtype == "float32"
        and ins[0].index in model_in
        and not ins[0].is_constant
        and all(t.dtype in qtypes for t in outs)
    ):
        add(
            "float-io",
            f"quantizes the float32 model input {_tname(ins[0])} on the device "
            "(int8-float-io) — deployable; convert with --mode int8 for int8 I/O and no float",
            "warning",
        )
        _check_quant(op, outs, add)
        return
    if (
        op.name == "DEQUANTIZE"
        and outs
        and all(t.dtype == "float32" and t.index in model_out for t in outs)
        and ins
        and ins[0] is not None
        and ins[0].dtype in qtypes
        and not ins[0].is_constant
    ):
        add(
            "float-io",
            f"dequantizes to the float32 model output {_tname(outs[0])} on the "
            "device (int8-float-io) — deployable; convert with --mode int8 for int8 I/O and no "
            "float",
            "warning",
        )
        _check_quant(op, [ins[0]], add)
        return

    # Float carried by IF/WHILE: converted from int8 before, back to int8 after.
    carried = _carried_tensors(info) if op.name in ("QUANTIZE", "DEQUANTIZE") else frozenset()
    if (
        ins
        and outs
        and ins[0] is not None
        and not ins[0].is_constant
        and (
            (op.name == "QUANTIZE" and ins[0].index in carried and outs[0].dtype == "int8")
            or (op.name == "DEQUANTIZE" and outs[0].index in carried and ins[0].dtype == "int8")
        )
    ):
        _check_quant(op, [ins[0] if op.name == "DEQUANTIZE" else outs[0]], add)
        return

    acts = [t for t in ins + outs if t is not None and not t.is_constant]
    consts = [(k, t) for k, t in enumerate(ins) if t is not None and t.is_constant]
    float_acts = [
        t
        for t in acts
        if t.dtype in FLOAT_TYPES and not (op.name in CONTROL_FLOW_OPS and t.dtype == "float32")
    ]
    float_consts = [t for _, t in consts if t.dtype in FLOAT_TYPES]

    sparse = [t for _, t in consts if t.is_sparse]
    if sparse:
        add(
            "sparse",
            f"has the sparse constant {_tname(sparse[0])}, which the tinyflash runtime "
            "does not decompress — convert without sparsity (no EXPERIMENTAL_SPARSITY "
            "optimization)",
        )
        return
    if op.name == "DEQUANTIZE" and ins and ins[0] is not None and ins[0].is_constant:
        if ins[0].dtype == "float16":
            add(
                "float16",
                f"expands the float16 weights {_tname(ins[0])} to float32: the model "
                f"is float16, {HOST_MODE_FIX.format(mode='float16')}",
            )
        else:
            add(
                "float",
                f"dequantizes the {ins[0].dtype} constant {_tname(ins[0])} to float "
                f"at run time (weight-only quantization) — {REPRESENTATIVE_FIX}",
            )
        return
    if float_acts:
        w = ins[weight_idx] if 0 <= weight_idx < len(ins) else None
        if w is not None and w.is_constant and w.dtype in ("int8", "uint8", "int4"):
            add(
                "hybrid",
                f"is hybrid: {w.dtype} weights, {float_acts[0].dtype} activations — "
                f"dynamic-range quantization, {HOST_MODE_FIX.format(mode='dynamic')}",
            )
        elif scheme == SCHEME_16X8:
            add(
                "float",
                f"computes in {float_acts[0].dtype} ({_tname(float_acts[0])}): the 16x8 "
                "converter left it in float, and tinyflash does not run mixed float/16x8 "
                f"models — {INT16X8_FIX}",
            )
        else:
            add(
                "float",
                f"computes in {float_acts[0].dtype} ({_tname(float_acts[0])}) — "
                f"{REPRESENTATIVE_FIX}",
            )
        return
    if float_consts:
        add(
            "float",
            f"has the {float_consts[0].dtype} constant {_tname(float_consts[0])} — "
            f"{REPRESENTATIVE_FIX}",
        )
        return

    if op.name == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        problem = _lstm_problem(op, ins)
        if problem:
            add("lstm", problem)
            return

    edge_io = model_in | model_out if op.name in ("QUANTIZE", "DEQUANTIZE") else set()
    if op.name in INT32_OUTPUT_OPS and any(t.dtype == "int64" for t in outs):
        add(
            "dtype",
            f"writes int64 positions ({_tname(outs[0])}); tflite-micro and the "
            f"tinyflash runtime write int32 — build the model with "
            f"tf.math.{op.name.lower().replace('_', '')}(..., output_type=tf.int32)",
        )
        return
    index_outs = (
        {t.index for t in outs if t.dtype == "int32"} if op.name in INT32_OUTPUT_OPS else set()
    )
    if op.name in BOOL_OUTPUT_OPS:
        index_outs |= {t.index for t in outs if t.dtype == "bool"}
    integer_ok = INTEGER_TENSOR_OPS.get(op.name, frozenset())
    index_outs |= {t.index for t in acts if t.dtype in integer_ok}
    if op.name in CONTROL_FLOW_OPS:  # bytes moved unchanged, whatever their type
        index_outs |= {t.index for t in acts if t.dtype in ("float32", "int32", "bool")}
    if op.name in RESOURCE_OPS:  # the int32 id of a resource variable, not data
        index_outs |= {t.index for t in acts if t.dtype == "resource"}
    k, typed = TYPED_INPUTS.get(op.name, (-1, ""))
    typed_input = ins[k] if 0 <= k < len(ins) else None
    if typed_input is not None and typed_input.dtype == typed:
        index_outs.add(typed_input.index)
    int16_ok = {
        op.inputs[k]
        for k, variable in INT16_STATE.get(op.name, {}).items()
        if k < len(ins)
        and (state := ins[k]) is not None
        and state.dtype == "int16"
        and state.is_variable == variable
    }
    if sixteen:  # an op of the 16x8 list: int16 activations and int16 constant operands
        int16_ok |= {t.index for t in acts if t.dtype == "int16"}
        int16_ok |= {t.index for _, t in consts if t.dtype == "int16"}
    bad = [
        t
        for t in acts
        if t.dtype != "int8" and t.index not in edge_io | index_outs and t.index not in int16_ok
    ]  # io: reported below
    if bad:
        t = bad[0]
        if t.dtype == "int16":
            add(
                "int16",
                f"has int16 activations ({_tname(t)}, 16x8 quantization), which the "
                f"int8 runtime does not run — {INT8_FIX}",
            )
        elif t.dtype == "uint8":
            add(
                "dtype",
                f"has the uint8 activation {_tname(t)}, outside TFLITE_BUILTINS_INT8 — {INT8_FIX}",
            )
        else:
            add(
                "dtype",
                f"has the {t.dtype} activation {_tname(t)}, which the int8 runtime "
                "does not run — rebuild the model so this op works on int8 tensors",
            )
        return

    w = ins[weight_idx] if 0 <= weight_idx < len(ins) else None
    if op.name == "BATCH_MATMUL" and w is not None and not w.is_constant:
        weight_idx = -1  # both operands may be activations (attention: Q x K^T)
    if weight_idx >= 0:
        if w is None or not w.is_constant:
            add(
                "weights",
                "has weights that are not a constant tensor — the tinyflash runtime "
                "needs constant int8 weights; rebuild the model with fixed weights",
            )
            return
        if w.dtype != "int8":
            add("weights", f"has {w.dtype} weights ({_tname(w)}), not int8 — {INT8_FIX}")
            return
        b = ins[bias_idx] if 0 <= bias_idx < len(ins) else None
        if b is not None and b.dtype != "int32" and not (sixteen and b.dtype == "int64"):
            kind = "int16" if b.dtype == "int64" else "bias"
            add(kind, f"has {b.dtype} bias ({_tname(b)}), not int32 — {INT8_FIX}")
            return
        problem = _quant_problem(w, per_channel_ok=True)
        if problem:
            add("quant", f"{problem} — {INT8_FIX}")
            return
        if (
            b is not None
            and b.quant is not None
            and not all(math.isfinite(s) and s > 0 for s in b.quant.scales)
        ):
            add(
                "quant",
                f"has the bias {_tname(b)} with a scale that is not a positive finite "
                f"number — {INT8_FIX}",
            )
            return

    for k, t in consts:
        if k in (weight_idx, bias_idx) or t.index in int16_ok:
            continue
        if t.dtype not in ("int8", "int32", "int64"):
            add(
                "dtype",
                f"has the {t.dtype} constant {_tname(t)}, outside TFLITE_BUILTINS_INT8 "
                f"— {INT8_FIX}",
            )
            return
    problem = _compare16_problem(op, ins)
    if problem:
        add("quant", problem)
        return
    _check_quant(op, acts, add)


def _compare16_problem(op: OpInfo, ins: list[TensorInfo | None]) -> str | None:
    """Why the runtime refuses this int16 comparison (GREATER, 16x8), or None. TensorFlow Lite
    compares the stored int16 values without rescaling them (and TFLM's int16 GREATER is broken:
    docs/ops.md); that is the comparison of the real values only when both inputs share one scale
    and zero point, so the runtime's prepare refuses other pairs. Inputs without quantization
    are _check_quant's to report."""
    if op.name not in BOOL_OUTPUT_OPS or len(ins) < 2:
        return None
    a, b = ins[0], ins[1]
    if a is None or b is None or a.dtype != "int16" or b.dtype != "int16":
        return None
    if a.quant is None or not a.quant.scales or b.quant is None or not b.quant.scales:
        return None
    qa = (a.quant.scales[0], a.quant.zero_points[0] if a.quant.zero_points else 0)
    qb = (b.quant.scales[0], b.quant.zero_points[0] if b.quant.zero_points else 0)
    if qa == qb:
        return None
    return (
        f"compares the int16 inputs {_tname(a)} (scale {qa[0]:.6g}, zero point {qa[1]}) and "
        f"{_tname(b)} (scale {qb[0]:.6g}, zero point {qb[1]}), which TensorFlow Lite compares "
        "as stored int16 values: with different scales or zero points that is not the "
        "comparison of the real values, so the tinyflash runtime refuses it — give both inputs "
        "one scale and zero point (requantize one with a QUANTIZE), or convert with --mode int8"
    )


def _lstm_problem(op: OpInfo, ins: list[TensorInfo | None]) -> str | None:
    """Why the runtime (and TFLM) cannot run this fused LSTM, or None."""
    if len(ins) != 24:
        return f"has {len(ins)} inputs where the LSTM has 24 — convert the model again"
    if any(ins[k] is not None for k in (9, 10, 11)):
        return (
            "has peephole connections, which the integer LSTM of TFLM and tinyflash does not "
            "run — use a Keras LSTM without peepholes"
        )
    if any(ins[k] is not None for k in (16, 17)):
        return (
            "has a projection layer, which the integer LSTM of TFLM and tinyflash does not "
            "run — follow the LSTM with a Dense layer instead"
        )
    if any(ins[k] is not None for k in range(20, 24)):
        return (
            "has layer normalization, which the integer LSTM of TFLM and tinyflash does not "
            "run — use a Keras LSTM without layer norm"
        )
    if ins[1] is None or ins[5] is None:
        return (
            "has no input gate (coupled input-forget gate, CIFG), which the integer LSTM of "
            "TFLM and tinyflash does not run — use a standard Keras LSTM"
        )
    h, c = ins[18], ins[19]
    if h is None or c is None or not (h.is_variable and c.is_variable):
        return (
            "has hidden or cell state that is not a variable tensor — convert the model "
            "again with tinyflash convert"
        )
    if c.dtype == "int16":
        scale = c.quant.scales[0] if c.quant is not None and c.quant.scales else 0.0
        exponent = math.frexp(scale)[1] - 1 if scale > 0 else 0
        if not (scale > 0 and math.frexp(scale)[0] == 0.5 and -43 <= exponent <= 1):
            return (
                f"has the cell-state scale {scale!r}, not a power of two in [2^-43, 2]; the "
                "integer LSTM needs one — convert the model again with tinyflash convert"
            )
    return None


def _op_types(info: ModelInfo, op: OpInfo) -> str:
    """'int8 -> int32': the dtypes of the op's non-constant inputs and of its outputs."""
    ins = [info.tensors[i].dtype for i in op.inputs if i >= 0 and not info.tensors[i].is_constant]
    outs = [info.tensors[i].dtype for i in op.outputs]
    return f"{', '.join(dict.fromkeys(ins)) or 'constants'} -> {', '.join(dict.fromkeys(outs))}"


def _carried_tensors(info: ModelInfo) -> frozenset[int]:
    """float32 tensors an IF or WHILE moves: its own inputs and outputs and those of the
    subgraphs it runs."""
    carried: set[int] = set()
    for op in info.ops:
        if op.name in CONTROL_FLOW_OPS:
            carried |= set(op.inputs) | set(op.outputs)
            for g in called_subgraphs(op):
                if 0 <= g < len(info.subgraphs):
                    carried |= set(info.subgraphs[g].inputs) | set(info.subgraphs[g].outputs)
    return frozenset(t for t in carried if t >= 0 and info.tensors[t].dtype == "float32")


def _float_island(info: ModelInfo, op: OpInfo, producers: dict[int, OpInfo]) -> bool:
    """op computes in float on the output of a DEQUANTIZE of int8 activations: the model was
    calibrated (int8 around it) but the converter kept this op float."""
    if op.name in ("QUANTIZE", "DEQUANTIZE") or op.name in CONTROL_FLOW_OPS:
        return False
    for i in op.inputs:
        if i < 0 or info.tensors[i].is_constant or info.tensors[i].dtype not in FLOAT_TYPES:
            continue
        p = producers.get(i)
        if p is not None and p.name == "DEQUANTIZE" and p.inputs and p.inputs[0] >= 0:
            src = info.tensors[p.inputs[0]]
            if src.dtype == "int8" and not src.is_constant:
                return True
    return False


def _no_kernel_finding(info: ModelInfo, op: OpInfo, float_island: bool = False) -> Finding:
    """The op has no tinyflash kernel (for its types: `float_island`, a float op in a calibrated
    model): say so with its types, then what to do — the TFLM runtime if tflite-micro runs the
    op with these types (docs/ops.md), else replace the layer."""
    from tinyflash.ops import load_table, tflm_registered, tflm_types

    types = _op_types(info, op)
    first = next(
        (info.tensors[i].dtype for i in op.inputs if i >= 0 and not info.tensors[i].is_constant), ""
    )
    try:
        _, rows = load_table()
    except TinyflashError:
        rows = []
    runs = tflm_types(rows, op.name)
    same = [t for t in runs if t.split(" ")[0].rstrip(",") == first]
    if same:
        todo = (
            f"TensorFlow Lite Micro runs {op.name} for {same[0]}: deploy with "
            "`--runtime tflm`, or replace the layer with ops the tinyflash runtime has"
        )
    elif runs:
        todo = (
            f"TensorFlow Lite Micro runs {op.name} only for {'; '.join(runs)} — replace the "
            "layer with ops the tinyflash runtime has (or give it those types and deploy "
            "with `--runtime tflm`)"
        )
    elif rows and not tflm_registered(rows, op.name):
        todo = (
            f"TensorFlow Lite Micro has no {op.name} kernel either — replace the layer with "
            "ops the tinyflash runtime has"
        )
    else:
        todo = "replace the layer with ops the tinyflash runtime has"
    what = "has no kernel in the tinyflash runtime"
    if float_island:
        ours = [r.types for r in rows if r.op == op.name and r.tinyflash]
        what = (
            f"stayed {first} although the model was calibrated (the converter left it in "
            f"float; calibration data does not change that) and the tinyflash runtime "
            f"runs {op.name} only for {'; '.join(ours) or 'int8'}"
        )
    return Finding(
        "error",
        "no-kernel",
        f"op {op.index} {op.name} ({types}) {what} — {todo} "
        "(`tinyflash ops` lists both runtimes' ops)",
        op.index,
        op.name,
    )


def _no_kernel_first(
    info: ModelInfo,
    findings: list[Finding],
    producers: dict[int, OpInfo],
    consumers: dict[int, list[OpInfo]],
) -> list[Finding]:
    """Ops without a kernel lead; a DEQUANTIZE/QUANTIZE that only converts for such an op (the
    converter's float island around an op it has no int8 version of) points at it instead of
    at calibration data, which would not change it."""
    missing = {f.op_index for f in findings if f.kind == "no-kernel"}
    if not missing:
        return findings
    out = []
    for f in findings:
        if f.kind == "float" and f.op_index is not None and f.op_name in ("DEQUANTIZE", "QUANTIZE"):
            op = info.ops[f.op_index]
            near = (
                [c for t in op.outputs for c in consumers.get(t, [])]
                if op.name == "DEQUANTIZE"
                else [producers[t] for t in op.inputs if t in producers]
            )
            if near and all(o.index in missing for o in near):
                first = near[0]
                what = (
                    "converts to float for"
                    if op.name == "DEQUANTIZE"
                    else "converts back to int8 the float output of"
                )
                f = Finding(
                    f.severity,
                    f.kind,
                    f"op {op.index} {op.name} {what} op {first.index} "
                    f"{first.name}, which has no kernel (see that op)",
                    f.op_index,
                    f.op_name,
                )
        out.append(f)
    return sorted(out, key=lambda f: f.kind != "no-kernel")


def _check_quant(op: OpInfo, acts: list[TensorInfo], add: Callable[..., None]) -> None:
    for t in acts:
        if t.dtype not in ("int8", "int16") or (t.dtype == "int16" and t.is_variable):
            continue
        problem = _quant_problem(t, per_channel_ok=False)
        if problem:
            add("quant", f"has {problem} — {INT8_FIX}")
            return


def check_model(info: ModelInfo) -> CheckReport:
    """Verdict on one model: deployable iff no finding has severity 'error'."""
    findings: list[Finding] = []
    if not info.ops:
        findings.append(
            Finding(
                "error",
                "empty",
                f"{info.name} has no operators — there is nothing to run; convert the model again",
            )
        )
    producers = {t: op for op in info.ops for t in op.outputs}
    scheme = model_scheme(info)
    for op in info.ops:
        if op.name not in runtime_kernels() and op.custom_code is None and op.name != "CUSTOM":
            # the real cause comes first and alone: with no kernel, the op's types do not
            # matter (a float op without an int8 kernel is not fixed by calibration data)
            findings.append(_no_kernel_finding(info, op))
            continue
        if op.custom_code is None and _float_island(info, op, producers):
            # calibrated, yet float: the converter kept this op float (no int8 form, or a
            # converter quirk); the runtime's kernel does not run it, and data would not help
            findings.append(_no_kernel_finding(info, op, float_island=True))
            continue
        if scheme == SCHEME_16X8 and op.name not in int16_kernels():
            int16 = [
                info.tensors[i]
                for i in (*op.inputs, *op.outputs)
                if i >= 0 and info.tensors[i].dtype == "int16" and not info.tensors[i].is_constant
            ]
            if int16:
                findings.append(
                    Finding(
                        "error",
                        "no-int16-kernel",
                        f"op {op.index} {op.name} ({_op_types(info, op)}) has int16 "
                        f"activations ({_tname(int16[0])}) but its tinyflash kernel runs only "
                        f"int8, not 16x8 — {INT16X8_FIX}",
                        op.index,
                        op.name,
                    )
                )
                continue
        _check_op(info, op, findings, scheme)

    consumers: dict[int, list[OpInfo]] = {}
    for op in info.ops:
        for t in op.inputs:
            consumers.setdefault(t, []).append(op)
    findings = _no_kernel_first(info, findings, producers, consumers)
    findings = _fold_host_mode(findings)
    float_io = False
    for role, indices in (("input", info.inputs), ("output", info.outputs)):
        for pos, ti in enumerate(indices):
            io = info.tensors[ti]
            if io.dtype == "int8" or (io.dtype == "int16" and scheme == SCHEME_16X8):
                continue
            if (
                role == "output"
                and io.dtype == "int32"
                and ti in producers
                and producers[ti].name in INT32_OUTPUT_OPS
            ):
                continue  # positions (ARG_MAX): the device sends the int32 values
            if (
                role == "output"
                and io.dtype == "bool"
                and ti in producers
                and producers[ti].name in BOOL_OUTPUT_OPS
            ):
                continue  # a comparison's result: the device sends one byte per value
            if (
                role == "input"
                and consumers.get(ti)
                and all(
                    c.name in TYPED_INPUTS
                    and TYPED_INPUTS[c.name][1] == io.dtype
                    and c.inputs[TYPED_INPUTS[c.name][0]] == ti
                    for c in consumers[ti]
                )
            ):
                continue  # GATHER's token ids, SELECT_V2's condition: sent as they are
            if _integer_io(io, ti, role, producers, consumers):
                continue  # CAST, SHAPE, LOGICAL_*, ... integer tensors: sent as they are
            if io.dtype == "uint8" and (
                all(c.name == "QUANTIZE" for c in consumers.get(ti, [])) and bool(consumers.get(ti))
                if role == "input"
                else ti in producers and producers[ti].name == "QUANTIZE"
            ):
                findings.append(
                    Finding(
                        "warning",
                        "uint8-io",
                        f"model {role} {pos} '{io.name}' is uint8, requantized "
                        f"{'to' if role == 'input' else 'from'} int8 by QUANTIZE on the device "
                        "(uint8-io) — deployable; convert with --mode int8 for int8 I/O",
                    )
                )
                continue
            if io.dtype == "float32":
                edge = (
                    all(op.name == "QUANTIZE" for op in consumers.get(ti, []))
                    and bool(consumers.get(ti))
                    if role == "input"
                    else ti in producers and producers[ti].name == "DEQUANTIZE"
                )
                float_io = float_io or edge
                continue  # reported as float-io warning or as a float op above
            findings.append(
                Finding(
                    "error",
                    "io",
                    f"model {role} {pos} '{io.name}' is {io.dtype}, but the device "
                    f"exchanges int8 — {INT8_FIX} (int8 input and output)",
                )
            )
    findings.extend(_subgraph_findings(info))
    deployable = not any(f.severity == "error" for f in findings)
    return CheckReport(
        model=info.name,
        deployable=deployable,
        findings=tuple(findings),
        float_io=float_io,
        scheme=scheme,
    )


def _fold_host_mode(findings: list[Finding]) -> list[Finding]:
    """A float16 or dynamic-range model has the same cause at every op: one finding (the first,
    with the count) instead of one per op. The ops computing in float32 are part of that cause
    too: the mode made them float, and only --mode int8 (with data) changes that."""
    kinds = {f.kind for f in findings if f.severity == "error"}
    folded = "float16" if "float16" in kinds else "hybrid" if "hybrid" in kinds else None
    if folded is None:
        return findings
    swallowed = {folded, "float"}
    same = [f for f in findings if f.severity == "error" and f.kind in swallowed]
    first = next(f for f in same if f.kind == folded)
    more = len(same) - 1
    head = (
        Finding(
            first.severity,
            first.kind,
            f"{first.message} (and {more} more op(s) with the same cause)",
            first.op_index,
            first.op_name,
        )
        if more
        else first
    )
    rest = [f for f in findings if not (f.severity == "error" and f.kind in swallowed)]
    return [head, *rest]


def _integer_io(
    io: TensorInfo,
    index: int,
    role: str,
    producers: dict[int, OpInfo],
    consumers: dict[int, list[OpInfo]],
) -> bool:
    """A model input/output that is an integer tensor of an INTEGER_TENSOR_OPS op (every
    consumer of an input, the producer of an output)."""
    ops = [producers[index]] if role == "output" and index in producers else []
    if role == "input":
        ops = consumers.get(index, [])
    return bool(ops) and all(io.dtype in INTEGER_TENSOR_OPS.get(op.name, ()) for op in ops)


# The C runtime's capacities (firmware/runtime/include/tfl_config.h defaults).
MAX_SUBGRAPHS = 4
MAX_RESOURCES = 8


def _subgraph_findings(info: ModelInfo) -> list[Finding]:
    """More subgraphs or resource variables than the runtime holds; subgraphs no op runs."""
    from tinyflash.plan import called_subgraphs, resource_variables

    out: list[Finding] = []
    if info.subgraph_count > MAX_SUBGRAPHS:
        out.append(
            Finding(
                "error",
                "subgraphs",
                f"{info.name} has {info.subgraph_count} subgraphs; the tinyflash runtime holds "
                f"at most {MAX_SUBGRAPHS} — simplify the model's control flow",
            )
        )
    count = len(resource_variables(info))
    if count > MAX_RESOURCES:
        out.append(
            Finding(
                "error",
                "resources",
                f"{info.name} has {count} resource variables; the tinyflash runtime holds at "
                f"most {MAX_RESOURCES} — keep the state in fewer tf.Variables",
            )
        )
    called = {c for op in info.ops for c in called_subgraphs(op)}
    for g in range(1, info.subgraph_count):
        if g not in called:
            out.append(
                Finding(
                    "warning",
                    "subgraphs",
                    f"{info.name}'s subgraph {g} is run by no operator; only subgraph 0 and "
                    "the subgraphs its control-flow ops (CALL_ONCE) run are used",
                )
            )
    return out


def _quant_text(t: TensorInfo) -> str:
    if t.quant is None or not t.quant.scales:
        return "none"
    if t.quant.per_channel:
        return f"per-channel({len(t.quant.scales)}, axis {t.quant.axis})"
    return "per-tensor"


def _tensor_dict(info: ModelInfo, index: int) -> dict[str, object]:
    if index < 0:
        return {"tensor": -1}
    t = info.tensors[index]
    return {
        "tensor": index,
        "name": t.name,
        "dtype": t.dtype,
        "shape": list(t.shape),
        "quantization": _quant_text(t),
        "constant": t.is_constant,
    }


@dataclass(frozen=True)
class CheckResult:
    """Everything `tinyflash check` reports: the parsed model, the verdict and the memory plan."""

    info: ModelInfo
    report: CheckReport
    plan: MemoryPlan

    @property
    def deployable(self) -> bool:
        return self.report.deployable

    def to_dict(self) -> dict[str, object]:
        from tinyflash.plan import resource_variables

        info, plan = self.info, self.plan
        return {
            "model": info.name,
            "path": info.path,
            "size_bytes": info.size_bytes,
            "sha256": info.sha256,
            "schema_version": info.schema_version,
            "subgraphs": info.subgraph_count,
            "weight_bytes": info.weight_bytes,
            "total_macs": info.total_macs,
            "op_histogram": info.op_histogram,
            "peak_activation_bytes": plan.lower_bound,
            "arena_bytes": plan.arena_bytes,
            "pool_words": plan.pool_words,
            "deployable": self.report.deployable,
            "float_io": self.report.float_io,
            "scheme": self.report.scheme,
            "offenders": list(self.report.offenders),
            "warnings": list(self.report.warnings),
            "findings": [
                {
                    "severity": f.severity,
                    "kind": f.kind,
                    "op_index": f.op_index,
                    "op": f.op_name,
                    "message": f.message,
                }
                for f in self.report.findings
            ],
            "plan": {
                "arena_bytes": plan.arena_bytes,
                "lower_bound": plan.lower_bound,
                "aligned_bound": plan.aligned_bound,
                "pool_words": plan.pool_words,
                "alignment": plan.alignment,
                "strategy": plan.strategy,
                "aliases": {str(k): v for k, v in plan.aliases.items()},
                # in-place operators (plan.alias_rule): the kind of each alias, the arena
                # without them, planned / lower bound, and where the memory peaks
                "inplace": plan.inplace,
                "alias_kinds": {str(k): v for k, v in plan.alias_kinds.items()},
                "arena_without_inplace": plan.baseline_bytes,
                "inplace_saved_bytes": plan.baseline_bytes - plan.arena_bytes,
                "planned_over_lower_bound": round(plan.ratio, 4),
                "peak": _peak_dict(info, plan),
                "tensors": [
                    {
                        "tensor": t,
                        "name": info.tensors[t].name,
                        "bytes": info.tensors[t].nbytes,
                        "first_op": start,
                        "last_op": end,
                        "offset": plan.offsets[t],
                    }
                    for t, (start, end) in enumerate(plan.lifetimes)
                    if plan.offsets[t] >= 0
                ],
                "scratch": [
                    {"op": i, "bytes": n, "offset": plan.scratch_offsets[i]}
                    for i, n in enumerate(plan.scratch_bytes)
                    if n
                ],
                # resource variables: state kept between invokes, live for the whole run
                "resources": [
                    {"variable": name, "bytes": n, "offset": off}
                    for (name, n, _), off in zip(
                        resource_variables(info), plan.resource_offsets, strict=True
                    )
                ],
                "state_bytes": plan.state_bytes,
            },
            "inputs": [_tensor_dict(info, i) for i in info.inputs],
            "outputs": [_tensor_dict(info, i) for i in info.outputs],
            "ops": [
                {
                    "index": op.index,
                    "op": op.name,
                    "version": op.version,
                    "custom_code": op.custom_code,
                    "options": op.options,
                    "macs": op.macs,
                    "inputs": [_tensor_dict(info, i) for i in op.inputs],
                    "outputs": [_tensor_dict(info, i) for i in op.outputs],
                }
                for op in info.ops
            ],
        }


def _peak_dict(info: ModelInfo, plan: MemoryPlan) -> dict[str, object]:
    from tinyflash.plan import plan_peak

    peak = plan_peak(info, plan)
    return {
        "op": peak.op,
        "op_name": info.ops[peak.op].name if peak.op >= 0 else "",
        "live_bytes": peak.live_bytes,
        "scratch_bytes": peak.scratch_bytes,
        "tensors": [
            {
                "tensor": t,
                "name": info.tensors[t].name,
                "bytes": info.tensors[t].nbytes,
                "shares": plan.aliases.get(t),  # the tensor whose bytes it takes, or None
            }
            for t in peak.tensors
        ],
    }


def check_file(path: str | Path, kernels: str = "portable", inplace: bool = True) -> CheckResult:
    """load_model + check_model + plan_memory (the plan verified) for one .tflite file, planned
    for a firmware with the kernel set `kernels` (the DSP kernels' scratch is in the arena),
    with in-place operators unless `inplace` is False."""
    from tinyflash.plan import plan_memory, verify_plan

    info = load_model(path)
    report = check_model(info)
    plan = plan_memory(info, kernels, inplace=inplace)
    verify_plan(info, plan)
    return CheckResult(info=info, report=report, plan=plan)
