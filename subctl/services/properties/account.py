"""The account tier's custom-property cap and the permission that shows highly sensitive
values: workspace settings (see ``subctl.services.properties``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from subctl.errors import Action, AuthError, InputError, InvalidState, Next, UsageError
from subctl.schema import Property
from subctl.services.properties.fields import UNIQUE_LIMIT
from subctl.services.properties.rules import is_ascii_digits
from subctl.store.base import RecordStore, Workspace

# -- tiers, caps, permissions ------------------------------------------------------------------

TIERS = ("free", "starter", "professional", "enterprise")
DEFAULT_TIER = "free"
DEFAULT_CAPS: dict[str, int] = {"free": 10, "starter": 100, "professional": 1000,
                                "enterprise": 1000}  # fmt: skip
SENSITIVE_TIER = "enterprise"
TIER_KEY = "account_tier"
CAP_KEY = "custom_property_cap.{tier}"
PERMISSIONS_KEY = "permissions"
SENSITIVE_VIEW = "sensitive_data.view"
KNOWN_PERMISSIONS = (SENSITIVE_VIEW,)


# -- tiers and limits ------------------------------------------------------------------------


def account_tier(workspace: Workspace, records: RecordStore | None = None) -> str:
    """The tier set with ``property settings --tier``, else the one the record store knows
    (a HubSpot profile's ``--tier``: a Professional account is not held to Free's 10 custom
    properties), else ``free``."""
    tier = workspace.get_setting(TIER_KEY) or (records and records.account_tier) or DEFAULT_TIER
    return tier if tier in TIERS else DEFAULT_TIER


def tier_cap(workspace: Workspace, tier: str) -> int:
    override = workspace.get_setting(CAP_KEY.format(tier=tier))
    if override and is_ascii_digits(override):
        return int(override)
    return DEFAULT_CAPS[tier]


@dataclass(frozen=True)
class Limits:
    tier: str
    limit: int
    usage: int
    unique_usage: int

    @property
    def over(self) -> bool:
        return self.usage >= self.limit

    def describe(self) -> str:
        return f"{self.usage} of {self.limit} custom properties used ({self.tier} tier)"


def limits(records: RecordStore, workspace: Workspace) -> Limits:
    tier = account_tier(workspace, records)
    custom = records.properties().custom
    return Limits(tier, tier_cap(workspace, tier), len(custom), sum(p.unique for p in custom))


def require_sensitive_tier(
    workspace: Workspace, sensitivity: str, records: RecordStore | None = None
) -> None:
    tier = account_tier(workspace, records)
    if sensitivity != "non_sensitive" and tier != SENSITIVE_TIER:
        raise InvalidState(
            f"{sensitivity} properties require the {SENSITIVE_TIER} tier (this workspace: {tier})",
            next=Next(Action.SET_TIER, {"tier": SENSITIVE_TIER}),
        )


def require_room(records: RecordStore, workspace: Workspace, prop: Property) -> Limits:
    current = limits(records, workspace)
    if current.over:
        raise InvalidState(
            f"custom property limit reached: {current.describe()}",
            hint="delete a custom property or move to a higher tier "
            "(existing properties stay viewable and editable)",
        )
    if prop.unique and current.unique_usage >= UNIQUE_LIMIT:
        raise InvalidState(f"at most {UNIQUE_LIMIT} unique-value properties per object")
    return current


# -- settings: tier, caps, permissions ---------------------------------------------------------


def permissions(workspace: Workspace) -> list[str]:
    raw = workspace.get_setting(PERMISSIONS_KEY) or ""
    return [p for p in (s.strip() for s in raw.split(",")) if p]


def require_sensitive_access(
    workspace: Workspace, doing: str = "showing highly sensitive values"
) -> None:
    """``--show-sensitive`` (and filtering or sorting on highly sensitive values) needs the
    ``sensitive_data.view`` permission (module docstring)."""
    if SENSITIVE_VIEW not in permissions(workspace):
        raise AuthError(
            f"{doing} requires the {SENSITIVE_VIEW} permission",
            next=Next(Action.GRANT, {"permission": SENSITIVE_VIEW}),
        )


@dataclass
class SettingsChange:
    tier: str | None = None
    caps: Sequence[str] = ()  # "N" (the tier's) or "TIER=N" or "TIER=default"
    grant: Sequence[str] = ()
    revoke: Sequence[str] = ()

    def empty(self) -> bool:
        return self.tier is None and not (self.caps or self.grant or self.revoke)


def _parse_cap(text: str, tier: str) -> tuple[str, str]:
    name, eq, value = text.partition("=")
    if not eq:
        name, value = tier, text
    name, value = name.strip().lower(), value.strip().lower()
    if name not in TIERS:
        raise UsageError(f'unknown tier "{name}"; one of: {", ".join(TIERS)}')
    if value == "default":
        return name, ""
    if not is_ascii_digits(value) or len(value) > 9:
        raise InputError("cap", f'"{text}" is not N, TIER=N or TIER=default')
    return name, str(int(value))


def change_settings(
    workspace: Workspace, change: SettingsChange, records: RecordStore | None = None
) -> None:
    tier = account_tier(workspace, records)
    if change.tier is not None:
        tier = change.tier.strip().lower()
        if tier not in TIERS:
            raise UsageError(f'unknown tier "{change.tier}"; one of: {", ".join(TIERS)}')
    caps = [_parse_cap(c, tier) for c in change.caps]
    granted = permissions(workspace)
    for perm in [*change.grant, *change.revoke]:
        if perm not in KNOWN_PERMISSIONS:
            raise UsageError(f'unknown permission "{perm}"; known: {", ".join(KNOWN_PERMISSIONS)}')
    granted = [p for p in granted if p not in change.revoke]
    granted += [p for p in change.grant if p not in granted]
    if change.tier is not None:
        workspace.set_setting(TIER_KEY, tier)
    for name, value in caps:
        workspace.set_setting(CAP_KEY.format(tier=name), value)
    if change.grant or change.revoke:
        workspace.set_setting(PERMISSIONS_KEY, ",".join(granted))


def settings_document(records: RecordStore, workspace: Workspace) -> dict[str, Any]:
    """Tier, caps, usage (the shape of HubSpot's custom-property limits) and permissions."""
    current = limits(records, workspace)
    return {
        "tier": current.tier,
        "customProperties": {
            "usage": current.usage,
            "limit": current.limit,
            "percentage": round(100 * current.usage / current.limit, 1) if current.limit else 100.0,
            "canCreate": not current.over,
        },
        "uniqueProperties": {"usage": current.unique_usage, "limit": UNIQUE_LIMIT},
        "sensitiveData": current.tier == SENSITIVE_TIER,
        "caps": {t: tier_cap(workspace, t) for t in TIERS},
        "permissions": permissions(workspace),
    }
