"""Small, seeded training loops with a progress bar and a loss history.

``fit`` is the one loop every notebook uses: minibatches drawn from aligned
tensors, AdamW, a tqdm bar, and the loss of every epoch returned for plotting.

Weight decay, as in open_clip, applies only to parameters with at least 2 dimensions
(weight matrices, convolution kernels). Biases, norm gains and learned scalars such as
CLIP's log temperature and SigLIP's bias are not decayed: decay would pull the
temperature towards exp(0) = 1 and the bias towards 0, fighting the loss for no benefit.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from ._validate import check_float, check_int, resolve_seed

__all__ = ["NO_DECAY_RULE", "fit", "param_groups"]

#: Which parameters ``fit`` exempts from weight decay (recorded with trained heads).
NO_DECAY_RULE = "AdamW; no weight decay on parameters with ndim < 2"


def param_groups(model, weight_decay: float) -> list[dict]:
    """AdamW parameter groups: decay on trainable parameters with ndim >= 2, none on the rest.

    Args:
        model: a ``torch.nn.Module``.
        weight_decay: the decay of the first group.
    Returns:
        Up to two groups ``{"params": [...], "weight_decay": ...}`` (empty groups left out).
    """
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in trainable if p.ndim >= 2], "weight_decay": weight_decay},
              {"params": [p for p in trainable if p.ndim < 2], "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def _with_own_rates(model, groups: list[dict], param_lr: Mapping[str, float]) -> list[dict]:
    """Move the parameters named in ``param_lr`` into groups of their own, with their own rate."""
    if not isinstance(param_lr, Mapping):
        raise TypeError(f"param_lr: expected a dict of parameter name -> learning rate, got {type(param_lr).__name__}")
    named = dict(model.named_parameters())
    own = []
    for name, rate in param_lr.items():
        if name not in named:
            raise ValueError(f"param_lr: expected names of parameters of the model ({', '.join(named)}), got {name!r}")
        p = named[name]
        if not p.requires_grad:
            raise ValueError(f"param_lr: parameter {name!r} does not require grad, so it is not trained")
        rate = check_float(rate, f"param_lr[{name!r}]", low=0.0, low_inclusive=False)
        decay = next(g["weight_decay"] for g in groups if any(q is p for q in g["params"]))
        own.append({"params": [p], "weight_decay": decay, "lr": rate})
    moved = [g2["params"][0] for g2 in own]
    rest = [{**g, "params": [p for p in g["params"] if not any(p is q for q in moved)]} for g in groups]
    return [g for g in rest if g["params"]] + own


def fit(
    model,
    loss_fn: Callable,
    tensors: Sequence,
    *,
    epochs: int = 20,
    batch_size: int = 128,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    seed: int | None = None,
    drop_last: bool = False,
    progress: bool = True,
    desc: str = "training",
    param_lr: Mapping[str, float] | None = None,
    after_step: Callable | None = None,
) -> list[float]:
    """Train ``model`` with AdamW on minibatches of ``tensors``.

    Args:
        model: a ``torch.nn.Module``; its parameters are optimised in place.
        loss_fn: called as ``loss_fn(model, *batch)`` and returning a scalar tensor.
        tensors: aligned tensors, each (N, ...); a batch takes the same rows of each.
        epochs: passes over the data.
        batch_size: rows per step (the last batch may be smaller unless ``drop_last``).
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay of the parameters with ndim >= 2 (others get none).
        seed: seeds the shuffling and torch; ``None`` uses ``mmlab.SEED``.
        drop_last: drop a final short batch (contrastive losses want full batches).
        progress: show a tqdm bar over epochs.
        desc: the bar's label.
        param_lr: learning rates of single parameters by name (as in ``model.named_parameters()``),
            e.g. ``{"log_scale": 0.05}``; every other parameter uses ``lr``. Weight decay follows
            the same rule as for the rest.
        after_step: called as ``after_step(model)`` after every optimiser step, e.g. to clamp a
            parameter in place the way open_clip clamps CLIP's log temperature, or to record it.
    Returns:
        The mean training loss of each epoch, length ``epochs``.
    """
    import torch
    from tqdm.auto import tqdm

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn: expected a callable, got {type(loss_fn).__name__}")
    if not isinstance(tensors, (list, tuple)) or not tensors:
        raise TypeError(f"tensors: expected a non-empty list or tuple of tensors, got {type(tensors).__name__}")
    for i, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"tensors[{i}]: expected a torch.Tensor, got {type(t).__name__}")
        if t.ndim == 0:
            raise TypeError(f"tensors[{i}]: expected a tensor with rows (N, ...), got a 0-d tensor")
        if t.is_floating_point() and not torch.isfinite(t).all():
            bad = int((~torch.isfinite(t)).sum())
            raise ValueError(f"tensors[{i}]: expected finite values, got {bad} NaN/inf entries in shape {tuple(t.shape)}")
    n = len(tensors[0])
    for i, t in enumerate(tensors):
        if len(t) != n:
            raise ValueError(f"tensors[{i}]: expected {n} rows like tensors[0], got {len(t)}")
    epochs = check_int(epochs, "epochs", low=1)
    batch_size = check_int(batch_size, "batch_size", low=1)
    lr = check_float(lr, "lr", low=0.0, low_inclusive=False)
    weight_decay = check_float(weight_decay, "weight_decay", low=0.0)
    if n == 0:
        raise ValueError("tensors: expected at least one row, got 0")
    if drop_last and batch_size > n:
        raise ValueError(f"batch_size: expected at most {n} rows with drop_last=True, got {batch_size}")

    if after_step is not None and not callable(after_step):
        raise TypeError(f"after_step: expected a callable (or None), got {type(after_step).__name__}")
    seed = resolve_seed(seed)
    groups = param_groups(model, weight_decay)
    if not groups:
        raise ValueError("model: expected at least one parameter with requires_grad=True, got none to train")
    if param_lr:
        groups = _with_own_rates(model, groups, param_lr)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(groups, lr=lr)

    history: list[float] = []
    model.train()
    bar = tqdm(range(epochs), desc=desc, disable=not progress, leave=False)
    for _ in bar:
        order = torch.randperm(n, generator=generator)
        stop = n - (n % batch_size) if drop_last else n
        total, seen = 0.0, 0
        for start in range(0, stop, batch_size):
            idx = order[start:start + batch_size]
            loss = loss_fn(model, *(t[idx] for t in tensors))
            if not isinstance(loss, torch.Tensor):
                raise TypeError(f"loss_fn: expected it to return a scalar torch.Tensor, got {type(loss).__name__}")
            if loss.numel() != 1:
                raise ValueError(f"loss_fn: expected it to return a scalar tensor, got shape {tuple(loss.shape)}; "
                                 "reduce it, e.g. with .mean()")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if after_step is not None:
                after_step(model)
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        history.append(total / seen)
        bar.set_postfix(loss=f"{history[-1]:.4f}")
    model.eval()
    return history
