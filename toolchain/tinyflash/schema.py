"""The facts of the TFLite flatbuffer schema (schema.fbs) that tinyflash reads.

Written out here so the model reader needs neither TensorFlow nor generated code: the table field
orders (a field's slot = its 0-based declaration index), the BuiltinOperator and TensorType codes,
the BuiltinOptions union codes and the options tables whose fields `model.py` decodes.
"""

from __future__ import annotations

from dataclasses import dataclass

FILE_IDENTIFIER = b"TFL3"

# ---- field slots of the tables the reader walks ------------------------------------------


class ModelField:
    VERSION = 0
    OPERATOR_CODES = 1
    SUBGRAPHS = 2
    DESCRIPTION = 3
    BUFFERS = 4
    METADATA_BUFFER = 5
    METADATA = 6
    SIGNATURE_DEFS = 7


class OperatorCodeField:
    DEPRECATED_BUILTIN_CODE = 0  # byte
    CUSTOM_CODE = 1  # string
    VERSION = 2  # int, default 1
    BUILTIN_CODE = 3  # int (BuiltinOperator)


class SubGraphField:
    TENSORS = 0
    INPUTS = 1
    OUTPUTS = 2
    OPERATORS = 3
    NAME = 4


class TensorField:
    SHAPE = 0  # [int]
    TYPE = 1  # byte (TensorType)
    BUFFER = 2  # uint
    NAME = 3  # string
    QUANTIZATION = 4  # QuantizationParameters
    IS_VARIABLE = 5  # bool
    SPARSITY = 6
    SHAPE_SIGNATURE = 7


class QuantizationField:
    MIN = 0  # [float]
    MAX = 1  # [float]
    SCALE = 2  # [float]
    ZERO_POINT = 3  # [long]
    DETAILS_TYPE = 4
    DETAILS = 5
    QUANTIZED_DIMENSION = 6  # int


class OperatorField:
    OPCODE_INDEX = 0  # uint
    INPUTS = 1  # [int]
    OUTPUTS = 2  # [int]
    BUILTIN_OPTIONS_TYPE = 3  # ubyte (BuiltinOptions union type)
    BUILTIN_OPTIONS = 4  # union value (table offset)
    CUSTOM_OPTIONS = 5  # [ubyte]
    INTERMEDIATES = 8  # [int]


class BufferField:
    DATA = 0  # [ubyte]
    OFFSET = 1  # ulong, data outside the flatbuffer (models > 2 GB)
    SIZE = 2  # ulong


class MetadataField:
    NAME = 0
    BUFFER = 1


# ---- BuiltinOperator: code -> name (index in this tuple) ---------------------------------

BUILTIN_OPERATORS: tuple[str, ...] = (
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE",
    "DEQUANTIZE",
    "EMBEDDING_LOOKUP",
    "FLOOR",
    "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION",
    "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC",
    "LSH_PROJECTION",
    "LSTM",
    "MAX_POOL_2D",
    "MUL",
    "RELU",
    "RELU_N1_TO_1",
    "RELU6",
    "RESHAPE",
    "RESIZE_BILINEAR",
    "RNN",
    "SOFTMAX",
    "SPACE_TO_DEPTH",
    "SVDF",
    "TANH",
    "CONCAT_EMBEDDINGS",
    "SKIP_GRAM",
    "CALL",
    "CUSTOM",
    "EMBEDDING_LOOKUP_SPARSE",
    "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN",
    "GATHER",
    "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND",
    "TRANSPOSE",
    "MEAN",
    "SUB",
    "DIV",
    "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE",
    "BIDIRECTIONAL_SEQUENCE_RNN",
    "EXP",
    "TOPK_V2",
    "SPLIT",
    "LOG_SOFTMAX",
    "DELEGATE",
    "BIDIRECTIONAL_SEQUENCE_LSTM",
    "CAST",
    "PRELU",
    "MAXIMUM",
    "ARG_MAX",
    "MINIMUM",
    "LESS",
    "NEG",
    "PADV2",
    "GREATER",
    "GREATER_EQUAL",
    "LESS_EQUAL",
    "SELECT",
    "SLICE",
    "SIN",
    "TRANSPOSE_CONV",
    "SPARSE_TO_DENSE",
    "TILE",
    "EXPAND_DIMS",
    "EQUAL",
    "NOT_EQUAL",
    "LOG",
    "SUM",
    "SQRT",
    "RSQRT",
    "SHAPE",
    "POW",
    "ARG_MIN",
    "FAKE_QUANT",
    "REDUCE_PROD",
    "REDUCE_MAX",
    "PACK",
    "LOGICAL_OR",
    "ONE_HOT",
    "LOGICAL_AND",
    "LOGICAL_NOT",
    "UNPACK",
    "REDUCE_MIN",
    "FLOOR_DIV",
    "REDUCE_ANY",
    "SQUARE",
    "ZEROS_LIKE",
    "FILL",
    "FLOOR_MOD",
    "RANGE",
    "RESIZE_NEAREST_NEIGHBOR",
    "LEAKY_RELU",
    "SQUARED_DIFFERENCE",
    "MIRROR_PAD",
    "ABS",
    "SPLIT_V",
    "UNIQUE",
    "CEIL",
    "REVERSE_V2",
    "ADD_N",
    "GATHER_ND",
    "COS",
    "WHERE",
    "RANK",
    "ELU",
    "REVERSE_SEQUENCE",
    "MATRIX_DIAG",
    "QUANTIZE",
    "MATRIX_SET_DIAG",
    "ROUND",
    "HARD_SWISH",
    "IF",
    "WHILE",
    "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND",
    "SELECT_V2",
    "DENSIFY",
    "SEGMENT_SUM",
    "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES",
    "CUMSUM",
    "CALL_ONCE",
    "BROADCAST_TO",
    "RFFT2D",
    "CONV_3D",
    "IMAG",
    "REAL",
    "COMPLEX_ABS",
    "HASHTABLE",
    "HASHTABLE_FIND",
    "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE",
    "REDUCE_ALL",
    "CONV_3D_TRANSPOSE",
    "VAR_HANDLE",
    "READ_VARIABLE",
    "ASSIGN_VARIABLE",
    "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE",
    "RANDOM_UNIFORM",
    "MULTINOMIAL",
    "GELU",
    "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD",
    "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_SUM",
    "ATAN2",
    "UNSORTED_SEGMENT_MIN",
    "SIGN",
    "BITCAST",
    "BITWISE_XOR",
    "RIGHT_SHIFT",
    "STABLEHLO_LOGISTIC",
    "STABLEHLO_ADD",
    "STABLEHLO_DIVIDE",
    "STABLEHLO_MULTIPLY",
    "STABLEHLO_MAXIMUM",
    "STABLEHLO_RESHAPE",
    "STABLEHLO_CLAMP",
    "STABLEHLO_CONCATENATE",
    "STABLEHLO_BROADCAST_IN_DIM",
    "STABLEHLO_CONVOLUTION",
    "STABLEHLO_SLICE",
    "STABLEHLO_CUSTOM_CALL",
    "STABLEHLO_REDUCE",
    "STABLEHLO_ABS",
    "STABLEHLO_AND",
    "STABLEHLO_COSINE",
    "STABLEHLO_EXPONENTIAL",
    "STABLEHLO_FLOOR",
    "STABLEHLO_LOG",
    "STABLEHLO_MINIMUM",
    "STABLEHLO_NEGATE",
    "STABLEHLO_OR",
    "STABLEHLO_POWER",
    "STABLEHLO_REMAINDER",
    "STABLEHLO_RSQRT",
    "STABLEHLO_SELECT",
    "STABLEHLO_SUBTRACT",
    "STABLEHLO_TANH",
    "STABLEHLO_SCATTER",
    "STABLEHLO_COMPARE",
    "STABLEHLO_CONVERT",
    "STABLEHLO_DYNAMIC_SLICE",
    "STABLEHLO_DYNAMIC_UPDATE_SLICE",
    "STABLEHLO_PAD",
    "STABLEHLO_IOTA",
    "STABLEHLO_DOT_GENERAL",
    "STABLEHLO_REDUCE_WINDOW",
    "STABLEHLO_SORT",
    "STABLEHLO_WHILE",
    "STABLEHLO_GATHER",
    "STABLEHLO_TRANSPOSE",
    "DILATE",
    "STABLEHLO_RNG_BIT_GENERATOR",
    "REDUCE_WINDOW",
    "STABLEHLO_COMPOSITE",
    "STABLEHLO_SHIFT_LEFT",
    "STABLEHLO_CBRT",
    "STABLEHLO_CASE",
)

BUILTIN_CODES: dict[str, int] = {name: code for code, name in enumerate(BUILTIN_OPERATORS)}
CUSTOM_CODE = BUILTIN_CODES["CUSTOM"]


def builtin_name(code: int) -> str:
    """Name of a BuiltinOperator code, or `UNKNOWN_<code>` for codes newer than this table."""
    if 0 <= code < len(BUILTIN_OPERATORS):
        return BUILTIN_OPERATORS[code]
    return f"UNKNOWN_{code}"


# ---- TensorType ---------------------------------------------------------------------------

# code -> (name as tinyflash prints it, bytes per element; 0 = not a fixed-size element,
# INT4/UINT4/INT2 are packed: see element_bytes()).
TENSOR_TYPES: dict[int, tuple[str, int]] = {
    0: ("float32", 4),
    1: ("float16", 2),
    2: ("int32", 4),
    3: ("uint8", 1),
    4: ("int64", 8),
    5: ("string", 0),
    6: ("bool", 1),
    7: ("int16", 2),
    8: ("complex64", 8),
    9: ("int8", 1),
    10: ("float64", 8),
    11: ("complex128", 16),
    12: ("uint64", 8),
    13: ("resource", 0),
    14: ("variant", 0),
    15: ("uint32", 4),
    16: ("uint16", 2),
    17: ("int4", 0),
    18: ("bfloat16", 2),
    19: ("int2", 0),
    20: ("uint4", 0),
}
TENSOR_TYPE_CODES: dict[str, int] = {name: code for code, (name, _) in TENSOR_TYPES.items()}
FLOAT_TYPES = frozenset({"float32", "float16", "float64", "bfloat16"})
PACKED_BITS = {"int4": 4, "uint4": 4, "int2": 2}


def tensor_type_name(code: int) -> str:
    return TENSOR_TYPES.get(code, (f"type{code}", 0))[0]


def tensor_nbytes(dtype: str, elements: int) -> int:
    """Bytes a tensor of `elements` elements occupies (packed sub-byte types rounded up; 0 for
    strings, resources and variants, whose size is not given by the shape)."""
    if dtype in PACKED_BITS:
        return (elements * PACKED_BITS[dtype] + 7) // 8
    for name, size in TENSOR_TYPES.values():
        if name == dtype:
            return elements * size
    return 0


# ---- enums used inside options tables -----------------------------------------------------

PADDING = ("SAME", "VALID")
ACTIVATIONS = ("NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT")
FC_WEIGHTS_FORMATS = ("DEFAULT", "SHUFFLED4x16INT8")


def enum_name(names: tuple[str, ...], value: int) -> str:
    return names[value] if 0 <= value < len(names) else f"UNKNOWN_{value}"


# ---- BuiltinOptions union: type code -> table name ----------------------------------------

BUILTIN_OPTIONS: tuple[str, ...] = (
    "NONE",
    "Conv2DOptions",
    "DepthwiseConv2DOptions",
    "ConcatEmbeddingsOptions",
    "LSHProjectionOptions",
    "Pool2DOptions",
    "SVDFOptions",
    "RNNOptions",
    "FullyConnectedOptions",
    "SoftmaxOptions",
    "ConcatenationOptions",
    "AddOptions",
    "L2NormOptions",
    "LocalResponseNormalizationOptions",
    "LSTMOptions",
    "ResizeBilinearOptions",
    "CallOptions",
    "ReshapeOptions",
    "SkipGramOptions",
    "SpaceToDepthOptions",
    "EmbeddingLookupSparseOptions",
    "MulOptions",
    "PadOptions",
    "GatherOptions",
    "BatchToSpaceNDOptions",
    "SpaceToBatchNDOptions",
    "TransposeOptions",
    "ReducerOptions",
    "SubOptions",
    "DivOptions",
    "SqueezeOptions",
    "SequenceRNNOptions",
    "StridedSliceOptions",
    "ExpOptions",
    "TopKV2Options",
    "SplitOptions",
    "LogSoftmaxOptions",
    "CastOptions",
    "DequantizeOptions",
    "MaximumMinimumOptions",
    "ArgMaxOptions",
    "LessOptions",
    "NegOptions",
    "PadV2Options",
    "GreaterOptions",
    "GreaterEqualOptions",
    "LessEqualOptions",
    "SelectOptions",
    "SliceOptions",
    "TransposeConvOptions",
    "SparseToDenseOptions",
    "TileOptions",
    "ExpandDimsOptions",
    "EqualOptions",
    "NotEqualOptions",
    "ShapeOptions",
    "PowOptions",
    "ArgMinOptions",
    "FakeQuantOptions",
    "PackOptions",
    "LogicalOrOptions",
    "OneHotOptions",
    "LogicalAndOptions",
    "LogicalNotOptions",
    "UnpackOptions",
    "FloorDivOptions",
    "SquareOptions",
    "ZerosLikeOptions",
    "FillOptions",
    "BidirectionalSequenceLSTMOptions",
    "BidirectionalSequenceRNNOptions",
    "UnidirectionalSequenceLSTMOptions",
    "FloorModOptions",
    "RangeOptions",
    "ResizeNearestNeighborOptions",
    "LeakyReluOptions",
    "SquaredDifferenceOptions",
    "MirrorPadOptions",
    "AbsOptions",
    "SplitVOptions",
    "UniqueOptions",
    "ReverseV2Options",
    "AddNOptions",
    "GatherNdOptions",
    "CosOptions",
    "WhereOptions",
    "RankOptions",
    "ReverseSequenceOptions",
    "MatrixDiagOptions",
    "QuantizeOptions",
    "MatrixSetDiagOptions",
    "HardSwishOptions",
    "IfOptions",
    "WhileOptions",
    "DepthToSpaceOptions",
    "NonMaxSuppressionV4Options",
    "NonMaxSuppressionV5Options",
    "ScatterNdOptions",
    "SelectV2Options",
    "DensifyOptions",
    "SegmentSumOptions",
    "BatchMatMulOptions",
    "CumsumOptions",
    "CallOnceOptions",
    "BroadcastToOptions",
    "Rfft2dOptions",
    "Conv3DOptions",
    "HashtableOptions",
    "HashtableFindOptions",
    "HashtableImportOptions",
    "HashtableSizeOptions",
    "VarHandleOptions",
    "ReadVariableOptions",
    "AssignVariableOptions",
    "RandomOptions",
    "BucketizeOptions",
    "GeluOptions",
    "DynamicUpdateSliceOptions",
    "UnsortedSegmentProdOptions",
    "UnsortedSegmentMaxOptions",
    "UnsortedSegmentMinOptions",
    "UnsortedSegmentSumOptions",
    "ATan2Options",
    "SignOptions",
    "BitcastOptions",
    "BitwiseXorOptions",
    "RightShiftOptions",
)


@dataclass(frozen=True)
class OptionField:
    """One scalar/vector field of an options table. `kind`: 'byte', 'ubyte', 'bool', 'int',
    'uint', 'float', '[int]', 'string' (None when absent); `enum` maps a byte value to a name (padding, activation)."""

    name: str
    kind: str
    default: object = 0
    enum: tuple[str, ...] | None = None


def _f(
    name: str, kind: str, default: object = 0, enum: tuple[str, ...] | None = None
) -> OptionField:
    return OptionField(name, kind, default, enum)


_ACT = _f("fused_activation_function", "byte", 0, ACTIVATIONS)
_PAD = _f("padding", "byte", 0, PADDING)
_BIAS_TYPE = _f("quantized_bias_type", "byte", 0)

# Options tables whose fields the reader decodes, in declaration order (index = slot).
OPTION_TABLES: dict[str, tuple[OptionField, ...]] = {
    "Conv2DOptions": (
        _PAD,
        _f("stride_w", "int"),
        _f("stride_h", "int"),
        _ACT,
        _f("dilation_w_factor", "int", 1),
        _f("dilation_h_factor", "int", 1),
        _BIAS_TYPE,
    ),
    "DepthwiseConv2DOptions": (
        _PAD,
        _f("stride_w", "int"),
        _f("stride_h", "int"),
        _f("depth_multiplier", "int"),
        _ACT,
        _f("dilation_w_factor", "int", 1),
        _f("dilation_h_factor", "int", 1),
    ),
    "FullyConnectedOptions": (
        _ACT,
        _f("weights_format", "byte", 0, FC_WEIGHTS_FORMATS),
        _f("keep_num_dims", "bool", False),
        _f("asymmetric_quantize_inputs", "bool", False),
        _BIAS_TYPE,
    ),
    "Pool2DOptions": (
        _PAD,
        _f("stride_w", "int"),
        _f("stride_h", "int"),
        _f("filter_width", "int"),
        _f("filter_height", "int"),
        _ACT,
    ),
    "SoftmaxOptions": (_f("beta", "float", 0.0),),
    "ConcatenationOptions": (_f("axis", "int"), _ACT),
    "AddOptions": (_ACT, _f("pot_scale_int16", "bool", True)),
    "SubOptions": (_ACT, _f("pot_scale_int16", "bool", True)),
    "MulOptions": (_ACT,),
    "DivOptions": (_ACT,),
    "ReshapeOptions": (_f("new_shape", "[int]", ()),),
    "SqueezeOptions": (_f("squeeze_dims", "[int]", ()),),
    "ReducerOptions": (_f("keep_dims", "bool", False),),
    "TransposeConvOptions": (_PAD, _f("stride_w", "int"), _f("stride_h", "int"), _ACT, _BIAS_TYPE),
    "StridedSliceOptions": (
        _f("begin_mask", "int"),
        _f("end_mask", "int"),
        _f("ellipsis_mask", "int"),
        _f("new_axis_mask", "int"),
        _f("shrink_axis_mask", "int"),
        _f("offset", "bool", False),
    ),
    "SplitOptions": (_f("num_splits", "int"),),
    "SplitVOptions": (_f("num_splits", "int"),),
    "PackOptions": (_f("values_count", "int"), _f("axis", "int")),
    "UnpackOptions": (_f("num", "int"), _f("axis", "int")),
    "LeakyReluOptions": (_f("alpha", "float", 0.0),),
    "ResizeNearestNeighborOptions": (
        _f("align_corners", "bool", False),
        _f("half_pixel_centers", "bool", False),
    ),
    "ResizeBilinearOptions": (
        _f("new_height", "int"),
        _f("new_width", "int"),
        _f("align_corners", "bool", False),
        _f("half_pixel_centers", "bool", False),
    ),
    "GatherOptions": (_f("axis", "int"), _f("batch_dims", "int")),
    "ArgMaxOptions": (_f("output_type", "byte"),),
    "ArgMinOptions": (_f("output_type", "byte"),),
    "BatchMatMulOptions": (
        _f("adj_x", "bool", False),
        _f("adj_y", "bool", False),
        _f("asymmetric_quantize_inputs", "bool", False),
    ),
    # Control flow: the subgraphs an op runs (plan.py follows every *_subgraph_index field).
    "CallOnceOptions": (_f("init_subgraph_index", "int"),),
    "IfOptions": (_f("then_subgraph_index", "int"), _f("else_subgraph_index", "int")),
    "WhileOptions": (_f("cond_subgraph_index", "int"), _f("body_subgraph_index", "int")),
    "VarHandleOptions": (_f("container", "string", None), _f("shared_name", "string", None)),
    # Tables without fields: the op has no options beyond its inputs.
    "PadOptions": (),
    "PadV2Options": (),
    "TransposeOptions": (),
    "QuantizeOptions": (),
    "DequantizeOptions": (),
    "MaximumMinimumOptions": (),
    "HardSwishOptions": (),
    "ExpandDimsOptions": (),
}
