"""Zero-shot classification with a joint text-image model, and a few-shot linear probe.

CLIP turns any list of class names into a classifier with no training:
each class name is written into prompts ("a photo of a {}."), the prompts are
embedded by the text encoder and averaged per class (the template ensemble), and an
image is assigned to the class whose text embedding is most similar to its own,
with ``softmax(logit_scale * cosine)`` as the probabilities.
This follows ``open_clip.zero_shot_classifier.build_zero_shot_classifier``.

Works with any encoder of ``mmlab.models`` that has both the "text" and "image"
modalities (CLIP, ConSE, the LiT heads of notebook 03).
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence

import numpy as np

from ._validate import (
    as_array,
    check_float,
    check_int,
    check_same_dim,
    check_same_length,
    describe,
)
from .embeddings import l2_normalize

__all__ = [
    "DEFAULT_TEMPLATES",
    "EMOJI_TEMPLATES",
    "TEMPLATE_SETS",
    "build_classifier",
    "classify",
    "get_templates",
    "linear_probe",
    "predict_proba",
    "sample_k_per_class",
    "zero_shot_accuracy",
]

#: The single prompt of the CLIP paper's first experiments.
DEFAULT_TEMPLATES: tuple[str, ...] = ("a photo of a {}.",)

#: A small set written for emoji: drawings and icons rather than photos.
EMOJI_TEMPLATES: tuple[str, ...] = (
    "an emoji of {}.",
    "an emoji of a {}.",
    "a {} emoji.",
    "an icon of {}.",
    "a cartoon of a {}.",
    "a drawing of a {}.",
)

#: The names ``get_templates`` understands.
TEMPLATE_SETS: tuple[str, ...] = ("bare", "photo", "emoji", "simple-imagenet", "openai-imagenet")


def get_templates(name: str) -> list[str]:
    """A named list of prompt templates, each a string with one ``{}`` for the class name.

    Args:
        name: "bare" (just the class name), "photo" ("a photo of a {}."), "emoji"
            (``EMOJI_TEMPLATES``), "simple-imagenet" (open_clip's 7 templates) or
            "openai-imagenet" (the 80 templates of the CLIP paper, from open_clip).
    Returns:
        A new list of template strings.
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected one of {list(TEMPLATE_SETS)}, got {describe(name)}")
    if name == "bare":
        return ["{}"]
    if name == "photo":
        return list(DEFAULT_TEMPLATES)
    if name == "emoji":
        return list(EMOJI_TEMPLATES)
    if name in ("simple-imagenet", "openai-imagenet"):
        from open_clip import (
            zero_shot_metadata as meta,  # imported late: it pulls in torch
        )

        lambdas = meta.SIMPLE_IMAGENET_TEMPLATES if name == "simple-imagenet" else meta.OPENAI_IMAGENET_TEMPLATES
        # open_clip stores them as lambdas; calling one with "{}" gives back the format string.
        return [t("{}") for t in lambdas]
    raise ValueError(f"name: expected one of {list(TEMPLATE_SETS)}, got {name!r}")


# --------------------------------------------------------------------------- checks


def _check_joint_model(model, needs: tuple[str, ...]) -> None:
    modalities = getattr(model, "modalities", None)
    label = getattr(model, "name", type(model).__name__)
    if modalities is None:
        raise TypeError(
            f"model: expected an mmlab encoder with a 'modalities' attribute, got {type(model).__name__}"
        )
    missing = [m for m in needs if m not in modalities]
    if missing:
        raise ValueError(
            f"model: expected a joint model with modalities {needs}, got {label!r} with modalities "
            f"{tuple(modalities)} (missing {', '.join(missing)}); use mm.models.load_clip() or "
            f"mm.models.load('conse')"
        )


def _check_classnames(classnames) -> list[str]:
    if isinstance(classnames, str):
        raise TypeError(
            f"classnames: expected a list of class names, got a single string {classnames[:40]!r}; wrap it in a list"
        )
    if not isinstance(classnames, Sequence) and not (hasattr(classnames, "__iter__") and hasattr(classnames, "__len__")):
        raise TypeError(f"classnames: expected a list of strings, got {describe(classnames)}")
    names = list(classnames)
    if not names:
        raise ValueError("classnames: expected at least one class name, got an empty list")
    for i, c in enumerate(names):
        if not isinstance(c, str):
            raise TypeError(f"classnames[{i}]: expected a string, got {describe(c)}")
        if not c.strip():
            raise ValueError(f"classnames[{i}]: expected a non-blank class name, got {c!r}")
    seen: dict[str, int] = {}
    for i, c in enumerate(names):
        if c in seen:
            raise ValueError(
                f"classnames: expected distinct class names, got {c!r} at positions {seen[c]} and {i}; "
                f"two identical classes would split every vote between them"
            )
        seen[c] = i
    return names


def _check_templates(templates) -> list[Callable[[str], str]]:
    """Turn templates (strings with "{}", or callables like open_clip's) into callables."""
    if isinstance(templates, str):
        raise TypeError(
            f"templates: expected a list of templates, got a single string {templates[:40]!r}; wrap it in a list"
        )
    if not isinstance(templates, Sequence):
        raise TypeError(f"templates: expected a list of strings with '{{}}', got {describe(templates)}")
    if not templates:
        raise ValueError("templates: expected at least one template, got an empty list")
    fns = []
    for i, t in enumerate(templates):
        if isinstance(t, str):
            if "{}" not in t:
                raise ValueError(
                    f"templates[{i}]: expected a string with '{{}}' where the class name goes, got {t!r}"
                )
            fns.append(lambda c, t=t: t.replace("{}", c))
        elif callable(t):
            if not isinstance(t("x"), str):
                raise TypeError(f"templates[{i}]: a callable template must return a string, got {describe(t('x'))}")
            fns.append(t)
        else:
            raise TypeError(f"templates[{i}]: expected a string with '{{}}' or a callable, got {describe(t)}")
    return fns


def _check_images(images) -> list:
    from PIL import Image

    if isinstance(images, Image.Image):
        raise TypeError("images: expected a list of PIL images, got a single PIL image; wrap it in a list")
    if not isinstance(images, Sequence):
        raise TypeError(f"images: expected a list of PIL images, got {describe(images)}")
    images = list(images)
    if not images:
        raise ValueError("images: expected at least one image, got an empty list")
    for i, im in enumerate(images):
        if not isinstance(im, Image.Image):
            raise TypeError(f"images[{i}]: expected a PIL.Image.Image, got {describe(im)}")
    return images


def _check_labels(labels, n_classes: int | None, name: str = "labels") -> np.ndarray:
    if isinstance(labels, (str, bytes)):
        raise TypeError(f"{name}: expected integer class indices, got a string")
    arr = np.asarray(labels)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name}: expected integer class indices, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D array of class indices, got shape {arr.shape}")
    if arr.min() < 0 or (n_classes is not None and arr.max() >= n_classes):
        raise ValueError(f"{name}: expected indices in [0, {n_classes}), got values from {arr.min()} to {arr.max()}")
    return arr.astype(np.int64)


# --------------------------------------------------------------------------- zero-shot


def build_classifier(
    model,
    classnames: Sequence[str],
    templates: Sequence[str | Callable[[str], str]] = DEFAULT_TEMPLATES,
    *,
    progress: bool = False,
) -> np.ndarray:
    """Zero-shot classifier weights: one text embedding per class, averaged over templates.

    Every template is filled with every class name, the texts are embedded, the
    embeddings of each class are averaged and the mean is renormalised to unit
    length (the "prompt ensemble" of the CLIP paper).

    Args:
        model: an mmlab encoder with the "text" modality (and ``encode_text``).
        classnames: C distinct, non-blank class names.
        templates: T strings with ``{}`` where the class name goes (e.g.
            ``get_templates("emoji")``), or callables ``str -> str`` like open_clip's.
        progress: show the encoder's progress bar.
    Returns:
        (C, D) float32, L2-normalised rows; row c is the class embedding of ``classnames[c]``.
    """
    _check_joint_model(model, ("text",))
    names = _check_classnames(classnames)
    fns = _check_templates(templates)
    texts = [fn(c) for c in names for fn in fns]  # class-major: C blocks of T prompts
    emb = as_array(model.encode_text(texts, progress=progress), "model.encode_text(...)")  # (C*T, D)
    emb = l2_normalize(emb, name="model.encode_text(...)")
    emb = emb.reshape(len(names), len(fns), -1).mean(axis=1)  # (C, D): the template ensemble
    return l2_normalize(emb, name="classifier")  # templates that cancel out are an error, not NaN


def predict_proba(image_features, classifier, logit_scale: float) -> np.ndarray:
    """Class probabilities from image embeddings and a zero-shot classifier.

    Args:
        image_features: (N, D) image embeddings (normalised here, to be safe).
        classifier: (C, D) class embeddings from ``build_classifier``.
        logit_scale: the multiplier of the cosine similarities (CLIP learns about 100).
    Returns:
        (N, C) float32, ``softmax(logit_scale * cosine)``; each row sums to 1.
    """
    img = as_array(image_features, "image_features")  # (N, D)
    cls = as_array(classifier, "classifier")  # (C, D)
    check_same_dim(img, cls, "image_features", "classifier")
    scale = check_float(logit_scale, "logit_scale", low=0.0, low_inclusive=False)
    img = l2_normalize(img, name="image_features")  # a zero row is an error, not NaN probabilities
    cls = l2_normalize(cls, name="classifier")
    logits = scale * (img @ cls.T)  # (N, C)
    logits -= logits.max(axis=1, keepdims=True)  # stable softmax
    p = np.exp(logits)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def classify(
    model,
    images,
    classnames: Sequence[str],
    templates: Sequence[str | Callable[[str], str]] = DEFAULT_TEMPLATES,
    *,
    progress: bool = False,
) -> np.ndarray:
    """Zero-shot probabilities of each class for each image.

    Args:
        model: an mmlab joint encoder (modalities "text" and "image", attribute ``logit_scale``).
        images: N PIL images.
        classnames: C distinct class names.
        templates: prompt templates, as for ``build_classifier``.
        progress: show the encoders' progress bars.
    Returns:
        (N, C) float32 probabilities; row i sums to 1, column c belongs to ``classnames[c]``.
    """
    _check_joint_model(model, ("text", "image"))
    images = _check_images(images)
    scale = getattr(model, "logit_scale", None)
    if scale is None:
        raise TypeError(f"model: expected a joint model with a 'logit_scale' attribute, got {type(model).__name__}")
    classifier = build_classifier(model, classnames, templates, progress=progress)  # (C, D)
    image_features = model.encode_image(images, progress=progress)  # (N, D)
    return predict_proba(image_features, classifier, float(scale))


def zero_shot_accuracy(image_features, labels, classifier) -> float:
    """Top-1 accuracy of nearest-class-embedding predictions.

    Args:
        image_features: (N, D) image embeddings.
        labels: (N,) int, the true class index of each image (a row of ``classifier``).
        classifier: (C, D) class embeddings.
    Returns:
        The fraction of images whose most similar class embedding is the true class.
    """
    img = as_array(image_features, "image_features")
    cls = as_array(classifier, "classifier")
    check_same_dim(img, cls, "image_features", "classifier")
    y = _check_labels(labels, len(cls))
    check_same_length(img, y, "image_features", "labels")
    pred = (img @ cls.T).argmax(axis=1)  # the softmax does not change the argmax
    return float((pred == y).mean())


# --------------------------------------------------------------------------- few-shot


def sample_k_per_class(labels, k: int, seed: int | None = None) -> np.ndarray:
    """Indices of up to ``k`` examples of each class, drawn without replacement.

    A class with fewer than ``k`` examples contributes all of them.

    Args:
        labels: (N,) int class labels.
        k: examples per class, >= 1.
        seed: seeds the draw; ``None`` uses ``mmlab.SEED``.
    Returns:
        Sorted int64 indices into ``labels``.
    """
    import mmlab

    y = _check_labels(labels, None)
    k = check_int(k, "k", low=1)
    rng = np.random.default_rng(mmlab.SEED if seed is None else check_int(seed, "seed"))
    picked = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        picked.append(rng.choice(members, size=min(k, members.size), replace=False))
    return np.sort(np.concatenate(picked)).astype(np.int64)


def linear_probe(
    train_features,
    train_labels,
    test_features,
    test_labels,
    k: int,
    *,
    repeats: int = 3,
    C: float = 1.0,
    seed: int | None = None,
) -> float:
    """Few-shot accuracy of a logistic regression trained on ``k`` examples per class.

    The "linear probe" of the CLIP paper: the encoder is frozen and only a linear
    classifier on its image embeddings is learned. With few examples the accuracy
    depends on which ones were drawn, so the draw is repeated and averaged.

    Args:
        train_features: (N, D) embeddings to draw the k-shot training set from.
        train_labels: (N,) int labels of ``train_features``.
        test_features: (M, D) embeddings to evaluate on.
        test_labels: (M,) int labels of ``test_features``.
        k: training examples per class.
        repeats: independent draws to average over.
        C: inverse L2 regularisation strength of ``sklearn.linear_model.LogisticRegression``.
        seed: seed of the first draw (draw r uses ``seed + r``); ``None`` uses ``mmlab.SEED``.
    Returns:
        Mean test accuracy over the draws.
    """
    from sklearn.linear_model import LogisticRegression

    import mmlab

    Xtr = as_array(train_features, "train_features")
    Xte = as_array(test_features, "test_features")
    check_same_dim(Xtr, Xte, "train_features", "test_features")
    ytr = _check_labels(train_labels, None, "train_labels")
    yte = _check_labels(test_labels, None, "test_labels")
    check_same_length(Xtr, ytr, "train_features", "train_labels")
    check_same_length(Xte, yte, "test_features", "test_labels")
    k = check_int(k, "k", low=1)
    repeats = check_int(repeats, "repeats", low=1)
    C = check_float(C, "C", low=0.0, low_inclusive=False)
    seed = mmlab.SEED if seed is None else check_int(seed, "seed")
    if np.unique(ytr).size < 2:
        raise ValueError(f"train_labels: expected at least 2 classes, got {np.unique(ytr).size}")

    accuracies = []
    for r in range(repeats):
        idx = sample_k_per_class(ytr, k, seed=seed + r)
        clf = LogisticRegression(C=C, max_iter=1000)
        with warnings.catch_warnings():
            # With k = 1 there are as many classes as samples, which sklearn flags as a
            # possible regression target; here it is exactly the few-shot setting.
            warnings.filterwarnings("ignore", message="The number of unique classes", category=UserWarning)
            clf.fit(Xtr[idx], ytr[idx])
        accuracies.append(float((clf.predict(Xte) == yte).mean()))
    return float(np.mean(accuracies))
