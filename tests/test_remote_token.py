"""The token of a remote profile is never printed, logged or written (issue #14): a remote run of
many verbs, succeeding and failing (401, 403, 429, 500, bad input, ``SUBCTL_DEBUG=1``
tracebacks), against the fake HubSpot server on 127.0.0.1; then every output, every log record
(httpx's and httpcore's debug logging included) and every file the run left (the config file,
the profile's workspace database, exports, anything under the home and XDG directories) is
searched for the token."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Invoke, Result
from tests.fakehub import FakeHubSpot
from tests.test_cli_remote import mirror_seeded

# Distinctive, and in pieces that would show if it were split or partly masked.
TOKEN = "pat-eu1-TOKENLEAK-9f2c-4e1b-a7d3-51c0ffee77aa"
PIECES = ("TOKENLEAK", "51c0ffee77aa", "9f2c-4e1b")


def leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [p for p in (TOKEN, *PIECES) if p.encode() in data]


def test_the_search_finds_the_token_where_it_is() -> None:
    """The check can fail: it sees the token whole, in pieces and inside binary data."""
    assert leaks(f"Authorization: Bearer {TOKEN}") == [TOKEN, *PIECES]
    assert leaks(b"\x00\x01" + PIECES[0].encode() + b"\xff") == [PIECES[0]]
    assert leaks("pat-eu1-******") == []


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every directory a library might write to (keyring files, caches, logs) under tmp_path."""
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        path = tmp_path / "dirs" / name.lower()
        path.mkdir(parents=True)
        monkeypatch.setenv(name, str(path))
    return tmp_path


@pytest.fixture
def hub() -> FakeHubSpot:
    fake = FakeHubSpot(token=TOKEN)
    mirror_seeded(fake)
    return fake


@pytest.fixture
def remote(
    seeded: Invoke, hub: FakeHubSpot, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Invoke]:
    monkeypatch.setenv("HUBSPOT_PRIVATE_APP_TOKEN", TOKEN)
    with hub.serve() as url:
        added = seeded(
            f"profile add hub --hubspot --base-url {url} --token-env HUBSPOT_PRIVATE_APP_TOKEN"
        )
        assert added.exit_code == 0, added.stderr
        assert seeded("profile use hub").exit_code == 0
        yield seeded


def test_no_output_log_or_file_holds_the_token(
    remote: Invoke,
    hub: FakeHubSpot,
    isolated: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx, httpcore and anything else that logs
    runs: list[tuple[str, Result]] = []

    def run(args: str, *, code: int | None = 0) -> Result:
        result = remote(args)
        runs.append((args, result))
        if code is not None:
            assert result.exit_code == code, f"{args}: {result.stderr}"
        return result

    export = isolated / "exports" / "subs.csv"
    export.parent.mkdir()
    # what succeeds
    for args in (
        "profile list --format json",
        "profile show hub --format json",
        "config",
        "list --all --format json",
        "filter --where 'status = unpaid' --format csv",
        "view 1 --format json",
        "view 2",
        "property list --format csv",
        "update 1 --set name=Renamed --yes",
        "pause 1 --yes",
        "resume 1 --next-billing-date 2026-12-15 --yes",
        "associate 3 --company 77 --yes",
        f"export -a -o {export}",
        f"export -a -o {export.with_name('hubspot.xlsx')} --server-side",
        "jobs --format json",
    ):
        run(args)
    # bad input, what HubSpot cannot do, what is not there
    run("update 1 --set mrr=abc --yes", code=2)
    run("filter --where 'nope = 1'", code=2)
    run("cancel 2 --refund unused --yes", code=2)
    run("billing run", code=5)
    run("view 999", code=None)
    # HubSpot's failures: 429 (retried after Retry-After), 500 on a read (retried) and on a
    # cancel (in doubt: re-read), 403 (a missing scope), 401 (the token rejected)
    hub.inject("429")
    run("list --all --fields id --format csv")
    hub.inject("500")
    run("view 5 --format json")
    hub.inject("lost-500")
    run("cancel 3 --yes", code=None)
    hub.scopes = frozenset({"crm.objects.subscriptions.read", "crm.schemas.subscriptions.read"})
    forbidden = run("update 5 --set name=X --yes", code=4)
    assert "crm.objects.subscriptions.write" in forbidden.stderr
    hub.token = "pat-eu1-another-token"
    rejected = run("list --all", code=4)
    assert "token" in rejected.stderr.lower()
    # the same failures with SUBCTL_DEBUG=1: tracebacks
    monkeypatch.setenv("SUBCTL_DEBUG", "1")
    debug = run("view 1", code=4)
    assert "Traceback" in debug.stderr
    hub.token = TOKEN
    run("update 1 --set mrr=abc --yes", code=2)
    hub.inject("lost-500")
    run("cancel 5 --yes", code=None)
    run("list --all --format csv")

    # the run used the token: HubSpot answered it, and refused the one it did not know
    statuses = [r.status for r in hub.requests]
    assert statuses.count(200) >= 10 and 401 in statuses and 403 in statuses and 429 in statuses
    found = {
        args: where
        for args, result in runs
        for where, text in (("stdout", result.stdout), ("stderr", result.stderr))
        if leaks(text)
    }
    assert found == {}
    assert leaks(caplog.text) == []
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx did log
    captured = capfd.readouterr()
    assert leaks(captured.out + captured.err) == []
    files = [p for p in isolated.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert "config.toml" in names and any(n.endswith(".db") for n in names)
    assert export in files and export.with_name("hubspot.xlsx") in files
    assert [status for _task, status in hub.exports.downloads] == [200]  # no token sent to S3
    assert {
        str(p.relative_to(isolated)): leaks(p.read_bytes()) for p in files if leaks(p.read_bytes())
    } == {}
    assert leaks(repr(hub.requests)) == []
