"""The JSON form of the toolchain's result records (dataclasses), written once."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any


def json_value(value: Any) -> Any:
    """A field's value as JSON data: Paths as strings, tuples and lists as lists, records with
    a to_dict (or to_json) as their dicts; anything else unchanged."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [json_value(v) for v in value]
    for method in ("to_dict", "to_json"):
        if hasattr(value, method):
            return getattr(value, method)()
    return value


def field_dict(
    record: Any, *, skip: Collection[str] = (), rename: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The fields of the dataclass `record` in declaration order as JSON data (json_value),
    without the fields in `skip`, and with the keys `rename` maps field names to."""
    names = rename or {}
    return {
        names.get(f.name, f.name): json_value(getattr(record, f.name))
        for f in dataclasses.fields(record)
        if f.name not in skip
    }
