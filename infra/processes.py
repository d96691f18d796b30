"""Child processes of a stack: tied to their parent's life, and private to its user.

The data directory holds personal data (resident IDs, card numbers, names, asset reports) in the
gateway's store, the broker's log segments and every process's log, so it is 0700 and every file
in it 0600: children start with umask 077, and what an older run left is tightened on start."""

from __future__ import annotations

import os
import signal
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE, FILE_MODE = 0o700, 0o600


def die_with_parent() -> None:
    """Linux: have the kernel SIGTERM the child when its parent dies, so no broker is orphaned."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - non-Linux: best effort
        pass


def private_child() -> None:
    """``preexec_fn`` of every child: files it makes are its user's only, and it dies with us."""
    os.umask(PRIVATE_UMASK)
    die_with_parent()


def make_private(directory: Path) -> None:
    """Creates ``directory`` 0700 and tightens everything already under it (0700 directories,
    0600 files), e.g. a data directory made by a version that left it world-readable."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, DIR_MODE)
    for root, dirs, files in os.walk(directory):
        for names, mode in ((dirs, DIR_MODE), (files, FILE_MODE)):
            for name in names:
                path = os.path.join(root, name)
                if not os.path.islink(path):  # a link's target is not ours to change
                    os.chmod(path, mode)


def open_private_log(path: Path) -> int:
    """A log file for a child to append to, 0600 even when our own umask is looser."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return fd
