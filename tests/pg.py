"""A throwaway PostgreSQL server for the tests, and a fresh database per test.

``SUBCTL_TEST_PG_URL`` (``postgresql://user@host:port/dbname``, a role that may create
databases) points the tests at an existing server. Otherwise a cluster is created in a temporary
directory with the server binaries found on ``PATH`` or under ``/usr/lib/postgresql/*/bin``:
``initdb`` with trust authentication, listening on 127.0.0.1 on a free port only, without
durability (``fsync=off``: the data lives as long as the test session). PostgreSQL refuses to run
as root, so as root the cluster belongs to an unprivileged system user (``postgres``, else
``nobody``). Each test gets its own database, copied from an empty template, dropped afterwards.

Where neither is available the PostgreSQL tests are skipped with the reason, except under
``CI=true``: there a missing server fails the run (``require``).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ENV_URL = "SUBCTL_TEST_PG_URL"
TEMPLATE = "subctl_test_template"
_ADMIN_ROLE = "subctl_test"


class Unavailable(Exception):
    """No PostgreSQL server can be used; the message says why."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def binaries() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for directory in candidates:
        if all((directory / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _unprivileged_user() -> str | None:
    """The user to run the server as: None when not root, else ``postgres`` or ``nobody``."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise Unavailable("running as root and neither a postgres nor a nobody user exists")


@dataclass
class Server:
    """A PostgreSQL server the tests may create databases on."""

    admin_url: str  # postgresql://… of a database to connect to for CREATE/DROP DATABASE
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _template: bool = False
    _admin: Any = None

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10)

    def _conn(self) -> Any:
        """The one admin connection (reopened if it was lost)."""
        if self._admin is None or self._admin.closed:
            self._admin = self._connect()
        return self._admin

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def url(self, database: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path="/" + database))

    def _ensure_template(self, conn: Any) -> None:
        if self._template:
            return
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (TEMPLATE,))
        if exists.fetchone() is None:
            conn.execute(f"CREATE DATABASE \"{TEMPLATE}\" TEMPLATE template0 ENCODING 'UTF8'")
        self._template = True

    def create_database(self) -> str:
        """A new empty database; its ``postgresql://`` URL."""
        name = f"subctl_test_{os.getpid()}_{next(self._counter)}"
        conn = self._conn()
        self._ensure_template(conn)
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = urlsplit(url).path.lstrip("/")
        self._conn().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    @contextmanager
    def database(self) -> Iterator[str]:
        url = self.create_database()
        try:
            yield url
        finally:
            self.drop_database(url)


def _check_driver() -> None:
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise Unavailable(
            f"the PostgreSQL driver is not installed ({exc}): pip install -e '.[postgres]'"
        ) from exc


def _run(argv: list[str], user: str | None, **kwargs: Any) -> None:
    if user is not None:
        argv = ["runuser", "-u", user, "--", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        raise Unavailable(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")


@contextmanager
def cluster() -> Iterator[Server]:
    """A throwaway cluster (see the module's docstring), stopped and removed on exit."""
    bindir = binaries()
    if bindir is None:
        raise Unavailable(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) on PATH or under"
            f" /usr/lib/postgresql/*/bin; install them or set {ENV_URL}"
        )
    user = _unprivileged_user()
    root = Path(tempfile.mkdtemp(prefix="subctl-pg-"))
    data, log = root / "data", root / "server.log"
    try:
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        os.chmod(root, 0o700)
        _run(
            [str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", _ADMIN_ROLE,
             "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"],
            user,
        )  # fmt: skip
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories='{root}'"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=200 -c shared_buffers=64MB"
        )
        _run(
            [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
             "-o", options, "start"],
            user,
        )  # fmt: skip
        try:
            yield Server(f"postgresql://{_ADMIN_ROLE}@127.0.0.1:{port}/postgres")
        finally:
            subprocess.run(
                [*(["runuser", "-u", user, "--"] if user else []),
                 str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True, check=False,
            )  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def server() -> Iterator[Server]:
    """The server of ``SUBCTL_TEST_PG_URL``, else a throwaway cluster; ``Unavailable`` if
    neither can be had."""
    _check_driver()
    url = os.environ.get(ENV_URL, "").strip()
    if url:
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        found = Server(url)
        try:
            found._connect().close()
        except Exception as exc:
            raise Unavailable(f"cannot connect to {ENV_URL}: {exc}") from exc
        try:
            yield found
        finally:
            found.close()
        return
    with cluster() as started:
        try:
            yield started
        finally:
            started.close()
