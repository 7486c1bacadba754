"""The token of a HubSpot profile: where it comes from, and storing it in the system keyring.

In order (the first that has one wins):

1. ``SUBCTL_TOKEN`` (any HubSpot profile: one command, CI);
2. the profile's ``token_env`` variable (``profile add --token-env VAR``);
3. the system keyring (the ``keyring`` package, when it has a usable backend: macOS Keychain,
   Windows Credential Locker, Secret Service), service ``subctl``, user the profile's name;
4. the config file, only when the profile was added with ``--store-token-in-config``.

A token is never printed, logged or put in a message: ``profile show`` says where it comes
from (``TokenSource.where``), never what it is. ``keyring`` is imported only here, and only
when a remote profile needs a token (never on ``--help``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from subctl.config import Profile
from subctl.errors import AuthError, UsageError

ENV = "SUBCTL_TOKEN"
KEYRING_SERVICE = "subctl"


@dataclass(frozen=True)
class TokenSource:
    """Where a profile's token comes from (``where``, for people) and the token (never shown:
    not in ``repr`` either)."""

    kind: str  # env, token_env, keyring, config, none
    where: str
    token: str | None = field(default=None, repr=False)


def _keyring() -> object | None:
    """The keyring module when it has a usable backend, else None (not installed, or only the
    ``fail`` backend, as on a headless server)."""
    try:
        import keyring
        from keyring.backends import chainer, fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:  # a broken keyring configuration: treated as none
        return None
    if isinstance(backend, fail.Keyring):
        return None
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return None
    return keyring


def keyring_available() -> bool:
    return _keyring() is not None


def _keyring_error(action: str, exc: Exception) -> UsageError:
    # The backend's own message names the backend, never the secret.
    return UsageError(
        f"the system keyring could not {action}: {type(exc).__name__}",
        hint="use --token-env VAR (the token in an environment variable), or"
        " --store-token-in-config",
    )


def keyring_get(profile: str) -> str | None:
    module = _keyring()
    if module is None:
        return None
    try:
        value = module.get_password(KEYRING_SERVICE, profile)  # type: ignore[attr-defined]
    except Exception as exc:
        raise _keyring_error("be read", exc) from None
    return value if isinstance(value, str) and value else None


def keyring_set(profile: str, token: str) -> None:
    module = _keyring()
    if module is None:
        raise UsageError(
            "no system keyring is available to store the token",
            hint="use --token-env VAR (the token in an environment variable), or"
            " --store-token-in-config (the config file, mode 0600)",
        )
    try:
        module.set_password(KEYRING_SERVICE, profile, token)  # type: ignore[attr-defined]
    except Exception as exc:
        raise _keyring_error("store the token", exc) from None


def keyring_delete(profile: str) -> bool:
    """Forget a profile's token in the keyring; False when there was none (or no keyring)."""
    module = _keyring()
    if module is None:
        return False
    try:
        if module.get_password(KEYRING_SERVICE, profile) is None:  # type: ignore[attr-defined]
            return False
        module.delete_password(KEYRING_SERVICE, profile)  # type: ignore[attr-defined]
    except Exception:
        return False
    return True


def source(profile: Profile) -> TokenSource:
    """Where the profile's token comes from now (``kind`` none: nowhere)."""
    value = os.environ.get(ENV)
    if value:
        return TokenSource("env", f"environment variable {ENV}", value)
    if profile.token_env:
        value = os.environ.get(profile.token_env)
        if value:
            return TokenSource("token_env", f"environment variable {profile.token_env}", value)
    value = keyring_get(profile.name)
    if value:
        return TokenSource("keyring", f"system keyring (service {KEYRING_SERVICE})", value)
    if profile.token:
        return TokenSource("config", "config file", profile.token)
    return TokenSource("none", "none")


def require(profile: Profile) -> str:
    """The profile's token; ``AuthError`` (exit 4) saying where one can come from."""
    found = source(profile)
    if found.token is None:
        where = f"{ENV}" + (f" or {profile.token_env}" if profile.token_env else "")
        raise AuthError(
            f'profile "{profile.name}" has no HubSpot token',
            hint=f"set {where} to a private app's access token (subctl profile show"
            f" {profile.name} says where subctl looks)",
        )
    return found.token
