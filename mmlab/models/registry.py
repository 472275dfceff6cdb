"""The model registry: ``register(name, factory)``, ``load(name)`` (memoised) and ``available()``.

A name may carry options after a colon, ``"clip:ViT-B-32/openai"``: the registered factory
receives them (checked and made canonical by its ``parse`` function first). Modules outside
``mmlab.models`` register their own models when imported (``mmlab.lit`` registers
"lit-emoji"); ``_PROVIDERS`` only says which module to import for such a name, so that
``mmlab.models`` never imports them at module level (no import cycle).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from .._validate import describe
from .protocol import Encoder

__all__ = ["available", "load", "register"]


@dataclass(frozen=True)
class _Entry:
    factory: Callable[..., Encoder]
    parse: Callable[[str | None], str | None] | None
    usage: str


_REGISTRY: dict[str, _Entry] = {}
_ALIASES: dict[str, str] = {}
# Names registered by a module that imports mmlab.models (not the other way round).
_PROVIDERS: dict[str, str] = {"lit-emoji": "mmlab.lit"}
_LOADED: dict[str, Encoder] = {}


def register(name: str, factory: Callable[..., Encoder], *, aliases: tuple[str, ...] = (),
             parse: Callable[[str | None], str | None] | None = None, usage: str | None = None) -> None:
    """Make ``load(name)`` build a model with ``factory``.

    Args:
        name: lower-case model name without a colon, e.g. "my-encoder".
        factory: ``factory()`` returns the encoder; when ``parse`` is given, ``factory(spec)``
            receives the canonical options of "name:options".
        aliases: other lower-case names for the same model.
        parse: ``parse(options or None) -> canonical options``; raises ValueError on bad options.
        usage: how the name is written in error messages (e.g. "clip:ARCH/PRETRAINED").
    """
    if not isinstance(name, str) or not name or name != name.strip().lower() or ":" in name:
        raise ValueError(f"name: expected a lower-case model name without ':', got {name!r}")
    if not callable(factory):
        raise TypeError(f"factory: expected a callable returning an encoder, got {describe(factory)}")
    _REGISTRY[name] = _Entry(factory, parse, usage or name)
    for alias in aliases:
        _ALIASES[alias] = name
    for key in [k for k in _LOADED if k == name or k.startswith(name + ":")]:
        del _LOADED[key]  # a re-registered name builds the new model next time


def available() -> list[str]:
    """The registered model names, in registration order (plus those whose module registers them)."""
    return list(_REGISTRY) + [n for n in _PROVIDERS if n not in _REGISTRY]


def _usages() -> str:
    return ", ".join([e.usage for e in _REGISTRY.values()] + [n for n in _PROVIDERS if n not in _REGISTRY])


def canonical(name) -> str:
    """The memo key of ``name``: lower-case base name, aliases resolved, options made canonical.

    Never imports a model's libraries (``fetch`` relies on that to stay fast offline).
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected a model name (str), one of {_usages()}, got {describe(name)}")
    base, sep, spec = name.strip().partition(":")
    base = base.strip().lower()
    base = _ALIASES.get(base, base)
    if base not in _REGISTRY and base not in _PROVIDERS:
        raise ValueError(f"name: unknown model {name!r}; known models: {_usages()}")
    entry = _REGISTRY.get(base)
    if entry is None or entry.parse is None:
        if sep:
            raise ValueError(f"name: model {base!r} takes no options after ':', got {name!r}")
        return base
    options = entry.parse(spec.strip() if sep else None)
    return base if options is None else f"{base}:{options}"


def load(name: str) -> Encoder:
    """Load an encoder by name (memoised: the same name returns the same object).

    Args:
        name: one of ``available()``, e.g. "minilm", "effnet-lite0", "mfcc", "conse", "clip",
            "clip:ARCH/PRETRAINED", "clip:ARCH@/path/to/weights", "lit-emoji".
    Returns:
        The encoder.
    """
    key = canonical(name)
    if key in _LOADED:
        return _LOADED[key]
    base, _, options = key.partition(":")
    if base not in _REGISTRY:
        importlib.import_module(_PROVIDERS[base])  # the module registers the name when imported
    entry = _REGISTRY[base]
    model = entry.factory(options) if entry.parse is not None else entry.factory()
    if not isinstance(model, Encoder):
        raise TypeError(f"the factory of model {base!r} returned {describe(model)}, which lacks the encoder "
                        "attributes name, dim, modalities and logit_scale")
    _LOADED[key] = model
    return model
