"""Exercise checks: each prints a clear pass message, or what is wrong and a hint.

A check never reveals the solution. It returns ``True``/``False`` so tests can use it,
but the learner reads the printed message. Each notebook's checks live in a private
module (``_checks_nb01`` ...) and are re-exported here, so notebooks call
``mm.checks.nb01_...``.
"""
from __future__ import annotations

from ._checks_nb01 import *  # noqa: F401,F403
from ._checks_nb02 import *  # noqa: F401,F403
from ._checks_nb03 import *  # noqa: F401,F403
from ._checks_nb04 import *  # noqa: F401,F403
from ._checks_nb05 import *  # noqa: F401,F403
from ._feedback import report  # noqa: F401
