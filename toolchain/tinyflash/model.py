"""Reads a .tflite flatbuffer into a ModelInfo: tensors, operators, quantization, MACs.

The reader is written against the flatbuffer wire format directly (no interpreter, no TensorFlow):
a root offset, tables located through vtables of 16-bit field offsets, vectors and strings
prefixed by a 32-bit length. Every read is bounds-checked against the buffer, vector lengths are
checked against the bytes that remain, and the number of elements decoded is budgeted, so a
truncated, bit-flipped or hostile file costs at most time linear in its size and ends in one
TinyflashError naming the file and what is wrong. The schema is walked to a fixed depth, so no
input can recurse.

MACs (multiply-accumulates) count the products of the dot-product ops only: CONV_2D (output
elements x kh x kw x in_channels), DEPTHWISE_CONV_2D (output elements x kh x kw),
FULLY_CONNECTED (batches x units x input depth = output elements x input depth),
TRANSPOSE_CONV (input elements x kh x kw x out_channels), BATCH_MATMUL (output elements x the
contracted depth) and CONV_3D. Elementwise ops, pooling, softmax and data movement count 0.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinyflash import schema
from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError

# Largest tensor rank accepted (TFLite's kernels use at most 6; hostile files claim millions).
MAX_RANK = 16
# Largest tensor tinyflash represents: the C runtime counts bytes in int32.
MAX_TENSOR_BYTES = 2**31 - 1


@dataclass(frozen=True)
class QuantInfo:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per channel of `axis`."""

    scales: tuple[float, ...]
    zero_points: tuple[int, ...]
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return len(self.scales) > 1


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    dtype: str  # 'int8', 'float32', ...
    shape: tuple[int, ...]
    quant: QuantInfo | None
    buffer: int
    is_constant: bool  # backed by non-empty buffer data (weights, biases, shape parameters)
    nbytes: int
    is_variable: bool = False
    is_sparse: bool = False  # constant stored in TFLite's compressed sparse format

    @property
    def elements(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class OpInfo:
    index: int
    name: str  # builtin name, e.g. 'CONV_2D'; 'CUSTOM' for custom ops
    code: int
    version: int
    inputs: tuple[int, ...]  # tensor indices, -1 = absent optional input
    outputs: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    custom_code: str | None = None
    macs: int = 0
    options_type: str = "NONE"  # BuiltinOptions union member name
    subgraph: int = 0  # the subgraph it belongs to


@dataclass(frozen=True)
class SubgraphInfo:
    """One subgraph: the global indices (as the C runtime numbers them) of its tensors and ops
    in the ModelInfo, and of its input and output tensors."""

    index: int
    tensors: range
    ops: range
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class ModelInfo:
    name: str
    path: str | None
    data: bytes = field(repr=False)
    size_bytes: int
    sha256: str
    schema_version: int
    description: str
    tensors: tuple[TensorInfo, ...]
    ops: tuple[OpInfo, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    subgraph_count: int
    weight_bytes: int
    total_macs: int
    op_histogram: dict[str, int] = field(hash=False, compare=False)
    # Every subgraph. `tensors` and `ops` hold all subgraphs' one after another (subgraph 0's
    # first, so its indices are the file's); `inputs`/`outputs` are subgraph 0's, the model's.
    subgraphs: tuple[SubgraphInfo, ...] = ()
    # (first byte in `data`, length) of every buffer, by buffer index.
    buffer_spans: tuple[tuple[int, int], ...] = ()

    def tensor(self, index: int) -> TensorInfo:
        return self.tensors[index]

    def constant_data(self, tensor: TensorInfo) -> bytes:
        """The bytes of a constant tensor's buffer (b'' for a tensor without data)."""
        if not tensor.is_constant or tensor.buffer >= len(self.buffer_spans):
            return b""
        start, n = self.buffer_spans[tensor.buffer]
        return self.data[start : start + n]

    @property
    def stateful(self) -> bool:
        """Keeps state between invokes: variable tensors (LSTM, SVDF state) or resource
        variables (VAR_HANDLE)."""
        return any(t.is_variable for t in self.tensors) or any(
            op.name == "VAR_HANDLE" for op in self.ops
        )

    @property
    def has_int16(self) -> bool:
        """Holds int16 tensors (16x8 activations): the firmware needs the runtime's 16x8 paths
        (TFL_WITH_INT16)."""
        return any(t.dtype == "int16" for t in self.tensors)


class _Corrupt(Exception):
    """Internal: what is wrong, turned into a TinyflashError naming the file by parse_model."""


class _Reader:
    """Bounds-checked access to flatbuffer tables, vectors and strings in `data`."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)
        # Elements decoded so far; a valid file decodes far fewer than its byte count.
        self.budget = 4 * self.size + 4096

    def _spend(self, n: int) -> None:
        self.budget -= n
        if self.budget < 0:
            raise _Corrupt("its tables refer to the same data over and over (hostile offsets)")

    def _need(self, pos: int, n: int, what: str) -> None:
        if pos < 0 or n < 0 or pos > self.size or n > self.size - pos:
            raise _Corrupt(f"{what} at byte {pos} lies outside the {self.size}-byte file")

    def u8(self, pos: int, what: str) -> int:
        self._need(pos, 1, what)
        return self.data[pos]

    def i8(self, pos: int, what: str) -> int:
        v = self.u8(pos, what)
        return v - 256 if v > 127 else v

    def u16(self, pos: int, what: str) -> int:
        self._need(pos, 2, what)
        return int.from_bytes(self.data[pos : pos + 2], "little")

    def i32(self, pos: int, what: str) -> int:
        self._need(pos, 4, what)
        return int.from_bytes(self.data[pos : pos + 4], "little", signed=True)

    def u32(self, pos: int, what: str) -> int:
        self._need(pos, 4, what)
        return int.from_bytes(self.data[pos : pos + 4], "little")

    def u64(self, pos: int, what: str) -> int:
        self._need(pos, 8, what)
        return int.from_bytes(self.data[pos : pos + 8], "little")

    def f32(self, pos: int, what: str) -> float:
        self._need(pos, 4, what)
        return float(struct.unpack_from("<f", self.data, pos)[0])

    # -- tables --
    def table(self, pos: int, what: str) -> _Table:
        self._spend(1)
        if pos % 4:
            raise _Corrupt(f"{what} table at byte {pos} is misaligned")
        vt = pos - self.i32(pos, what)
        self._need(vt, 4, f"{what} vtable")
        vt_size = self.u16(vt, f"{what} vtable")
        tbl_size = self.u16(vt + 2, f"{what} vtable")
        if vt_size < 4 or vt_size % 2:
            raise _Corrupt(f"{what} vtable at byte {vt} has an invalid size {vt_size}")
        self._need(vt, vt_size, f"{what} vtable")
        self._need(pos, max(tbl_size, 4), f"{what} table")
        return _Table(self, pos, vt, vt_size, tbl_size, what)

    def deref(self, pos: int, what: str) -> int:
        """Follow the uoffset stored at `pos`."""
        target = pos + self.u32(pos, what)
        self._need(target, 0, what)
        return target

    def vector(self, pos: int, elem: int, what: str) -> tuple[int, int]:
        """(first element position, length) of the vector whose uoffset is at `pos`."""
        start = self.deref(pos, what)
        n = self.u32(start, f"{what} length")
        if n > (self.size - start - 4) // max(elem, 1):
            raise _Corrupt(f"{what} claims {n} elements, more than the file holds")
        self._spend(n)
        return start + 4, n

    def string(self, pos: int, what: str) -> str:
        start, n = self.vector(pos, 1, what)
        return self.data[start : start + n].decode("utf-8", errors="replace")


@dataclass
class _Table:
    r: _Reader
    pos: int
    vt: int
    vt_size: int
    tbl_size: int
    what: str

    def field_pos(self, slot: int, width: int) -> int | None:
        entry = 4 + 2 * slot
        if entry + 2 > self.vt_size:
            return None
        off = self.r.u16(self.vt + entry, f"{self.what} vtable")
        if off == 0:
            return None
        if off + width > self.tbl_size:
            raise _Corrupt(f"{self.what} field {slot} lies outside its table")
        return self.pos + off

    def scalar(self, slot: int, kind: str, default: Any) -> Any:
        width = {"byte": 1, "ubyte": 1, "bool": 1, "int": 4, "uint": 4, "float": 4, "ulong": 8}[
            kind
        ]
        p = self.field_pos(slot, width)
        if p is None:
            return default
        what = f"{self.what} field {slot}"
        if kind == "byte":
            return self.r.i8(p, what)
        if kind == "ubyte":
            return self.r.u8(p, what)
        if kind == "bool":
            return self.r.u8(p, what) != 0
        if kind == "int":
            return self.r.i32(p, what)
        if kind == "uint":
            return self.r.u32(p, what)
        if kind == "ulong":
            return self.r.u64(p, what)
        return self.r.f32(p, what)

    def table(self, slot: int, what: str) -> _Table | None:
        p = self.field_pos(slot, 4)
        return None if p is None else self.r.table(self.r.deref(p, what), what)

    def vector(self, slot: int, elem: int, what: str) -> tuple[int, int]:
        p = self.field_pos(slot, 4)
        return (0, 0) if p is None else self.r.vector(p, elem, what)

    def int_vector(self, slot: int, what: str) -> tuple[int, ...]:
        start, n = self.vector(slot, 4, what)
        return struct.unpack_from(f"<{n}i", self.r.data, start) if n else ()

    def tables(self, slot: int, what: str) -> list[_Table]:
        start, n = self.vector(slot, 4, what)
        return [
            self.r.table(self.r.deref(start + 4 * i, f"{what} {i}"), f"{what} {i}")
            for i in range(n)
        ]

    def string(self, slot: int, what: str) -> str | None:
        p = self.field_pos(slot, 4)
        return None if p is None else self.r.string(p, what)


def load_model(path: str | Path) -> ModelInfo:
    """Reads and parses a .tflite file; TinyflashError (exit 2) when it is missing or corrupt."""
    p = Path(path)
    if not p.exists():
        raise TinyflashError(
            f"{p}: no such file — give the path of a .tflite model.", EXIT_BAD_INPUT
        )
    if p.is_dir():
        raise TinyflashError(
            f"{p} is a directory, not a .tflite file — convert it first "
            "(tinyflash convert MODEL -o model.tflite --data CALIB).",
            EXIT_BAD_INPUT,
        )
    try:
        data = p.read_bytes()
    except OSError as error:
        raise TinyflashError(
            f"{p} cannot be read ({error.strerror or error}) — check the path and its permissions.",
            EXIT_BAD_INPUT,
        ) from error
    return parse_model(data, p.stem, str(p))


def parse_model(data: bytes, name: str, path: str | None = None) -> ModelInfo:
    """Parses flatbuffer bytes into a ModelInfo; TinyflashError (exit 2) for any malformed input."""
    where = path or name
    data = bytes(data)
    if len(data) < 8:
        raise TinyflashError(
            f"{where} is not a TFLite model: only {len(data)} bytes — the file "
            "is truncated or empty; convert the model again.",
            EXIT_BAD_INPUT,
        )
    if data[4:8] != schema.FILE_IDENTIFIER:
        raise TinyflashError(
            f"{where} is not a TFLite model: the flatbuffer identifier is "
            f"{data[4:8]!r}, not b'TFL3' — give a .tflite file written by the "
            "TFLite converter.",
            EXIT_BAD_INPUT,
        )
    try:
        return _parse(_Reader(data), data, name, path)
    except _Corrupt as error:
        raise TinyflashError(
            f"{where} is a corrupt TFLite model: {error} — convert the model again.", EXIT_BAD_INPUT
        ) from None
    except (
        IndexError,
        struct.error,
        ValueError,
        OverflowError,
        RecursionError,
        MemoryError,
    ) as error:  # defence in depth: should be unreachable
        raise TinyflashError(
            f"{where} is a corrupt TFLite model ({type(error).__name__}: "
            f"{error}) — convert the model again.",
            EXIT_BAD_INPUT,
        ) from None


def _parse(r: _Reader, data: bytes, name: str, path: str | None) -> ModelInfo:
    F = schema
    root = r.table(r.u32(0, "root offset"), "model")
    version = root.scalar(F.ModelField.VERSION, "uint", 0)
    description = root.string(F.ModelField.DESCRIPTION, "model description") or ""

    # Operator codes.
    opcodes: list[tuple[int, int, str | None]] = []
    for t in root.tables(F.ModelField.OPERATOR_CODES, "operator code"):
        deprecated = t.scalar(F.OperatorCodeField.DEPRECATED_BUILTIN_CODE, "byte", 0)
        builtin = t.scalar(F.OperatorCodeField.BUILTIN_CODE, "int", 0)
        ver = t.scalar(F.OperatorCodeField.VERSION, "int", 1)
        custom = t.string(F.OperatorCodeField.CUSTOM_CODE, "custom code")
        opcodes.append((max(deprecated, builtin), ver, custom))

    # Buffers: (data position, data length).
    buffers: list[tuple[int, int]] = []
    for i, t in enumerate(root.tables(F.ModelField.BUFFERS, "buffer")):
        start, n = t.vector(F.BufferField.DATA, 1, f"buffer {i} data")
        if n == 0:
            off = t.scalar(F.BufferField.OFFSET, "ulong", 0)
            size = t.scalar(F.BufferField.SIZE, "ulong", 0)
            if off > 1:  # data stored after the flatbuffer (large-model format)
                if off > r.size or size > r.size - off:
                    raise _Corrupt(
                        f"buffer {i} points at bytes {off}..{off + size} outside the file"
                    )
                start, n = off, size
        buffers.append((start, n))

    subgraphs = root.tables(F.ModelField.SUBGRAPHS, "subgraph")
    if not subgraphs:
        raise _Corrupt("it has no subgraph")

    tensors: list[TensorInfo] = []
    ops: list[OpInfo] = []
    infos: list[SubgraphInfo] = []
    for g, sg in enumerate(subgraphs):
        infos.append(_subgraph(r, sg, g, len(subgraphs), buffers, opcodes, tensors, ops))
    inputs, outputs = infos[0].inputs, infos[0].outputs

    weight_bytes = 0
    seen_buffers: set[int] = set()
    for tensor in tensors:
        if tensor.is_constant and tensor.buffer not in seen_buffers:
            seen_buffers.add(tensor.buffer)
            weight_bytes += buffers[tensor.buffer][1]
    return ModelInfo(
        name=name,
        path=path,
        data=data,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        schema_version=version,
        description=description,
        tensors=tuple(tensors),
        ops=tuple(ops),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        subgraph_count=len(subgraphs),
        weight_bytes=weight_bytes,
        total_macs=sum(op.macs for op in ops),
        op_histogram=dict(sorted(Counter(op.name for op in ops).items())),
        subgraphs=tuple(infos),
        buffer_spans=tuple(buffers),
    )


def _subgraph(
    r: _Reader,
    sg: _Table,
    g: int,
    count_subgraphs: int,
    buffers: list[tuple[int, int]],
    opcodes: list[tuple[int, int, str | None]],
    tensors: list[TensorInfo],
    ops: list[OpInfo],
) -> SubgraphInfo:
    """Appends subgraph g's tensors and ops (indices made global) to `tensors` and `ops`."""
    F = schema
    where = f"subgraph {g} " if g else ""
    base, op_base = len(tensors), len(ops)
    for i, t in enumerate(sg.tables(F.SubGraphField.TENSORS, f"{where}tensor")):
        tensors.append(_tensor(r, t, base + i, buffers))
    count = len(tensors) - base

    def check_indices(values: tuple[int, ...], what: str, allow_absent: bool) -> tuple[int, ...]:
        for v in values:
            if not (0 <= v < count or (allow_absent and v == -1)):
                raise _Corrupt(
                    f"{where}{what} refers to tensor {v}, but the {where or 'model '}has "
                    f"{count} tensors"
                )
        return tuple(v + base if v >= 0 else v for v in values)

    inputs = check_indices(
        sg.int_vector(F.SubGraphField.INPUTS, "subgraph inputs"), "the model input list", False
    )
    outputs = check_indices(
        sg.int_vector(F.SubGraphField.OUTPUTS, "subgraph outputs"), "the model output list", False
    )
    for i, t in enumerate(sg.tables(F.SubGraphField.OPERATORS, f"{where}operator")):
        idx = t.scalar(F.OperatorField.OPCODE_INDEX, "uint", 0)
        if idx >= len(opcodes):
            raise _Corrupt(
                f"{where}operator {i} uses operator code {idx}, but the model has {len(opcodes)}"
            )
        code, ver, custom = opcodes[idx]
        op_name = schema.builtin_name(code)
        op_in = check_indices(
            t.int_vector(F.OperatorField.INPUTS, f"operator {i} inputs"),
            f"operator {i} ({op_name}) input list",
            True,
        )
        op_out = check_indices(
            t.int_vector(F.OperatorField.OUTPUTS, f"operator {i} outputs"),
            f"operator {i} ({op_name}) output list",
            False,
        )
        opt_type = t.scalar(F.OperatorField.BUILTIN_OPTIONS_TYPE, "ubyte", 0)
        opt_name = (
            schema.BUILTIN_OPTIONS[opt_type]
            if opt_type < len(schema.BUILTIN_OPTIONS)
            else f"UNKNOWN_{opt_type}"
        )
        options: dict[str, Any] = {}
        if opt_name in schema.OPTION_TABLES:
            opt_table = t.table(F.OperatorField.BUILTIN_OPTIONS, f"operator {i} options")
            if opt_table is not None:
                options = _options(opt_table, schema.OPTION_TABLES[opt_name])
        for key, value in options.items():
            if key.endswith("_subgraph_index") and not 0 <= value < count_subgraphs:
                raise _Corrupt(
                    f"{where}operator {i} ({op_name}) runs subgraph {value}, but the model "
                    f"has {count_subgraphs}"
                )
        ops.append(
            OpInfo(
                index=len(ops),
                name=op_name,
                code=code,
                version=ver,
                inputs=op_in,
                outputs=op_out,
                options=options,
                custom_code=custom if code == schema.CUSTOM_CODE else None,
                macs=_macs(op_name, op_in, op_out, tensors),
                options_type=opt_name,
                subgraph=g,
            )
        )
    return SubgraphInfo(g, range(base, len(tensors)), range(op_base, len(ops)), inputs, outputs)


def _tensor(r: _Reader, t: _Table, i: int, buffers: list[tuple[int, int]]) -> TensorInfo:
    F = schema.TensorField
    shape = t.int_vector(F.SHAPE, f"tensor {i} shape")
    if len(shape) > MAX_RANK:
        raise _Corrupt(f"tensor {i} has rank {len(shape)}, more than {MAX_RANK}")
    if any(d < 0 for d in shape):
        raise _Corrupt(f"tensor {i} has a negative dimension in its shape {list(shape)}")
    type_code = t.scalar(F.TYPE, "byte", 0)
    if type_code not in schema.TENSOR_TYPES:
        raise _Corrupt(f"tensor {i} has unknown type code {type_code}")
    dtype = schema.tensor_type_name(type_code)
    name = t.string(F.NAME, f"tensor {i} name") or f"tensor_{i}"
    buffer = t.scalar(F.BUFFER, "uint", 0)
    if buffer >= max(len(buffers), 1):
        raise _Corrupt(
            f"tensor {i} ({name}) uses buffer {buffer}, but the model has {len(buffers)}"
        )
    elements = math.prod(shape)
    # a resource handle holds the int32 id of its variable (the C runtime's and TFLM's storage)
    nbytes = 4 * elements if dtype == "resource" else schema.tensor_nbytes(dtype, elements)
    if nbytes > MAX_TENSOR_BYTES:
        raise _Corrupt(f"tensor {i} ({name}) would be {nbytes} bytes, more than 2 GiB")
    data_len = buffers[buffer][1] if buffers else 0
    is_variable = bool(t.scalar(F.IS_VARIABLE, "bool", False))
    # a variable's buffer is an initial value runtimes ignore (TFLM zeroes variables): not a constant
    is_constant = data_len > 0 and not is_variable
    # Strings have no fixed size; sparse constants (TensorField.SPARSITY) are stored compressed.
    sized = dtype not in ("string", "resource", "variant")
    sparse = t.field_pos(F.SPARSITY, 4) is not None
    if is_constant and sized and not sparse and data_len != nbytes:
        raise _Corrupt(
            f"tensor {i} ({name}) has {data_len} bytes of data but its shape "
            f"{list(shape)} of {dtype} needs {nbytes}"
        )
    quant = None
    q = t.table(F.QUANTIZATION, f"tensor {i} quantization")
    if q is not None:
        QF = schema.QuantizationField
        s_start, s_n = q.vector(QF.SCALE, 4, f"tensor {i} scales")
        z_start, z_n = q.vector(QF.ZERO_POINT, 8, f"tensor {i} zero points")
        axis = q.scalar(QF.QUANTIZED_DIMENSION, "int", 0)
        if s_n:
            scales = struct.unpack_from(f"<{s_n}f", r.data, s_start)
            zps = struct.unpack_from(f"<{z_n}q", r.data, z_start) if z_n else (0,) * s_n
            if len(zps) != s_n:
                raise _Corrupt(f"tensor {i} ({name}) has {s_n} scales but {len(zps)} zero points")
            if s_n > 1 and axis >= 1 and len(shape) == 1 and shape[0] == s_n:
                # older converters wrote a per-channel bias with the filter's
                # quantized_dimension (3 for CONV_2D): one scale per element, as TFLM reads it
                axis = 0
            if s_n > 1:
                if not 0 <= axis < len(shape) or shape[axis] != s_n:
                    raise _Corrupt(
                        f"tensor {i} ({name}) has {s_n} per-channel scales along "
                        f"axis {axis} of shape {list(shape)}"
                    )
            quant = QuantInfo(
                scales=tuple(float(s) for s in scales),
                zero_points=tuple(int(z) for z in zps),
                axis=axis,
            )
    return TensorInfo(
        index=i,
        name=name,
        dtype=dtype,
        shape=tuple(shape),
        quant=quant,
        buffer=buffer,
        is_constant=is_constant,
        nbytes=nbytes,
        is_variable=is_variable,
        is_sparse=sparse,
    )


def _options(t: _Table, fields: tuple[schema.OptionField, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for slot, f in enumerate(fields):
        if f.kind == "[int]":
            out[f.name] = t.int_vector(slot, f"options field {f.name}")
            continue
        if f.kind == "string":
            out[f.name] = t.string(slot, f"options field {f.name}")
            continue
        value = t.scalar(slot, f.kind, f.default)
        out[f.name] = schema.enum_name(f.enum, value) if f.enum is not None else value
    return out


def _shape(tensors: list[TensorInfo], index: int) -> tuple[int, ...] | None:
    return tensors[index].shape if 0 <= index < len(tensors) else None


def _macs(
    name: str, inputs: tuple[int, ...], outputs: tuple[int, ...], tensors: list[TensorInfo]
) -> int:
    if not outputs:
        return 0
    out = _shape(tensors, outputs[0])
    if out is None:
        return 0
    out_elems = math.prod(out)
    if name == "CONV_2D" and len(inputs) > 1:
        w = _shape(tensors, inputs[1])
        return out_elems * math.prod(w[1:]) if w and len(w) == 4 else 0
    if name == "DEPTHWISE_CONV_2D" and len(inputs) > 1:
        w = _shape(tensors, inputs[1])
        return out_elems * w[1] * w[2] if w and len(w) == 4 else 0
    if name == "FULLY_CONNECTED" and len(inputs) > 1:
        w = _shape(tensors, inputs[1])
        return out_elems * w[-1] if w and len(w) >= 2 else 0
    if name == "TRANSPOSE_CONV" and len(inputs) > 2:
        w, x = _shape(tensors, inputs[1]), _shape(tensors, inputs[2])
        if w and x and len(w) == 4:
            return math.prod(x) * w[0] * w[1] * w[2]
        return 0
    if name == "CONV_3D" and len(inputs) > 1:
        w = _shape(tensors, inputs[1])  # [d, h, w, in, out]
        return out_elems * math.prod(w[:4]) if w and len(w) == 5 else 0
    if name == "BATCH_MATMUL" and len(inputs) > 1:
        a = _shape(tensors, inputs[0])
        return out_elems * a[-1] if a else 0
    if name in ("UNIDIRECTIONAL_SEQUENCE_LSTM", "LSTM") and len(inputs) > 8:
        # 4 gates x (input + recurrent) per unit, every step and batch row, + projection
        x, w, r = (_shape(tensors, inputs[k]) for k in (0, 2, 6))
        if not (x and w and r and len(w) == 2 and len(r) == 2 and len(x) >= 2):
            return 0
        rows = math.prod(x[:-1])  # steps x batch
        macs = rows * 4 * w[0] * (w[1] + r[1])
        p = _shape(tensors, inputs[16]) if len(inputs) > 16 else None
        if p and len(p) == 2:
            macs += rows * p[0] * p[1]
        return macs
    if name == "SVDF" and len(inputs) > 2:
        # feature matrix [filters, input] per batch row + time weights [filters, memory]
        x, wf, wt = (_shape(tensors, inputs[k]) for k in (0, 1, 2))
        if not (x and wf and wt and len(wf) == 2 and len(wt) == 2):
            return 0
        return x[0] * (wf[0] * wf[1] + wt[0] * wt[1])
    return 0
