"""Who may do what: the permission rule, and what each verb needs, declared once (``NEEDS``).

Permissions: ``view, edit, delete, export, properties, sensitive_data`` (the source article's
model). Where a set comes from:

- a personal (SQLite) workspace: the profile's, from the config file
  (``subctl config set profiles.NAME.permissions view,export``); a profile without the key has
  every permission. Whoever can edit the config file can change it: the point is a CI or
  nightly profile that cannot do more than it should by mistake, not a security boundary.
- a team workspace (PostgreSQL): the workspace's ``access`` table, per *database role*
  (and, when the profile's config restricts it, only what both allow)
  (``current_user``): the server authenticated it, so a client cannot claim another user's
  grants (``--actor`` names who is behind a change in the audit log, it grants nothing). The role
  that created the workspace is its first admin (m009); only an admin grants and revokes
  (``subctl access``), and only what they hold themselves.
- a HubSpot profile: what its token's scopes allow (``TOKEN_SCOPES`` below), and of that only
  what the profile's config allows.

Every command path is a key of ``NEEDS`` (a test walks the command tree): ``always`` is checked
before the command does anything; ``when`` adds a permission when an option is given
(``delete --backup`` exports, ``--show-sensitive`` unmasks). ``team_when``: on a team workspace
only (``property settings --grant`` is an admin's act there, no longer self-service).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from subctl.codec import JsonText
from subctl.errors import AuthError, UsageError
from subctl.schema import MASK, Property, masked_names
from subctl.store.base import AuditContext, AuditFilter, Workspace

VIEW, EDIT, DELETE, EXPORT, PROPERTIES, SENSITIVE = (
    "view", "edit", "delete", "export", "properties", "sensitive_data"
)  # fmt: skip
PERMISSIONS = (VIEW, EDIT, DELETE, EXPORT, PROPERTIES, SENSITIVE)
ADMIN = "admin"  # a team workspace's: grant and revoke (held in the access table only)
GRANTABLE = (*PERMISSIONS, ADMIN)


@dataclass(frozen=True)
class Need:
    always: tuple[str, ...] = ()
    when: Mapping[str, str] = field(default_factory=dict)  # option (parameter name) -> permission
    team_when: Mapping[str, str] = field(default_factory=dict)  # likewise, team workspaces only

    def permissions(self, params: Mapping[str, Any], *, team: bool) -> list[str]:
        needed = list(self.always)
        extra = [*self.when.items(), *(self.team_when.items() if team else ())]
        for option, permission in extra:
            if _given(params.get(option)) and permission not in needed:
                needed.append(permission)
        return needed


def _given(value: Any) -> bool:
    return value not in (None, False, (), [], "")


_SHOW = {"show_sensitive": SENSITIVE}
_READ = Need((VIEW,), _SHOW)
REPLACING = Need((EDIT, DELETE))  # demo over a workspace's records
_EDIT = Need((EDIT,))
_NOTHING = Need()

# What each command needs. Reading is "view"; every change of subscriptions, their
# associations, segments, saved views, jobs, the billing clock and billing settings is "edit";
# deleting subscriptions "delete"; writing data out "export"; property definitions and the
# account's property settings "properties"; unmasking highly sensitive values "sensitive_data".
NEEDS: dict[str, Need] = {
    "list": _READ,
    "view": _READ,
    # saving a view (create or replace) is a change, as `views delete` is
    "filter": Need((VIEW,), {**_SHOW, "save_view": EDIT}),
    "views list": Need((VIEW,)),
    "views show": _READ,
    "views delete": _EDIT,
    "segment create": _EDIT,
    "segment list": Need((VIEW,)),
    "segment show": _READ,
    "segment members": _READ,
    "segment refresh": _EDIT,
    "segment edit": _EDIT,
    "segment delete": _EDIT,
    "segment add": _EDIT,
    "segment remove": _EDIT,
    "segment diff": _READ,
    "export": Need((VIEW, EXPORT), _SHOW),
    "report mrr": Need((VIEW,), {"output": EXPORT}),  # -o FILE writes the report out
    "report churn": Need((VIEW,), {"output": EXPORT}),
    "report at-risk": Need((VIEW,), {"output": EXPORT}),
    "report renewals": Need((VIEW,), {"output": EXPORT}),
    "update": _EDIT,
    "cancel": _EDIT,
    "pause": _EDIT,
    "resume": _EDIT,
    "pay": _EDIT,
    "send-update-link": _EDIT,
    "delete": Need((DELETE,), {"backup": EXPORT, **_SHOW}),
    "associate": _EDIT,
    "import": _EDIT,
    "property create": Need((PROPERTIES,)),
    "property list": Need((VIEW,)),
    "property view": Need((VIEW,)),
    "property edit": Need((PROPERTIES,)),
    "property delete": Need((PROPERTIES,)),
    "property settings": Need((PROPERTIES,), team_when={"grant": ADMIN, "revoke": ADMIN}),
    "jobs list": Need((VIEW,)),
    "jobs results": _READ,
    "jobs abandon": _EDIT,
    "jobs resume": _EDIT,  # and what the job's own verb needs (commands/jobs.py asks)
    "clock show": Need((VIEW,)),
    "clock advance": _EDIT,
    "clock set": _EDIT,
    "clock reset": _EDIT,
    "billing run": _EDIT,
    "billing log": Need((VIEW,)),
    "billing settings": Need((VIEW,)),
    "billing set": _EDIT,
    "init": _NOTHING,  # creates a workspace (or finds one): nothing to protect yet
    # Creates a workspace, or replaces its records: that needs REPLACING, asked by the command
    # once it knows there are records (a new team workspace has no grants to ask yet).
    "demo": _NOTHING,
    "profile add": _NOTHING,  # the config file: the user's own
    "profile list": _NOTHING,
    "profile show": _NOTHING,
    "profile use": _NOTHING,
    "profile remove": _NOTHING,
    "sync": Need((VIEW, EDIT)),  # reads the source, writes the mirror's records
    "config list": _NOTHING,
    "config get": _NOTHING,
    "config set": _NOTHING,
    "access list": Need((VIEW,)),
    "access grant": Need((ADMIN,)),
    "access revoke": Need((ADMIN,)),
    "audit": Need((VIEW,)),
}


@dataclass(frozen=True)
class Identity:
    """Who runs the command and what they hold: a profile (personal workspace) or a database
    role (team workspace)."""

    name: str
    granted: frozenset[str]
    team: bool  # True: a database role on a team workspace
    # On a team workspace, the profile's own set when its config restricts it: the effective
    # set is the intersection (a view,export CI profile never cancels, whatever its role may).
    profile: str | None = None
    profile_granted: frozenset[str] | None = None

    def describe(self) -> str:
        return f'user "{self.name}"' if self.team else f'profile "{self.name}"'

    def lacking(self, permission: str) -> str | None:
        """Who lacks ``permission`` (the profile first), None when it is held."""
        if (
            self.profile_granted is not None
            and permission != ADMIN  # a profile's set names the six; admin is a grant
            and permission not in self.profile_granted
        ):
            return f'profile "{self.profile}"'
        return None if permission in self.granted else self.describe()


def parse_permissions(text: str) -> frozenset[str]:
    """``view,export`` (commas or spaces) -> the set; an unknown name is a usage error."""
    names = [p.strip().lower() for p in text.replace(",", " ").split()]
    return frozenset(check_permissions(names, allowed=PERMISSIONS))


def check_permissions(names: Iterable[str], *, allowed: tuple[str, ...] = GRANTABLE) -> list[str]:
    out: list[str] = []
    for name in names:
        if name not in allowed:
            raise UsageError(f'unknown permission "{name}"; one of: {", ".join(allowed)}')
        if name not in out:
            out.append(name)
    return out


def needs(
    verb: str, params: Mapping[str, Any], *, team: bool, need: Need | None = None
) -> list[str]:
    """The permissions ``verb`` needs with these options (an undeclared verb: a defect)."""
    return (need or NEEDS[verb]).permissions(params, team=team)


def require(identity: Identity, verb: str, needed: Iterable[str]) -> None:
    """Refuse, exit 4, before anything is done, naming the first permission missing."""
    for permission in needed:
        who = identity.lacking(permission)
        if who is not None:
            raise AuthError(f'{who} lacks the "{permission}" permission needed by {verb}')


_CHANGING = frozenset({EDIT, DELETE, PROPERTIES, ADMIN})


def audited(verb: str) -> bool:
    """Whether a command can change anything (its writes append audit rows): it needs more than
    viewing and exporting, always or with an option (``filter --save-view``)."""
    need = NEEDS.get(verb)
    if need is None:
        return False
    return bool(_CHANGING & {*need.always, *need.when.values(), *need.team_when.values()})


# Option names whose values never reach the audit log (a token, a password).
_SECRET_WORDS = ("token", "password", "secret")


def redacted_arguments(params: Mapping[str, Any], props: Iterable[Property] | None) -> str:
    """A command's options as JSON text for the audit log: tokens and passwords redacted, and
    the value of a highly sensitive property in ``NAME=VALUE`` (``--set``) masked."""
    import json

    masked = masked_names(props) if props is not None else frozenset()

    def clean(name: str, value: Any) -> Any:
        if any(word in name.lower() for word in _SECRET_WORDS) and _given(value):
            return MASK
        if isinstance(value, list | tuple):
            return [clean(name, v) for v in value]
        if isinstance(value, str):
            prop, eq, _rest = value.partition("=")
            if eq and prop.strip() in masked:
                return f"{prop}={MASK}"
            return value
        if value is None or isinstance(value, bool | int | float):
            return value
        return str(getattr(value, "value", value))  # enums, paths, dates

    shown = {name: clean(name, value) for name, value in params.items() if _given(value)}
    return json.dumps(shown, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# -- a HubSpot profile: the token's scopes ----------------------------------------------------
#
# HubSpot says a token's scopes (store/http/tokeninfo.py); a permission is held when the token
# has its scope. The mapping, written down:
# - view: crm.objects.subscriptions.read;
# - edit and delete: crm.objects.subscriptions.write (HubSpot archives with the write scope);
# - properties: crm.schemas.subscriptions.write;
# - export: held without crm.export. A client-side export is reads (the read scope, which
#   ``export`` needs as ``view``); ``--server-side`` asks HubSpot to build the file, and HubSpot
#   refuses it without crm.export itself (exit 4 naming the scope). Refusing every export for a
#   token without crm.export would refuse what the token can do.
# - sensitive_data: held. HubSpot's sensitive-data scopes (``crm.objects.contacts.sensitive.
#   read`` ...) exist for contacts, companies, deals, tickets and custom objects, not for
#   commerce subscriptions; unmasking is subctl's display rule over values the read scope
#   returns, so only the profile's config restricts it.
# A token whose scopes HubSpot does not say (its endpoint answers 404/400: a token of another
# kind) keeps every permission: HubSpot enforces the scopes on each call (403, exit 4).
# The answer is kept in the profile's workspace for SCOPES_TTL seconds (a read command does
# not pay a request each time), for that token only (its fingerprint, never the token).

TOKEN_SCOPES: dict[str, str] = {
    VIEW: "crm.objects.subscriptions.read",
    EDIT: "crm.objects.subscriptions.write",
    DELETE: "crm.objects.subscriptions.write",
    PROPERTIES: "crm.schemas.subscriptions.write",
}
SCOPES_SETTING = "cache.hubspot.token_scopes"
SCOPES_TTL = 3600.0  # seconds: a scope added to the private app counts within the hour


@dataclass(frozen=True)
class TokenPermissions:
    """What a HubSpot token allows: ``scopes`` as HubSpot says them, None when it does not."""

    scopes: frozenset[str] | None

    def granted(self) -> frozenset[str]:
        return frozenset(p for p in PERMISSIONS if self.missing_scope(p) is None)

    def missing_scope(self, permission: str) -> str | None:
        """The scope ``permission`` needs that the token lacks, None when it is held."""
        scope = TOKEN_SCOPES.get(permission)
        if self.scopes is None or scope is None or scope in self.scopes:
            return None
        return scope

    def source(self) -> str:
        if self.scopes is None:
            return "all: HubSpot did not say the token's scopes (it enforces them itself)"
        return "the HubSpot token's scopes"


def require_token(profile: str, token: TokenPermissions, verb: str, needed: Iterable[str]) -> None:
    """Refuse, exit 4, before any request of ``verb``, what the token's scopes do not allow."""
    for permission in needed:
        scope = token.missing_scope(permission)
        if scope is not None:
            raise AuthError(
                f'profile "{profile}" lacks the "{permission}" permission needed by {verb}:'
                f" its HubSpot token lacks the scope {scope}",
                hint="add the scope to the private app, then use its new token",
            )


def token_fingerprint(token: str) -> str:
    """Which token a cached answer is about (a hash: the token itself is never written)."""
    import hashlib

    return hashlib.sha256(token.encode()).hexdigest()[:16]


def cached_token_permissions(
    workspace: Workspace, fingerprint: str, now: float
) -> TokenPermissions | None:
    """The workspace's answer for this token when younger than ``SCOPES_TTL``, else None."""
    import json

    cached = workspace.get_setting(SCOPES_SETTING)
    if cached is None:
        return None
    try:
        data = json.loads(cached)
        fresh = data["token"] == fingerprint and 0 <= now - float(data["at"]) < SCOPES_TTL
        scopes = data["scopes"]
    except (ValueError, KeyError, TypeError):
        return None  # an unreadable cache: asked again
    if not fresh:
        return None
    return TokenPermissions(None if scopes is None else frozenset(map(str, scopes)))


def token_permissions(
    workspace: Workspace,
    fingerprint: str,
    now: float,
    ask: Callable[[], frozenset[str] | None],
) -> TokenPermissions:
    """The token's permissions: the workspace's cached answer when it is this token's and
    younger than ``SCOPES_TTL`` (``now``: seconds since the epoch, the system clock's), else
    ``ask`` HubSpot (one request) and remember the answer."""
    import json

    cached = cached_token_permissions(workspace, fingerprint, now)
    if cached is not None:
        return cached
    found = ask()
    value = {"token": fingerprint, "at": now, "scopes": None if found is None else sorted(found)}
    workspace.set_setting(SCOPES_SETTING, json.dumps(value, separators=(",", ":")))
    return TokenPermissions(found)


# -- team workspaces: grants (subctl access) ---------------------------------------------------


def _admin(workspace: Workspace) -> tuple[str, frozenset[str]]:
    me = workspace.database_user()
    if me is None:
        raise UsageError(
            "access grants are for a team workspace (PostgreSQL); a personal profile's"
            " permissions are set in the config",
            hint="e.g. subctl config set profiles.nightly.permissions view,export",
        )
    return me, workspace.permissions_of(me)


def grant(
    workspace: Workspace,
    username: str,
    names: Sequence[str],
    at: dt.datetime,
    context: AuditContext | None = None,
) -> list[str]:
    """An admin grants ``names`` to a database role; never what the admin lacks (an admin
    cannot widen their own set either: they hold what they may grant). Returns those new."""
    me, held = _admin(workspace)
    wanted = check_permissions(names)
    if not wanted:
        raise UsageError("give the permissions to grant, e.g. view export")
    if ADMIN not in held:
        raise AuthError(f'user "{me}" lacks the "{ADMIN}" permission needed by access grant')
    lacking = [p for p in wanted if p not in held]
    if lacking:
        raise AuthError(f'user "{me}" cannot grant "{lacking[0]}": they lack it themselves')
    return workspace.grant(username, wanted, me, at, context)


def revoke(
    workspace: Workspace,
    username: str,
    names: Sequence[str],
    at: dt.datetime,
    context: AuditContext | None = None,
) -> list[str]:
    """An admin revokes; the last admin keeps ``admin`` (someone must be able to grant)."""
    me, held = _admin(workspace)
    wanted = check_permissions(names) or list(GRANTABLE)  # none named: everything
    if ADMIN not in held:
        raise AuthError(f'user "{me}" lacks the "{ADMIN}" permission needed by access revoke')
    if ADMIN in wanted:
        admins = {g.username for g in workspace.grants() if g.permission == ADMIN}
        if admins == {username}:
            raise UsageError(
                f'"{username}" is the last admin of this workspace: grant admin to another'
                " user first"
            )
    return workspace.revoke(username, wanted, at, context)


def grants_by_user(workspace: Workspace) -> list[tuple[str, list[str], str]]:
    """(user, permissions in the canonical order, granted by) for ``access list``."""
    _admin(workspace)  # a personal workspace has no grants to list: say where its are
    users: dict[str, tuple[set[str], set[str]]] = {}
    for g in workspace.grants():
        perms, by = users.setdefault(g.username, (set(), set()))
        perms.add(g.permission)
        by.add(g.granted_by)
    return [(user, [p for p in GRANTABLE if p in perms], ", ".join(sorted(by)))
            for user, (perms, by) in sorted(users.items())]  # fmt: skip


# -- the audit log (subctl audit) --------------------------------------------------------------


def audit_rows(workspace: Workspace, where: AuditFilter) -> Iterator[dict[str, Any]]:
    """The audit log as rows, oldest first, streamed (a billing day: one row per billing event,
    each with the day's id, as the workspace expands it). ``arguments``, ``before`` and
    ``after`` are ``JsonText``: nested JSON values in json/ndjson, their compact text in a CSV
    cell; a NULL stays None (``null``, an empty cell)."""

    def doc(text: str | None) -> JsonText | None:
        return None if text is None else JsonText(text)

    for e in workspace.audit_entries(where):
        yield {
            "id": e.id, "at": e.at, "actor": e.actor, "db_user": e.db_user, "profile": e.profile,
            "verb": e.verb, "subscription_id": e.subscription_id, "target": e.target,
            "job_id": e.job_id, "arguments": doc(e.arguments), "before": doc(e.before),
            "after": doc(e.after),
        }  # fmt: skip
