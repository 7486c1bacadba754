"""Where things live, and profiles.

- ``SUBCTL_HOME`` set: the workspace is ``$SUBCTL_HOME/workspace.db`` and the config file
  ``$SUBCTL_HOME/config.toml``.
- otherwise: platformdirs' user data dir (workspace) and user config dir (config file).

The config file holds profiles; a profile names a store::

    active = "default"
    [profiles.default]
    workspace = "/path/to/workspace.db"      # or a postgresql:// URL

A profile without ``workspace`` uses the default workspace path. Config files are written 0600.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from subctl.errors import UsageError

APP_NAME = "subctl"
WORKSPACE_FILE = "workspace.db"


def _home() -> Path | None:
    value = os.environ.get("SUBCTL_HOME")
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    home = _home()
    if home is not None:
        return home
    import platformdirs

    return platformdirs.user_data_path(APP_NAME)


def config_path() -> Path:
    home = _home()
    if home is not None:
        return home / "config.toml"
    import platformdirs

    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def default_workspace_path() -> Path:
    return data_dir() / WORKSPACE_FILE


@dataclass(frozen=True)
class Profile:
    name: str
    workspace: str | None = None  # path or SQLAlchemy URL; None: the default workspace


def load_profile(name: str | None) -> Profile:
    """The named profile, else the config's active one, else the built-in default."""
    path = config_path()
    data: dict[str, object] = {}
    if path.exists():
        import tomllib

        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {path}: {exc}") from exc
    profiles = data.get("profiles", {})
    assert isinstance(profiles, dict)
    wanted = name or str(data.get("active", "default"))
    if wanted not in profiles:
        if name is not None:
            known = ", ".join(sorted(profiles)) or "none configured"
            raise UsageError(f'unknown profile "{name}"; profiles: {known}')
        return Profile(wanted)
    entry = profiles[wanted]
    workspace = entry.get("workspace") if isinstance(entry, dict) else None
    return Profile(wanted, str(workspace) if workspace else None)


def workspace_url(target: str | None) -> str:
    """A SQLAlchemy URL for a workspace given as a path, a URL, or None (the default path)."""
    if target and "://" in target:
        scheme = target.split("://", 1)[0].lower()
        if scheme.split("+", 1)[0] not in ("sqlite", "postgres", "postgresql"):
            raise UsageError(
                f'unsupported workspace URL scheme "{scheme}"',
                hint="give a file path, or a postgresql:// URL for a team workspace",
            )
        if target.startswith("postgres://"):
            target = "postgresql://" + target[len("postgres://") :]
        if target.startswith("postgresql://"):
            target = "postgresql+psycopg://" + target[len("postgresql://") :]
        return target
    path = Path(target).expanduser() if target else default_workspace_path()
    return f"sqlite:///{path.resolve()}"
