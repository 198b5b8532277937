#!/usr/bin/env python3
"""atheris target 3: arbitrary bytes -> tinyflash.model.parse_model (the Python flatbuffer reader).

Invariant: parse_model returns a ModelInfo or raises TinyflashError (the project's error type,
exit code 2). Any other exception (IndexError, struct.error, RecursionError, MemoryError...) is
a finding; atheris reports it with the input. Takes libFuzzer's command-line flags:

    .venv/bin/python tests/fuzz/fuzz_parse.py -max_total_time=60 CORPUS_DIR SEED_DIR
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["tinyflash"]):
    from tinyflash.errors import EXIT_BAD_INPUT, TinyflashError
    from tinyflash.model import ModelInfo, parse_model


def test_one_input(data: bytes) -> None:
    try:
        info = parse_model(data, "fuzz.tflite")
    except TinyflashError as error:
        if error.exit_code != EXIT_BAD_INPUT or not error.message:
            raise AssertionError(
                f"parse_model error without a message or with exit "
                f"{error.exit_code}: {error.message!r}"
            ) from error
        return
    if not isinstance(info, ModelInfo):
        raise AssertionError(f"parse_model returned {type(info).__name__}")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
