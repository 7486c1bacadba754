"""Files subctl writes itself (config, plans, backups): whole or not at all, and private."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from subctl.errors import DiskFull, UsageError

# Files subctl creates (workspace, its WAL/SHM/journal files, backups, plans, exports, the
# config file) hold customer data or settings: private to the user, whatever the shell's umask.
# ``cli.run`` sets this mask for the whole run rather than passing a mode to each open(), because
# SQLite creates the WAL and SHM files itself, and every writer added later is covered without
# remembering to ask.
PRIVATE_UMASK = 0o077
PRIVATE_DIR = 0o700


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a new temporary file next to ``path`` (created 0600, never following a
    planted file), sync it, then rename it over ``path``: a reader sees the old file or the new
    one, never a part, and the result is 0600 whatever was there before."""
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise file_error(path, exc) from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise file_error(path, exc) from exc


def file_error(path: Path, exc: OSError) -> UsageError | DiskFull:
    """A failed write as the user can act on it: a full disk (exit 6), else a usage error."""
    if exc.errno == errno.ENOSPC:
        return DiskFull(f"disk full: cannot write {path}", hint="free some space and try again")
    return UsageError(f"cannot write {path}: {exc.strerror or exc}")
