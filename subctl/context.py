"""``AppContext``: what a command needs, injected (gh's Factory): the output sink, the prompter,
the clock, and the stores of the active profile (``records`` and ``workspace``), opened lazily so
that ``--help`` never imports a database driver.

A local profile's stores share one SQL database. A HubSpot profile (``kind = "hubspot"``) pairs
the remote record store (``store.http.open_remote``: HubSpot's API, with the profile's token,
base URL and tier) with a local SQL workspace for the journal, views and settings: the profile's
own file, created (and migrated) on first use, since ``init`` and ``demo`` have nothing to do
on a remote profile."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from subctl import config
from subctl.errors import (
    Aborted,
    ConfirmationRequired,
    InvalidState,
    StoreUnavailable,
    SubctlError,
    UsageError,
)
from subctl.export.values import visible
from subctl.output import Output, Prompter, QuestionaryPrompter

if TYPE_CHECKING:
    import typer

    from subctl.store.base import BillingStore, RecordStore, UnitOfWork, Workspace
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
    _remote: RecordStore | None = None
    _profile: config.Profile | None = None
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

    def active_profile(self) -> config.Profile:
        """The profile in use (``--workspace`` given: a local one on that workspace)."""
        if self._profile is None:
            if self.workspace_target:
                self._profile = config.Profile("(--workspace)", self.workspace_target)
            else:
                self._profile = config.load_profile(self.profile)
        return self._profile

    def use_profile(self, name: str) -> None:
        """Use another profile than the global one (before anything is opened)."""
        assert self._local is None and self._remote is None, "a store is open already"
        self.profile, self.workspace_target, self._profile = name, None, None

    @property
    def remote(self) -> bool:
        """Whether the records live in HubSpot (a ``hubspot`` profile)."""
        return self.active_profile().remote

    def workspace_url(self) -> str:
        return config.workspace_url(self.active_profile().workspace_target())

    def _backend(self, *, create: bool = False) -> LocalBackend:
        """The active profile's local SQL database: a local profile's records and workspace,
        or a remote profile's workspace (created on first use)."""
        if self._local is None:
            profile = self.active_profile()
            if profile.kind not in config.KINDS:
                raise UsageError(f'profile kind "{profile.kind}" is not supported by this subctl')
            from subctl.store.sql import open_local

            url = self.workspace_url()
            if profile.remote and url.startswith("sqlite:"):
                from subctl.files import PRIVATE_DIR

                path = config.profile_workspace_path(profile.name).parent
                path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
            self._local = open_local(url, create=create or profile.remote)
        return self._local

    def _remote_records(self) -> RecordStore:
        """The HubSpot record store of a remote profile, opened once with its token."""
        if self._remote is None:
            from subctl import tokens

            profile = self.active_profile()
            token = tokens.require(profile)
            self._remote = open_remote(profile.api_url, token, profile.rate_tier)
        return self._remote

    def records(self, *, create: bool = False) -> RecordStore:
        """The record store (opened on first use; ``create``: init/demo may create it)."""
        if self.remote:
            return self._remote_records()
        return self._backend(create=create).records

    def local_records(self, *, create: bool = False) -> SqlRecordStore:
        """The record store of a local profile, with bulk loading (``init``, ``demo``)."""
        self.refuse_remote("demo")
        return self._backend(create=create).records

    def unit_of_work(self) -> UnitOfWork:
        """How batches write: the local database's transactions (``SqlUnitOfWork``); a remote
        profile's, item by item (``store.unit.ItemByItem``: claim, HubSpot's call, outcome).
        ``SUBCTL_UNIT_OF_WORK=item-by-item`` selects that unit locally too, to exercise it."""
        from subctl.store.unit import ItemByItem

        if self.remote:  # HubSpot's lifecycle calls have no batch form: several at once
            records = self._remote_records()
            workers = getattr(getattr(records, "client", None), "workers", 1)
            return ItemByItem(records, self._backend().workspace, workers=int(workers))
        backend = self._backend()
        if os.environ.get("SUBCTL_UNIT_OF_WORK") == "item-by-item":
            return ItemByItem(backend.records, backend.workspace)
        return backend.unit

    def workspace(self) -> Workspace:
        """The workspace: jobs journal, saved views, settings, outbox (opened on first use)."""
        return self._backend().workspace

    def billing(self) -> BillingStore:
        """The billing run of the local workspace (a remote profile has none: HubSpot bills)."""
        self.refuse_remote("billing")
        return self._backend().billing

    def refuse_remote(self, what: str) -> None:
        """Stop, before anything happens, what a remote profile cannot do (``REMOTE_REFUSALS``:
        HubSpot has no endpoint for it, or does it by itself): ``InvalidState`` (exit 5), or
        ``UsageError`` (exit 2) for a flag."""
        if not self.remote:
            return
        message, hint, flag = REMOTE_REFUSALS[what]
        name = self.active_profile().name
        error = UsageError if flag else InvalidState
        raise error(f"{message} (profile {name} is a HubSpot profile)", hint=hint)

    def database_error(self, exc: BaseException) -> SubctlError | None:
        """A database failure that escaped the store's own mapping (code that runs statements
        on the engine directly), as the store would have reported it; None for anything else."""
        return None if self._local is None else self._local.db.database_error(exc)

    def close(self) -> None:
        if self._remote is not None:
            self._remote.close()
            self._remote = None
        if self._local is not None:
            self._local.close()
            self._local = None


_WORK_LOCALLY = "subctl sync --into NAME mirrors the account into a local profile: work there"

# What a remote profile refuses: (message, hint, whether a flag asked for it: exit 2, else 5).
REMOTE_REFUSALS: dict[str, tuple[str, str, bool]] = {
    "billing": (
        "HubSpot bills by itself: there is no billing run on a remote profile",
        f"the billing run simulates a local workspace; {_WORK_LOCALLY}",
        False,
    ),
    "clock": (
        "HubSpot's clock is the real one: it cannot be moved",
        f"the workspace clock drives local billing; {_WORK_LOCALLY}",
        False,
    ),
    "refund": (
        "HubSpot has no endpoint for refunds: --refund and --refund-pending work locally only",
        "cancel without them, and refund in HubSpot's payments tool",
        True,
    ),
    "send-update-link": (
        "HubSpot has no endpoint to send a payment-method update link (no outbox remotely)",
        "send it from HubSpot's subscription page; the local outbox exists on local profiles",
        False,
    ),
    "demo": (
        "demo data is generated into a local workspace, never into a HubSpot account",
        "subctl --profile default demo (or any local profile)",
        False,
    ),
    "init": (
        "a HubSpot profile's workspace is created on first use: init has nothing to do",
        "subctl profile show says where it is",
        False,
    ),
}


def open_remote(base_url: str, token: str, tier: str) -> RecordStore:
    """HubSpot's record store (``subctl.store.http.open_remote``, imported only here)."""
    import importlib

    opener = getattr(importlib.import_module("subctl.store.http"), "open_remote", None)
    if opener is None:
        raise StoreUnavailable("this subctl was built without the HubSpot record store")
    store: RecordStore = opener(base_url, token, tier)
    return store
