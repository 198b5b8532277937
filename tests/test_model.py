"""model.py: the flatbuffer reader on the shared MLPerf Tiny models (cross-checked against TFLite's
own generated schema reader), hand-made models (support.tflbuilder), and corruption fuzzing:
any malformed input raises TinyflashError and nothing else."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import SHARED_MODEL_NAMES, shared_model_path
from support.tflbuilder import Op, Spec, T, conv_spec, write_model
from tinyflash import schema
from tinyflash.errors import TinyflashError
from tinyflash.model import ModelInfo, load_model, parse_model
from tinyflash.opcheck import check_model
from tinyflash.plan import plan_memory, verify_plan


@pytest.fixture(scope="module")
def tiny() -> bytes:
    return write_model(conv_spec())


# ---- the tiny hand-written model ------------------------------------------------------------


def test_tiny_model_fields(tiny: bytes) -> None:
    info = parse_model(tiny, "tiny")
    assert info.schema_version == 3 and info.description == "tinyflash test model"
    assert [op.name for op in info.ops] == ["CONV_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    conv = info.ops[0]
    assert conv.code == 3 and conv.version == 1 and conv.inputs == (0, 1, 2)
    assert conv.options == {
        "padding": "SAME",
        "stride_w": 2,
        "stride_h": 2,
        "fused_activation_function": "RELU",
        "dilation_w_factor": 1,
        "dilation_h_factor": 1,
        "quantized_bias_type": 0,
    }
    assert conv.macs == 1 * 3 * 3 * 8 * (3 * 3 * 3)
    assert info.ops[2].options["keep_num_dims"] is True
    assert info.ops[2].macs == 4 * 72
    assert info.ops[3].options == {"beta": 1.0} and info.ops[3].macs == 0
    w = info.tensors[1]
    assert w.quant is not None and w.quant.per_channel and w.quant.axis == 0
    assert w.quant.scales == pytest.approx(tuple(0.01 * (k + 1) for k in range(8)))
    assert w.is_constant and w.nbytes == 8 * 27 and w.dtype == "int8"
    inp = info.tensors[0]
    assert inp.quant.zero_points == (-3,) and not inp.quant.per_channel and not inp.is_constant
    assert info.tensors[4].quant is None and info.tensors[4].dtype == "int32"
    assert info.inputs == (0,) and info.outputs == (9,)
    assert info.weight_bytes == 8 * 27 + 8 * 4 + 8 + 4 * 72 + 16
    assert info.total_macs == conv.macs + 4 * 72
    assert info.op_histogram == {"CONV_2D": 1, "FULLY_CONNECTED": 1, "RESHAPE": 1, "SOFTMAX": 1}
    assert info.size_bytes == len(tiny) and len(info.sha256) == 64
    assert check_model(info).deployable


def test_transpose_conv_and_depthwise_macs() -> None:
    """TRANSPOSE_CONV: every input element meets kh x kw x out_channels weights;
    DEPTHWISE_CONV_2D: every output element is a kh x kw dot product."""
    tensors = [
        T((1, 3, 3, 4), name="x"),
        T((4,), "int32", data=struct.pack("<4i", 1, 6, 6, 2), scales=None, name="out_shape"),
        T((2, 3, 3, 4), data=bytes(72), scales=(0.1, 0.2), name="tw"),
        T((1, 6, 6, 2), name="up"),
        T((1, 3, 3, 2), data=bytes(18), scales=(0.1, 0.2), axis=3, name="dw"),
        T((1, 6, 6, 2), name="y"),
    ]
    ops = [
        Op(
            "TRANSPOSE_CONV",
            (1, 2, 0),
            (3,),
            ("TransposeConvOptions", {0: ("byte", 0), 1: ("int", 2), 2: ("int", 2)}),
        ),
        Op(
            "DEPTHWISE_CONV_2D",
            (3, 4, -1),
            (5,),
            ("DepthwiseConv2DOptions", {1: ("int", 1), 2: ("int", 1), 3: ("int", 1)}),
        ),
    ]
    info = parse_model(write_model(Spec(tensors, ops, inputs=(0,), outputs=(5,))), "tconv")
    assert info.ops[0].macs == (3 * 3 * 4) * (3 * 3 * 2)
    assert info.ops[0].options == {
        "padding": "SAME",
        "stride_w": 2,
        "stride_h": 2,
        "fused_activation_function": "NONE",
        "quantized_bias_type": 0,
    }
    assert info.ops[1].macs == (6 * 6 * 2) * (3 * 3) and info.ops[1].inputs[2] == -1
    assert info.ops[1].options["depth_multiplier"] == 1
    assert info.tensors[4].quant.axis == 3 and info.tensors[4].quant.per_channel
    plan = plan_memory(info)
    verify_plan(info, plan)
    assert plan.pool_words == 2 * 2 + 2 * 2


def test_opcode_is_max_of_deprecated_and_builtin_code() -> None:
    """Codes above 127 live only in builtin_code (deprecated_builtin_code holds 127)."""
    spec = conv_spec()
    spec.ops[3] = Op("HARD_SWISH", (8,), (9,))
    info = parse_model(write_model(spec), "hs")
    assert info.ops[3].name == "HARD_SWISH" and info.ops[3].code == 117
    spec.ops[3] = Op("GELU", (8,), (9,))  # 150 > 127
    info = parse_model(write_model(spec), "gelu")
    assert info.ops[3].name == "GELU" and info.ops[3].code == 150


def test_custom_op_name(tiny: bytes) -> None:
    spec = conv_spec()
    spec.ops[3] = Op("CUSTOM", (8,), (9,), custom_code="MySoftmax")
    info = parse_model(write_model(spec), "custom")
    assert info.ops[3].name == "CUSTOM" and info.ops[3].custom_code == "MySoftmax"
    report = check_model(info)
    assert not report.deployable
    assert report.offenders == (
        "op 3 CUSTOM is the custom op 'MySoftmax', which neither "
        "TFLITE_BUILTINS_INT8 nor the tinyflash runtime provides — rebuild "
        "the model from builtin ops",
    )


def test_sparse_weights_parse_and_are_refused() -> None:
    spec = conv_spec()
    spec.tensors[6].data = bytes(40)  # compressed: fewer bytes than 4 x 72
    spec.tensors[6].sparse = True
    info = parse_model(write_model(spec), "sparse")
    assert info.tensors[6].is_sparse and not info.tensors[1].is_sparse
    report = check_model(info)
    assert report.offenders == (
        "op 2 FULLY_CONNECTED has the sparse constant tensor 6 'fc/w', "
        "which the tinyflash runtime does not decompress — convert "
        "without sparsity (no EXPERIMENTAL_SPARSITY optimization)",
    )
    spec.tensors[6].sparse = False  # the same bytes without sparsity: a size mismatch
    with pytest.raises(TinyflashError, match="has 40 bytes of data but its shape"):
        parse_model(write_model(spec), "dense")


# ---- hand-made structural errors: each a TinyflashError naming what is wrong -----------------


def _broken(mutate: Any) -> str:
    spec = conv_spec()
    mutate(spec)
    with pytest.raises(TinyflashError) as caught:
        parse_model(write_model(spec), "broken", "broken.tflite")
    assert caught.value.exit_code == 2
    assert caught.value.message.startswith("broken.tflite ")
    return caught.value.message


def test_structural_errors() -> None:
    assert "refers to tensor 99" in _broken(lambda s: setattr(s.ops[1], "inputs", (3, 99)))
    assert "refers to tensor 12" in _broken(lambda s: setattr(s, "outputs", (12,)))
    assert "negative dimension" in _broken(lambda s: setattr(s.tensors[3], "shape", (1, -3, 3, 8)))
    assert "rank 40" in _broken(lambda s: setattr(s.tensors[3], "shape", (1,) * 40))
    assert "has 16 bytes of data but its shape" in _broken(
        lambda s: setattr(s.tensors[7], "data", bytes(16)) or setattr(s.tensors[7], "shape", (5,))
    )
    assert "3 per-channel scales along axis 0" in _broken(
        lambda s: setattr(s.tensors[1], "scales", (0.1, 0.2, 0.3))
    )
    assert "more than 2 GiB" in _broken(lambda s: setattr(s.tensors[3], "shape", (1 << 16,) * 3))


def test_not_a_model(tmp_path) -> None:
    for data, words in (
        (b"", "only 0 bytes"),
        (b"\x00" * 7, "only 7 bytes"),
        (b"\x10\x00\x00\x00TFL2" + bytes(32), "not b'TFL3'"),
    ):
        with pytest.raises(TinyflashError, match=words):
            parse_model(data, "x")
    with pytest.raises(TinyflashError, match="no such file"):
        load_model(tmp_path / "missing.tflite")
    with pytest.raises(TinyflashError, match="is a directory"):
        load_model(tmp_path)
    with pytest.raises(TinyflashError, match="lies outside"):
        parse_model(b"\xf0\xff\x00\x00TFL3" + bytes(8), "x")


# ---- the shared MLPerf Tiny models --------------------------------------------------------

EXPECTED = {
    # name: (ops, histogram, MACs, input shape, output shape)
    "ad01_int8": (10, {"FULLY_CONNECTED": 10}, 264_192, (1, 640), (1, 640)),
    "kws_ref_model": (
        13,
        {
            "AVERAGE_POOL_2D": 1,
            "CONV_2D": 5,
            "DEPTHWISE_CONV_2D": 4,
            "FULLY_CONNECTED": 1,
            "RESHAPE": 1,
            "SOFTMAX": 1,
        },
        2_656_768,
        (1, 49, 10, 1),
        (1, 12),
    ),
    "pretrainedResnet_quant": (
        16,
        {
            "ADD": 3,
            "AVERAGE_POOL_2D": 1,
            "CONV_2D": 9,
            "FULLY_CONNECTED": 1,
            "RESHAPE": 1,
            "SOFTMAX": 1,
        },
        12_501_632,
        (1, 32, 32, 3),
        (1, 10),
    ),
}


@pytest.mark.parametrize("name", SHARED_MODEL_NAMES)
def test_shared_model_summary(name: str) -> None:
    info = load_model(shared_model_path(name))
    n_ops, histogram, macs, in_shape, out_shape = EXPECTED[name]
    assert len(info.ops) == n_ops and info.op_histogram == histogram
    assert info.total_macs == macs == sum(op.macs for op in info.ops)
    assert info.tensors[info.inputs[0]].shape == in_shape
    assert info.tensors[info.outputs[0]].shape == out_shape
    assert info.tensors[info.inputs[0]].dtype == info.tensors[info.outputs[0]].dtype == "int8"
    assert info.subgraph_count == 1 and info.schema_version == 3
    # Independent MAC count from the shapes: conv = out * kh*kw*in_c, dw = out * kh*kw.
    for op in info.ops:
        out = math.prod(info.tensors[op.outputs[0]].shape)
        if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            w = info.tensors[op.inputs[1]].shape
            if op.name == "FULLY_CONNECTED":
                per_output = w[1]
            elif op.name == "CONV_2D":
                per_output = w[1] * w[2] * w[3]
            else:
                per_output = w[1] * w[2]
            assert op.macs == out * per_output
            assert info.tensors[op.inputs[1]].is_constant
        else:
            assert op.macs == 0


def _generated_schema():  # TFLite's flatc-generated reader, as shipped with tflite-micro
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

    return fb


@pytest.mark.parametrize("name", SHARED_MODEL_NAMES)
def test_shared_model_matches_tflite_schema_reader(name: str) -> None:
    """Every tensor and op as TFLite's generated reader sees it (an independent implementation)."""
    fb = _generated_schema()
    path = shared_model_path(name)
    info = load_model(path)
    model = fb.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
    sg = model.subgraphs[0]
    assert len(sg.tensors) == len(info.tensors)
    for ours, theirs in zip(info.tensors, sg.tensors):
        assert ours.name == theirs.name.decode()
        assert ours.shape == tuple(int(d) for d in theirs.shape)
        assert ours.dtype == schema.tensor_type_name(theirs.type)
        assert ours.buffer == theirs.buffer
        data = model.buffers[theirs.buffer].data
        assert ours.is_constant == (data is not None and len(data) > 0)
        q = theirs.quantization
        if q is None or q.scale is None or len(q.scale) == 0:
            assert ours.quant is None
        else:
            assert ours.quant.scales == tuple(float(s) for s in q.scale)
            assert ours.quant.zero_points == tuple(int(z) for z in q.zeroPoint)
            assert ours.quant.axis == q.quantizedDimension
    for ours, theirs in zip(info.ops, sg.operators):
        code = model.operatorCodes[theirs.opcodeIndex]
        assert ours.code == max(code.builtinCode, code.deprecatedBuiltinCode)
        assert ours.inputs == tuple(int(i) for i in theirs.inputs)
        assert ours.outputs == tuple(int(i) for i in theirs.outputs)
        opts = theirs.builtinOptions
        for key, value in ours.options.items():
            camel = "".join(p.capitalize() if i else p for i, p in enumerate(key.split("_")))
            their_value = getattr(opts, camel)
            if key == "padding":
                their_value = schema.PADDING[their_value]
            elif key == "fused_activation_function":
                their_value = schema.ACTIVATIONS[their_value]
            elif key == "weights_format":
                their_value = schema.FC_WEIGHTS_FORMATS[their_value]
            assert value == their_value, (ours.index, key)
    assert list(info.inputs) == list(sg.inputs) and list(info.outputs) == list(sg.outputs)


def test_schema_tables_match_tflite() -> None:
    """The written-out code tables agree with TFLite's schema (facts, checked)."""
    fb = _generated_schema()
    for code, name in enumerate(schema.BUILTIN_OPERATORS):
        assert getattr(fb.BuiltinOperator, name) == code
    for code, name in enumerate(schema.BUILTIN_OPTIONS):
        assert getattr(fb.BuiltinOptions, name) == code
    for code, (name, _) in schema.TENSOR_TYPES.items():
        assert getattr(fb.TensorType, name.upper()) == code


# ---- fuzzing: mutations never escape as anything but TinyflashError ------------------------


def _must_fail_cleanly(data: bytes) -> ModelInfo | None:
    try:
        info = parse_model(data, "fuzz", "fuzz.tflite")
    except TinyflashError as error:
        assert error.exit_code == 2 and error.message.startswith("fuzz.tflite ")
        assert "\n" not in error.message
        return None
    # What parses must also check and plan without crashing, and the plan must be sound.
    check_model(info)
    plan = plan_memory(info)
    verify_plan(info, plan)
    return info


_FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _structure_span(data: bytes) -> tuple[int, int]:
    """From the end of the last buffer's data to the end of the file: where the converter writes
    the operator, tensor and quantization tables (the weights of big models would otherwise soak
    up most uniformly drawn positions)."""
    from tinyflash.model import _Reader

    r = _Reader(data)
    root = r.table(r.u32(0, "root"), "model")
    end = 0
    for buffer in root.tables(4, "buffer"):
        pos = buffer.field_pos(0, 4)
        if pos is not None:
            start, n = r.vector(pos, 1, "data")
            end = max(end, start + n)
    return min(end, len(data) - 8), len(data)


def _mutations(data: bytes) -> st.SearchStrategy[bytes]:
    n = len(data)
    lo, hi = _structure_span(data)
    where = st.one_of(st.integers(0, n - 1), st.integers(lo, hi - 1), st.integers(0, 63))
    flips = st.lists(st.tuples(where, st.integers(1, 255)), min_size=1, max_size=8).map(
        lambda fs: _apply(data, fs)
    )
    truncations = st.integers(0, n - 1).map(lambda k: data[:k])
    words = st.lists(
        st.tuples(
            st.one_of(
                st.integers(0, max(n - 4, 0) // 4), st.integers(lo // 4, max(hi - 4, 0) // 4)
            ),
            st.sampled_from(
                [0, 1, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, n, n - 4, 4, 0xFFFF, 0x10000]
            ),
        ),
        min_size=1,
        max_size=4,
    ).map(lambda ws: _put_words(data, ws))
    return st.one_of(flips, truncations, words)


def _apply(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for pos, xor in flips:
        out[pos] ^= xor
    return bytes(out)


def _put_words(data: bytes, words: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for slot, value in words:
        out[4 * slot : 4 * slot + 4] = value.to_bytes(4, "little")
    return bytes(out)


@st.composite
def _tiny_mutation(draw: st.DrawFn) -> bytes:
    return draw(_mutations(write_model(conv_spec())))


@_FUZZ
@given(_tiny_mutation())
def test_fuzz_tiny_model(data: bytes) -> None:
    _must_fail_cleanly(data)


_SHARED_CACHE: dict[str, bytes] = {}


def _shared_bytes(name: str) -> bytes:
    if name not in _SHARED_CACHE:
        _SHARED_CACHE[name] = shared_model_path(name).read_bytes()
    return _SHARED_CACHE[name]


@pytest.mark.parametrize("name", ["kws_ref_model", "pretrainedResnet_quant"])
def test_fuzz_shared_model(name: str) -> None:
    data = _shared_bytes(name)
    # The metadata-free structure sits after the weights; mutate anywhere (including weights).

    @settings(
        max_examples=100,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(_mutations(data))
    def run(mutated: bytes) -> None:
        _must_fail_cleanly(mutated)

    run()


def test_every_truncation_of_tiny_model_fails_cleanly(tiny: bytes) -> None:
    for k in range(len(tiny)):
        assert _must_fail_cleanly(tiny[:k]) is None


def test_hostile_shared_vector_is_budgeted() -> None:
    """Thousands of tensor names all pointing at one 200 kB string: flatbuffers allow it, a naive
    reader decodes 400 MB; ours stops at its element budget with one sentence."""
    import time

    from tinyflash.model import _Reader

    n, big = 2000, 200_000
    spec = Spec(
        [T((big,), "uint8", data=bytes(big), scales=None, name="blob")]
        + [T((1,), name=f"x{i}") for i in range(n)],
        [],
        inputs=(1,),
        outputs=(1,),
    )
    data = bytearray(write_model(spec))
    assert len(parse_model(bytes(data), "ok").tensors) == n + 1
    r = _Reader(bytes(data))
    root = r.table(r.u32(0, "root"), "model")
    blob = r.deref(root.tables(4, "buffer")[1].field_pos(0, 4), "blob")  # the 200 kB vector
    sg = root.tables(2, "subgraph")[0]
    for tensor in sg.tables(0, "tensor")[1:]:
        pos = tensor.field_pos(3, 4)  # name: uoffset relative to its own position
        data[pos : pos + 4] = (blob - pos).to_bytes(4, "little")
    start = time.perf_counter()
    with pytest.raises(TinyflashError, match="hostile offsets"):
        parse_model(bytes(data), "hostile", "hostile.tflite")
    assert time.perf_counter() - start < 2.0
