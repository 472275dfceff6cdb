"""The models that need downloaded weights: ``load_clip()`` (CLIP or the offline ConSE) and ``fetch``.

Both decide within a few seconds without a network: they look in the local caches first;
with ``HF_HUB_OFFLINE=1`` they never touch the network, otherwise they make at most one
2-second connection attempt.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

from .._validate import describe
from ._hub import hub_reachable, hub_unavailable_reason, offline
from .clip import DEFAULT_CLIP, CLIPEncoder, clip_weights_path, fetch_hint
from .protocol import Encoder
from .registry import canonical, load

__all__ = ["CLIP_WEIGHTS_ENV", "fetch", "load_clip"]

#: A local CLIP weights file for ``load_clip()`` (architecture ``DEFAULT_CLIP[0]``, or
#: "ARCH@/path" for another one).
CLIP_WEIGHTS_ENV = "MMLAB_CLIP_WEIGHTS"


def _weights_file_name() -> str | None:
    """The "clip:ARCH@PATH" name that ``MMLAB_CLIP_WEIGHTS`` asks for, or None when it is unset."""
    value = os.environ.get(CLIP_WEIGHTS_ENV, "").strip()
    if not value:
        return None
    arch, at, path = value.partition("@")
    # "ARCH@/path" names another architecture; a plain path (which may itself contain "@") does not.
    if at and arch and os.sep not in arch and not os.path.exists(value):
        return f"clip:{arch}@{path}"
    return f"clip:{DEFAULT_CLIP[0]}@{value}"


def load_clip(verbose: bool = True) -> Encoder:
    """Real CLIP when its weights are on disk (or quick to fetch), otherwise ConSE.

    ``MMLAB_JOINT_MODEL=conse|clip`` forces the choice; ``MMLAB_CLIP_WEIGHTS=/path/to/weights``
    (ViT-B-32, or ``ARCH@/path``) uses a local file instead of the cached download.

    Args:
        verbose: print the one line that says which model was returned and why.
    Returns:
        A joint text+image encoder: CLIP or ConSE.
    """
    arch, tag = DEFAULT_CLIP
    forced = os.environ.get("MMLAB_JOINT_MODEL", "").strip().lower()
    if forced not in ("", "auto", "clip", "conse"):
        raise ValueError(f"MMLAB_JOINT_MODEL: expected 'clip', 'conse' or unset, got {forced!r}")
    start = time.perf_counter()
    file_name = _weights_file_name()
    choice = "clip"
    if forced == "conse":
        choice, why = "conse", "forced by MMLAB_JOINT_MODEL=conse"
    elif file_name is not None:
        choice, why = file_name, f"{CLIP_WEIGHTS_ENV} is set"
    elif forced == "clip":
        if clip_weights_path(arch, tag) is None and hub_unavailable_reason():
            raise RuntimeError(f"MMLAB_JOINT_MODEL=clip but the CLIP weights {arch}/{tag} are not in the local "
                               f"cache; {fetch_hint(arch, tag)}, set {CLIP_WEIGHTS_ENV}=/path/to/weights, "
                               "or unset MMLAB_JOINT_MODEL to fall back to ConSE")
        why = "forced by MMLAB_JOINT_MODEL=clip"
    elif clip_weights_path(arch, tag) is not None:
        why = "its weights are in the local cache"
    elif offline():
        choice, why = "conse", (f"CLIP weights are not in the local cache and HF_HUB_OFFLINE=1; "
                                f"{fetch_hint(arch, tag)} (or set {CLIP_WEIGHTS_ENV}) to use CLIP")
    elif hub_reachable():
        why = "the model hub is reachable, downloading its weights once"
    else:
        choice, why = "conse", (f"CLIP weights are not in the local cache and the model hub is "
                                f"unreachable; {fetch_hint(arch, tag)} (or set {CLIP_WEIGHTS_ENV}) to use CLIP")
    decided = time.perf_counter() - start
    model = load(choice)
    if verbose:
        if choice == "conse":
            label = "ConSE (EfficientNet-Lite0 + MiniLM, offline)"
        elif choice == "clip":
            label = f"CLIP {arch}/{tag}"
        else:
            activation = model.activation if isinstance(model, CLIPEncoder) else None
            label = f"CLIP {model.name[len('clip:'):]} ({activation or 'GELU'})"
        print(f"load_clip: using {label}: {why} (decided in {decided:.1f} s)", flush=True)
    return model


def fetch(names: list[str] | None = None) -> int:
    """Download what the online models need into the normal caches (for ``python -m mmlab fetch``).

    Args:
        names: model names; ``None`` means ``["clip"]``. Offline models need nothing.
    Returns:
        A process exit code: 0 when everything is available, non-zero otherwise.
    """
    if isinstance(names, str):
        raise TypeError(f"names: expected a list of model names, got the single string {names!r}; "
                        f"wrap it in a list: fetch([{names!r}])")
    if names is not None and not isinstance(names, Sequence):
        raise TypeError(f"names: expected a list of model names or None, got {describe(names)}")
    todo = ["clip"] if not names else list(names)
    status = 0
    for name in todo:
        try:
            key = canonical(name)
        except (TypeError, ValueError) as exc:
            print(f"fetch: {exc}", file=sys.stderr)
            status = 2
            continue
        if not key.startswith("clip:"):
            print(f"fetch: {key}: nothing to download (its weights ship with the installed packages)")
            continue
        if "@" in key:
            print(f"fetch: {key}: nothing to download (a local weights file)")
            continue
        arch, tag = key[len("clip:"):].split("/", 1)
        try:
            path = clip_weights_path(arch, tag)
        except ValueError as exc:
            print(f"fetch: {exc}", file=sys.stderr)
            status = 2
            continue
        if path is not None:
            print(f"fetch: {key}: already in the cache ({path})")
            continue
        if offline():
            print(f"fetch: {key}: cannot download, HF_HUB_OFFLINE=1 is set; unset it on a machine with "
                  "internet and run this again", file=sys.stderr)
            status = 1
            continue
        if not hub_reachable():
            print(f"fetch: {key}: cannot download, the model hub is unreachable (no internet?); run this "
                  "again on a machine with internet", file=sys.stderr)
            status = 1
            continue
        import open_clip

        print(f"fetch: {key}: downloading ...")
        try:
            path = open_clip.download_pretrained(open_clip.get_pretrained_cfg(arch, tag))
        except Exception as exc:  # a network failure half-way must give a message, not a traceback
            print(f"fetch: {key}: download failed: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"fetch: {key}: saved to {path}")
    return status
