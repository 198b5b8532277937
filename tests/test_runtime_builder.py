"""support/tflbuilder.py's hand-written options tables checked against the slot numbers of the
schema module tflite-micro ships (its generated `<Table>Add<Field>` writers), and a built model
read back field by field with that module's readers."""

from __future__ import annotations

import inspect
import re

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from support.tflbuilder import OP_OPTIONS, OPTION_FIELDS, OPTION_TYPES, ModelBuilder


def _camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


# fields marked (deprecated) in schema.fbs keep their slot but have no generated writer
DEPRECATED = {("ResizeBilinearOptions", "new_height"), ("ResizeBilinearOptions", "new_width")}


def test_option_slots_match_schema() -> None:
    source = inspect.getsource(schema)
    for table, fields in OPTION_FIELDS.items():
        assert table in OPTION_TYPES, table
        for slot, (name, _kind) in enumerate(fields):
            if (table, name) in DEPRECATED:
                continue
            m = re.search(
                rf"def {table}Add{_camel(name)}\(builder, \w+\):\s*\n\s*builder\.Prepend\w+Slot\((\d+),",
                source,
            )
            assert m, f"{table}.{name} not in the schema module"
            assert int(m.group(1)) == slot, (
                f"{table}.{name}: slot {m.group(1)}, builder says {slot}"
            )


def test_op_option_tables_exist() -> None:
    for op, table in OP_OPTIONS.items():
        assert hasattr(schema.BuiltinOperator, op), op
        assert table is None or table in OPTION_FIELDS, table


def test_model_reads_back() -> None:
    b = ModelBuilder()
    x = b.tensor("x", [1, 5, 5, 2], "int8", scale=0.5, zero_point=-3)
    w = b.tensor(
        "w",
        None,
        "int8",
        data=np.arange(3 * 2 * 2 * 2).reshape(3, 2, 2, 2),
        scale=[0.1, 0.2, 0.3],
        zero_point=[0, 0, 0],
        quantized_dimension=0,
    )
    y = b.tensor("y", [1, 2, 2, 3], "int8", scale=1.5, zero_point=4)
    b.op(
        "CONV_2D",
        [x, w, -1],
        [y],
        padding="VALID",
        stride_w=2,
        stride_h=2,
        fused_activation_function="RELU6",
        dilation_w_factor=1,
        dilation_h_factor=1,
    )
    data = b.build([x], [y])
    m = schema.Model.GetRootAs(bytearray(data), 0)
    assert m.Version() == 3 and m.SubgraphsLength() == 1
    code = m.OperatorCodes(0)
    assert (code.DeprecatedBuiltinCode(), code.BuiltinCode()) == (3, 3)
    sg = m.Subgraphs(0)
    assert list(sg.InputsAsNumpy()) == [0] and list(sg.OutputsAsNumpy()) == [2]
    op = sg.Operators(0)
    assert list(op.InputsAsNumpy()) == [0, 1, -1]
    assert op.BuiltinOptionsType() == schema.BuiltinOptions.Conv2DOptions
    opts = schema.Conv2DOptions()
    opts.Init(op.BuiltinOptions().Bytes, op.BuiltinOptions().Pos)
    assert (opts.Padding(), opts.StrideW(), opts.StrideH(), opts.FusedActivationFunction()) == (
        1,
        2,
        2,
        3,
    )
    wt = sg.Tensors(1)
    assert wt.Type() == schema.TensorType.INT8 and list(wt.ShapeAsNumpy()) == [3, 2, 2, 2]
    q = wt.Quantization()
    assert np.allclose(q.ScaleAsNumpy(), [0.1, 0.2, 0.3]) and q.QuantizedDimension() == 0
    buf = m.Buffers(wt.Buffer())
    assert buf.DataAsNumpy().tobytes() == np.arange(24, dtype=np.int8).tobytes()
    offset = buf._tab.Vector(buf._tab.Offset(4))
    assert offset % 16 == 0, "constant data must be 16-byte aligned"
    assert data[4:8] == b"TFL3"
