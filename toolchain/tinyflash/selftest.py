"""Self-test vectors of a generated project: deterministic random inputs and the outputs TFLM's
reference kernels (the tflite-micro Python runtime, through reference.TFLMReference) give for them.
The firmware checks itself against them at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from tinyflash.errors import EXIT_CHECK_FAILED, TinyflashError

#: Self-test vectors: at most this many, inputs drawn from this seed.
MAX_SELFTEST_VECTORS = 3
SELFTEST_SEED = 20261125


@dataclass(frozen=True)
class SelftestVector:
    """Input bytes (all inputs in order) and the bytes the tflite-micro runtime output for them."""

    input: bytes
    output: bytes


def selftest_vectors(
    model: bytes,
    input_count: int,
    output_count: int,
    count: int,
    model_name: str = "model",
    seed: int = SELFTEST_SEED,
    minimum_arena: int | None = None,
) -> list[SelftestVector]:
    """`count` deterministic random inputs and the outputs the tflite-micro Python runtime
    (TFLM's reference kernels) computes for them, as raw little-endian bytes. Integer inputs
    cover their type's whole range; float inputs are uniform in [-1, 1). `minimum_arena`: TFLM's
    minimum arena when the caller has measured it already (reference.tflm_min_arena)."""
    if count <= 0:
        return []
    import numpy as np

    from tinyflash.reference import TFLMReference

    try:
        runner = TFLMReference(model, minimum_arena=minimum_arena)
    except TinyflashError as error:
        raise TinyflashError(
            f"the tflite-micro runtime cannot load {model_name} "
            f"({error.template.rstrip('.')}); check the model with "
            "`tinyflash check`",
            EXIT_CHECK_FAILED,
        ) from error
    if len(runner.inputs) != input_count or len(runner.outputs) != output_count:
        raise TinyflashError(
            f"internal: {model_name} has {len(runner.inputs)} inputs and "
            f"{len(runner.outputs)} outputs, not {input_count} and "
            f"{output_count}; report this",
            EXIT_CHECK_FAILED,
        )
    rng = np.random.default_rng(seed)
    vectors = []
    for _ in range(count):
        in_bytes = bytearray()
        sample = []
        for detail in runner.inputs:
            dtype = np.dtype(detail.dtype)
            shape = detail.shape
            if dtype.kind in "iu":
                limits = np.iinfo(dtype)
                value = rng.integers(limits.min, int(limits.max) + 1, size=shape, dtype=dtype)
            elif dtype.kind == "b":
                value = rng.integers(0, 2, size=shape).astype(dtype)
            else:
                value = rng.uniform(-1.0, 1.0, size=shape).astype(dtype)
            sample.append(value)
            in_bytes += value.astype(dtype.newbyteorder("<")).tobytes()
        try:
            outputs = runner.run(sample)
        except Exception as error:  # the TFLM wrapper raises RuntimeError/ValueError
            raise TinyflashError(
                f"the tflite-micro runtime failed to run {model_name} ({error}); "
                "check the model with `tinyflash check`",
                EXIT_CHECK_FAILED,
            ) from error
        out_bytes = bytearray()
        for value, detail in zip(outputs, runner.outputs):
            out_bytes += (
                np.asarray(value).astype(np.dtype(detail.dtype).newbyteorder("<")).tobytes()
            )
        vectors.append(SelftestVector(bytes(in_bytes), bytes(out_bytes)))
    return vectors
