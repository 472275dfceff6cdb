"""The data sets that ship with mmlab, and a loader for your own photos.

- ``load_emoji()``: ~1,870 emoji images (Noto Color Emoji) with names, groups, subgroups.
- ``load_emoji_keywords()``, ``load_rag_questions()``: keyword and question views for notebook 06.
- ``load_spoken_names()``: the names of the animal and food emoji, spoken by espeak-ng.
- ``split_by_id()``: a train/test split that puts an emoji on the same side everywhere.
- ``sample_photos()``: the natural photos shipped inside scikit-image and scikit-learn.
- ``load_image_folder()``: your own folder of images, skipping broken files with a warning.

Everything loads offline from ``data_dir()``: ``MMLAB_DATA`` if set, else the checkout's
``data/``, else the copy inside the installed wheel. How each file was made, and its
licence, is in ``data/README.md`` (shipped beside the data). One module per data set:
``emoji``, ``speech``, ``photos``, ``text`` (keywords and questions), ``folders``.
"""
from __future__ import annotations

from ._files import data_dir
from .emoji import EMOJI_GROUPS, EmojiSet, load_emoji, split_by_id
from .folders import ImageFolder, load_image_folder
from .photos import sample_photos
from .speech import SPOKEN_GROUPS, SpokenNames, load_spoken_names
from .text import load_emoji_keywords, load_rag_questions

__all__ = [
    "EMOJI_GROUPS",
    "SPOKEN_GROUPS",
    "EmojiSet",
    "ImageFolder",
    "SpokenNames",
    "data_dir",
    "load_emoji",
    "load_emoji_keywords",
    "load_image_folder",
    "load_rag_questions",
    "load_spoken_names",
    "sample_photos",
    "split_by_id",
]
