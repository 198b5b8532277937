"""Hostile models: truncations, bit flips and extreme 32-bit words written into a small
multi-op model go through tfl_init and two tfl_invoke calls under ASan/UBSan. Every one must end
with TFL_OK or an error status — never a sanitizer report, a signal or a hang."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from support.models import SMALL_MODEL_SEED as SEED
from support.models import small_model
from support.runtime_host import host_run, model_info


def mutations(model: bytes, rng: np.random.Generator) -> list[tuple[str, bytes]]:
    out = []
    for n in range(0, len(model), max(1, len(model) // 60)):
        out.append((f"truncated to {n}", model[:n]))
    for _ in range(120):
        pos, bit = int(rng.integers(len(model))), int(rng.integers(8))
        m = bytearray(model)
        m[pos] ^= 1 << bit
        out.append((f"bit {bit} of byte {pos} flipped", bytes(m)))
    for _ in range(60):
        pos = int(rng.integers(len(model) - 4)) & ~3
        word = int(rng.choice([0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0x00010000, 0xFFFF, len(model)]))
        m = bytearray(model)
        m[pos : pos + 4] = word.to_bytes(4, "little")
        out.append((f"word {word:#x} at {pos}", bytes(m)))
    return out


def test_small_model_is_valid() -> None:
    info = model_info(small_model())
    assert info.op_count == 6


def test_malformed_models_never_crash() -> None:
    model = small_model()
    rng = np.random.default_rng(SEED)
    cases = mutations(model, rng)

    def run(case: tuple[str, bytes]) -> tuple[str, int, str, str]:
        what, data = case
        r = host_run(data, 2, timeout=60)
        return what, r.returncode, r.status or r.invoke_status, r.stderr

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, cases))
    crashes = [(what, rc, err[-1500:]) for what, rc, _, err in results if rc not in (0, 3, 4)]
    assert not crashes, f"seed={SEED}: {len(crashes)} crashes, first: {crashes[0]}"
    statuses = {status for _, rc, status, _ in results}
    # the mutations must actually reach the checks, not just pass through
    assert "TFL_ERR_MODEL_TRUNCATED" in statuses and len(statuses) >= 3, statuses
