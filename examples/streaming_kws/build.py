"""Builds examples/streaming_kws (model.py: a streaming keyword-style model whose state is a
tf.Variable) with `tinyflash convert` (its library function): writes 200 calibration frames, then converts model.py:model
to a full-int8 .tflite with resource variables and CALL_ONCE (convert detects the assigned
variable):

    python examples/streaming_kws/build.py --out build/streaming_kws
    tinyflash verify build/streaming_kws/streaming_kws.tflite --board mps2-an386 --stream 50
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

FEATURES = 10
HERE = Path(__file__).resolve().parent


def build(out: Path, seed: int = 0) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    frames = out / "frames.npy"
    rng = np.random.default_rng(seed)
    np.save(frames, rng.uniform(-1, 1, (200, FEATURES)).astype(np.float32))
    path = out / "streaming_kws.tflite"
    from tinyflash.convert import convert_model  # what `tinyflash convert` runs

    result = convert_model(f"{HERE / 'model.py'}:model", path, frames, force=True)
    if not (result.stateful and result.deployable):
        raise SystemExit(f"{path}: expected a deployable stateful model: {result.problems}")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/streaming_kws"))
    parser.add_argument("--seed", type=int, default=0, help="seed of the calibration frames")
    args = parser.parse_args()
    print(build(args.out, args.seed))


if __name__ == "__main__":
    main()
