"""Every test gets a fresh ``SUBCTL_HOME``, no colour, a fixed width and a pinned clock."""

from __future__ import annotations

import importlib.util
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from subctl.cli import run
from tests import pg

if TYPE_CHECKING:
    import sqlalchemy as sa

NOW = "2026-11-26T12:00:00+00:00"
# The valid type/fieldType pairs of DOMAIN.md §4, written out independently of the code under test.
VALID_PAIRS = {
    "bool": {"booleancheckbox", "calculation_equation"},
    "enumeration": {"booleancheckbox", "checkbox", "radio", "select", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "string": {"text", "textarea", "file", "html", "phonenumber", "calculation_equation"},
    "number": {"number", "calculation_equation"},
}
ROOT = Path(__file__).resolve().parent.parent


def completions_generator() -> ModuleType:
    """``completions/generate.py`` (a script, not a package), loaded once per session."""
    name = "_subctl_completions_generate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "completions" / "generate.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


Invoke = Callable[..., Result]


# -- backends ---------------------------------------------------------------------------------
# A test module (or test) marked ``@pytest.mark.backends("sqlite", "postgresql")`` runs once per
# backend: its workspace (the default one ``invoke`` uses) is then a SQLite file in SUBCTL_HOME,
# or a fresh database on the test PostgreSQL server (tests/pg.py) given as SUBCTL_WORKSPACE.
# Unmarked tests use SQLite only.
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "backends(*names): run the test once per workspace backend (sqlite, postgresql)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("backends")
    if marker is not None and "backend" in metafunc.fixturenames:
        unknown = set(marker.args) - set(BACKENDS)
        assert not unknown, f"unknown backends {unknown}"
        metafunc.parametrize("backend", marker.args or BACKENDS, indirect=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.Server]:
    """The PostgreSQL server of the session (tests/pg.py). Unavailable: the tests using it are
    skipped with the reason, except under ``CI=true``, where that is a failure."""
    try:
        with pg.server() as server:
            yield server
    except pg.Unavailable as exc:
        if pg.in_ci():
            pytest.fail(f"PostgreSQL is required in CI: {exc}", pytrace=False)
        pytest.skip(f"PostgreSQL unavailable: {exc}")


@pytest.fixture
def pg_url(pg_server: pg.Server) -> Iterator[str]:
    """A fresh database on the test server, dropped after the test: its postgresql:// URL."""
    with pg_server.database() as url:
        yield url


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The workspace backend of this test: "sqlite" unless parametrised (``backends`` mark)."""
    name: str = getattr(request, "param", "sqlite")
    return name


@dataclass(frozen=True)
class WorkspaceCase:
    """The workspace ``invoke`` uses: ``url`` for SqlRecordStore/SQLAlchemy, ``target`` as given to
    --workspace (None: the default file in SUBCTL_HOME)."""

    backend: str
    url: str
    target: str | None

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"


@pytest.fixture
def ws(request: pytest.FixtureRequest, tmp_path: Path, backend: str) -> WorkspaceCase:
    """The workspace of the test on its backend (``backend``): SUBCTL_HOME's default file, or a
    fresh PostgreSQL database."""
    from subctl.config import sqlite_url, workspace_url

    if backend == "sqlite":
        return WorkspaceCase(backend, sqlite_url(tmp_path / "subctl-home" / "workspace.db"), None)
    target: str = request.getfixturevalue("pg_url")
    return WorkspaceCase(backend, workspace_url(target), target)


@pytest.fixture(autouse=True)
def subctl_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ws: WorkspaceCase
) -> Iterator[Path]:
    home = tmp_path / "subctl-home"
    monkeypatch.setenv("SUBCTL_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("SUBCTL_NOW", NOW)
    for name in ("SUBCTL_WORKSPACE", "SUBCTL_PROFILE", "SUBCTL_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    if ws.target is not None:
        monkeypatch.setenv("SUBCTL_WORKSPACE", ws.target)
    yield home


class ScriptedPrompter:
    """A terminal that answers the questions from a script, in order, and records them
    (``AppContext.prompter``). An answer that is an exception is raised at that question."""

    interactive = True

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.questions: list[str] = []

    def _next(self, question: str) -> Any:
        self.questions.append(question)
        assert self.answers, f"unexpected question: {question}"
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def confirm(self, question: str, *, default: bool = False) -> bool:
        return bool(self._next(question))

    def text(
        self, question: str, *, default: str = "", check: Callable[[str], object] | None = None
    ) -> str:
        answer = str(self._next(question)) or default
        if check is not None:
            check(answer)
        return answer

    def select(self, question: str, choices: Sequence[str], *, default: str | None = None) -> str:
        answer = str(self._next(question)) or default
        assert answer in choices, f"{answer!r} is not a choice of {question}"
        return answer

    def checkbox(self, question: str, choices: Sequence[str]) -> list[str]:
        answer = list(self._next(question))
        assert answer and set(answer) <= set(choices)
        return answer

    def autocomplete(
        self, question: str, choices: Sequence[str], *, check: Callable[[str], object]
    ) -> str:
        answer = str(self._next(question))
        check(answer)
        return answer


class Terminal:
    """The prompter of the commands a test runs: none (off a terminal) until ``terminal(*answers)``
    sets a scripted one."""

    def __init__(self) -> None:
        self.prompter: ScriptedPrompter | None = None

    def __call__(self, *answers: Any) -> ScriptedPrompter:
        self.prompter = ScriptedPrompter(*answers)
        return self.prompter


@pytest.fixture
def terminal() -> Terminal:
    return Terminal()


@pytest.fixture
def invoke(terminal: Terminal) -> Invoke:
    """Run ``subctl`` end to end through ``cli.run`` (which maps errors to exit codes) inside
    Typer's CliRunner isolation, with separate stdout and stderr; with the prompter that
    ``terminal`` scripted, if any."""
    from subctl.context import AppContext

    def _invoke(args: str | Sequence[str], input: str | None = None) -> Result:
        argv = shlex.split(args) if isinstance(args, str) else list(args)
        runner = CliRunner()
        with runner.isolation(input=input) as (out, err, _):
            context = None
            if terminal.prompter is not None:
                context = AppContext(prompter=terminal.prompter)
            code = run(argv, context=context)
            return Result(code, out.getvalue().decode(), err.getvalue().decode())

    return _invoke


@pytest.fixture
def demo(invoke: Invoke) -> Invoke:
    """A workspace with 300 deterministic demo subscriptions."""
    result = invoke("demo --count 300 --seed 1")
    assert result.exit_code == 0, result.stderr
    return invoke


SEED_ROWS = [
    # id, name, status, start, next due, next amount, currency, frequency, mrr, canceled_at
    (1, "Acme Corp – Pro monthly", "active", "2026-01-01", "2026-12-01", "99.00", "USD", "monthly",
     "99.00", None),
    (2, "Globex – Basic annual", "unpaid", "2025-11-20", "2026-11-20", "1200.00", "EUR", "annually",
     "100.00", None),
    (3, "Initech – Team quarterly", "unpaid", "2026-02-15", "2026-11-30", "300.00", "USD",
     "quarterly", "100.00", None),
    (4, "=HYPERLINK(\"x\") Hooli", "canceled", "2025-05-01", None, None, "USD", "monthly", "0.00",
     "2026-10-01T09:30:00+00:00"),
    (5, "Umbrella – Scheduled", "scheduled", "2027-01-01", "2027-01-01", "49.50", "GBP", "monthly",
     "49.50", None),
]  # fmt: skip


@pytest.fixture
def seeded(invoke: Invoke, ws: WorkspaceCase) -> Invoke:
    """A workspace with the five SEED_ROWS (all billable), a contact (id 17, two emails) on
    subscriptions 1 and 2, a company on 1, and a pending ACH payment on 2."""
    import datetime as dt
    from decimal import Decimal

    from subctl.schema import standard_registry
    from subctl.store.sql import open_local

    assert invoke("init").exit_code == 0
    store = open_local(ws.url).records
    reg = standard_registry()
    cols = ["hs_object_id", "hs_name", "hs_status", "hs_recurring_billing_start_date",
            "hs_next_payment_due_date", "hs_next_payment_amount", "hs_currency_code",
            "hs_recurring_billing_frequency", "hs_mrr", "hs_canceled_at", "hs_createdate",
            "hs_lastmodifieddate", "hs_invoice_creation"]  # fmt: skip
    created = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)

    def typed(row: tuple[object, ...]) -> list[object]:
        sid, name, status, start, due, amount, cur, freq, mrr, canceled = row
        values: list[object] = [
            sid, name, status,
            dt.date.fromisoformat(str(start)),
            dt.date.fromisoformat(str(due)) if due else None,
            Decimal(str(amount)) if amount else None, cur, freq, Decimal(str(mrr)),
            dt.datetime.fromisoformat(str(canceled)) if canceled else None, created, created,
            "on",  # billable: every seeded subscription creates invoices
        ]  # fmt: skip
        return [reg.get(c).to_storage(v) for c, v in zip(cols, values, strict=True)]  # type: ignore[union-attr]

    store.seed("subscriptions", cols, [typed(r) for r in SEED_ROWS])
    ms = 1_735_689_600_000
    store.seed(
        "contacts", ["id", "firstname", "lastname", "created_at"], [(17, "Ada", "Lovelace", ms)]
    )
    store.seed(
        "contact_emails",
        ["contact_id", "position", "email"],
        [(17, 0, "ada@example.com"), (17, 1, "ada@work.example")],
    )
    store.seed("companies", ["id", "name", "created_at"], [(77, "Acme Corp", ms)])
    store.seed(
        "payments",
        ["id", "amount", "currency", "status", "method", "kind", "created_at"],
        [(900, 1200.0, "EUR", "processing", "ach", "payment", ms)],
    )
    store.seed("associations", ["subscription_id", "object_type", "object_id", "type_id"],
                      [(1, "contact", 17, 295), (2, "contact", 17, 295), (1, "company", 77, 297),
                       (2, "payment", 900, 393)])  # fmt: skip
    store.close()
    return invoke


@contextmanager
def connect(ws: WorkspaceCase) -> Iterator[sa.Connection]:
    """A SQLAlchemy connection to the workspace (SQLite: waiting up to 30 s for a writer's
    lock); what it writes needs ``commit()``."""
    import sqlalchemy as sa

    args = {"timeout": 30} if ws.is_sqlite else {}
    engine = sa.create_engine(ws.url, connect_args=args)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def checksum(ws: WorkspaceCase) -> str:
    """Every row of every table of the workspace, on any backend (rows in column order)."""
    import hashlib

    import sqlalchemy as sa

    digest = hashlib.sha256()
    with connect(ws) as conn:
        for table in sorted(sa.inspect(conn).get_table_names()):
            digest.update(table.encode())
            quoted = conn.dialect.identifier_preparer.quote(table)
            for row in conn.exec_driver_sql(f"SELECT * FROM {quoted}").all():
                digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


def wait_until_journaled(
    where: Path | WorkspaceCase, proc: subprocess.Popen[Any], items: int
) -> None:
    """Poll a running batch's journal (of the workspace, or of the SQLite file in the home
    directory ``where``) until ``items`` have an outcome (or it ends, or 60 s), so a test can
    interrupt it mid-run."""
    import time

    import sqlalchemy as sa

    from subctl.config import sqlite_url

    ws = (
        where
        if isinstance(where, WorkspaceCase)
        else WorkspaceCase("sqlite", sqlite_url(where / "workspace.db"), None)
    )
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and proc.poll() is None and done < items:
        try:
            with connect(ws) as conn:
                (done,) = conn.exec_driver_sql(
                    "SELECT count(*) FROM job_items WHERE outcome IS NOT NULL"
                ).one()
        except sa.exc.DBAPIError:  # the writer holds the lock, or the journal is not there yet
            done = 0
        time.sleep(0.002)
