"""Shared fixtures. Tests that use ../shared/models skip cleanly when ../shared is absent
(a user's clone has no shared/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# PlatformIO records symlinked platforms in its core directory by the platform's name, so two
# checkouts building at once re-point each other's. The suite uses a core directory of its own
# (tinyflash provisions tool-scons into it on the first build); a caller's setting wins. Each
# pytest-xdist worker gets its own (`<dir>-gw0`, ...): two `pio run` registering the platform or
# provisioning packages in one core directory at the same moment would race.
_PIO_CORE = os.environ.get("PLATFORMIO_CORE_DIR") or str(REPO / "build" / "pio-core")
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
os.environ["PLATFORMIO_CORE_DIR"] = f"{_PIO_CORE}-{_WORKER}" if _WORKER else _PIO_CORE
SHARED_MODELS = REPO.parent / "shared" / "models"
SHARED_MODEL_NAMES = ("ad01_int8", "kws_ref_model", "pretrainedResnet_quant")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


def shared_model_path(name: str) -> Path:
    """Path of one of the MLPerf Tiny models in ../shared/models; skips the test without it."""
    path = SHARED_MODELS / f"{name}.tflite"
    if not path.is_file():
        pytest.skip(
            f"{path} is not present (../shared is only in the developers' and CI's checkout)"
        )
    return path


# The harness test firmware (support.harness_host), shared by test_harness.py and test_link.py:
# the FC model, its self-test vectors (tflite-micro's outputs) and the runtime-backend build.
@pytest.fixture(scope="session")
def fc() -> bytes:
    from support.harness_host import fc_model

    return fc_model()


@pytest.fixture(scope="session")
def vectors(fc: bytes) -> list[tuple[bytes, bytes]]:
    import numpy as np

    from support.harness_host import random_input
    from support.runtime_host import tflm_reference

    rng = np.random.default_rng(11)
    result = []
    for _ in range(3):
        x = random_input(rng)
        result.append((x.tobytes(), b"".join(o.tobytes() for o in tflm_reference(fc, [x]))))
    return result


@pytest.fixture(scope="session")
def firmware(fc: bytes, vectors: list[tuple[bytes, bytes]]) -> Path:
    from support.harness_host import build_firmware

    return build_firmware(fc, vectors)


# pytest-xdist hands whole files to the two workers in collection order (`--dist loadfile
# --no-loadscope-reorder`, Makefile). Longest file first keeps both workers busy to the end: in
# xdist's default order (most tests first) the TFLM tree builds started last and ran alone for
# minutes. tests/durations.json holds each file's seconds from a full run
# (scripts/test_durations.py); a file it does not know yet is weighed by its marked tests.
_DURATIONS = REPO / "tests" / "durations.json"
_UNKNOWN_SLOW_SECONDS = 20.0  # a firmware build or a TensorFlow conversion, roughly
_UNKNOWN_FAST_SECONDS = 0.2


def _file_weights(items: list[pytest.Item]) -> dict[str, float]:
    import json

    known: dict[str, float] = json.loads(_DURATIONS.read_text()) if _DURATIONS.is_file() else {}
    guessed: dict[str, float] = {}
    for item in items:
        heavy = item.get_closest_marker("slow") or item.get_closest_marker("qemu")
        cost = _UNKNOWN_SLOW_SECONDS if heavy else _UNKNOWN_FAST_SECONDS
        file = item.nodeid.split("::", 1)[0]
        guessed[file] = guessed.get(file, 0.0) + cost
    return {file: known.get(file, guess) for file, guess in guessed.items()}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    weights = _file_weights(items)
    first_seen = {}
    for index, item in enumerate(items):
        first_seen.setdefault(item.nodeid.split("::", 1)[0], index)
    items.sort(
        key=lambda item: (
            -weights[item.nodeid.split("::", 1)[0]],
            first_seen[item.nodeid.split("::", 1)[0]],
        )
    )
