"""``AppContext``: what a command needs, injected (gh's Factory): the output sink, the prompter,
the clock, and the stores of the active profile (``records`` and ``workspace``), opened lazily so
that ``--help`` never imports a database driver."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from subctl import config
from subctl.errors import Aborted, ConfirmationRequired, SubctlError, UsageError
from subctl.export.values import visible
from subctl.output import Output, Prompter, QuestionaryPrompter

if TYPE_CHECKING:
    import typer

    from subctl.store.base import BillingStore, RecordStore, ReportStore, UnitOfWork, Workspace
    from subctl.store.sql import LocalBackend
    from subctl.store.sql.records import SqlRecordStore


def system_clock() -> dt.datetime:
    """Now, in UTC. ``SUBCTL_NOW`` (an ISO datetime) pins it, for reproducible runs and tests."""
    pinned = os.environ.get("SUBCTL_NOW")
    if pinned:
        try:
            value = dt.datetime.fromisoformat(pinned)
        except ValueError as exc:
            raise UsageError(
                f'SUBCTL_NOW="{pinned}" is not an ISO 8601 date and time',
                hint="e.g. SUBCTL_NOW=2026-11-26T12:00:00Z, or unset it for the real clock",
            ) from exc
        value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        if not EARLIEST <= value <= LATEST:  # dates and periods count from it: keep them valid
            raise UsageError(
                f'SUBCTL_NOW="{pinned}" is out of range ({EARLIEST.year} to {LATEST.year})',
                hint="e.g. SUBCTL_NOW=2026-11-26T12:00:00Z, or unset it for the real clock",
            )
        return value
    return dt.datetime.now(dt.UTC)


EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # epoch milliseconds are not negative
LATEST = dt.datetime(9000, 12, 31, tzinfo=dt.UTC)  # room for offsets and periods after it


@dataclass
class AppContext:
    out: Output = field(default_factory=Output)
    workspace_target: str | None = None  # --workspace PATH|URL
    profile: str | None = None  # --profile NAME
    clock: Callable[[], dt.datetime] = None  # type: ignore[assignment]  # see __post_init__
    prompter: Prompter = None  # type: ignore[assignment]  # set in __post_init__
    _local: LocalBackend | None = None
    _set_clock: dt.datetime | None = None
    _set_clock_read: bool = False

    def __post_init__(self) -> None:
        if self.prompter is None:
            self.prompter = QuestionaryPrompter(self.out)
        if self.clock is None:
            self.clock = self.workspace_clock

    def workspace_clock(self) -> dt.datetime:
        """Now, for every verb: ``SUBCTL_NOW`` when set (one command), else the workspace's
        clock when it has been set (``subctl clock``), else the system clock."""
        if os.environ.get("SUBCTL_NOW"):
            return system_clock()
        set_clock = self.clock_setting()
        return set_clock if set_clock is not None else system_clock()

    def clock_setting(self) -> dt.datetime | None:
        """The workspace's set clock (None: the system clock), read once per process and only
        from a workspace that exists: asking the time never creates one."""
        if not self._set_clock_read:
            self._set_clock_read = True
            try:
                backend = self._backend()
            except SubctlError:  # no workspace, or one that cannot be opened: say so later
                return None
            from subctl.services.billing import workspace_clock

            self._set_clock = workspace_clock(backend.workspace)
        return self._set_clock

    def clock_moved(self, to: dt.datetime | None) -> None:
        """The workspace's clock was set (``to``) or reset (None) by this command."""
        self._set_clock, self._set_clock_read = to, True

    @classmethod
    def from_typer(cls, ctx: typer.Context) -> AppContext:
        obj = ctx.find_root().obj
        if not isinstance(obj, AppContext):
            obj = AppContext()
            ctx.find_root().obj = obj
        return obj

    def today(self) -> dt.date:
        return self.clock().date()

    @property
    def can_prompt(self) -> bool:
        return self.prompter.interactive

    def confirm(self, question: str, *, yes: bool) -> None:
        """Ask before a destructive step. Off a terminal, ``--yes`` is required; declining
        aborts."""
        if yes:
            return
        if not self.can_prompt:
            raise ConfirmationRequired(
                f"{question.rstrip('?')}: confirmation required", hint="pass --yes to confirm"
            )
        if not self.prompter.confirm(visible(question), default=False):
            raise Aborted("aborted")

    def workspace_url(self) -> str:
        target = self.workspace_target or config.load_profile(self.profile).workspace
        return config.workspace_url(target)

    def _backend(self, *, create: bool = False) -> LocalBackend:
        """The active profile's stores; a local profile's share one database."""
        if self._local is None:
            kind = "local" if self.workspace_target else config.load_profile(self.profile).kind
            if kind != "local":
                raise UsageError(f'profile kind "{kind}" is not supported by this subctl')
            from subctl.store.sql import open_local

            self._local = open_local(self.workspace_url(), create=create)
        return self._local

    def records(self, *, create: bool = False) -> RecordStore:
        """The record store (opened on first use; ``create``: init/demo may create it)."""
        return self._backend(create=create).records

    def local_records(self, *, create: bool = False) -> SqlRecordStore:
        """The record store of a local profile, with bulk loading (``init``, ``demo``)."""
        return self._backend(create=create).records

    def unit_of_work(self) -> UnitOfWork:
        """How batches write: the local database's transactions (``SqlUnitOfWork``).
        ``SUBCTL_UNIT_OF_WORK=item-by-item`` selects the unit of a store that cannot share the
        workspace's transaction (``store.unit.ItemByItem``), to exercise it locally."""
        backend = self._backend()
        if os.environ.get("SUBCTL_UNIT_OF_WORK") == "item-by-item":
            from subctl.store.unit import ItemByItem

            return ItemByItem(backend.records, backend.workspace)
        return backend.unit

    def workspace(self) -> Workspace:
        """The workspace: jobs journal, saved views, settings, outbox (opened on first use)."""
        return self._backend().workspace

    def billing(self) -> BillingStore:
        """The billing run of the local workspace (a remote profile has none: HubSpot bills)."""
        return self._backend().billing

    def reports(self) -> ReportStore:
        """The set-based reads of ``subctl report``: a local workspace's (where the property
        history is); a remote profile reports on its local copy after ``subctl sync``."""
        if not self.workspace_target:
            profile = config.load_profile(self.profile)
            if profile.kind != "local":
                raise UsageError(
                    f'reports read a local workspace; profile "{profile.name}" is {profile.kind}',
                    hint="copy it into a local workspace with subctl sync, then report on that "
                    "one (--workspace PATH)",
                )
        return self._backend().reports

    def database_error(self, exc: BaseException) -> SubctlError | None:
        """A database failure that escaped the store's own mapping (code that runs statements
        on the engine directly), as the store would have reported it; None for anything else."""
        return None if self._local is None else self._local.db.database_error(exc)

    def close(self) -> None:
        if self._local is not None:
            self._local.close()
            self._local = None
