"""Typed model cards: one frozen dataclass per demo, written by training and read by the page.

A card class declares, per field, where its value lives in the model's manifest entry (`at("metrics.test.rmse")`;
without `at`, the field's own name under `card`). `read_card(Card, entry)` builds the card and says exactly which
value is missing or of the wrong kind; `card_entry(card)` gives the nested mapping the card was read from, so
training can check at build time that what it writes reads back as the same card (`write_model(..., card_type=)`).
Nested dataclasses, tuples of them and string-keyed dicts of them are read relative to their own mapping.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from services.errors import ModelUnavailableError

C = TypeVar("C")
_MISSING = object()


def at(path: str, default: Any = dataclasses.MISSING) -> Any:
    """A card field read from a dotted path of the manifest entry (or of the enclosing mapping, when nested)."""
    return dataclasses.field(default=default, metadata={"path": path})


class CardError(ModelUnavailableError):
    """A manifest entry lacks a value its card needs, or holds one of the wrong kind."""


def read_card(cls: type[C], entry: Mapping[str, Any], *, top: bool = True) -> C:
    """The card of type cls from a manifest entry.

    Raises:
        CardError: a value is missing or of the wrong kind; the message names it and the rebuild command.
    """
    rebuild = entry.get("rebuild", "python -m training <demo>") if top else ""
    try:
        return _read(cls, entry, top)
    except _Drift as drift:
        fix = f"; rebuild the model with `{rebuild}`" if rebuild else ""
        raise CardError(f"model card {cls.__name__}: {drift}{fix}.") from None


def card_entry(card: Any) -> dict[str, Any]:
    """The nested mapping a card reads from (the inverse of read_card for the card's own fields)."""
    return _mapping(card, top=True)


class _Drift(Exception):
    pass


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _path(field: dataclasses.Field, *, top: bool) -> str:
    return field.metadata.get("path", f"card.{field.name}" if top else field.name)


def _read(cls: type[C], data: Mapping[str, Any], top: bool) -> C:
    if not isinstance(data, Mapping):
        raise _Drift(f"expected a mapping for {cls.__name__}, found {type(data).__name__}")
    values = {}
    for field in dataclasses.fields(cls):
        path = _path(field, top=top)
        raw = _get(data, path)
        if raw is _MISSING:
            if field.default is not dataclasses.MISSING:
                continue
            raise _Drift(f"no value at {path!r} (field {field.name})")
        values[field.name] = _convert(_hints(cls)[field.name], raw, path)
    return cls(**values)


def _convert(kind: Any, raw: Any, path: str) -> Any:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if raw is None and type(None) in args:
            return None
        (kind,) = [a for a in args if a is not type(None)]
        return _convert(kind, raw, path)
    if dataclasses.is_dataclass(kind):
        try:
            return _read(kind, raw, top=False)
        except _Drift as drift:
            raise _Drift(f"{path}: {drift}") from None
    if origin is tuple:
        if not isinstance(raw, list | tuple):
            raise _Drift(f"{path} should be a list, found {type(raw).__name__}")
        return tuple(_convert(args[0], item, f"{path}[{i}]") for i, item in enumerate(raw))
    if origin is dict:
        if not isinstance(raw, Mapping):
            raise _Drift(f"{path} should be a mapping, found {type(raw).__name__}")
        return {str(k): _convert(args[1], v, f"{path}.{k}") for k, v in raw.items()}
    return _scalar(kind, raw, path)


def _scalar(kind: Any, raw: Any, path: str) -> Any:
    if kind is Any:
        return raw
    if kind is float and isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    if kind is int and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if kind in (str, bool) and isinstance(raw, kind):
        return raw
    raise _Drift(f"{path} should be {getattr(kind, '__name__', kind)}, found {raw!r}")


def _get(data: Mapping[str, Any], path: str) -> Any:
    value: Any = data
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _put(out: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        out = out.setdefault(part, {})
    out[last] = value


def _mapping(card: Any, *, top: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in dataclasses.fields(card):
        value = getattr(card, field.name)
        if value is None and field.default is None:  # an optional value that is absent stays absent
            continue
        _put(out, _path(field, top=top), _plain(value))
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return _mapping(value, top=False)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
