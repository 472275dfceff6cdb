"""Exercise checks, one module per notebook (``nb01`` ... ), sharing ``_feedback``.

A check prints a clear pass message, or what is wrong and a hint; it never reveals the
solution. It returns a :class:`CheckResult`, truthy when the answer passed, that shows nothing in a
notebook (the feedback line is the only output). Notebooks call
them as ``mm.checks.nb01_...`` (``mmlab.checks`` re-exports everything here).
"""
from __future__ import annotations

from ._feedback import CheckResult as CheckResult
from ._feedback import fallback as fallback
from ._feedback import report as report
from .nb00 import *  # noqa: F403
from .nb01 import *  # noqa: F403
from .nb02 import *  # noqa: F403
from .nb03 import *  # noqa: F403
from .nb04 import *  # noqa: F403
from .nb05 import *  # noqa: F403
from .nb06 import *  # noqa: F403
