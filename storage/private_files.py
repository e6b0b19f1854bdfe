"""Files that hold private data, kept readable by their owner only.

The data directory holds password hashes and private messages (the SQLite
file) and the JWT signing secret, so it is created with mode 0700 and every
file in it with 0600, whatever the process umask. SQLite creates its ``-wal``
and ``-shm`` files with the permission bits of the database file, which is
why the database file is created here, empty and 0600, before Tortoise opens
it: SQLite takes an empty file for a new database.

What already exists is tightened (group and other bits removed) with a
warning naming the path, so an operator learns that a previous version left
it open. A path the process does not own cannot be tightened; that is a
warning too, not a refusal to start, because the files in it are still
created 0600.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
_OPEN_TO_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def private_directory(path: Path) -> None:
    """Create ``path`` (and missing parents) for its owner only, or tighten it if it exists."""
    try:
        path.mkdir(mode=DIRECTORY_MODE, parents=True)
    except FileExistsError:
        tighten(path)
    else:
        os.chmod(path, DIRECTORY_MODE)  # mkdir's mode went through the umask


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists; tighten it if it does."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        tighten(path)
    else:
        os.fchmod(fd, FILE_MODE)  # as above: the umask can only have removed bits, but be exact
        os.close(fd)


def tighten(path: Path) -> None:
    """Remove group and other permissions from a path, saying so; a missing path is left missing."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if not mode & _OPEN_TO_OTHERS:
        return
    private = mode & ~_OPEN_TO_OTHERS
    try:
        os.chmod(path, private)
    except PermissionError:
        log.warning(
            "%s is open to other local users (mode %03o) and this process may not change that; "
            "restrict it to its owner (chmod %03o)",
            path,
            mode,
            private,
        )
        return
    log.warning(
        "%s was open to other local users (mode %03o); restricted it to mode %03o", path, mode, private
    )
