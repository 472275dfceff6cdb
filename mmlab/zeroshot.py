"""Zero-shot classification with a joint text-image model, and a few-shot linear probe.

CLIP turns any list of class names into a classifier with no training:
each class name is written into prompts ("a photo of a {}."), the prompts are
embedded by the text encoder and averaged per class (the template ensemble), and an
image is assigned to the class whose text embedding is most similar to its own,
with ``softmax(logit_scale * cosine)`` as the probabilities.
This follows ``open_clip.zero_shot_classifier.build_zero_shot_classifier``.

Works with any object that meets the ``mmlab.models.Encoder`` protocol and has both the
"text" and "image" modalities (CLIP, ConSE, the LiT heads of notebook 03, a learner's own).
A model whose ``logit_scale`` is None gets CLIP's cap, 100, unless the caller passes one.
"""
from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from ._threads import single_threaded
from ._validate import (
    as_array,
    check_float,
    check_images,
    check_int,
    check_labels,
    check_same_dim,
    check_same_length,
    check_str_list,
    describe,
    resolve_seed,
)
from .embeddings import l2_normalize, softmax
from .models.protocol import DEFAULT_LOGIT_SCALE, Encoder, ImageEncoder, TextEncoder

__all__ = [
    "DEFAULT_TEMPLATES",
    "EMOJI_TEMPLATES",
    "FLAG_RENAMINGS",
    "TEMPLATE_SETS",
    "build_classifier",
    "classify",
    "expected_calibration_error",
    "fit_logit_scale",
    "get_templates",
    "linear_probe",
    "predict_proba",
    "probe_correct",
    "sample_k_per_class",
    "zero_shot_accuracy",
]

# Notebook 04, exercise 4: five candidate renamings of the emoji subgroups whose names collide on the word
# "flag", {letter: {subgroup label: new class name}}; the other subgroups keep their names.
FLAG_RENAMINGS: dict[str, dict[str, str]] = {
    "A": {"country-flag": "national flag"},
    "B": {"country-flag": "flag of a country", "flag": "pirate flag"},
    "C": {"country-flag": "flag of a country", "flag": "chequered, pirate or rainbow flag"},
    "D": {"country-flag": "flag of a country", "flag": "flag on a flagpole"},
    "E": {"country-flag": "flag of a country", "flag": "pride flag"},
}

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


_METHOD_PROTOCOLS = {"text": TextEncoder, "image": ImageEncoder}


def _check_joint_model(model, needs: tuple[str, ...]) -> None:
    """Check that ``model`` meets the encoder protocol and supports the ``needs`` modalities."""
    if not isinstance(model, Encoder):
        lacking = [a for a in ("name", "dim", "modalities", "logit_scale") if not hasattr(model, a)]
        raise TypeError(
            f"model: expected an encoder meeting the mmlab.models.Encoder protocol (attributes name, dim, "
            f"modalities, logit_scale), got {describe(model)} without {', '.join(lacking)}"
        )
    missing = [m for m in needs if m not in model.modalities]
    if missing:
        raise ValueError(
            f"model: expected a joint model with modalities {needs}, got {model.name!r} with modalities "
            f"{tuple(model.modalities)} (missing {', '.join(missing)}); use mm.models.load_clip() or "
            f"mm.models.load('conse')"
        )
    for m in needs:
        if not isinstance(model, _METHOD_PROTOCOLS[m]):
            raise TypeError(f"model: declares the {m!r} modality but has no encode_{m} method")


def _encode(method: Callable[..., np.ndarray], items: list, progress: bool) -> np.ndarray:
    """Call ``model.encode_text`` / ``encode_image``, passing ``progress`` only to methods that take it
    (the protocol requires just the list, so a learner's minimal encoder works too)."""
    try:
        takes_progress = "progress" in inspect.signature(method).parameters
    except (TypeError, ValueError):  # builtins without a signature
        takes_progress = False
    return method(items, progress=progress) if takes_progress else method(items)


def _check_classnames(classnames) -> list[str]:
    names = check_str_list(classnames, "classnames")
    for i, c in enumerate(names):
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


def _fill(template: str, classname: str) -> str:
    return template.replace("{}", classname)


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
    fns: list[Callable[[str], str]] = []
    for i, t in enumerate(templates):
        if isinstance(t, str):
            if "{}" not in t:
                raise ValueError(
                    f"templates[{i}]: expected a string with '{{}}' where the class name goes, got {t!r}"
                )
            fns.append(functools.partial(_fill, t))
        elif callable(t):
            if not isinstance(t("x"), str):
                raise TypeError(f"templates[{i}]: a callable template must return a string, got {describe(t('x'))}")
            fns.append(t)
        else:
            raise TypeError(f"templates[{i}]: expected a string with '{{}}' or a callable, got {describe(t)}")
    return fns


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
    emb = as_array(_encode(model.encode_text, texts, progress), "model.encode_text(...)")  # (C*T, D)
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
    return softmax(scale * (img @ cls.T), axis=1)  # (N, C)


def classify(
    model,
    images,
    classnames: Sequence[str],
    templates: Sequence[str | Callable[[str], str]] = DEFAULT_TEMPLATES,
    *,
    logit_scale: float | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Zero-shot probabilities of each class for each image.

    Args:
        model: a joint encoder (the ``mmlab.models.Encoder`` protocol with "text" and "image").
        images: N PIL images.
        classnames: C distinct class names.
        templates: prompt templates, as for ``build_classifier``.
        logit_scale: the multiplier of the cosines; ``None`` uses ``model.logit_scale``, or
            CLIP's cap of 100 when the model has none.
        progress: show the encoders' progress bars.
    Returns:
        (N, C) float32 probabilities; row i sums to 1, column c belongs to ``classnames[c]``.
    """
    _check_joint_model(model, ("text", "image"))
    images = check_images(images, "images")
    if logit_scale is None:
        logit_scale = DEFAULT_LOGIT_SCALE if model.logit_scale is None else model.logit_scale
        name = "model.logit_scale"
    else:
        name = "logit_scale"
    scale = check_float(logit_scale, name, low=0.0, low_inclusive=False)
    classifier = build_classifier(model, classnames, templates, progress=progress)  # (C, D)
    image_features = _encode(model.encode_image, images, progress)  # (N, D)
    return predict_proba(image_features, classifier, scale)


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
    y = check_labels(labels, "labels", n_classes=len(cls), integer=True)
    check_same_length(img, y, "image_features", "labels")
    pred = (img @ cls.T).argmax(axis=1)  # the softmax does not change the argmax
    return float((pred == y).mean())


# --------------------------------------------------------------------------- calibration


def _check_probabilities(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    p = as_array(probs, "probs", dtype=np.float64)  # (N, C)
    if ((p < 0) | (p > 1)).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("probs: expected rows of probabilities (each in [0, 1], summing to 1), got rows summing to "
                         f"{float(p.sum(axis=1).min()):.3g} .. {float(p.sum(axis=1).max()):.3g}")
    y = check_labels(labels, "labels", n_classes=p.shape[1], integer=True)
    check_same_length(p, y, "probs", "labels")
    return p, y


def expected_calibration_error(probs, labels, n_bins: int = 10) -> float:
    """How far a classifier's confidence is from its accuracy (Guo et al., 2017).

    Each prediction's confidence is its largest probability. The predictions are put in
    ``n_bins`` equal-width confidence bins; in each bin the gap between the mean confidence
    and the accuracy is weighted by the share of predictions in it, and the gaps are summed.
    0 means "when it says 70 %, it is right 70 % of the time".

    Args:
        probs: (N, C) class probabilities, rows summing to 1.
        labels: (N,) int, the true class of each row.
        n_bins: the number of confidence bins over [0, 1].
    Returns:
        The expected calibration error, in [0, 1].
    """
    p, y = _check_probabilities(probs, labels)
    n_bins = check_int(n_bins, "n_bins", low=1)
    confidence = p.max(axis=1)  # (N,)
    correct = p.argmax(axis=1) == y  # (N,)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)  # confidence 1.0 goes in the top bin
    ece = 0.0
    for b in np.unique(bins):
        members = bins == b
        ece += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(ece)


def fit_logit_scale(similarities, labels, *, low: float = 0.1, high: float = 1000.0) -> float:
    """The logit scale that minimises the mean negative log-likelihood of the true classes.

    Temperature scaling (Guo et al., 2017): one number multiplies every cosine before the
    softmax; it changes the confidence of the probabilities, never which class wins. Fit it
    on data that the evaluation does not use.

    Args:
        similarities: (N, C) cosine similarities of N items to C class embeddings.
        labels: (N,) int, the true class of each row.
        low, high: the range searched (on a log scale).
    Returns:
        The fitted scale (``alpha``; the temperature is ``1 / alpha``).
    """
    from scipy.optimize import minimize_scalar

    s = as_array(similarities, "similarities", dtype=np.float64)  # (N, C)
    y = check_labels(labels, "labels", n_classes=s.shape[1], integer=True)
    check_same_length(s, y, "similarities", "labels")
    low = check_float(low, "low", low=0.0, low_inclusive=False)
    high = check_float(high, "high")
    if high <= low:
        raise ValueError(f"high: expected a number > low ({low}), got {high}")
    rows = np.arange(len(y))

    def nll(log_scale: float) -> float:
        z = np.exp(log_scale) * s
        z = z - z.max(axis=1, keepdims=True)
        return float((np.log(np.exp(z).sum(axis=1)) - z[rows, y]).mean())

    best = minimize_scalar(nll, bounds=(np.log(low), np.log(high)), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(best.x))


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
    y = check_labels(labels, "labels", integer=True)
    k = check_int(k, "k", low=1)
    rng = np.random.default_rng(resolve_seed(seed))
    picked = []
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        picked.append(rng.choice(members, size=min(k, members.size), replace=False))
    return np.sort(np.concatenate(picked)).astype(np.int64)


def probe_correct(
    train_features,
    train_labels,
    test_features,
    test_labels,
    k: int,
    *,
    C: float = 1.0,
    seed: int | None = None,
) -> np.ndarray:
    """Which test items a logistic regression trained on ``k`` examples per class gets right.

    One draw of the "linear probe" of the CLIP paper: ``k`` training examples per class are
    drawn (``sample_k_per_class``), a logistic regression is fitted on their embeddings (the
    encoder stays frozen), and every test item is predicted. Returning the per-item result,
    not only the accuracy, lets a caller compare two classifiers on the same items (a paired
    comparison) or resample the test items.

    Args:
        train_features: (N, D) embeddings to draw the k-shot training set from.
        train_labels: (N,) int labels of ``train_features``.
        test_features: (M, D) embeddings to evaluate on.
        test_labels: (M,) int labels of ``test_features``.
        k: training examples per class.
        C: inverse L2 regularisation strength of ``sklearn.linear_model.LogisticRegression``.
        seed: seeds the draw; ``None`` uses ``mmlab.SEED``.
    Returns:
        (M,) bool, True where the probe predicts the test item's label.
    """
    from sklearn.linear_model import LogisticRegression

    Xtr = as_array(train_features, "train_features")
    Xte = as_array(test_features, "test_features")
    check_same_dim(Xtr, Xte, "train_features", "test_features")
    ytr = check_labels(train_labels, "train_labels", integer=True)
    yte = check_labels(test_labels, "test_labels", integer=True)
    check_same_length(Xtr, ytr, "train_features", "train_labels")
    check_same_length(Xte, yte, "test_features", "test_labels")
    k = check_int(k, "k", low=1)
    C = check_float(C, "C", low=0.0, low_inclusive=False)
    if np.unique(ytr).size < 2:
        raise ValueError(f"train_labels: expected at least 2 classes, got {np.unique(ytr).size}")
    idx = sample_k_per_class(ytr, k, seed=resolve_seed(seed))
    clf = LogisticRegression(C=C, max_iter=1000)
    # A few hundred rows: BLAS threads only fight each other here (one thread is ~40x faster
    # on a busy 2-core machine than the default pool).
    with warnings.catch_warnings(), single_threaded(torch=False):
        # With k = 1 there are as many classes as samples, which sklearn flags as a
        # possible regression target; here it is exactly the few-shot setting.
        warnings.filterwarnings("ignore", message="The number of unique classes", category=UserWarning)
        clf.fit(Xtr[idx], ytr[idx])
        return np.asarray(clf.predict(Xte) == yte)


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
    depends on which ones were drawn, so the draw is repeated and averaged
    (``probe_correct`` gives one draw's result per test item).

    Args:
        train_features, train_labels, test_features, test_labels, k, C: as in ``probe_correct``.
        repeats: independent draws to average over.
        seed: seed of the first draw (draw r uses ``seed + r``); ``None`` uses ``mmlab.SEED``.
    Returns:
        Mean test accuracy over the draws.
    """
    repeats = check_int(repeats, "repeats", low=1)
    seed = resolve_seed(seed)
    return float(np.mean([probe_correct(train_features, train_labels, test_features, test_labels, k,
                                        C=C, seed=seed + r).mean() for r in range(repeats)]))
