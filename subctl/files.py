"""Files subctl writes itself (config, plans, backups, exports): whole or not at all, and
private."""

from __future__ import annotations

import datetime as dt
import errno
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

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


# Temporary files of ``atomic_output``: hidden, next to the final name (a rename never crosses a
# file system), named after it and after the writing process (``.NAME.PID.XXXX.subctl-tmp``), so
# that a later export to that name removes what a killed one left: a SIGKILL runs no cleanup.
_TEMP_PREFIX = "."
_TEMP_SUFFIX = ".subctl-tmp"
STALE_AFTER = dt.timedelta(hours=1)  # a temporary file of a live process (another host) kept


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def remove_stale_temporaries(path: Path, *, now: float | None = None) -> list[Path]:
    """Remove the temporary files an interrupted ``atomic_output`` to ``path`` left: those of a
    process that no longer runs, and any older than ``STALE_AFTER``; returns them."""
    import time

    limit = (time.time() if now is None else now) - STALE_AFTER.total_seconds()
    removed = []
    for old in path.parent.glob(f"{_TEMP_PREFIX}{path.name}.*{_TEMP_SUFFIX}"):
        pid_text = old.name[len(_TEMP_PREFIX) + len(path.name) + 1 :].partition(".")[0]
        try:
            dead = pid_text.isdigit() and int(pid_text) != os.getpid() and not _alive(int(pid_text))
            if dead or old.stat().st_mtime < limit:
                old.unlink()
                removed.append(old)
        except OSError:
            continue
    return removed


@contextmanager
def atomic_output(path: Path, *, binary: bool, force: bool) -> Iterator[IO[Any]]:
    """A file that appears under ``path`` only whole: written to a temporary file in the same
    directory (created 0600 by ``mkstemp``, hidden: ``.NAME.PID.XXXX.subctl-tmp``), flushed and
    fsynced, then renamed onto ``path`` when the block ends without an exception. On an
    exception the temporary file is removed and ``path`` is untouched; after a SIGKILL it stays
    behind under its hidden name (never the final one) and the next write to ``path`` removes
    it (``remove_stale_temporaries``). An existing ``path`` without ``force`` is a
    usage error (exit 2), checked before anything is written and again before the rename; a
    link, a device or a pipe under ``path`` is never replaced, even with ``force``."""
    from subctl.errors import UsageError

    def refuse() -> UsageError:
        return UsageError(f"{path} already exists", hint="add --force to overwrite it")

    if path.is_dir():
        raise UsageError(f"{path} is a directory", hint="give a file name")
    if path.is_symlink() or (path.exists() and not path.is_file()):
        # --force replaces a file; never a link (the rename would replace the link, not its
        # target) nor a device or a pipe
        raise UsageError(f"{path} is not a regular file", hint="give the name of a file to write")
    if not force and path.exists():
        raise refuse()
    remove_stale_temporaries(path)
    try:
        fd, tmp = tempfile.mkstemp(
            dir=path.parent, prefix=f"{_TEMP_PREFIX}{path.name}.{os.getpid()}.", suffix=_TEMP_SUFFIX
        )
    except OSError as exc:
        raise file_error(path, exc) from exc
    temp = Path(tmp)
    try:
        if binary:
            handle: IO[Any] = os.fdopen(fd, "wb")
        else:
            handle = os.fdopen(fd, "w", encoding="utf-8", newline="")
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if not force and path.exists():  # created meanwhile: never replaced without --force
            raise refuse()
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise file_error(path, exc) from exc
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


_PLACEHOLDER = re.compile(r"\{([a-z]*)\}")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def expand_template(template: str, *, view: str | None, now: dt.datetime) -> str:
    """``-o 'exports/subs-{date}.xlsx'``: ``{date}`` (YYYY-MM-DD), ``{time}`` (HHMMSS) and
    ``{view}`` (the view's name, else ``all``; characters other than letters, digits, ``.``,
    ``_`` and ``-`` become ``-``), in ``now``'s time zone. Another ``{name}`` is a usage
    error."""
    from subctl.errors import UsageError

    values = {
        "date": now.strftime("%Y-%m-%d"),
        "time": now.strftime("%H%M%S"),
        "view": _UNSAFE.sub("-", view) if view else "all",
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise UsageError(
                f"unknown placeholder {{{name}}} in {template}",
                hint="use {date}, {time} or {view}",
            )
        return values[name]

    return _PLACEHOLDER.sub(replace, template)
