"""The exercise checks as notebooks call them: ``mm.checks.nb01_...``.

They live in ``mmlab.exercises`` (one module per notebook); this module re-exports them.
"""
from __future__ import annotations

from .exercises import *  # noqa: F403
from .exercises import CheckResult, fallback, report  # noqa: F401
