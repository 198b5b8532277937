"""Locations of the package data (templates/, firmware/, boards/), for a source checkout, an
editable install and a wheel alike."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _data_dir(name: str) -> Path:
    # Installed wheel: the data folder sits beside this module. (Checked first because
    # `tinyflash.boards` is also a module, boards.py, which find_spec would return instead.)
    beside = Path(__file__).resolve().parent / name
    if beside.is_dir():
        return beside
    spec = importlib.util.find_spec(f"tinyflash.{name}")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            path = Path(location)
            if path.is_dir():
                return path
    # Running from a source tree that is not installed.
    return Path(__file__).resolve().parents[2] / name


def templates_dir() -> Path:
    return _data_dir("templates")


def firmware_dir() -> Path:
    return _data_dir("firmware")


def boards_dir() -> Path:
    return _data_dir("boards")
