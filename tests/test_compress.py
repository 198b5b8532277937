"""Compressed weights (issue 16): the encodings round-trip, the C runtime decodes every one of them
bit-exact against tflite-micro running the uncompressed model (host, ASan/UBSan), hostile blobs
end in a status, automatic detection leaves unclustered models alone, and generate embeds the
compressed bytes. The end-to-end figures on mps2-an386 are in test_compress_e2e.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import REPO, shared_model_path
from support.compressed_models import synthetic, synthetic_tconv
from support.runtime_host import host_run, run_model_batch, tflm_reference
from tinyflash import compress
from tinyflash.model import load_model, parse_model

SEED = 1608


@pytest.mark.parametrize("levels", [2, 5, 16, 100])
@pytest.mark.parametrize("zeros", [0.0, 0.8])
def test_encodings_round_trip(levels: int, zeros: float) -> None:
    rng = np.random.default_rng(SEED + levels)
    for shape in [(8, 3, 3, 5), (1, 3, 3, 13), (7, 33)]:
        palette = rng.choice(np.arange(-128, 128), levels, replace=False)
        w = rng.choice(palette, shape).astype(np.int8)
        w[rng.random(shape) < zeros] = 0
        rows = shape[0]
        blobs = [
            compress.palette_rows(w, rows, True),
            compress.palette_rows(w, rows, False),
            compress.palette_last_axis(w),
            compress.sparse_rows(w, rows),
            compress.sparse_rows(w, 1),
        ]
        for blob in blobs:
            assert np.array_equal(compress.decode(blob, shape), w), blob[:16].hex()
        bits = blobs[1][5]
        assert bits == max(1, int(np.ceil(np.log2(len(np.unique(w))))))


def _forced(data: bytes) -> list[tuple[str, bytes]]:
    """The model with each weight tensor in turn given each encoding the runtime decodes."""
    info = parse_model(data, "m.tflite")
    spans = compress._buffer_spans(data)
    out = []
    for report in compress.analyze(info, data):
        t = info.tensors[report.tensor]
        offset, length = spans[t.buffer]
        w = np.frombuffer(data, np.int8, count=length, offset=offset).reshape(t.shape)
        for name, blob in compress._candidates(report.op, w):
            out.append((f"{t.name} {name}", compress._rewrite(data, {t.buffer: blob})))
    return out


def _forced_bit_exact(data: bytes, input_shape: tuple[int, ...]) -> list[str]:
    """Runs every forced encoding of data's weights on the host runtime against tflite-micro on
    data itself; returns what was run."""
    rng = np.random.default_rng(SEED)
    inputs = [[rng.integers(-128, 128, input_shape, dtype=np.int8)] for _ in range(3)]
    expected = [tflm_reference(data, x) for x in inputs]
    cases = _forced(data)
    for what, model in cases:
        assert len(model) != len(data)
        for g, e in zip(run_model_batch(model, inputs), expected):
            assert np.array_equal(g[0], e[0]), f"seed={SEED} {what}"
    return [what for what, _ in cases]


@pytest.mark.parametrize("levels,zeros", [(4, 0.0), (16, 0.0), (100, 0.85), (2, 0.5)])
def test_host_decodes_every_encoding_bit_exact(levels: int, zeros: float) -> None:
    ran = _forced_bit_exact(synthetic(levels, zeros), (1, 6, 6, 32))
    # the conv and the FC in two or three forms each (the depthwise filter where one is smaller)
    assert {what.split()[0] for what in ran} >= {"w1", "w3"}


@pytest.mark.parametrize("levels,zeros", [(8, 0.0), (100, 0.85)])
def test_host_transpose_conv_bit_exact(levels: int, zeros: float) -> None:
    data = synthetic_tconv(levels, zeros)
    assert _forced_bit_exact(data, (1, 4, 4, 8))
    assert compress.compress_model(parse_model(data, "t.tflite")).compressed_count == 1


def test_auto_picks_the_smallest_encoding() -> None:
    clustered = compress.compress_model(parse_model(synthetic(16, 0.0), "c.tflite"))
    pruned = compress.compress_model(parse_model(synthetic(200, 0.85), "p.tflite"))
    # conv: 16 values per channel; FC: 16 in the whole tensor; the depthwise filter (9 weights
    # a channel) costs more as 40 tables of 16 than dense
    assert sorted(t.encoding for t in clustered.tensors) == [
        "dense",
        "palette 4b/channel",
        "palette 4b/tensor",
    ]
    assert {t.encoding for t in pruned.tensors} == {"sparse"}
    assert clustered.compressed_count == 2 and pruned.compressed_count == 3
    for packed in (clustered, pruned):
        assert packed.saved > 0
        assert all(
            t.size <= compress.AUTO_RATIO * t.dense_bytes
            for t in packed.tensors
            if t.encoding != "dense"
        )
    off = compress.compress_model(parse_model(synthetic(16, 0.0), "c.tflite"), "off")
    assert off.saved == 0 and off.compressed_count == 0


def test_hostile_blobs_end_in_a_status() -> None:
    """Bit flips and extreme words inside every kind of blob: tfl_init refuses or the model runs,
    never a sanitizer report."""
    rng = np.random.default_rng(SEED)
    data = synthetic(16, 0.6)
    cases = []
    for _, model in _forced(data):
        start = model.find(compress.MAGIC)
        assert start > 0
        for _ in range(12):
            m = bytearray(model)
            pos = start + int(rng.integers(0, 64))
            m[pos] ^= 1 << int(rng.integers(8))
            cases.append(bytes(m))
        m = bytearray(model)
        pos = start + 4 * int(rng.integers(1, 8))
        m[pos : pos + 4] = (0xFFFFFFFF).to_bytes(4, "little")
        cases.append(bytes(m))
    statuses = set()
    for case in cases:
        r = host_run(case, 2, timeout=60)
        assert r.returncode in (0, 3, 4), f"seed={SEED}: {r.stderr[-1500:]}"
        statuses.add(r.status or r.invoke_status)
    assert "TFL_ERR_BAD_BUFFER" in statuses, statuses


def test_blob_only_as_weights() -> None:
    """A blob given to an op that does not decode it (here the FC's bias) is refused."""
    data = synthetic(16, 0.0)
    info = parse_model(data, "m.tflite")
    bias = next(t for t in info.tensors if t.name == "b3")
    blob = compress.palette_rows(np.zeros((12, 4), np.int8), 12, False)
    r = host_run(compress._rewrite(data, {bias.buffer: blob}))
    assert r.status == "TFL_ERR_BAD_BUFFER", r.status


@pytest.mark.parametrize("name", ["ad01_int8", "kws_ref_model", "pretrainedResnet_quant"])
def test_unclustered_models_unchanged(name: str) -> None:
    path = shared_model_path(name)
    info = load_model(path)
    packed = compress.compress_model(info)
    assert packed.data == path.read_bytes()
    assert packed.compressed_count == 0 and packed.tensors


def test_example_digits_unchanged() -> None:
    info = load_model(REPO / "examples" / "digits" / "digits_int8.tflite")
    assert compress.compress_model(info).data == bytes(info.data)


def test_generate_embeds_compressed_bytes_and_keeps_aot_weights_dense(tmp_path: Path) -> None:
    """generate: auto embeds the smaller model (the project's model.tflite stays the file), off
    and --aot's specialised operators (they read their weights in place) keep them dense."""
    from support.compressed_models import cluster
    from tinyflash import codegen

    model = cluster(REPO / "examples" / "digits" / "digits_int8.tflite", tmp_path / "c16.tflite")
    auto = codegen.generate(model, "mps2-an386", tmp_path / "auto", selftest=1)
    assert auto.compression is not None and auto.compression.compressed_count == 3
    assert (tmp_path / "auto" / "model.tflite").read_bytes() == model.read_bytes()
    ini = (tmp_path / "auto" / "platformio.ini").read_text()
    assert "-DTFL_WITH_WZ=1" in ini and "-DTFL_WZ_STACK_BYTES=" in ini
    off = codegen.generate(model, "mps2-an386", tmp_path / "off", selftest=1, compress="off")
    assert off.compression is not None and off.compression.compressed_count == 0
    assert "-DTFL_WITH_WZ=0" in (tmp_path / "off" / "platformio.ini").read_text()
    aot = codegen.generate(model, "mps2-an386", tmp_path / "aot", selftest=1, aot=True)
    assert aot.compression is not None and aot.compression.compressed_count == 0
