"""A small writer of TFLite flatbuffers for tests: single-op (or few-op) models with quantized
tensors, constant buffers and builtin options, written directly with the `flatbuffers` package
from the field order of TFLite's schema.fbs (tables are written slot by slot; no generated code).

Example — one int8 CONV_2D with per-channel weights:

    import numpy as np
    from support.tflbuilder import ModelBuilder

    b = ModelBuilder()
    x = b.tensor("x", [1, 8, 8, 3], "int8", scale=0.05, zero_point=-3)
    w = b.tensor("w", [4, 3, 3, 3], "int8", data=np.ones((4, 3, 3, 3), np.int8),
                 scale=[0.01, 0.02, 0.03, 0.04], zero_point=0, quantized_dimension=0)
    bias = b.tensor("bias", [4], "int32", data=np.zeros(4, np.int32),
                    scale=[0.05 * s for s in (0.01, 0.02, 0.03, 0.04)], zero_point=0)
    y = b.tensor("y", [1, 8, 8, 4], "int8", scale=0.1, zero_point=2)
    b.op("CONV_2D", [x, w, bias], [y], padding="SAME", stride_w=1, stride_h=1,
         fused_activation_function="RELU")
    model_bytes = b.build(inputs=[x], outputs=[y])

`op()` picks the options table from the operator (CONV_2D -> Conv2DOptions, MEAN -> ReducerOptions,
...; override with options_type="..."); options are named by their schema field names, enums by
name ("SAME", "RELU6") or number, vectors as lists. An absent input is -1 (e.g. FC without bias).
A tensor with `data` is a constant (its own 16-byte aligned buffer); `scale` given as a list makes
the tensor per-channel along `quantized_dimension` (zero_point may be one value or a list).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as _schema

from tinyflash import schema

# Enum values (BuiltinOperator, BuiltinOptions union tags, TensorType) come from the schema's
# published numbering; only the name -> number tables are read from the schema module.
BUILTIN_OPS: dict[str, int] = {
    k: v for k, v in vars(_schema.BuiltinOperator).items() if not k.startswith("_")
}
OPTION_TYPES: dict[str, int] = {
    k: v for k, v in vars(_schema.BuiltinOptions).items() if not k.startswith("_")
}
TENSOR_TYPES: dict[str, int] = {
    "float32": 0,
    "float16": 1,
    "int32": 2,
    "uint8": 3,
    "int64": 4,
    "bool": 6,
    "int16": 7,
    "int8": 9,
    "float64": 10,
    "resource": 13,
}
NUMPY_TYPES: dict[str, np.dtype] = {
    "float32": np.dtype("<f4"),
    "float16": np.dtype("<f2"),
    "int32": np.dtype("<i4"),
    "uint8": np.dtype("u1"),
    "int64": np.dtype("<i8"),
    "bool": np.dtype("?"),
    "int16": np.dtype("<i2"),
    "int8": np.dtype("i1"),
    "float64": np.dtype("<f8"),
    "resource": np.dtype("<i4"),  # holds a resource variable's int32 id
}
PADDING = {"SAME": 0, "VALID": 1}
ACTIVATION = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3, "TANH": 4, "SIGN_BIT": 5}

# Options tables: (field name, kind) in schema.fbs declaration order; the index is the slot.
# kinds: i8 (byte/enum), bool, i32, f32, vi32 ([int] vector), str (string).
_PADDING_FIELDS = [("padding", "i8"), ("stride_w", "i32"), ("stride_h", "i32")]
OPTION_FIELDS: dict[str, list[tuple[str, str]]] = {
    "Conv2DOptions": _PADDING_FIELDS
    + [
        ("fused_activation_function", "i8"),
        ("dilation_w_factor", "i32"),
        ("dilation_h_factor", "i32"),
        ("quantized_bias_type", "i8"),
    ],
    "DepthwiseConv2DOptions": _PADDING_FIELDS
    + [
        ("depth_multiplier", "i32"),
        ("fused_activation_function", "i8"),
        ("dilation_w_factor", "i32"),
        ("dilation_h_factor", "i32"),
    ],
    "Pool2DOptions": _PADDING_FIELDS
    + [("filter_width", "i32"), ("filter_height", "i32"), ("fused_activation_function", "i8")],
    "FullyConnectedOptions": [
        ("fused_activation_function", "i8"),
        ("weights_format", "i8"),
        ("keep_num_dims", "bool"),
        ("asymmetric_quantize_inputs", "bool"),
        ("quantized_bias_type", "i8"),
    ],
    "SoftmaxOptions": [("beta", "f32")],
    "ConcatenationOptions": [("axis", "i32"), ("fused_activation_function", "i8")],
    "AddOptions": [("fused_activation_function", "i8"), ("pot_scale_int16", "bool")],
    "SubOptions": [("fused_activation_function", "i8"), ("pot_scale_int16", "bool")],
    "MulOptions": [("fused_activation_function", "i8")],
    "DivOptions": [("fused_activation_function", "i8")],
    "ReshapeOptions": [("new_shape", "vi32")],
    "SqueezeOptions": [("squeeze_dims", "vi32")],
    "ReducerOptions": [("keep_dims", "bool")],
    "LeakyReluOptions": [("alpha", "f32")],
    "StridedSliceOptions": [
        ("begin_mask", "i32"),
        ("end_mask", "i32"),
        ("ellipsis_mask", "i32"),
        ("new_axis_mask", "i32"),
        ("shrink_axis_mask", "i32"),
        ("offset", "bool"),
    ],
    "SplitOptions": [("num_splits", "i32")],
    "SplitVOptions": [("num_splits", "i32")],
    "PackOptions": [("values_count", "i32"), ("axis", "i32")],
    "UnpackOptions": [("num", "i32"), ("axis", "i32")],
    "GatherOptions": [("axis", "i32"), ("batch_dims", "i32")],
    "TransposeConvOptions": _PADDING_FIELDS
    + [("fused_activation_function", "i8"), ("quantized_bias_type", "i8")],
    "ResizeNearestNeighborOptions": [("align_corners", "bool"), ("half_pixel_centers", "bool")],
    "ResizeBilinearOptions": [
        ("new_height", "i32"),
        ("new_width", "i32"),
        ("align_corners", "bool"),
        ("half_pixel_centers", "bool"),
    ],
    "ArgMaxOptions": [("output_type", "i8")],
    "ArgMinOptions": [("output_type", "i8")],
    "CastOptions": [("in_data_type", "i8"), ("out_data_type", "i8")],
    "MirrorPadOptions": [("mode", "i8")],
    "GeluOptions": [("approximate", "bool")],
    "UnidirectionalSequenceLSTMOptions": [
        ("fused_activation_function", "i8"),
        ("cell_clip", "f32"),
        ("proj_clip", "f32"),
        ("time_major", "bool"),
        ("asymmetric_quantize_inputs", "bool"),
        ("diagonal_recurrent_tensors", "bool"),
    ],
    "SVDFOptions": [
        ("rank", "i32"),
        ("fused_activation_function", "i8"),
        ("asymmetric_quantize_inputs", "bool"),
    ],
    "SpaceToDepthOptions": [("block_size", "i32")],
    "DepthToSpaceOptions": [("block_size", "i32")],
    "BatchMatMulOptions": [
        ("adj_x", "bool"),
        ("adj_y", "bool"),
        ("asymmetric_quantize_inputs", "bool"),
    ],
    "CumsumOptions": [("exclusive", "bool"), ("reverse", "bool")],
    "L2NormOptions": [("fused_activation_function", "i8")],
    # tables without fields: written empty so the union tag is present, as the converter does
    "ExpandDimsOptions": [],
    "PadOptions": [],
    "PadV2Options": [],
    "TransposeOptions": [],
    "MaximumMinimumOptions": [],
    "HardSwishOptions": [],
    "QuantizeOptions": [],
    "DequantizeOptions": [],
    "LogSoftmaxOptions": [],
    "ShapeOptions": [],
    "CallOnceOptions": [("init_subgraph_index", "i32")],
    "IfOptions": [("then_subgraph_index", "i32"), ("else_subgraph_index", "i32")],
    "WhileOptions": [("cond_subgraph_index", "i32"), ("body_subgraph_index", "i32")],
    "VarHandleOptions": [("container", "str"), ("shared_name", "str")],
    "ReadVariableOptions": [],
    "AssignVariableOptions": [],
}

OP_OPTIONS: dict[str, str | None] = {
    "CONV_2D": "Conv2DOptions",
    "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions",
    "MAX_POOL_2D": "Pool2DOptions",
    "L2_POOL_2D": "Pool2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions",
    "SOFTMAX": "SoftmaxOptions",
    "CONCATENATION": "ConcatenationOptions",
    "ADD": "AddOptions",
    "SUB": "SubOptions",
    "MUL": "MulOptions",
    "DIV": "DivOptions",
    "RESHAPE": "ReshapeOptions",
    "SQUEEZE": "SqueezeOptions",
    "EXPAND_DIMS": "ExpandDimsOptions",
    "PAD": "PadOptions",
    "PADV2": "PadV2Options",
    "MEAN": "ReducerOptions",
    "SUM": "ReducerOptions",
    "REDUCE_MAX": "ReducerOptions",
    "REDUCE_MIN": "ReducerOptions",
    "REDUCE_PROD": "ReducerOptions",
    "LEAKY_RELU": "LeakyReluOptions",
    "HARD_SWISH": "HardSwishOptions",
    "STRIDED_SLICE": "StridedSliceOptions",
    "TRANSPOSE": "TransposeOptions",
    "SPLIT": "SplitOptions",
    "SPLIT_V": "SplitVOptions",
    "PACK": "PackOptions",
    "UNPACK": "UnpackOptions",
    "GATHER": "GatherOptions",
    "MAXIMUM": "MaximumMinimumOptions",
    "MINIMUM": "MaximumMinimumOptions",
    "TRANSPOSE_CONV": "TransposeConvOptions",
    "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions",
    "RESIZE_BILINEAR": "ResizeBilinearOptions",
    "QUANTIZE": "QuantizeOptions",
    "DEQUANTIZE": "DequantizeOptions",
    "ARG_MAX": "ArgMaxOptions",
    "ARG_MIN": "ArgMinOptions",
    "LOG_SOFTMAX": "LogSoftmaxOptions",
    "CAST": "CastOptions",
    "MIRROR_PAD": "MirrorPadOptions",
    "GELU": "GeluOptions",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTMOptions",
    "SVDF": "SVDFOptions",
    "SPACE_TO_DEPTH": "SpaceToDepthOptions",
    "DEPTH_TO_SPACE": "DepthToSpaceOptions",
    "BATCH_MATMUL": "BatchMatMulOptions",
    "CUMSUM": "CumsumOptions",
    "L2_NORMALIZATION": "L2NormOptions",
    "CALL_ONCE": "CallOnceOptions",
    "IF": "IfOptions",
    "WHILE": "WhileOptions",
    "VAR_HANDLE": "VarHandleOptions",
    "READ_VARIABLE": "ReadVariableOptions",
    "ASSIGN_VARIABLE": "AssignVariableOptions",
    "LOGISTIC": None,
    "TANH": None,
    "RELU": None,
    "RELU6": None,
    "RELU_N1_TO_1": None,
}

_ENUM_FIELDS = {"padding": PADDING, "fused_activation_function": ACTIVATION}


@dataclass
class Tensor:
    index: int
    name: str
    shape: list[int]
    type: str
    data: bytes | None
    scale: list[float] | None
    zero_point: list[int] | None
    quantized_dimension: int
    is_variable: bool = False

    @property
    def dtype(self) -> np.dtype:
        return NUMPY_TYPES[self.type]


@dataclass
class _Op:
    code: int
    inputs: list[int]
    outputs: list[int]
    options_type: str | None
    options: dict[str, Any]


def _index(t: Tensor | int) -> int:
    return t if isinstance(t, int) else t.index


class ModelBuilder:
    """Collects tensors and operators, then `build()` writes the flatbuffer bytes."""

    def __init__(self) -> None:
        self.tensors: list[Tensor] = []
        self.ops: list[_Op] = []

    def tensor(
        self,
        name: str,
        shape: Sequence[int] | None,
        type: str = "int8",
        *,
        data: np.ndarray | bytes | None = None,
        scale: float | Sequence[float] | None = None,
        zero_point: int | Sequence[int] | None = None,
        quantized_dimension: int = 0,
        is_variable: bool = False,
    ) -> Tensor:
        """Adds a tensor. `data` makes it a constant (array converted to `type`); shape None
        takes the array's shape. scale None = not quantized. is_variable: state kept between
        invokes (an LSTM's or SVDF's state)."""
        if type not in NUMPY_TYPES:
            raise ValueError(f"unknown tensor type {type!r}")
        raw: bytes | None = None
        if data is not None:
            if isinstance(data, (bytes, bytearray)):
                raw = bytes(data)
            else:
                arr = np.asarray(data)
                if shape is None:
                    shape = list(arr.shape)
                raw = np.ascontiguousarray(arr.astype(NUMPY_TYPES[type])).tobytes()
        if shape is None:
            raise ValueError(f"tensor {name}: shape is required without data")
        scales: list[float] | None = None
        zps: list[int] | None = None
        if scale is not None:
            scales = [float(s) for s in np.atleast_1d(np.asarray(scale, dtype=np.float64))]
            zp = np.atleast_1d(np.asarray(0 if zero_point is None else zero_point, np.int64))
            scalar = not isinstance(zero_point, (list, tuple, np.ndarray))
            zps = [int(zp[0])] * len(scales) if scalar else [int(z) for z in zp]
        t = Tensor(
            len(self.tensors),
            name,
            [int(d) for d in shape],
            type,
            raw,
            scales,
            zps,
            quantized_dimension,
            is_variable,
        )
        self.tensors.append(t)
        return t

    def op(
        self,
        name: str,
        inputs: Sequence[Tensor | int],
        outputs: Sequence[Tensor | int],
        *,
        options_type: str | None = "auto",
        **options: Any,
    ) -> None:
        """Adds an operator by builtin name with its options as keyword arguments."""
        if name not in BUILTIN_OPS:
            raise ValueError(f"unknown builtin operator {name!r}")
        if options_type == "auto":
            options_type = OP_OPTIONS.get(name)
            if options_type is None and options:
                raise ValueError(
                    f"{name}: options given but no options table known; pass options_type"
                )
        if options_type is not None:
            fields = dict(OPTION_FIELDS[options_type])
            unknown = set(options) - set(fields)
            if unknown:
                raise ValueError(f"{options_type} has no fields {sorted(unknown)}")
        self.ops.append(
            _Op(
                BUILTIN_OPS[name],
                [_index(t) for t in inputs],
                [_index(t) for t in outputs],
                options_type,
                dict(options),
            )
        )

    # ---- writing -------------------------------------------------------------------------

    def build(
        self,
        inputs: Sequence[Tensor | int],
        outputs: Sequence[Tensor | int],
        *,
        version: int = 3,
        subgraph_count: int = 1,
        subgraphs: Sequence[
            tuple[ModelBuilder, Sequence[Tensor | int], Sequence[Tensor | int]]
        ] = (),
    ) -> bytes:
        """The model's bytes. version/subgraph_count other than 3/1 write deliberately
        unsupported models (the subgraph is repeated) for error-path tests. `subgraphs`: more
        subgraphs after this one (subgraph 1, 2, ...), each a builder of its own tensors and ops
        with its inputs and outputs (CALL_ONCE's init subgraph)."""
        fb = flatbuffers.Builder(1024)
        codes: list[int] = []
        buffer_offsets = [self._table(fb, [])]  # 0 is the empty sentinel
        written = [
            self._subgraph(fb, codes, buffer_offsets, inputs, outputs)
            for _ in range(subgraph_count)
        ]
        written += [
            builder._subgraph(fb, codes, buffer_offsets, ins, outs)
            for builder, ins, outs in subgraphs
        ]
        code_offsets = [
            self._table(fb, [(0, "i8", min(c, 127)), (2, "i32", 1), (3, "i32", c)]) for c in codes
        ]
        description = fb.CreateString("tinyflash test model")
        model = self._table(
            fb,
            [
                (0, "u32", version),
                (1, "off", self._offset_vector(fb, code_offsets)),
                (2, "off", self._offset_vector(fb, written)),
                (3, "off", description),
                (4, "off", self._offset_vector(fb, buffer_offsets)),
            ],
        )
        fb.Finish(model, file_identifier=b"TFL3")
        return bytes(fb.Output())

    def _subgraph(
        self,
        fb: flatbuffers.Builder,
        codes: list[int],
        buffer_offsets: list[int],
        inputs: Sequence[Tensor | int],
        outputs: Sequence[Tensor | int],
    ) -> int:
        """Writes this builder's tensors (their constants appended to buffer_offsets) and ops
        (their codes to `codes`) as one subgraph table."""
        buffer_of: dict[int, int] = {}
        for t in self.tensors:
            if t.data is not None:
                vec = self._aligned_bytes(fb, t.data)
                buffer_of[t.index] = len(buffer_offsets)
                buffer_offsets.append(self._table(fb, [(0, "off", vec)]))

        tensor_offsets = []
        for t in self.tensors:
            name = fb.CreateString(t.name)
            shape = self._int_vector(fb, t.shape)
            quant = None
            if t.scale is not None:
                scale_vec = self._vector(fb, t.scale, "<f4")
                zp_vec = self._vector(fb, t.zero_point or [], "<i8")
                quant = self._table(
                    fb,
                    [(2, "off", scale_vec), (3, "off", zp_vec), (6, "i32", t.quantized_dimension)],
                )
            fields = [
                (0, "off", shape),
                (1, "i8", TENSOR_TYPES[t.type]),
                (2, "u32", buffer_of.get(t.index, 0)),
                (3, "off", name),
            ]
            if quant is not None:
                fields.append((4, "off", quant))
            if t.is_variable:
                fields.append((5, "bool", True))
            tensor_offsets.append(self._table(fb, fields))

        op_offsets = []
        for op in self.ops:
            if op.code not in codes:
                codes.append(op.code)
            fields = [
                (0, "u32", codes.index(op.code)),
                (1, "off", self._int_vector(fb, op.inputs)),
                (2, "off", self._int_vector(fb, op.outputs)),
            ]
            if op.options_type is not None:
                table = self._options(fb, op.options_type, op.options)
                fields += [(3, "u8", OPTION_TYPES[op.options_type]), (4, "off", table)]
            op_offsets.append(self._table(fb, fields))

        return self._table(
            fb,
            [
                (0, "off", self._offset_vector(fb, tensor_offsets)),
                (1, "off", self._int_vector(fb, [_index(t) for t in inputs])),
                (2, "off", self._int_vector(fb, [_index(t) for t in outputs])),
                (3, "off", self._offset_vector(fb, op_offsets)),
                (4, "off", fb.CreateString("main")),
            ],
        )

    @staticmethod
    def _table(fb: flatbuffers.Builder, fields: list[tuple[int, str, Any]]) -> int:
        """Writes a table; fields are (slot, kind, value). Values are always written (no
        default elision) so a test can rely on what is in the bytes."""
        slots = 1 + max((slot for slot, _, _ in fields), default=-1)
        fb.StartObject(slots)
        for slot, kind, value in fields:
            if kind == "off":
                fb.PrependUOffsetTRelative(value)
                fb.Slot(slot)
            elif kind in ("i8", "bool"):
                fb.PrependInt8(int(value))
                fb.Slot(slot)
            elif kind == "u8":
                fb.PrependUint8(int(value))
                fb.Slot(slot)
            elif kind == "i32":
                fb.PrependInt32(int(value))
                fb.Slot(slot)
            elif kind == "u32":
                fb.PrependUint32(int(value))
                fb.Slot(slot)
            elif kind == "f32":
                fb.PrependFloat32(float(value))
                fb.Slot(slot)
            else:
                raise ValueError(kind)
        return fb.EndObject()

    def _options(self, fb: flatbuffers.Builder, options_type: str, options: dict[str, Any]) -> int:
        spec = OPTION_FIELDS[options_type]
        fields = []
        vectors = {}
        for name, kind in spec:
            if name in options and kind == "vi32":
                vectors[name] = self._int_vector(fb, options[name])
            if name in options and kind == "str":
                vectors[name] = fb.CreateString(options[name])
        for slot, (name, kind) in enumerate(spec):
            if name not in options:
                continue
            value = options[name]
            if kind in ("vi32", "str"):
                fields.append((slot, "off", vectors[name]))
                continue
            if isinstance(value, str):
                value = _ENUM_FIELDS[name][value]
            if kind == "bool":
                value = 1 if value else 0
            fields.append((slot, kind, value))
        return self._table(fb, fields)

    @staticmethod
    def _aligned_bytes(fb: flatbuffers.Builder, data: bytes) -> int:
        fb.StartVector(1, len(data), 16)  # 16-byte aligned element data, like the converter
        fb.head = fb.head - len(data)
        fb.Bytes[fb.head : fb.head + len(data)] = data
        return fb.EndVector()

    @staticmethod
    def _vector(fb: flatbuffers.Builder, values: Sequence[Any], dtype: str) -> int:
        arr = np.asarray(values, dtype=dtype)
        size = arr.dtype.itemsize
        fb.StartVector(size, len(arr), size)
        fb.head = fb.head - arr.nbytes
        fb.Bytes[fb.head : fb.head + arr.nbytes] = arr.tobytes()
        return fb.EndVector()

    def _int_vector(self, fb: flatbuffers.Builder, values: Sequence[int]) -> int:
        return self._vector(fb, [int(v) for v in values], "<i4")

    @staticmethod
    def _offset_vector(fb: flatbuffers.Builder, offsets: Sequence[int]) -> int:
        fb.StartVector(4, len(offsets), 4)
        for off in reversed(offsets):
            fb.PrependUOffsetTRelative(off)
        return fb.EndVector()


def quantized_bias_scale(input_scale: float, weight_scales: Sequence[float]) -> list[float]:
    """Bias scales TFLite uses: input scale times each weight scale (float32 arithmetic)."""
    return [float(np.float32(input_scale) * np.float32(s)) for s in weight_scales]


# ---- the slot-level writer: a Spec of T tensors and Op operators ------------------------------
# ModelBuilder above writes valid models with named options. write_model(Spec) writes exactly the
# slots it is given (options as {slot: (kind, value)}, custom codes, an empty SparsityParameters
# table, no quantization), so reader and planner tests can make models TFLite would never emit.
# Operator and options numbers come from tinyflash.schema (the reader's own facts) on purpose: a
# disagreement with the published schema shows up in test_model's schema-table test.

SPEC_TYPE = {"float32": 0, "int32": 2, "uint8": 3, "int64": 4, "int16": 7, "int8": 9}


@dataclass
class T:
    """A tensor to write: data=None for an activation."""

    shape: tuple[int, ...]
    dtype: str = "int8"
    data: bytes | None = None
    scales: tuple[float, ...] | None = (0.05,)
    zero_points: tuple[int, ...] | None = None
    axis: int = 0
    name: str = ""
    sparse: bool = False  # writes an (empty) SparsityParameters table


@dataclass
class Op:
    name: str
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    # options: (BuiltinOptions table name, {slot: (kind, value)})
    options: tuple[str, dict[int, tuple[str, Any]]] | None = None
    custom_code: str | None = None


@dataclass
class Spec:
    tensors: list[T]
    ops: list[Op]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    description: str = "tinyflash test model"
    extra: dict[str, Any] = field(default_factory=dict)


def _int_vector(b: flatbuffers.Builder, values: Sequence[int]) -> int:
    return ModelBuilder._vector(b, [int(v) for v in values], "<i4")


_offset_vector = ModelBuilder._offset_vector


def write_model(spec: Spec) -> bytes:
    """Serialises `spec` as a TFLite flatbuffer (schema version 3, one subgraph)."""
    b = flatbuffers.Builder(1024)
    # Buffers: 0 is the empty sentinel; each constant tensor gets its own.
    buffer_data: list[bytes | None] = [None]
    tensor_buffer: list[int] = []
    for t in spec.tensors:
        if t.data is None:
            buffer_data.append(None)
        else:
            buffer_data.append(t.data)
        tensor_buffer.append(len(buffer_data) - 1)
    buffers = []
    for data in buffer_data:
        vec = b.CreateByteVector(data) if data else None
        b.StartObject(3)
        if vec is not None:
            b.PrependUOffsetTRelativeSlot(0, vec, 0)
        buffers.append(b.EndObject())

    tensors = []
    for i, t in enumerate(spec.tensors):
        name = b.CreateString(t.name or f"t{i}")
        shape = _int_vector(b, t.shape)
        quant = None
        if t.scales is not None and t.dtype != "float32":
            b.StartVector(4, len(t.scales), 4)
            for s in reversed(t.scales):
                b.PrependFloat32(s)
            scales = b.EndVector()
            zps = t.zero_points if t.zero_points is not None else (0,) * len(t.scales)
            b.StartVector(8, len(zps), 8)
            for z in reversed(zps):
                b.PrependInt64(z)
            zvec = b.EndVector()
            b.StartObject(7)
            b.PrependUOffsetTRelativeSlot(2, scales, 0)
            b.PrependUOffsetTRelativeSlot(3, zvec, 0)
            b.PrependInt32Slot(6, t.axis, 0)
            quant = b.EndObject()
        sparsity = None
        if t.sparse:
            b.StartObject(3)
            sparsity = b.EndObject()
        b.StartObject(8)
        if sparsity is not None:
            b.PrependUOffsetTRelativeSlot(6, sparsity, 0)
        b.PrependUOffsetTRelativeSlot(0, shape, 0)
        b.PrependInt8Slot(1, SPEC_TYPE[t.dtype], 0)
        b.PrependUint32Slot(2, tensor_buffer[i], 0)
        b.PrependUOffsetTRelativeSlot(3, name, 0)
        if quant is not None:
            b.PrependUOffsetTRelativeSlot(4, quant, 0)
        tensors.append(b.EndObject())

    opcode_keys: list[tuple[int, str | None]] = []
    ops = []
    for op in spec.ops:
        key = (schema.BUILTIN_CODES[op.name], op.custom_code)
        if key not in opcode_keys:
            opcode_keys.append(key)
        ins, outs = _int_vector(b, op.inputs), _int_vector(b, op.outputs)
        options, options_type = None, 0
        if op.options is not None:
            table, fields = op.options
            options_type = schema.BUILTIN_OPTIONS.index(table)
            b.StartObject(max(fields, default=-1) + 1)
            for slot, (kind, value) in sorted(fields.items()):
                {
                    "byte": b.PrependInt8Slot,
                    "int": b.PrependInt32Slot,
                    "bool": b.PrependBoolSlot,
                    "float": b.PrependFloat32Slot,
                }[kind](slot, value, None)
            options = b.EndObject()
        b.StartObject(5)
        b.PrependUint32Slot(0, opcode_keys.index(key), 0)
        b.PrependUOffsetTRelativeSlot(1, ins, 0)
        b.PrependUOffsetTRelativeSlot(2, outs, 0)
        if options is not None:
            b.PrependUint8Slot(3, options_type, 0)
            b.PrependUOffsetTRelativeSlot(4, options, 0)
        ops.append(b.EndObject())

    codes = []
    for code, custom in opcode_keys:
        custom_str = b.CreateString(custom) if custom else None
        b.StartObject(4)
        b.PrependInt8Slot(0, min(code, 127), 0)
        if custom_str is not None:
            b.PrependUOffsetTRelativeSlot(1, custom_str, 0)
        b.PrependInt32Slot(2, 1, 1)
        b.PrependInt32Slot(3, code, 0)
        codes.append(b.EndObject())

    tvec, ovec = _offset_vector(b, tensors), _offset_vector(b, ops)
    ins, outs = _int_vector(b, spec.inputs), _int_vector(b, spec.outputs)
    sg_name = b.CreateString("main")
    b.StartObject(5)
    b.PrependUOffsetTRelativeSlot(0, tvec, 0)
    b.PrependUOffsetTRelativeSlot(1, ins, 0)
    b.PrependUOffsetTRelativeSlot(2, outs, 0)
    b.PrependUOffsetTRelativeSlot(3, ovec, 0)
    b.PrependUOffsetTRelativeSlot(4, sg_name, 0)
    subgraph = b.EndObject()
    sgvec = _offset_vector(b, [subgraph])
    cvec, bvec = _offset_vector(b, codes), _offset_vector(b, buffers)
    desc = b.CreateString(spec.description)
    b.StartObject(8)
    b.PrependUint32Slot(0, 3, 0)
    b.PrependUOffsetTRelativeSlot(1, cvec, 0)
    b.PrependUOffsetTRelativeSlot(2, sgvec, 0)
    b.PrependUOffsetTRelativeSlot(3, desc, 0)
    b.PrependUOffsetTRelativeSlot(4, bvec, 0)
    b.Finish(b.EndObject(), file_identifier=b"TFL3")
    return bytes(b.Output())


def conv_spec(out_c: int = 8, per_channel: bool = True) -> Spec:
    """input [1,6,6,3] -> CONV_2D 3x3 stride 2 SAME (per-channel weights, int32 bias) ->
    RESHAPE [1, 3*3*out_c] -> FULLY_CONNECTED 4 -> SOFTMAX."""
    flat = 3 * 3 * out_c
    w_scales = tuple(0.01 * (k + 1) for k in range(out_c)) if per_channel else (0.02,)
    tensors = [
        T((1, 6, 6, 3), name="input", zero_points=(-3,)),
        T(
            (out_c, 3, 3, 3),
            data=bytes((7 * k) % 256 for k in range(out_c * 27)),
            scales=w_scales,
            axis=0,
            name="conv/w",
        ),
        T(
            (out_c,),
            "int32",
            data=struct.pack(f"<{out_c}i", *range(out_c)),
            scales=tuple(0.0005 * (k + 1) for k in range(out_c)) if per_channel else (0.001,),
            name="conv/b",
        ),
        T((1, 3, 3, out_c), name="conv/out", zero_points=(-128,)),
        T((2,), "int32", data=struct.pack("<2i", 1, flat), scales=None, name="shape"),
        T((1, flat), name="flat", zero_points=(-128,)),
        T((4, flat), data=bytes(4 * flat), scales=(0.03,), name="fc/w"),
        T((4,), "int32", data=bytes(16), scales=(0.0015,), name="fc/b"),
        T((1, 4), name="logits", zero_points=(5,)),
        T((1, 4), name="probs", scales=(1 / 256,), zero_points=(-128,)),
    ]
    ops = [
        Op(
            "CONV_2D",
            (0, 1, 2),
            (3,),
            ("Conv2DOptions", {0: ("byte", 0), 1: ("int", 2), 2: ("int", 2), 3: ("byte", 1)}),
        ),
        Op("RESHAPE", (3, 4), (5,)),
        Op("FULLY_CONNECTED", (5, 6, 7), (8,), ("FullyConnectedOptions", {2: ("bool", True)})),
        Op("SOFTMAX", (8,), (9,), ("SoftmaxOptions", {0: ("float", 1.0)})),
    ]
    return Spec(tensors, ops, inputs=(0,), outputs=(9,))
