"""Loading a model from a local file without transformers' progress bars and load reports.

A "Loading weights 0/103" bar for a local file is noise in a notebook, and a stored one looks
hung on a code host. The one place mmlab silences transformers (and sentence-transformers).
"""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Inside the block: no transformers progress bars, only errors logged; restores what it found."""
    from transformers.utils import logging as hf_logging

    st_logger = logging.getLogger("sentence_transformers")
    level, verbosity = st_logger.level, hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    st_logger.setLevel(logging.ERROR)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()
        hf_logging.set_verbosity(verbosity)
        st_logger.setLevel(level)
