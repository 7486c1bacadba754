"""Profiles (``subctl profile``): add, list, show, use, remove; with a HubSpot profile's token.

A profile names where the records live: ``local`` (a SQL workspace holds everything) or
``hubspot`` (HubSpot's API holds the records; a local SQL workspace, one file per profile by
default, holds the job journal, saved views and settings). Choices where the issue is silent:

- ``add`` refuses a name that exists (``Conflict``): a profile is replaced by removing it
  first, so a typo never overwrites one.
- a HubSpot token given to ``add`` goes to the system keyring, or to the config file only with
  ``--store-token-in-config``; with neither a keyring nor that flag, ``add`` refuses before
  anything is written. A token is checked for shape only (no request is made while adding:
  ``subctl sync`` or ``list`` on the profile checks it against HubSpot).
- ``remove`` forgets the profile and its keyring token; its workspace file is kept (it may
  hold journals and views) and its path is said, to delete it by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from subctl import config, tokens
from subctl.config import Profile
from subctl.errors import Opt, SubctlError, UsageError

if TYPE_CHECKING:
    from subctl.services.access import TokenPermissions


@dataclass(frozen=True)
class Added:
    profile: Profile
    path: Path  # the config file
    token_stored: str | None  # keyring, config, or None (none given)


def check_token(token: str) -> str:
    """A token as given (one line, surrounding blanks removed); refuses an empty or multi-line
    one without showing it."""
    value = token.strip()
    if not value:
        raise UsageError("the token is empty")
    if any(c.isspace() or ord(c) < 0x20 for c in value):
        raise UsageError("a token is one word: the one given holds blanks or control characters")
    return value


def add(profile: Profile, *, token: str | None, store_in_config: bool) -> Added:
    """Add a profile; with a HubSpot ``token``: store it (keyring, or the config file when
    ``store_in_config``). Nothing is written when the token cannot be stored."""
    if store_in_config and not profile.remote:
        raise UsageError.naming(
            Opt("store_token_in_config"), " is for a HubSpot profile (", Opt("hubspot"), ")"
        )
    stored: str | None = None
    if token is not None:
        token = check_token(token)
        if store_in_config:
            profile = Profile(**{**_fields(profile), "token": token})
            stored = "config"
        else:
            if not tokens.keyring_available():
                tokens.keyring_set(profile.name, token)  # raises: says what to do instead
            stored = "keyring"
    elif store_in_config:
        raise UsageError.naming(
            Opt("store_token_in_config"), " needs a token: give it with ", Opt("token_stdin")
        )
    path = config.add_profile(profile)  # refuses a taken name before the keyring is touched
    if stored == "keyring":
        assert token is not None
        try:
            tokens.keyring_set(profile.name, token)
        except Exception:
            config.remove_profile(profile.name)  # all or nothing
            raise
    return Added(profile, path, stored)


def _fields(profile: Profile) -> dict[str, Any]:
    return {
        "name": profile.name,
        "workspace": profile.workspace,
        "kind": profile.kind,
        "base_url": profile.base_url,
        "tier": profile.tier,
        "token_env": profile.token_env,
        "token": profile.token,
    }


def listing() -> list[dict[str, Any]]:
    """Every profile as a row: active, name, kind, store (workspace or API URL), workspace,
    tier."""
    found, active = config.profiles()
    return [_row(p, active) for p in found]


def _row(p: Profile, active: str) -> dict[str, Any]:
    workspace = config.shown(p.workspace_target() or str(config.default_workspace_path()))
    return {
        "active": p.name == active,
        "name": p.name,
        "kind": p.kind,
        "records": p.api_url if p.remote else workspace,
        "workspace": workspace,
        "tier": p.rate_tier if p.remote else None,
    }


def show(
    name: str | None, token_permissions: Callable[[], TokenPermissions | None] | None = None
) -> dict[str, Any]:
    """One profile (the active one without a name), with where its token comes from (never
    the token). A HubSpot profile's permissions are its config's and its token's scopes'
    (``token_permissions``: the profile's cached answer, ``services/access.py``; choice: no
    request, so ``profile show`` works offline); when they are not known (not asked yet, no
    token) the config's are shown and the reason said."""
    _, active = config.profiles()
    profile = config.load_profile(name)
    row = _row(profile, active)
    row["configured"] = profile.configured
    row["permissions"] = profile.permissions or "all"  # a personal workspace's (access.py)
    if profile.remote:
        row["base_url"] = profile.api_url
        row["token_env"] = profile.token_env
        row["token"] = tokens.source(profile).where
        if token_permissions is not None:
            row["permissions"], row["permissions_from"] = _remote_permissions(
                profile, token_permissions
            )
    return row


def _remote_permissions(
    profile: Profile, token_permissions: Callable[[], TokenPermissions | None]
) -> tuple[str, str]:
    from subctl.services.access import PERMISSIONS, parse_permissions

    configured = None if profile.permissions is None else parse_permissions(profile.permissions)
    config_part = " and the profile's config" if configured is not None else ""
    shown = profile.permissions or "all"
    base = "the profile's config" if configured is not None else "all"
    try:
        token = token_permissions()
    except SubctlError as exc:
        return shown, f"{base}; the token's scopes unknown ({exc.message})"
    if token is None:  # not asked yet (or over an hour ago): show makes no request
        return shown, f"{base}; the token's scopes not known yet (its next command asks HubSpot)"
    if token.scopes is None:
        return shown, f"{base}: HubSpot did not say the token's scopes (it enforces them itself)"
    held = token.granted() & (configured if configured is not None else frozenset(PERMISSIONS))
    shown = ",".join(p for p in PERMISSIONS if p in held) or "none"
    return shown, f"the HubSpot token's scopes{config_part}"


def use(name: str) -> Path:
    return config.use_profile(name)


@dataclass(frozen=True)
class Removed:
    profile: Profile
    keyring_token: bool  # its token was removed from the keyring
    workspace: str | None  # the workspace file kept (a HubSpot profile's own), if any


def remove(name: str) -> Removed:
    profile = config.remove_profile(name)
    forgot = tokens.keyring_delete(name) if profile.remote else False
    target = profile.workspace_target()
    kept = target if profile.remote and target and Path(target).exists() else None
    return Removed(profile, forgot, kept)
