"""Where things live, and profiles.

- ``SUBCTL_HOME`` set: the workspace is ``$SUBCTL_HOME/workspace.db`` and the config file
  ``$SUBCTL_HOME/config.toml``.
- otherwise: platformdirs' user data dir (workspace) and user config dir (config file).

The config file holds profiles (a profile names a store) and settings::

    active = "default"
    language = "da"                          # the header language of exports
    [profiles.default]
    workspace = "/path/to/workspace.db"      # or a postgresql:// URL
    [profiles.prod]
    kind = "hubspot"                         # the records live in HubSpot (``subctl profile``)
    base_url = "https://api.hubapi.com"      # the EU data centre or a proxy: another URL
    tier = "professional"                    # free, starter, professional, enterprise
    token_env = "HUBSPOT_TOKEN"              # optional: the variable that holds the token
    workspace = "/path/to/prod.db"           # the local side: journal, views, settings

Its keys, as ``subctl config get|set`` name them: ``active`` (the profile used without
``--profile``), ``language`` (the language of export headers when ``--language`` is not given;
one of ``subctl.export.headers.LANGUAGES``, else English) and ``profiles.NAME.KEY`` (NAME:
letters, digits, ``-`` and ``_``; KEY: ``workspace``, ``kind``, ``base_url``, ``tier``,
``token_env``, and ``token``, which only ``profile add --store-token-in-config`` writes and
nothing prints). Any other key, or a value of the wrong type, is an error naming the file and
the key. A local profile without ``workspace`` uses the default workspace path; a HubSpot
profile without it, ``profiles/NAME.db`` in the data directory (one per profile: its journal
and views belong to that HubSpot account). subctl writes the file atomically (a
temporary file renamed over it), mode 0600, in a 0700 directory; comments are not kept.

A workspace given as a path is a path: characters such as ``?``, ``#`` and ``%`` are part of the
file name. Only an explicit URL (``sqlite:///...``, ``postgresql://...``) is parsed as a URL.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from subctl.errors import Conflict, NotFound, UsageError

APP_NAME = "subctl"
WORKSPACE_FILE = "workspace.db"
DEFAULT_PROFILE = "default"
PROFILE_NAME = re.compile(r"[A-Za-z0-9_-]+")
PROFILE_KEYS = ("workspace", "kind", "base_url", "tier", "token_env", "token", "permissions")
KEYS = (
    "active, language, profiles.NAME.KEY (KEY: workspace, kind, base_url, tier, token_env,"
    " permissions)"
)
KINDS = ("local", "hubspot")
TIERS = ("free", "starter", "professional", "enterprise")
DEFAULT_BASE_URL = "https://api.hubapi.com"
DEFAULT_TIER = "professional"
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
HIDDEN = "***"  # what every listing shows for a stored token
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def _home() -> Path | None:
    value = os.environ.get("SUBCTL_HOME")
    return Path(os.path.expanduser(value)) if value else None  # ~nobody-known stays as is


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


def profile_workspace_path(name: str) -> Path:
    """The workspace of a HubSpot profile that names none: one file per profile."""
    return data_dir() / "profiles" / f"{name}.db"


@dataclass(frozen=True)
class Profile:
    name: str
    workspace: str | None = None  # path or SQLAlchemy URL; None: the default workspace
    kind: str = "local"  # "local" (SQL records and workspace) or "hubspot" (HubSpot's API
    # for records, a local SQL workspace for the journal, views and settings)
    base_url: str | None = None  # hubspot: None is DEFAULT_BASE_URL
    tier: str | None = None  # hubspot: None is DEFAULT_TIER
    token_env: str | None = None  # hubspot: the environment variable holding the token
    token: str | None = field(default=None, repr=False)  # only with --store-token-in-config
    configured: bool = True  # False: the built-in default (no entry in the config file)
    # What the profile may do on a personal workspace (services/access.py), comma-separated;
    # None: everything.
    permissions: str | None = None

    @property
    def remote(self) -> bool:
        return self.kind == "hubspot"

    @property
    def api_url(self) -> str:
        return self.base_url or DEFAULT_BASE_URL

    @property
    def rate_tier(self) -> str:
        return self.tier or DEFAULT_TIER

    def workspace_target(self) -> str | None:
        """The workspace as a path or URL (None: the default local workspace)."""
        if self.workspace:
            return self.workspace
        return str(profile_workspace_path(self.name)) if self.remote else None

    def entry(self) -> dict[str, str]:
        """The config file's table of the profile (only what is set)."""
        pairs = {
            "kind": self.kind if self.remote else None,
            "base_url": self.base_url,
            "tier": self.tier,
            "token_env": self.token_env,
            "workspace": self.workspace,
            "token": self.token,
            "permissions": self.permissions,
        }
        return {k: v for k, v in pairs.items() if v is not None}


@dataclass
class Config:
    """The config file's content, validated."""

    active: str | None = None
    language: str | None = None  # export headers; None: English
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)

    def items(self) -> list[tuple[str, str]]:
        """Every set key and its value, in file order."""
        pairs = [("active", self.active)] if self.active is not None else []
        if self.language is not None:
            pairs.append(("language", self.language))
        for name, entry in self.profiles.items():
            pairs.extend(
                (f"profiles.{name}.{key}", HIDDEN if key == "token" else value)
                for key, value in entry.items()
            )
        return pairs


def _malformed(path: Path, key: str, problem: str) -> UsageError:
    return UsageError(
        f"{path}: {key} {problem}",
        hint=f"edit or remove the file; its keys: {KEYS}",
    )


def _header_language(value: str) -> str | None:
    """The header language a value names (a code, case-insensitive), None when none does."""
    from subctl.export.headers import LANGUAGES

    code = value.strip().lower()
    return code if code in LANGUAGES else None


def _languages() -> str:
    from subctl.export.headers import LANGUAGES

    return ", ".join(LANGUAGES)


def read_config() -> Config:
    """The config file, validated; an empty config when there is none."""
    path = config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Config()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    import tomllib

    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot read {path}: not UTF-8 text") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    config = Config()
    for key, value in data.items():
        if key == "active":
            if not isinstance(value, str) or not PROFILE_NAME.fullmatch(value):
                raise _malformed(path, key, "must be a profile name (a string)")
            config.active = value
        elif key == "language":
            code = _header_language(value) if isinstance(value, str) else None
            if code is None:
                raise _malformed(path, key, f"must be a header language: {_languages()}")
            config.language = code
        elif key == "profiles":
            if not isinstance(value, dict):
                raise _malformed(path, key, "must be a table of profiles, e.g. [profiles.default]")
            for name, entry in value.items():
                where = f"profiles.{name}"
                if not PROFILE_NAME.fullmatch(name):
                    raise _malformed(path, where, "is not a profile name (letters, digits, - _)")
                if not isinstance(entry, dict):
                    raise _malformed(path, where, f"must be a table, e.g. [{where}]")
                for setting, setting_value in entry.items():
                    if setting not in PROFILE_KEYS:
                        raise _malformed(path, f"{where}.{setting}", "is not a profile setting")
                    if not isinstance(setting_value, str):
                        raise _malformed(path, f"{where}.{setting}", "must be a string")
                    if not setting_value:  # empty: it would silently mean the default one
                        raise _malformed(path, f"{where}.{setting}", "is empty")
                    problem = _setting_problem(setting, setting_value)
                    if problem is not None:
                        raise _malformed(path, f"{where}.{setting}", problem)
                config.profiles[name] = dict(entry)
        else:
            raise _malformed(path, key, "is not a setting (known: active, language, profiles)")
    return config


def _setting_problem(setting: str, value: str) -> str | None:
    """What is wrong with a profile setting's value (None: nothing)."""
    if setting == "kind" and value not in KINDS:
        return f"must be one of {', '.join(KINDS)}"
    if setting == "tier" and value not in TIERS:
        return f"must be one of {', '.join(TIERS)}"
    if setting == "token_env" and not ENV_NAME.fullmatch(value):
        return "must be an environment variable name (letters, digits, _)"
    if setting == "permissions":
        from subctl.services.access import parse_permissions

        try:
            if not parse_permissions(value):
                return "give at least one, e.g. view,export"
        except UsageError as exc:
            return str(exc)
    if setting == "base_url" and not re.fullmatch(r"(?i)https?://[^\s/?#]+(/[^\s?#]*)?", value):
        return "must be an http(s) URL, e.g. https://api.hubapi.com"
    return None


def _profile(name: str, entry: dict[str, str]) -> Profile:
    return Profile(
        name,
        workspace=entry.get("workspace") or None,
        kind=entry.get("kind", "local"),
        base_url=entry.get("base_url"),
        tier=entry.get("tier"),
        token_env=entry.get("token_env"),
        token=entry.get("token"),
        permissions=entry.get("permissions"),
    )


def load_profile(name: str | None) -> Profile:
    """The named profile, else the config's active one, else the built-in default."""
    config = read_config()
    wanted = name or config.active or DEFAULT_PROFILE
    if wanted not in config.profiles:
        known = ", ".join(sorted(config.profiles)) or "none configured"
        if name is not None and name != DEFAULT_PROFILE:
            raise UsageError(
                f'unknown profile "{name}"; profiles: {known}',
                hint="subctl profile list; subctl profile add NAME --local PATH | --hubspot",
            )
        if name is None and wanted != DEFAULT_PROFILE:  # the file names an undefined profile
            raise _malformed(config_path(), "active", f'names no profile ("{wanted}"; {known})')
        return Profile(wanted, configured=False)
    return _profile(wanted, config.profiles[wanted])


def profiles() -> tuple[list[Profile], str]:
    """Every configured profile (with the built-in default when it is not configured: it is
    what runs without a profile), and the name of the active one."""
    config = read_config()
    found = [_profile(name, entry) for name, entry in config.profiles.items()]
    if DEFAULT_PROFILE not in config.profiles:
        found.insert(0, Profile(DEFAULT_PROFILE, configured=False))
    return found, config.active or DEFAULT_PROFILE


def add_profile(profile: Profile) -> Path:
    """Write a new profile into the config file; ``Conflict`` when the name is taken."""
    if not PROFILE_NAME.fullmatch(profile.name):
        raise UsageError(f'"{profile.name}" is not a profile name (letters, digits, - and _)')
    config = read_config()
    if profile.name in config.profiles:
        raise Conflict(
            f'profile "{profile.name}" exists already',
            hint=f"subctl profile show {profile.name}; subctl profile remove {profile.name}",
        )
    for key, value in profile.entry().items():
        problem = _setting_problem(key, value)
        if problem is not None:
            raise UsageError(f"{key}: {problem}")
    if profile.workspace:
        workspace_url(profile.workspace)  # a bad URL scheme is refused now
    config.profiles[profile.name] = profile.entry()
    return _write(config)


def use_profile(name: str) -> Path:
    """Make a profile the active one (the built-in default included)."""
    config = read_config()
    if name not in config.profiles and name != DEFAULT_PROFILE:
        known = ", ".join(sorted(config.profiles)) or "none configured"
        raise NotFound(f'no profile "{name}"; profiles: {known}')
    config.active = name
    return _write(config)


def configured(name: str) -> Profile:
    """A profile of the config file; ``NotFound`` (the built-in default is not one)."""
    config = read_config()
    if name not in config.profiles:
        known = ", ".join(sorted(config.profiles)) or "none configured"
        raise NotFound(f'no profile "{name}" in {config_path()}; profiles: {known}')
    return _profile(name, config.profiles[name])


def remove_profile(name: str) -> Profile:
    """Remove a profile from the config file (the active one too: then the built-in default
    is active); returns what it was."""
    configured(name)
    config = read_config()
    removed = _profile(name, config.profiles.pop(name))
    if config.active == name:
        config.active = None
    _write(config)
    return removed


# -- subctl config ---------------------------------------------------------------------------


def _split_key(key: str) -> tuple[str, str] | str:
    """``active``, ``language`` -> the key; ``profiles.NAME.SETTING`` -> (NAME, SETTING); else a
    usage error."""
    if key in ("active", "language"):
        return key
    parts = key.split(".")
    if (
        len(parts) == 3
        and parts[0] == "profiles"
        and PROFILE_NAME.fullmatch(parts[1])
        and parts[2] in PROFILE_KEYS
    ):
        return parts[1], parts[2]
    raise UsageError(
        f'unknown config key "{key}"',
        hint=f"keys: {KEYS}",
    )


_PASSWORD_PARAM = re.compile(r"(?i)((?:^|(?<=&))[a-z_]*password)=[^&]*")


def shown(value: str) -> str:
    """A value as subctl prints it: a password in a workspace URL is never shown (a PostgreSQL
    workspace can take it from ``PGPASSWORD`` or ``~/.pgpass`` instead)."""
    if not _URL.match(value):
        return value
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.query:  # libpq takes a password as a parameter too: ?password=…, sslpassword=…
        parts = parts._replace(query=_PASSWORD_PARAM.sub(r"\1=***", parts.query))
    if parts.password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    return parts.geturl()


def secrets_of(url: str) -> list[str]:
    """The passwords a workspace URL carries (in its user part or as parameters), with the
    pieces a driver may quote when an unencoded ``@`` splits one: what no message may show."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    if not _URL.match(url):
        return []
    parts = urlsplit(url)
    found = [unquote(parts.password)] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query) if k.lower().endswith("password") and v]
    pieces = [piece for secret in found for piece in secret.split("@") if len(piece) > 1]
    return sorted({s for s in (*found, *pieces) if len(s) > 1}, key=len, reverse=True)


def get_value(key: str) -> str:
    split = _split_key(key)
    config = read_config()
    if isinstance(split, tuple):
        value = config.profiles.get(split[0], {}).get(split[1])
        if split[1] == "token" and value is not None:
            return HIDDEN  # never printed
    else:
        value = config.active if split == "active" else config.language
    if value is None:
        raise NotFound(f"{key} is not set in {config_path()}")
    return value


def set_value(key: str, value: str) -> Path:
    """Set one key and write the file; returns its path."""
    split = _split_key(key)
    config = read_config()
    if isinstance(split, tuple):
        if split[1] == "token":  # a command line ends up in the shell's history
            raise UsageError(
                "a token is not set with config set (it would stay in your shell history)",
                hint=f'printf %s "$TOKEN" | subctl profile add {split[0]} --hubspot'
                " --token-stdin [--store-token-in-config]",
            )
        problem = _setting_problem(split[1], value)
        if problem is not None:
            raise UsageError(f"{key}: {problem}")
        if split[1] == "workspace":
            workspace_url(value)  # a bad URL scheme is refused now, not at the next run
        if split[1] == "permissions":  # stored in the canonical order
            from subctl.services.access import PERMISSIONS, parse_permissions

            granted = parse_permissions(value)
            value = ",".join(p for p in PERMISSIONS if p in granted)
        config.profiles.setdefault(split[0], {})[split[1]] = value
    elif split == "active":
        if not PROFILE_NAME.fullmatch(value):
            raise UsageError(f'"{value}" is not a profile name (letters, digits, - and _)')
        config.active = value
    else:
        code = _header_language(value)
        if code is None:
            raise UsageError(
                f'language: "{value}" is not a header language; supported: {_languages()}'
            )
        config.language = code
    return _write(config)


def _write(config: Config) -> Path:
    path = config_path()
    from subctl.files import PRIVATE_DIR, write_atomically

    try:
        path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc
    write_atomically(path, _dump(config))
    return path


def _toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif char != "\t" and (ord(char) < 0x20 or ord(char) == 0x7F):
            escaped.append(f"\\u{ord(char):04x}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _dump(config: Config) -> str:
    lines = [] if config.active is None else [f"active = {_toml_string(config.active)}"]
    if config.language is not None:
        lines.append(f"language = {_toml_string(config.language)}")
    for name, entry in config.profiles.items():
        lines.extend(["", f"[profiles.{name}]"])
        lines.extend(f"{key} = {_toml_string(value)}" for key, value in entry.items())
    return "\n".join(lines).lstrip("\n") + "\n"


# -- workspace URLs --------------------------------------------------------------------------


def workspace_url(target: str | None) -> str:
    """A SQLAlchemy URL for a workspace given as a path, a URL, or None (the default path).

    A path is quoted into the URL (``sqlite_url``), so that ``?mode=ro``, ``%41`` or ``%2F..``
    in a file name stay part of the name instead of becoming URL syntax."""
    if target and _URL.match(target):
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
    if target and "\0" in target:
        raise UsageError("a workspace path cannot contain a NUL character")
    # os.path's expanduser, not Path's: `~name` of no known user stays literal, as in a shell.
    path = Path(os.path.expanduser(target)) if target else default_workspace_path()
    try:
        path = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: opening it reports the problem
        path = path.absolute()
    return sqlite_url(path)


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file, its path quoted (``?``, ``#``, ``%`` kept)."""
    return "sqlite:///" + quote(str(path), safe="/")
