"""Metadata filters for Milvus built from a dict, every value quoted: data can never change a filter's meaning."""
from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence

import numpy as np

from .._validate import describe

__all__ = ["IDENTIFIER", "filter_expression"]

#: A field name Milvus accepts: letters, digits and _, not starting with a digit.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# The escapes both Milvus Lite and the Milvus server understand inside a "..." literal.
_STRING_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _literal(value, where: str) -> str:
    """One Python value as a Milvus expression literal; strings are quoted and escaped."""
    if isinstance(value, str):
        return '"' + "".join(_STRING_ESCAPES.get(ch, ch) for ch in value) + '"'
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        if not np.isfinite(float(value)):
            raise ValueError(f"{where}: expected a finite number, got {value}")
        return repr(float(value))
    raise TypeError(f"{where}: expected a str, int, float or bool (or a list of them), got {describe(value)}")


def filter_expression(where: Mapping | None, fields: Sequence[str] | None = None) -> str:
    """Turn ``{"field": value, ...}`` into a Milvus boolean expression, quoting every value.

    A scalar means equality, a list/tuple means membership; several keys are joined with
    ``and``. Values are never pasted in raw, so ``'x" or id > 0 or "'`` matches only a
    field holding exactly that text.

    Args:
        where: field name -> a value or a non-empty list of values; None or {} means no filter.
        fields: if given, the field names that exist (others are rejected).
    Returns:
        The expression, e.g. ``group in ["Food & Drink", "Animals & Nature"]``; "" for no filter.
    """
    if where is None:
        return ""
    if not isinstance(where, Mapping):
        raise TypeError(f"where: expected a filter dict like {{'group': 'Food & Drink'}}, got {describe(where)}")
    parts = []
    for key, value in where.items():
        if not isinstance(key, str):
            raise TypeError(f"where: expected field names as strings, got the key {describe(key)}")
        if not IDENTIFIER.match(key):
            raise ValueError(f"where: expected field names of letters, digits and _ (not starting with a digit), "
                             f"got {key!r}, which is not a valid field name")
        if fields is not None and key not in fields:
            raise ValueError(f"where: unknown field {key!r}; expected one of the fields this collection "
                             f"can filter on, {list(fields)}")
        if isinstance(value, (list, tuple, np.ndarray)):
            values = list(value)
            if not values:
                raise ValueError(f"where[{key!r}]: expected a non-empty list of values, got an empty list "
                                 "(it would match nothing)")
            literals = ", ".join(_literal(v, f"where[{key!r}][{i}]") for i, v in enumerate(values))
            parts.append(f"{key} in [{literals}]")
        elif isinstance(value, (set, frozenset, dict)):
            raise TypeError(f"where[{key!r}]: expected a value or a list of values, got {describe(value)}")
        else:
            parts.append(f"{key} == {_literal(value, f'where[{key!r}]')}")
    return " and ".join(parts)


def filter_tokens(text: str) -> list[tuple[str, object]] | str:
    """What Milvus Lite reads in a filter text: its tokens as (kind, value) pairs, or the error it raises.

    Runs Milvus Lite's own filter tokenizer (``milvus_lite.search.filter.tokens``, an internal module
    of the pure-Python Milvus Lite 3.x) so a notebook can show how a literal is read without
    importing it. Returns ``"error: ..."`` (the first line of the error) when the text does not
    tokenize, and ``"unknown: ..."`` when the installed Milvus Lite has no such tokenizer.
    """
    try:
        from milvus_lite.search.filter.tokens import tokenize
    except ImportError:
        return "unknown: this Milvus Lite has no milvus_lite.search.filter.tokens"
    try:
        return [(token.kind.value, token.text if token.value is None else token.value)
                for token in tokenize(text)][:-1]                       # without the end-of-input token
    except Exception as exc:  # the tokenizer's own error types differ between versions
        return f"error: {str(exc).splitlines()[0]}"
