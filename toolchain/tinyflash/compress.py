"""Compressed weights in flash: detection, encoding and the rewritten model bytes `generate` embeds.

The weights of CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED and TRANSPOSE_CONV (int8 activations)
may be stored as a "TFZ1" blob in place of their elements; the C runtime checks the blob when it
reads the model and the kernels decode it a few output channels at a time onto a small stack
buffer, or multiply straight from it (firmware/runtime/src/kernels/tfl_kernel_wz.h has the byte
layout, mirrored here). Encodings:

- palette: every value of a row (output channel) is an index of `bits` bits into a table of 2^bits
  int8 values: one table for the tensor, one per row, or (depthwise) one per channel of the last
  dimension. Pays off for clustered weights (16 values: 4-bit indices).
- sparse: per row, a bitmask of the non-zero elements and their values. Pays off for pruned weights.

`analyze` reports, per weight tensor, the distinct values, sparsity, best encoding and its size;
`compress_model` rewrites the model with the encodings `analyze` chose (`mode="auto"`) or leaves it
byte for byte unchanged (`mode="off"`, or nothing worth encoding). Auto encodes a tensor only when
its blob is at most AUTO_RATIO of the dense bytes: ordinary int8 weights (100+ distinct values per
channel, few zeros) never get there, so unclustered models are left as they are.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError, option
from tinyflash.model import ModelInfo, OpInfo, TensorInfo

#: Most stack bytes a compressed-weight eval decodes into (TFL_WZ_STACK_BYTES, which generate
#: sets to what the model needs, `Compressed.stack_bytes`): one row (output channel) of CONV_2D /
#: FULLY_CONNECTED, or a whole DEPTHWISE_CONV_2D filter, must fit.
STACK_BYTES = 8192
#: auto encodes a tensor only when its blob is at most this fraction of the dense bytes
AUTO_RATIO = 0.75
MODES = ("auto", "off")

MAGIC = b"TFZ1"
HEADER = 16
PALETTE = 1
SPARSE = 2

_WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")
#: the activations' input of each (TRANSPOSE_CONV's input 0 is the output shape)
_ACTIVATIONS = {"CONV_2D": 0, "DEPTHWISE_CONV_2D": 0, "FULLY_CONNECTED": 0, "TRANSPOSE_CONV": 2}


@dataclass(frozen=True)
class TensorReport:
    """One weight tensor: what it holds and the encoding `compress_model` gives it."""

    tensor: int
    name: str
    op: str
    elements: int
    distinct: int  # distinct values in the whole tensor
    distinct_channel: int  # most distinct values of one output channel
    sparsity: float  # fraction of zeros
    encoding: str  # "dense" or e.g. "palette 4-bit per-tensor", "sparse"
    dense_bytes: int
    size: int  # bytes of the chosen encoding (dense_bytes when dense)
    blob: bytes = b""
    rows: int = 1  # output channels the kernel decodes one at a time (1: the whole tensor)

    @property
    def saved(self) -> int:
        return self.dense_bytes - self.size

    def to_dict(self) -> dict[str, Any]:
        """Every field but the blob and the row count, with the sparsity rounded and `saved`."""
        out = {k: v for k, v in _fields(self).items() if k not in ("blob", "rows", "size")}
        return {**out, "bytes": self.size, "sparsity": round(self.sparsity, 4), "saved": self.saved}


@dataclass(frozen=True)
class Compressed:
    """The model bytes to embed and what was done to them."""

    data: bytes
    dense_bytes: int  # the model file's size
    tensors: tuple[TensorReport, ...]

    @property
    def saved(self) -> int:
        return self.dense_bytes - len(self.data)

    @property
    def compressed_count(self) -> int:
        return sum(1 for t in self.tensors if t.encoding != "dense")

    @property
    def stack_bytes(self) -> int:
        """TFL_WZ_STACK_BYTES for this model (0: nothing compressed): a whole CONV_2D,
        DEPTHWISE_CONV_2D or TRANSPOSE_CONV tensor when it fits STACK_BYTES (else, CONV_2D, the
        most whole channels that do: the kernel decodes a few at a time, rebuilding its im2col
        patch per pass), four FULLY_CONNECTED rows (their input row is expanded once for all
        passes)."""
        need = 0
        for t in self.tensors:
            if t.encoding == "dense":
                continue
            row = t.elements // t.rows
            want = min(t.elements, 4 * row) if t.op == "FULLY_CONNECTED" else t.elements
            need = max(need, min(want, STACK_BYTES // row * row))
        return (need + 15) // 16 * 16


# ---- encodings ---------------------------------------------------------------------------


def _bits_for(count: int) -> int:
    return max(1, math.ceil(math.log2(count))) if count > 1 else 1


def _header(scheme: int, bits: int, axis: int, rows: int, count: int) -> bytes:
    return MAGIC + struct.pack("<BBBBII", scheme, bits, axis, 0, rows, count)


def _pack_rows(indices: np.ndarray, bits: int) -> bytes:
    """indices (rows, row_len), each row's indices LSB first from a byte boundary."""
    shifts = np.arange(bits, dtype=np.uint16)
    planes = (indices.astype(np.uint16)[:, :, None] >> shifts) & 1
    flat = planes.reshape(indices.shape[0], -1).astype(np.uint8)
    return np.packbits(flat, axis=1, bitorder="little").tobytes()


def _tables(groups: list[np.ndarray], bits: int) -> tuple[bytes, list[np.ndarray]]:
    """One table of 2^bits values per group (sorted distinct values, zero padded) and each
    group's indices into its table."""
    tables, indices = [], []
    for g in groups:
        values = np.unique(g)
        table = np.zeros(1 << bits, np.int8)
        table[: len(values)] = values
        tables.append(table.tobytes())
        indices.append(np.searchsorted(values, g).astype(np.uint16))
    return b"".join(tables), indices


def palette_rows(w: np.ndarray, rows: int, per_row: bool) -> bytes:
    """Palette blob of the int8 tensor w as `rows` rows, one table per row or one in all."""
    m = w.reshape(rows, -1)
    groups = [m[r] for r in range(rows)] if per_row else [m.ravel()]
    bits = _bits_for(max(len(np.unique(g)) for g in groups))
    tables, idx = _tables(groups, bits)
    indices = np.stack(idx) if per_row else idx[0].reshape(rows, -1)
    body = tables + _pack_rows(indices, bits)
    return _header(PALETTE, bits, 0, rows, len(groups)) + body


def palette_last_axis(w: np.ndarray) -> bytes:
    """Palette blob with one table per channel of the last dimension (one row)."""
    channels = w.shape[-1]
    m = w.reshape(-1, channels)
    groups = [m[:, c] for c in range(channels)]
    bits = _bits_for(max(len(np.unique(g)) for g in groups))
    tables, idx = _tables(groups, bits)
    indices = np.stack(idx, axis=1).reshape(1, -1)
    return _header(PALETTE, bits, 1, 1, channels) + tables + _pack_rows(indices, bits)


def sparse_rows(w: np.ndarray, rows: int) -> bytes:
    """Sparse blob: per row the bitmask of non-zero elements, then all non-zero values."""
    m = w.reshape(rows, -1)
    nonzero = m != 0
    counts = nonzero.sum(axis=1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype("<u4")
    masks = np.packbits(nonzero, axis=1, bitorder="little").tobytes()
    values = m[nonzero].astype(np.int8).tobytes()
    return _header(SPARSE, 0, 0, rows, int(counts.sum())) + starts.tobytes() + masks + values


def decode(blob: bytes, shape: tuple[int, ...]) -> np.ndarray:
    """The int8 tensor of `shape` a blob holds (the runtime's decode, for checks and tests).
    Raises ValueError on a blob the runtime's tfl_wz_check would refuse."""
    elements = math.prod(shape)
    if len(blob) < HEADER or blob[:4] != MAGIC or not shape or elements <= 0:
        raise ValueError("not a TFZ1 blob for this shape")
    scheme, bits, axis, pad, rows, count = struct.unpack_from("<BBBBII", blob, 4)
    if pad != 0 or rows == 0 or rows > elements or elements % rows != 0:
        raise ValueError("bad rows")
    row_len = elements // rows
    body = np.frombuffer(blob, np.uint8, offset=HEADER)
    if scheme == PALETTE:
        if not 1 <= bits <= 8 or count == 0:
            raise ValueError("bad palette")
        if axis == 0 and count not in (1, rows) or axis == 1 and (rows != 1 or count != shape[-1]):
            raise ValueError("bad tables")
        if axis not in (0, 1):
            raise ValueError("bad axis")
        row_bytes = (row_len * bits + 7) // 8
        if HEADER + (count << bits) + rows * row_bytes != len(blob):
            raise ValueError("bad length")
        tables = body[: count << bits].view(np.int8).reshape(count, 1 << bits)
        packed = body[count << bits :].reshape(rows, row_bytes)
        planes = np.unpackbits(packed, axis=1, bitorder="little")[:, : row_len * bits]
        idx = (planes.reshape(rows, row_len, bits).astype(np.uint16) << np.arange(bits)).sum(2)
        if axis == 1:
            chan = np.arange(elements) % count
            out = tables[chan, idx.ravel()]
        elif count == 1:
            out = tables[0][idx]
        else:
            out = np.take_along_axis(tables, idx.astype(np.intp), axis=1)
        return np.asarray(out, np.int8).reshape(shape)
    if scheme != SPARSE or bits != 0 or axis != 0 or count > elements:
        raise ValueError("bad scheme")
    mask_row = (row_len + 7) // 8
    if HEADER + 4 * rows + rows * mask_row + count != len(blob):
        raise ValueError("bad length")
    starts = np.frombuffer(blob, "<u4", count=rows, offset=HEADER)
    masks = body[4 * rows : 4 * rows + rows * mask_row].reshape(rows, mask_row)
    bitsset = np.unpackbits(masks, axis=1, bitorder="little")
    if bitsset[:, row_len:].any():
        raise ValueError("padding bits set")
    nonzero = bitsset[:, :row_len].astype(bool)
    expect = np.concatenate([[0], np.cumsum(nonzero.sum(1))[:-1]])
    if not np.array_equal(starts, expect) or int(nonzero.sum()) != count:
        raise ValueError("bad starts")
    out = np.zeros((rows, row_len), np.int8)
    out[nonzero] = body[4 * rows + rows * mask_row :].view(np.int8)
    return out.reshape(shape)


# ---- detection ---------------------------------------------------------------------------


def _candidates(op: str, w: np.ndarray) -> list[tuple[str, bytes]]:
    """(encoding name, blob) of every encoding the runtime can decode for this op's weights and
    that is shorter than the dense tensor (the runtime reads a buffer of the tensor's size as
    its elements)."""
    return [(name, blob) for name, blob in _encodings(op, w) if len(blob) < w.size]


def _encodings(op: str, w: np.ndarray) -> list[tuple[str, bytes]]:
    if op == "DEPTHWISE_CONV_2D":
        if w.size > STACK_BYTES:
            return []
        return [
            (_palette_name(palette_rows(w, 1, False), "tensor"), palette_rows(w, 1, False)),
            (_palette_name(palette_last_axis(w), "channel"), palette_last_axis(w)),
            ("sparse", sparse_rows(w, 1)),
        ]
    rows = w.shape[0]
    if w.size // rows > STACK_BYTES or op == "TRANSPOSE_CONV" and w.size > STACK_BYTES:
        return []  # TRANSPOSE_CONV decodes its whole filter
    tensor, per_row = palette_rows(w, rows, False), palette_rows(w, rows, True)
    return [
        (_palette_name(tensor, "tensor"), tensor),
        (_palette_name(per_row, "channel"), per_row),
        ("sparse", sparse_rows(w, rows)),
    ]


def _palette_name(blob: bytes, where: str) -> str:
    return f"palette {blob[5]}b/{where}"


def _weight_uses(info: ModelInfo) -> dict[int, list[tuple[OpInfo, int]]]:
    uses: dict[int, list[tuple[OpInfo, int]]] = {}
    for op in info.ops:
        for slot, t in enumerate(op.inputs):
            if t >= 0:
                uses.setdefault(t, []).append((op, slot))
    return uses


def _eligible(info: ModelInfo, t: TensorInfo, uses: list[tuple[OpInfo, int]]) -> str | None:
    """The op whose weights t is, when the runtime can decode it there (int8 constant, read only
    as input 1 of one CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / TRANSPOSE_CONV with int8
    activations)."""
    if t.dtype != "int8" or not t.is_constant or t.is_sparse or t.is_variable or len(uses) != 1:
        return None
    op, slot = uses[0]
    if op.name not in _WEIGHT_OPS or slot != 1 or len(op.inputs) <= _ACTIVATIONS[op.name]:
        return None
    if info.tensors[op.inputs[_ACTIVATIONS[op.name]]].dtype != "int8":
        return None
    expected = 4 if op.name != "FULLY_CONNECTED" else 2
    if len(t.shape) != expected or t.elements == 0:
        return None
    return op.name


def _tensor_values(data: bytes, t: TensorInfo, offsets: dict[int, tuple[int, int]]) -> np.ndarray:
    start, size = offsets[t.buffer]
    return np.frombuffer(data, np.int8, count=size, offset=start).reshape(t.shape)


def analyze(info: ModelInfo, data: bytes | None = None) -> tuple[TensorReport, ...]:
    """Per weight tensor the runtime could decode compressed: distinct values, sparsity and the
    smallest encoding (`encoding` is "dense" when none is at most AUTO_RATIO of the dense
    bytes)."""
    data = bytes(info.data) if data is None else data
    buffers = _buffer_spans(data)
    owners: dict[int, int] = {}
    for t in info.tensors:
        owners[t.buffer] = owners.get(t.buffer, 0) + 1
    uses = _weight_uses(info)
    reports = []
    for t in info.tensors:
        op = _eligible(info, t, uses.get(t.index, []))
        if op is None or owners.get(t.buffer) != 1 or t.buffer not in buffers:
            continue
        if buffers[t.buffer][1] != t.elements:
            continue
        w = _tensor_values(data, t, buffers)
        channels = (
            w.reshape(-1, w.shape[-1]).T if op == "DEPTHWISE_CONV_2D" else w.reshape(w.shape[0], -1)
        )
        best_name, best = "dense", b""
        for name, blob in _candidates(op, w):
            if len(blob) <= AUTO_RATIO * t.elements and (not best or len(blob) < len(best)):
                best_name, best = name, blob
        reports.append(
            TensorReport(
                tensor=t.index,
                name=t.name,
                op=op,
                elements=t.elements,
                distinct=len(np.unique(w)),
                distinct_channel=max(len(np.unique(c)) for c in channels),
                sparsity=float(np.count_nonzero(w == 0)) / t.elements,
                encoding=best_name,
                dense_bytes=t.elements,
                size=len(best) if best else t.elements,
                blob=best,
                rows=1 if op == "DEPTHWISE_CONV_2D" else t.shape[0],
            )
        )
    return tuple(reports)


def compress_model(
    info: ModelInfo, mode: str = "auto", dense: frozenset[int] = frozenset()
) -> Compressed:
    """The model bytes to embed: with mode "auto" every tensor `analyze` encodes is replaced by
    its blob (the model re-serialized), but the tensors in `dense` (weights another part of the
    firmware reads in place: generate --aot's bodies); with "off", or when nothing is encoded,
    the model's own bytes unchanged."""
    if mode not in MODES:
        raise TinyflashError(
            f"{option('compress')} must be {' or '.join(MODES)}, not {mode!r}", EXIT_BAD_INPUT
        )
    data = bytes(info.data)
    reports = analyze(info, data) if info.subgraph_count == 1 else ()
    reports = tuple(
        TensorReport(**{**_fields(r), "encoding": "dense", "size": r.dense_bytes, "blob": b""})
        if mode == "off" or r.tensor in dense
        else r
        for r in reports
    )
    chosen = {info.tensors[r.tensor].buffer: r.blob for r in reports if r.blob}
    if not chosen:
        return Compressed(data, len(data), reports)
    return Compressed(_rewrite(data, chosen), len(data), reports)


def _fields(r: TensorReport) -> dict[str, Any]:
    return {f: getattr(r, f) for f in r.__dataclass_fields__}


# ---- flatbuffer plumbing -----------------------------------------------------------------


def _schema() -> Any:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


def _buffer_spans(data: bytes) -> dict[int, tuple[int, int]]:
    """Buffer index -> (offset of its data in the file, length) for buffers with inline data."""
    model = _schema().Model.GetRootAs(data, 0)
    spans = {}
    for i in range(model.BuffersLength()):
        b = model.Buffers(i)
        field = b._tab.Offset(4)  # Buffer.data
        if field and b.DataLength():
            spans[i] = (b._tab.Vector(field), b.DataLength())
    return spans


def _rewrite(data: bytes, blobs: dict[int, bytes]) -> bytes:
    """The model with the data of the buffers in `blobs` replaced, every buffer's data 16-byte
    aligned (the runtime reads int32/int64 constants in place)."""
    import flatbuffers

    s = _schema()
    model = s.ModelT.InitFromPackedBuf(bytearray(data), 0)
    if any(b.offset > 1 for b in model.buffers or []):
        return data  # buffers outside the flatbuffer (>2 GB models): left as they are
    for i, b in enumerate(model.buffers or []):
        payload = blobs.get(i)
        raw = (
            np.frombuffer(payload, np.uint8)
            if payload is not None
            else (None if b.data is None else np.asarray(b.data, np.uint8))
        )
        aligned = _AlignedBuffer()
        aligned.data, aligned.offset, aligned.size = raw, b.offset, b.size
        model.buffers[i] = aligned
    builder = flatbuffers.Builder(len(data))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


class _AlignedBuffer:
    """A Buffer whose data vector starts 16-byte aligned (what TFLite's own writer does)."""

    data: np.ndarray | None = None
    offset: int = 0
    size: int = 0

    def Pack(self, builder: Any) -> int:  # noqa: N802 - the flatbuffers object API's name
        s = _schema()
        vector = None
        if self.data is not None:
            payload = self.data.tobytes()
            builder.StartVector(1, len(payload), 16)
            builder.head = builder.head - len(payload)
            builder.Bytes[builder.head : builder.head + len(payload)] = payload
            builder.vectorNumElems = len(payload)
            vector = builder.EndVector()
        s.BufferStart(builder)
        if vector is not None:
            s.BufferAddData(builder, vector)
        s.BufferAddOffset(builder, self.offset)
        s.BufferAddSize(builder, self.size)
        return int(s.BufferEnd(builder))
