"""``subctl profile``: local and HubSpot profiles, where a token comes from (never shown), and
what a HubSpot profile refuses before anything happens."""

from __future__ import annotations

import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import pytest
from keyring.backends import fail

from tests.conftest import Invoke, ScriptedPrompter, Terminal

TOKEN = "pat-na1-0f1e2d3c-SECRET"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring backend in memory (``keyring.set_keyring``)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[service, username] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.passwords[service, username]


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def _no_token_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SUBCTL_TOKEN", "HS_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def _config(home: Path) -> dict[str, Any]:
    return tomllib.loads((home / "config.toml").read_text())


def test_local_profiles_add_list_use_show_remove(
    invoke: Invoke, subctl_home: Path, tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch.db"
    added = invoke(["profile", "add", "scratch", "--local", str(scratch)])
    assert added.exit_code == 0, added.stderr
    assert added.stderr == (
        "✔ Added profile scratch (local)\nUse it: subctl profile use scratch  (or --profile"
        " scratch)\n"
    )
    default_ws = subctl_home / "workspace.db"
    listing = invoke("profile list --format csv")
    assert listing.stdout == (
        "active,name,kind,records,workspace,tier\n"
        f"true,default,local,{default_ws},{default_ws},\n"
        f"false,scratch,local,{scratch},{scratch},\n"
    )
    assert invoke("profile use scratch").exit_code == 0
    expected = {"active": "scratch", "profiles": {"scratch": {"workspace": str(scratch)}}}
    assert _config(subctl_home) == expected
    assert invoke("init").exit_code == 0  # the active profile's workspace
    assert scratch.exists() and not default_ws.exists()
    shown = invoke("profile show --format json")
    assert shown.stdout == (
        "{\n"
        '  "active": true,\n'
        '  "name": "scratch",\n'
        '  "kind": "local",\n'
        f'  "records": "{scratch}",\n'
        f'  "workspace": "{scratch}",\n'
        '  "tier": null,\n'
        '  "configured": true,\n'
        '  "permissions": "all"\n'
        "}\n"
    )
    removed = invoke("profile remove scratch")  # off a terminal: --yes is required
    assert removed.exit_code == 2
    assert invoke("profile remove scratch --yes").exit_code == 0
    assert _config(subctl_home) == {}  # the active one gone: back to default
    assert scratch.exists()  # a workspace is never deleted with its profile


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        ("profile add x", 2, "give one of --local PATH_OR_URL or --hubspot"),
        ("profile add x --local a.db --hubspot", 2,
         "give one of --local PATH_OR_URL or --hubspot"),
        ("profile add x --local a.db --tier free", 2,
         "--tier is for a HubSpot profile (--hubspot)"),
        ("profile add x --hubspot --tier gold", 2,
         '--tier: "gold" is not one of free, starter, professional, enterprise'),
        ("profile add x --hubspot --base-url ftp://h", 2,
         "base_url: must be an http(s) URL, e.g. https://api.hubapi.com"),
        ("profile add x --hubspot --token-env 1X", 2,
         "token_env: must be an environment variable name (letters, digits, _)"),
        ("profile add a/b --local a.db", 2,
         '"a/b" is not a profile name (letters, digits, - and _)'),
        ("profile add x --hubspot --store-token-in-config", 2,
         "--store-token-in-config needs a token: give it with --token-stdin"),
        ("profile use nosuch", 3, 'no profile "nosuch"; profiles: none configured'),
        ("profile show nosuch", 2, 'unknown profile "nosuch"; profiles: none configured'),
    ],
)  # fmt: skip
def test_bad_profile_input(invoke: Invoke, args: str, code: int, error: str) -> None:
    result = invoke(args)
    assert (result.exit_code, result.stderr.splitlines()[0]) == (code, f"Error: {error}")


def test_remove_unknown_and_add_twice(invoke: Invoke, subctl_home: Path) -> None:
    gone = invoke("profile remove nosuch --yes")
    assert gone.exit_code == 3
    assert gone.stderr.startswith('Error: no profile "nosuch" in ')
    assert invoke("profile add a --local a.db").exit_code == 0
    twice = invoke("profile add a --hubspot")
    assert twice.exit_code == 5
    assert twice.stderr.splitlines()[0] == 'Error: profile "a" exists already'
    assert _config(subctl_home)["profiles"] == {"a": {"workspace": "a.db"}}


def test_hubspot_token_goes_to_the_keyring_never_the_file(
    invoke: Invoke, subctl_home: Path, memory_keyring: Any
) -> None:
    added = invoke("profile add prod --hubspot --token-stdin --tier starter", input=TOKEN + "\n")
    assert added.exit_code == 0, added.stderr
    assert added.stderr.splitlines()[0] == (
        "✔ Added profile prod (HubSpot, https://api.hubapi.com, starter); token stored in the"
        " system keyring"
    )
    assert memory_keyring.passwords == {("subctl", "prod"): TOKEN}
    text = (subctl_home / "config.toml").read_text()
    assert TOKEN not in text
    assert _config(subctl_home) == {"profiles": {"prod": {"kind": "hubspot", "tier": "starter"}}}
    shown = invoke("profile show prod --format csv")
    workspace = subctl_home / "profiles" / "prod.db"
    assert shown.stdout == (
        "field,value\n"
        "active,false\n"
        "name,prod\n"
        "kind,hubspot\n"
        "records,https://api.hubapi.com\n"
        f"workspace,{workspace}\n"
        "tier,starter\n"
        "configured,true\n"
        "permissions,all\n"
        "base_url,https://api.hubapi.com\n"
        "token_env,\n"
        "token,system keyring (service subctl)\n"
        "permissions_from,all; the token's scopes not known yet (its next command asks"
        " HubSpot)\n"
    )
    removed = invoke("profile remove prod --yes")
    assert removed.exit_code == 0
    assert "Its token was removed from the system keyring." in removed.stderr
    assert memory_keyring.passwords == {}
    for result in (added, shown, removed):
        assert TOKEN not in result.stdout + result.stderr


def test_token_asked_hidden_on_a_terminal(
    invoke: Invoke, terminal: Terminal, memory_keyring: Any
) -> None:
    class Secretive(ScriptedPrompter):
        def secret(self, question: str) -> str:
            return str(self._next(question))

    prompter = Secretive(TOKEN)
    terminal.prompter = prompter
    added = invoke("profile add prod --hubspot --token-env HS_TOKEN")
    assert added.exit_code == 0, added.stderr
    assert prompter.questions == ["HubSpot access token (empty: read HS_TOKEN when it runs):"]
    assert memory_keyring.passwords == {("subctl", "prod"): TOKEN}


def test_without_a_keyring_the_token_is_refused_and_nothing_written(
    invoke: Invoke, subctl_home: Path, no_keyring: None
) -> None:
    refused = invoke("profile add prod --hubspot --token-stdin", input=TOKEN)
    assert refused.exit_code == 2
    assert refused.stderr == (
        "Error: no system keyring is available to store the token\n"
        "Hint: use --token-env VAR (the token in an environment variable), or"
        " --store-token-in-config (the config file, mode 0600)\n"
    )
    assert not (subctl_home / "config.toml").exists()


def test_token_in_the_config_file_only_when_asked(
    invoke: Invoke, subctl_home: Path, no_keyring: None
) -> None:
    added = invoke(
        "profile add prod --hubspot --token-stdin --store-token-in-config", input=TOKEN + "\n"
    )
    assert added.exit_code == 0, added.stderr
    path = subctl_home / "config.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _config(subctl_home)["profiles"]["prod"]["token"] == TOKEN
    listing = invoke("config list --format csv")
    assert listing.stdout == "key,value\nprofiles.prod.kind,hubspot\nprofiles.prod.token,***\n"
    assert invoke("config get profiles.prod.token").stdout == "***\n"
    on_line = invoke(["config", "set", "profiles.prod.token", "pat-other"])
    assert on_line.exit_code == 2
    assert on_line.stderr.splitlines()[0] == (
        "Error: a token is not set with config set (it would stay in your shell history)"
    )
    assert "pat-other" not in path.read_text()


def test_where_the_token_comes_from_in_order(
    invoke: Invoke, subctl_home: Path, memory_keyring: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    subctl_home.mkdir(parents=True, exist_ok=True)
    (subctl_home / "config.toml").write_text(
        '[profiles.prod]\nkind = "hubspot"\ntoken_env = "HS_TOKEN"\ntoken = "in-file"\n'
    )

    def source() -> str:
        result = invoke("profile show prod --format json")
        assert result.exit_code == 0, result.stderr
        import json

        found: str = json.loads(result.stdout)["token"]
        return found

    assert source() == "config file"
    memory_keyring.passwords["subctl", "prod"] = "in-keyring"
    assert source() == "system keyring (service subctl)"
    monkeypatch.setenv("HS_TOKEN", "in-var")
    assert source() == "environment variable HS_TOKEN"
    monkeypatch.setenv("SUBCTL_TOKEN", "in-subctl-var")
    assert source() == "environment variable SUBCTL_TOKEN"


def test_a_bad_profile_setting_in_the_file_names_it(invoke: Invoke, subctl_home: Path) -> None:
    subctl_home.mkdir(parents=True, exist_ok=True)
    (subctl_home / "config.toml").write_text('[profiles.prod]\nkind = "ftp"\n')
    result = invoke("profile list")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"Error: {subctl_home / 'config.toml'}: profiles.prod.kind must be one of local, hubspot"
    )


# -- what a HubSpot profile refuses ------------------------------------------------------------


@pytest.fixture
def remote(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """A HubSpot profile, active, with a token in SUBCTL_TOKEN."""
    assert invoke("profile add prod --hubspot").exit_code == 0
    assert invoke("profile use prod").exit_code == 0
    monkeypatch.setenv("SUBCTL_TOKEN", TOKEN)
    return invoke


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        ("billing run", 5, "HubSpot bills by itself: there is no billing run on a remote profile"),
        ("billing log", 5, "HubSpot bills by itself: there is no billing run on a remote profile"),
        ("billing set retry_days 3", 5,
         "HubSpot bills by itself: there is no billing run on a remote profile"),
        ("clock advance 30d", 5, "HubSpot's clock is the real one: it cannot be moved"),
        ("clock set 2027-01-01", 5, "HubSpot's clock is the real one: it cannot be moved"),
        ("clock reset", 5, "HubSpot's clock is the real one: it cannot be moved"),
        ("cancel 1 --refund unused --yes", 2,
         "HubSpot has no endpoint for refunds: --refund and --refund-pending work locally only"),
        ("cancel 1 --refund-pending --yes", 2,
         "HubSpot has no endpoint for refunds: --refund and --refund-pending work locally only"),
        ("pay 1 --yes", 5,
         "HubSpot has no endpoint to record a payment: it collects payments by itself"),
        ("send-update-link 1 --yes", 5,
         "HubSpot has no endpoint to send a payment-method update link (no outbox remotely)"),
        ("demo --count 10", 5,
         "demo data is generated into a local workspace, never into a HubSpot account"),
        ("init", 5,
         "a HubSpot profile's workspace is created on first use: init has nothing to do"),
    ],
)  # fmt: skip
def test_remote_refusals(
    remote: Invoke, subctl_home: Path, args: str, code: int, error: str
) -> None:
    result = remote(args)
    assert result.exit_code == code, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == f"Error: {error} (profile prod is a HubSpot profile)"
    assert lines[1].startswith("Hint: ")
    assert result.stdout == ""
    assert not (subctl_home / "profiles").exists()  # refused before anything was opened
    assert TOKEN not in result.stderr


def test_a_remote_profile_without_a_token_says_where_to_put_one(
    invoke: Invoke, no_keyring: None
) -> None:
    assert invoke("profile add prod --hubspot --token-env HS_TOKEN").exit_code == 0
    result = invoke("--profile prod list")
    assert result.exit_code == 4
    assert result.stderr == (
        'Error: profile "prod" has no HubSpot token\n'
        "Hint: set SUBCTL_TOKEN or HS_TOKEN to a private app's access token (subctl profile"
        " show prod says where subctl looks)\n"
    )


def test_local_profiles_refuse_nothing(invoke: Invoke) -> None:
    assert invoke("demo --count 5 --seed 1").exit_code == 0
    assert invoke("clock advance 1d").exit_code == 0


def test_the_token_prompt_on_a_real_terminal_echoes_nothing(subctl_home: Path) -> None:
    from tests.test_tty import converse

    code, stdout, screen = converse(
        ["profile", "add", "prod", "--hubspot", "--store-token-in-config"],
        [(b"HubSpot access token", TOKEN.encode() + b"\r")],
    )
    assert code == 0, screen.decode(errors="replace")
    assert TOKEN.encode() not in screen  # hidden while typed, and never said
    assert _config(subctl_home)["profiles"]["prod"]["token"] == TOKEN
