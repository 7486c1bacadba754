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
from typing import TYPE_CHECKING, Any, cast

from subctl import config
from subctl.errors import (
    Aborted,
    ConfirmationRequired,
    InvalidState,
    SubctlError,
    UsageError,
)
from subctl.export.values import visible
from subctl.output import Output, Prompter, QuestionaryPrompter

if TYPE_CHECKING:
    import typer

    from subctl.services.access import Identity, Need, TokenPermissions
    from subctl.store.base import (
        AuditContext,
        BillingStore,
        RecordStore,
        ReportStore,
        UnitOfWork,
        Workspace,
    )
    from subctl.store.sql import LocalBackend
    from subctl.store.sql.records import SqlRecordStore


def real_clock() -> dt.datetime:
    """The system's time, in UTC, never pinned: ``SUBCTL_NOW`` stands in for the time of one
    command, not for the system clock a workspace returns to (``clock reset``)."""
    return dt.datetime.now(dt.UTC)


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
    return real_clock()


EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # epoch milliseconds are not negative
LATEST = dt.datetime(9000, 12, 31, tzinfo=dt.UTC)  # room for offsets and periods after it


@dataclass
class AppContext:
    out: Output = field(default_factory=Output)
    workspace_target: str | None = None  # --workspace PATH|URL
    profile: str | None = None  # --profile NAME
    clock: Callable[[], dt.datetime] = None  # type: ignore[assignment]  # see __post_init__
    prompter: Prompter = None  # type: ignore[assignment]  # set in __post_init__
    actor: str | None = None  # --actor NAME: who the audit log names (default: the OS user)
    verb: str | None = None  # the running command's path ("cancel", "property create")
    params: dict[str, Any] = field(default_factory=dict)  # its options, for the audit log
    _local: LocalBackend | None = None
    _remote: RecordStore | None = None
    _audited: RecordStore | None = None  # the remote store, audited (_audited_remote)
    _token_permissions: TokenPermissions | None = None
    _audit_set: bool = False
    _token_checks: list[tuple[str, str, list[str]]] = field(default_factory=list)
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

    def _backend(self, *, create: bool = False, audit: bool = True) -> LocalBackend:
        """The active profile's local SQL database: a local profile's records and workspace,
        or a remote profile's workspace (created on first use). ``audit``: its stores get the
        command's audit context (``audit=False``: the token's scopes, read before the command
        runs, without the HubSpot requests an audit context makes)."""
        if self._local is None:
            profile = self.active_profile()
            if profile.kind not in config.KINDS:
                raise UsageError(f'profile kind "{profile.kind}" is not supported by this subctl')
            from subctl.store.sql import open_local

            url = self.workspace_url()
            if profile.remote and profile.workspace is None:  # its own file, by default
                from subctl.files import PRIVATE_DIR

                path = config.profile_workspace_path(profile.name).parent
                path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
            self._local = open_local(url, create=create or profile.remote)
        if audit and not self._audit_set and self.verb is not None:
            from subctl.services.access import audited

            self._audit_set = True
            if audited(self.verb):
                context = self.audit_context()
                self._local.records.audit = self._local.workspace.audit = context
        return self._local

    def _remote_records(self) -> RecordStore:
        """The HubSpot record store of a remote profile, opened once with its token."""
        if self._remote is None:
            from subctl import tokens

            profile = self.active_profile()
            token = tokens.require(profile)
            self._remote = open_remote(
                profile.api_url, token, profile.tier, notice=self.out.message
            )
            self._check_token()
        return self._remote

    # -- permissions and the audit log (services/access.py) ----------------------------------

    def begin(self, verb: str, params: dict[str, Any]) -> None:
        """A command starts: check what it needs (exit 4 before it does anything) and keep
        its name and options for the audit log."""
        from subctl.services import access

        self.verb, self.params = verb, dict(params)
        if access.needs(verb, params, team=True):  # init, config: no workspace to ask
            self.require(verb, params)

    def require(
        self, verb: str, params: dict[str, Any] | None = None, need: Need | None = None
    ) -> None:
        """Refuse (exit 4) unless the identity holds what ``verb`` needs (or ``need``): the
        command's own, or a resumed job's (``jobs resume`` of a delete job needs delete)."""
        from subctl.services import access

        identity = self.identity()
        needed = access.needs(verb, params or {}, team=identity.team, need=need)
        if not identity.team:  # no admins on a personal workspace: `access` says why itself
            needed = [p for p in needed if p != access.ADMIN]
        access.require(identity, verb, needed)  # the config's set first: no request to refuse
        if needed and not identity.team and self.remote:
            # the token's scopes: checked when HubSpot is first used (before any request but
            # the scopes' own), so what is refused before anything opens stays so
            self._token_checks.append((identity.name, verb, needed))
            if self._remote is not None:
                self._check_token()

    def _check_token(self) -> None:
        from subctl.services import access

        checks, self._token_checks = self._token_checks, []
        for name, verb, needed in checks:
            token = self.token_permissions()
            if token is not None:
                access.require_token(name, token, verb, needed)

    def token_permissions(self, *, ask: bool = True) -> TokenPermissions | None:
        """What a HubSpot profile's token allows (``services/access.py``: its scopes, cached in
        the profile's workspace for an hour; asked once per process), None for a local one.
        ``ask=False``: the cached answer only, None when there is none (``profile show``
        makes no request: it works offline, like the rest of ``profile``)."""
        if not self.remote:
            return None
        if self._token_permissions is None:
            import time

            from subctl import tokens
            from subctl.services import access

            token = tokens.require(self.active_profile())
            workspace = self._backend(audit=False).workspace
            fingerprint = access.token_fingerprint(token)
            now = time.time()  # the system's: SUBCTL_NOW and the billing clock move no cache
            if not ask:
                return access.cached_token_permissions(workspace, fingerprint, now)
            self._token_permissions = access.token_permissions(
                workspace, fingerprint, now, lambda: token_scopes(self._remote_records(), token)
            )
        return self._token_permissions

    def cached_token_permissions(self) -> TokenPermissions | None:
        """``token_permissions(ask=False)``."""
        return self.token_permissions(ask=False)

    def is_team(self) -> bool:
        """A team workspace: PostgreSQL (its users are database roles)."""
        return self.workspace_url().startswith("postgresql")

    def identity(self) -> Identity:
        """Who runs this command: on a team workspace the database role and its grants; on a
        personal one the profile and its configured permissions (default: all)."""
        from subctl.services import access

        profile = self._permissions_profile()
        own = None if profile.permissions is None else access.parse_permissions(profile.permissions)
        if self.is_team():
            workspace = self.workspace()
            user = workspace.database_user()
            if user is not None:
                grants = workspace.permissions_of(user)
                return access.Identity(user, grants, team=True, profile=profile.name,
                                       profile_granted=own)  # fmt: skip
        return access.Identity(profile.name, own or frozenset(access.PERMISSIONS), team=False)

    def _permissions_profile(self) -> config.Profile:
        """Whose permissions apply: the profile in use, and with ``--workspace`` the named or
        active profile still (a workspace path does not lift a profile's restrictions)."""
        if self.workspace_target:
            return config.load_profile(self.profile)
        return self.active_profile()

    def actor_name(self) -> str:
        if self.actor:
            return self.actor
        import getpass

        try:
            return getpass.getuser()
        except (OSError, KeyError):  # no user name for this uid (a container)
            return str(os.getuid())

    def audit_context(self) -> AuditContext:
        """What the audit rows of this command say about it (arguments redacted)."""
        from subctl.services.access import redacted_arguments
        from subctl.store.base import AuditContext

        masked = self.records().properties() if self.params else None
        arguments = redacted_arguments(self.params, masked)
        profile = self._permissions_profile().name
        return AuditContext(self.actor_name(), profile, self.verb or "", arguments, self.clock)

    def records(self, *, create: bool = False) -> RecordStore:
        """The record store (opened on first use; ``create``: init/demo may create it)."""
        if self.remote:
            return self._audited_remote() or self._remote_records()
        return self._backend(create=create).records

    def _audited_remote(self) -> RecordStore | None:
        """A remote profile's record store for a changing command: its definition and
        association changes append audit rows to the workspace after each call succeeds
        (``store.audited``; a local store appends them in the change's transaction)."""
        if self._audited is None and self.verb is not None:
            from subctl.services.access import audited

            if audited(self.verb):
                workspace = self._backend().workspace
                audit = getattr(workspace, "audit", None)
                if audit is not None:
                    from subctl.store.audited import AuditedRecords

                    wrapped = AuditedRecords(self._remote_records(), workspace, audit)
                    self._audited = cast("RecordStore", wrapped)
        return self._audited

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
            workspace = self._backend().workspace
            return ItemByItem(records, workspace, workers=int(workers), audit=self.remote_audit())
        backend = self._backend()
        if os.environ.get("SUBCTL_UNIT_OF_WORK") == "item-by-item":
            return ItemByItem(backend.records, backend.workspace)
        return backend.unit

    def remote_audit(self) -> AuditContext | None:
        """The audit context of this command when it is audited: a remote store's changes
        (HubSpot's calls, a list's members) are appended to the workspace's log after each
        change, not in its transaction."""
        return getattr(self._backend().workspace, "audit", None)

    def workspace(self) -> Workspace:
        """The workspace: jobs journal, saved views, settings, outbox (opened on first use)."""
        return self._backend().workspace

    def billing(self) -> BillingStore:
        """The billing run of the local workspace (a remote profile has none: HubSpot bills)."""
        self.refuse_remote("billing")
        return self._backend().billing

    def reports(self) -> ReportStore:
        """The set-based reads of ``subctl report``: a local workspace's (where the property
        history is); a remote profile reports on a local mirror after ``subctl sync``."""
        self.refuse_remote("report")
        return self._backend().reports

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
    "pay": (
        "HubSpot has no endpoint to record a payment: it collects payments by itself",
        "record it in HubSpot's payments tool; pay works on local profiles",
        False,
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
    "report": (
        "reports read the property history of a local workspace; HubSpot's API has none",
        f"{_WORK_LOCALLY}, then subctl --profile NAME report ...",
        False,
    ),
    "init": (
        "a HubSpot profile's workspace is created on first use: init has nothing to do",
        "subctl profile show says where it is",
        False,
    ),
}


def open_remote(
    base_url: str, token: str, tier: str | None, notice: Callable[[str], None] | None = None
) -> RecordStore:
    """HubSpot's record store (``subctl.store.http.open_remote``: httpx is imported only when a
    remote profile opens its store, never on ``--help``); ``tier``: the profile's ``--tier``,
    None when it says none; ``notice`` says a long retry wait."""
    from subctl.store.http import open_remote as open_http

    return open_http(base_url, token, tier, notice=notice)


def token_scopes(records: RecordStore, token: str) -> frozenset[str] | None:
    """The scopes HubSpot says a token has (``subctl.store.http.token_scopes``)."""
    from subctl.store.http import token_scopes as ask

    return ask(records, token)
