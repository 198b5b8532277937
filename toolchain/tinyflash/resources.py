"""Locations of the package data (templates/, firmware/, boards/), for a source checkout, an
editable install and a wheel alike.

In a wheel the three folders are installed as tinyflash/data/<name>/ (pyproject.toml maps them
there); in a source checkout or an editable install they are the repository's top-level folders.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    installed = _PACKAGE / "data" / name
    if installed.is_dir():
        return installed
    return _PACKAGE.parents[1] / name


def templates_dir() -> Path:
    return _data_dir("templates")


def firmware_dir() -> Path:
    return _data_dir("firmware")


def boards_dir() -> Path:
    return _data_dir("boards")
