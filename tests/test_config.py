"""The config file (``subctl config``), workspace paths, and the modes of the files subctl
writes."""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from subctl import config
from tests.conftest import Invoke


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def shared_umask() -> Iterator[None]:
    """A shell's usual umask (022): files would be world-readable unless subctl says otherwise."""
    old = os.umask(0o022)
    yield
    os.umask(old)


# -- subctl config ---------------------------------------------------------------------------


def test_set_get_list(invoke: Invoke, subctl_home: Path, tmp_path: Path) -> None:
    team = tmp_path / "team.db"
    assert invoke(["config", "set", "profiles.team.workspace", str(team)]).exit_code == 0
    done = invoke("config set active team")
    assert done.exit_code == 0
    assert done.stderr == f"✔ Set active in {subctl_home / 'config.toml'}\n"
    assert invoke("config get active").stdout == "team\n"
    assert invoke("config get profiles.team.workspace").stdout == f"{team}\n"
    listing = invoke("config list --format csv")
    assert listing.stdout == f"key,value\nactive,team\nprofiles.team.workspace,{team}\n"
    assert tomllib.loads((subctl_home / "config.toml").read_text()) == {
        "active": "team",
        "profiles": {"team": {"workspace": str(team)}},
    }
    # the active profile's workspace is the one used
    assert invoke("init").exit_code == 0
    assert team.exists() and not (subctl_home / "workspace.db").exists()


def test_config_keys_and_values_are_checked(invoke: Invoke, subctl_home: Path) -> None:
    unknown = invoke("config set colour blue")
    assert unknown.exit_code == 2
    assert unknown.stderr == (
        'Error: unknown config key "colour"\n'
        "Hint: keys: active, language, profiles.NAME.KEY (KEY: workspace, kind, base_url, tier,"
        " token_env, permissions)\n"
    )
    assert invoke("config get profiles.a/b.workspace").exit_code == 2
    assert invoke(["config", "set", "active", "two words"]).exit_code == 2
    scheme = invoke("config set profiles.web.workspace http://example.invalid/x")
    assert scheme.exit_code == 2
    assert not (subctl_home / "config.toml").exists()
    unset = invoke("config get active")
    assert unset.exit_code == 3
    assert unset.stderr == f"Error: active is not set in {subctl_home / 'config.toml'}\n"
    empty = invoke("config list")
    assert (empty.exit_code, empty.stdout) == (0, "[]\n")


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"), min_size=1)
)
def test_any_workspace_value_round_trips(invoke: Invoke, value: str) -> None:
    if config._URL.match(value):  # URLs are checked for their scheme; paths are taken as given
        value = "./" + value
    config.set_value("profiles.p.workspace", value)
    assert config.get_value("profiles.p.workspace") == value
    assert config.load_profile("p").workspace == value


def test_nul_in_a_workspace_path_is_a_usage_error(invoke: Invoke) -> None:
    result = invoke(["config", "set", "profiles.p.workspace", "a\0b"])
    assert result.exit_code == 2
    assert result.stderr == "Error: a workspace path cannot contain a NUL character\n"


# -- workspace paths are paths ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["q?mode=ro", "a%41b", "%2F..%2Fup", "sp ace#frag"])
def test_workspace_path_is_not_url_decoded(invoke: Invoke, tmp_path: Path, name: str) -> None:
    folder = tmp_path / "ws"
    folder.mkdir()
    path = folder / name
    assert invoke(["--workspace", str(path), "init"]).exit_code == 0
    assert [p.name for p in folder.iterdir()] == [name]
    assert [p.name for p in tmp_path.iterdir()] == ["ws"]
    assert invoke(["--workspace", str(path), "list"]).exit_code == 0


def test_explicit_sqlite_url_is_parsed_as_a_url(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "a b.db"
    assert invoke(["--workspace", f"sqlite:///{tmp_path}/a%20b.db", "init"]).exit_code == 0
    assert path.exists()


# -- file modes ------------------------------------------------------------------------------


def test_workspace_and_its_directory_are_private(
    invoke: Invoke, subctl_home: Path, shared_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from subctl.store.sql.database import Database

    seen: dict[str, int] = {}
    close = Database.close

    def close_noting_modes(db: Database) -> None:  # WAL and SHM exist while it is open
        seen.update({p.name: _mode(p) for p in subctl_home.iterdir()})
        close(db)

    monkeypatch.setattr(Database, "close", close_noting_modes)
    assert invoke("demo --count 20").exit_code == 0
    assert _mode(subctl_home) == 0o700
    assert seen == {"workspace.db": 0o600, "workspace.db-wal": 0o600, "workspace.db-shm": 0o600}


def test_backups_and_plans_are_private(seeded: Invoke, tmp_path: Path, shared_umask: None) -> None:
    backup, plan = tmp_path / "backup.csv", tmp_path / "plan.json"
    assert seeded(f"cancel 1 --dry-run --plan-out {plan}").exit_code == 0
    assert seeded(f"delete 4 --backup {backup} --yes").exit_code == 0
    assert (_mode(backup), _mode(plan)) == (0o600, 0o600)


def test_config_file_is_written_private(
    invoke: Invoke, subctl_home: Path, shared_umask: None
) -> None:
    assert invoke("config set active team").exit_code == 0
    path = subctl_home / "config.toml"
    assert (_mode(subctl_home), _mode(path)) == (0o700, 0o600)
    path.chmod(0o644)  # written by hand, readable by all: rewriting it makes it private
    assert invoke("config set profiles.team.workspace t.db").exit_code == 0
    assert _mode(path) == 0o600
    assert [p.name for p in subctl_home.iterdir()] == ["config.toml"]  # no temporary left


def test_passwords_in_workspace_urls_are_never_printed(invoke: Invoke) -> None:
    url = "postgresql://admin:s3cretpw@db.example:5432/billing"
    assert invoke(["config", "set", "profiles.team.workspace", url]).exit_code == 0
    got = invoke(["config", "get", "profiles.team.workspace"])
    listed = invoke(["config", "list", "--format", "csv"])
    assert got.stdout == "postgresql://admin:***@db.example:5432/billing\n"
    assert "s3cretpw" not in got.stdout + got.stderr + listed.stdout + listed.stderr
    assert "profiles.team.workspace,postgresql://admin:***@db.example:5432/billing" in listed.stdout


# -- the header language of exports ---------------------------------------------------------


def test_language_is_set_checked_and_read(invoke: Invoke, subctl_home: Path) -> None:
    from subctl.export import headers

    assert invoke("config set active team").exit_code == 0
    done = invoke("config set language DA")  # codes are case-insensitive, written lower-case
    assert done.exit_code == 0
    assert done.stderr == f"✔ Set language in {subctl_home / 'config.toml'}\n"
    assert invoke("config get language").stdout == "da\n"
    assert invoke("config list --format csv").stdout == "key,value\nactive,team\nlanguage,da\n"
    assert (subctl_home / "config.toml").read_text() == 'active = "team"\nlanguage = "da"\n'
    assert headers.default().language == "da"
    bad = invoke("config set language klingon")
    assert bad.exit_code == 2
    assert bad.stderr == (
        'Error: language: "klingon" is not a header language; supported: en, da, de, es, fi, fr, '
        "it, ja, nl, no, pl, pt, sv\n"
    )
    assert invoke("config get language").stdout == "da\n"  # unchanged


def test_language_unset_is_not_found(invoke: Invoke, subctl_home: Path) -> None:
    unset = invoke("config get language")
    assert unset.exit_code == 3
    assert unset.stderr == f"Error: language is not set in {subctl_home / 'config.toml'}\n"
    subctl_home.mkdir(parents=True, exist_ok=True)
    (subctl_home / "config.toml").write_text('language = " SV "\n')  # written by hand
    assert invoke("config get language").stdout == "sv\n"


@pytest.mark.parametrize("text", ['language = "xx"\n', "language = 1\n", 'language = ""\n'])
def test_a_bad_language_in_the_file_names_the_key_and_the_languages(
    invoke: Invoke, subctl_home: Path, text: str
) -> None:
    subctl_home.mkdir(parents=True, exist_ok=True)
    (subctl_home / "config.toml").write_text(text)
    result = invoke("config get language")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {subctl_home / 'config.toml'}: language must be a header language: en, da, de, "
        "es, fi, fr, it, ja, nl, no, pl, pt, sv\n"
        "Hint: edit or remove the file; its keys: active, language, profiles.NAME.KEY (KEY:"
        " workspace, kind, base_url, tier, token_env, permissions)\n"
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[profiles.team]\nworkspace = ""\n', "profiles.team.workspace is empty"),
        ('active = "team"\n', 'active names no profile ("team"; none configured)'),
    ],
)
def test_a_config_that_would_silently_mean_the_default_is_refused(
    invoke: Invoke, subctl_home: Path, text: str, key: str
) -> None:
    subctl_home.mkdir(parents=True, exist_ok=True)
    (subctl_home / "config.toml").write_text(text)
    result = invoke("list")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {subctl_home / 'config.toml'}: {key}"), result.stderr


@pytest.mark.parametrize("now", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_a_pinned_clock_out_of_range_is_a_usage_error(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, now: str
) -> None:
    monkeypatch.setenv("SUBCTL_NOW", now)
    result = invoke("demo")
    assert result.exit_code == 2
    assert f'Error: SUBCTL_NOW="{now}" is out of range' in result.stderr, result.stderr


def test_config_without_a_subcommand_lists_like_views_and_jobs(invoke: Invoke) -> None:
    assert invoke("config set active default").exit_code == 0
    listed = invoke("config --format csv")
    assert (listed.exit_code, listed.stdout) == (0, "key,value\nactive,default\n")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://h:5432/db?user=alice&password=s3cret",
         "postgresql://h:5432/db?user=alice&password=***"),
        ("postgresql://a:pw@h/db?sslpassword=key&sslmode=require",
         "postgresql://a:***@h/db?sslpassword=***&sslmode=require"),
        ("postgresql://h/db?user=alice", "postgresql://h/db?user=alice"),
    ],
)  # fmt: skip
def test_a_password_parameter_is_never_shown(url: str, expected: str) -> None:
    from subctl.config import shown

    assert shown(url) == expected
