"""Ahead-of-time layers (`tinyflash generate --aot`): which operators get a kernel specialised at
generate time, and the constants that specialise it.

Each chosen operator becomes one `tfl_aot_layer` constant in the generated `src/model_aot.c`
(firmware/runtime/include/tfl_aot.h): tensor indices, shapes, strides, padding, zero points, the
fused activation's clamp, the place of its multipliers in the pool and of its scratch in the arena.
The C side checks every one of them against the model at init (tfl_aot_check), so a wrong
constant stops the firmware with TFL_ERR_PLAN_MISMATCH instead of computing garbage. Operators
without a specialised body keep the generic kernel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tinyflash.model import ModelInfo, OpInfo
from tinyflash.plan import MemoryPlan, pool_words_for_op

#: C names of the bodies (tfl_aot.h's TFL_AOT_* kinds).
KINDS = {
    "fc": "TFL_AOT_FC",
    "pointwise": "TFL_AOT_POINTWISE",
    "depthwise": "TFL_AOT_DEPTHWISE",
    "conv": "TFL_AOT_CONV",
}
#: The generic kernels the bodies stand in for.
GENERIC = {
    "fc": "fully_connected",
    "pointwise": "conv_2d",
    "depthwise": "depthwise_conv_2d",
    "conv": "conv_2d",
}
BODIES = {
    "fc": "tfl_aot_fc",
    "pointwise": "tfl_aot_pointwise",
    "depthwise": "tfl_aot_depthwise",
    "conv": "tfl_aot_conv",
}
ACTIVATIONS = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}
# tfl_mac.h's TFL_MAC_PATCH_BYTES and op_conv_2d.c's CONV_PW_MAX_IC
PATCH_BYTES = 768
POINTWISE_MAX_IC = 256
# The generated file's field order (tfl_aot_layer).
FIELDS = (
    "kind", "in", "w", "bias", "out", "batches", "ih", "iw", "ic", "oh", "ow", "oc", "kh", "kw",
    "stride_h", "stride_w", "pad_h", "pad_w", "in_off", "out_off", "act", "act_min", "act_max",
    "per_channel", "pool_index", "scratch", "rshift",
)  # fmt: skip


@dataclass(frozen=True)
class AotLayer:
    """One specialised operator: its index, body (fc, pointwise, depthwise) and constants."""

    op_index: int
    op_name: str
    code: int  # builtin code
    body: str
    values: tuple[tuple[str, int], ...]  # FIELDS, in order

    @property
    def kind(self) -> str:
        return KINDS[self.body]

    @property
    def generic(self) -> str:
        return GENERIC[self.body]

    @property
    def function(self) -> str:
        return BODIES[self.body]

    def summary(self) -> str:
        v = dict(self.values)
        if self.body == "fc":
            return f"{v['batches']}x{v['ic']} -> {v['oc']} units"
        return (
            f"{v['ih']}x{v['iw']}x{v['ic']} -> {v['oh']}x{v['ow']}x{v['oc']}, "
            f"{v['kh']}x{v['kw']} window, stride {v['stride_h']}x{v['stride_w']}"
        )


def _round_half_away(x: np.float32) -> np.float32:
    return np.float32(np.sign(x) * np.floor(np.abs(x) + np.float32(0.5)))


def _quantize_clamped(f: float, scale: float, zero_point: int, lo: int, hi: int) -> int:
    """tfl_quant.c's quantize_clamped, in float32 like the C code."""
    q = _round_half_away(np.float32(f) / np.float32(scale))
    if q + np.float32(zero_point) <= np.float32(lo):
        return lo
    if q + np.float32(zero_point) >= np.float32(hi):
        return hi
    return zero_point + int(q)


def activation_range(act: int, scale: float, zero_point: int) -> tuple[int, int]:
    """tfl_activation_range for int8 (tfl_aot_check recomputes and compares it)."""
    lo, hi = -128, 127
    if act == 0:
        return lo, hi
    bounds = {1: (0.0, None), 2: (-1.0, 1.0), 3: (0.0, 6.0)}[act]
    amin = max(lo, _quantize_clamped(bounds[0], scale, zero_point, lo, hi))
    amax = (
        hi
        if bounds[1] is None
        else min(hi, _quantize_clamped(bounds[1], scale, zero_point, lo, hi))
    )
    return amin, amax


def multiplier_shift(real: float) -> int:
    """The shift tfl_quantize_multiplier gives a positive multiplier (frexp exponent, plus one
    when the Q31 mantissa rounds up to 2^31)."""
    mantissa, exponent = math.frexp(real)
    if int(mantissa * 2147483648.0 + 0.5) == 1 << 31:
        exponent += 1
    return exponent


def right_shifts_only(in_scale: float, w_scales: tuple[float, ...], out_scale: float) -> bool:
    """1 when every multiplier in * w[c] / out (as the runtime computes it, in double from the
    float32 scales) has a right shift of 1..31 bits (tfl_aot_check checks the pool)."""
    f32 = np.float32
    reals = [float(f32(in_scale)) * float(f32(w)) / float(f32(out_scale)) for w in w_scales]
    return all(r > 0.0 and -31 <= multiplier_shift(r) <= -1 for r in reals)


def _conv_padding(stride: int, in_size: int, k: int, out: int) -> int:
    return max(0, (out - 1) * stride + k - in_size) // 2


def _body(info: ModelInfo, op: OpInfo, kernel_set: str) -> str | None:
    """The specialised body that computes op exactly like its generic kernel, or None."""
    if kernel_set == "mve":
        return None  # the Helium kernels take every op an AOT body exists for (tfl_kernel_mve.c)
    if op.subgraph != 0 or len(op.inputs) < 2 or len(op.outputs) != 1:
        return None
    tensors = [info.tensors[i] if i >= 0 else None for i in (*op.inputs, *op.outputs)]
    x, w, y = tensors[0], tensors[1], tensors[-1]
    if x is None or w is None or y is None:
        return None
    if {x.dtype, w.dtype, y.dtype} != {"int8"} or w.quant is None or x.quant is None:
        return None
    if y.quant is None or len(x.quant.scales) != 1 or len(y.quant.scales) != 1:
        return None
    if any(z != 0 for z in w.quant.zero_points):
        return None
    if str(op.options.get("fused_activation_function", "NONE")) not in ACTIVATIONS:
        return None
    dsp = kernel_set == "dsp"
    if op.name == "FULLY_CONNECTED" and len(w.shape) == 2:
        depth = w.shape[1]
        return "fc" if not dsp or 4 <= depth <= PATCH_BYTES else None
    if len(x.shape) != 4 or len(y.shape) != 4 or len(w.shape) != 4:
        return None
    if int(op.options.get("dilation_w_factor", 1)) != 1:
        return None
    if int(op.options.get("dilation_h_factor", 1)) != 1:
        return None
    stride = (int(op.options.get("stride_h", 1)), int(op.options.get("stride_w", 1)))
    if op.name == "CONV_2D":
        oc, kh, kw, fic = w.shape
        ic = x.shape[3]
        pointwise = kh == kw == 1 and stride == (1, 1) and x.shape[1:3] == y.shape[1:3]
        if pointwise and fic == ic and ic % 4 == 0 and ic <= POINTWISE_MAX_IC:
            return "pointwise"
        # im2col with the generic kernel's scratch (DSP only; op_conv_2d.c conv_scratch_bytes)
        if dsp and fic == ic and x.shape[0] == 1 and oc >= 4 and kh * kw * ic <= PATCH_BYTES - 3:
            return "conv"
        return None
    if op.name == "DEPTHWISE_CONV_2D":
        dm = int(op.options.get("depth_multiplier", 1))
        channels = x.shape[3]
        if dm == 1 and x.shape[0] == 1 and w.shape[3] == channels and channels % 4 == 0:
            return "depthwise"
    return None


def aot_layers(info: ModelInfo, plan: MemoryPlan, kernel_set: str) -> list[AotLayer]:
    """The specialised operators of the model in op order, with their constants."""
    layers: list[AotLayer] = []
    offsets = list(plan.c_offsets)
    tensor_count = len(info.tensors)
    scratch_section = len(offsets) > tensor_count
    pool = 0
    for op in info.ops:
        body = _body(info, op, kernel_set)
        pool_index = pool
        pool += pool_words_for_op(info, op)
        if body is None or op.outputs[0] in plan.aliases:
            continue  # no body, or computed in place (plan.alias_rule): the generic kernel's
        x, w = info.tensors[op.inputs[0]], info.tensors[op.inputs[1]]
        y = info.tensors[op.outputs[0]]
        bias = op.inputs[2] if len(op.inputs) > 2 else -1
        assert x.quant and w.quant and y.quant  # _body checked
        act = ACTIVATIONS[str(op.options.get("fused_activation_function", "NONE"))]
        lo, hi = activation_range(act, y.quant.scales[0], y.quant.zero_points[0])
        v: dict[str, int] = {
            "in": op.inputs[0],
            "w": op.inputs[1],
            "bias": bias,
            "out": op.outputs[0],
            "in_off": -x.quant.zero_points[0],
            "out_off": y.quant.zero_points[0],
            "act": act,
            "act_min": lo,
            "act_max": hi,
            "per_channel": int(len(w.quant.scales) > 1),
            "pool_index": pool_index,
            "scratch": offsets[tensor_count + op.index] if scratch_section else -1,
            "rshift": int(right_shifts_only(x.quant.scales[0], w.quant.scales, y.quant.scales[0])),
            "kh": 1,
            "kw": 1,
            "stride_h": 1,
            "stride_w": 1,
            "pad_h": 0,
            "pad_w": 0,
        }
        if body == "fc":
            units, depth = w.shape
            v.update(batches=x.elements // depth, ih=1, iw=1, ic=depth, oh=1, ow=1, oc=units)
        else:
            n, ih, iw, ic = x.shape
            _, oh, ow, oc = y.shape
            kh, kw = (w.shape[1], w.shape[2])
            sh, sw = int(op.options.get("stride_h", 1)), int(op.options.get("stride_w", 1))
            v.update(batches=n, ih=ih, iw=iw, ic=ic, oh=oh, ow=ow, oc=oc, kh=kh, kw=kw)
            v.update(stride_h=sh, stride_w=sw)
            v.update(pad_h=_conv_padding(sh, ih, kh, oh), pad_w=_conv_padding(sw, iw, kw, ow))
        if body == "conv" and v["scratch"] < 0:
            continue  # the plan gave the generic kernel no im2col scratch: keep it
        v["kind"] = list(KINDS).index(body)
        layers.append(
            AotLayer(
                op.index, op.name, op.code, body, tuple((name, int(v[name])) for name in FIELDS)
            )
        )
    return layers


def aot_node_kernels(layers: list[AotLayer], node_count: int) -> list[str]:
    """The generated node-kernel table's entries: `&aot_kernel_K` for a specialised operator,
    NULL for the others."""
    entries = ["NULL"] * node_count
    for k, layer in enumerate(layers):
        entries[layer.op_index] = f"&aot_kernel_{k}"
    return entries


#: Fields a body reads at run time from the layer it runs; the others make its shape.
RUNTIME_FIELDS = frozenset(
    ("in", "w", "bias", "out", "in_off", "out_off", "act", "pool_index", "scratch")
)


@dataclass(frozen=True)
class AotShape:
    """One instance of a body: specialised for the shape of layer `layer` (an index into the
    layer list), it runs every layer of that shape."""

    function: str
    layer: int


def aot_shapes(layers: list[AotLayer]) -> tuple[list[AotShape], list[int]]:
    """The distinct shapes of the layers in first-use order, and each layer's shape index."""
    keys: dict[tuple[tuple[str, int], ...], int] = {}
    shapes: list[AotShape] = []
    shape_of: list[int] = []
    for k, layer in enumerate(layers):
        key = tuple(item for item in layer.values if item[0] not in RUNTIME_FIELDS)
        if key not in keys:
            keys[key] = len(shapes)
            shapes.append(AotShape(layer.function, k))
        shape_of.append(keys[key])
    return shapes, shape_of


def table_kernels(op_names: list[str], layers: list[AotLayer]) -> list[str]:
    """The op table's kernels (sorted lower-case names): every kernel of the model but those
    whose every operator runs an ahead-of-time layer (their evals then are not linked)."""
    from tinyflash.render import kernel_names

    specialised = {layer.op_index for layer in layers}
    return list(kernel_names(name for i, name in enumerate(op_names) if i not in specialised))
