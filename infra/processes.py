"""Child processes of a stack: tied to their parent's life."""

from __future__ import annotations

import signal


def die_with_parent() -> None:
    """Linux: have the kernel SIGTERM the child when its parent dies, so no broker is orphaned."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - non-Linux: best effort
        pass
