"""Is the model hub usable right now? Answered in at most ~2.5 s, never by downloading anything."""
from __future__ import annotations

import os
import threading

__all__ = ["hub_reachable", "hub_unavailable_reason", "offline"]


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hub_reachable(timeout: float = 2.0) -> bool:
    """One quick TCP connection attempt to the model hub (never more than ``timeout`` + 0.5 s)."""
    if offline():
        return False
    import socket
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    result: list[bool] = []

    def attempt() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(True)
        except Exception:
            result.append(False)

    # DNS lookups ignore the socket timeout, so the attempt runs in a thread we stop waiting for.
    thread = threading.Thread(target=attempt, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return bool(result and result[0])


def hub_unavailable_reason() -> str | None:
    """Why nothing can be downloaded now ("HF_HUB_OFFLINE=1", "the model hub is unreachable"), or None."""
    if offline():
        return "HF_HUB_OFFLINE=1"
    if not hub_reachable():
        return "the model hub is unreachable"
    return None
