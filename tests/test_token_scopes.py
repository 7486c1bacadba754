"""A HubSpot profile's permissions come from its token's scopes (issue #15, item 2): HubSpot's
token-information endpoints (a private app's, an OAuth token's) on the fake server served on
127.0.0.1, the mapping in ``services/access.py`` intersected with the profile's config, the
answer cached in the profile's workspace for an hour; a token of another kind keeps every
permission (HubSpot enforces its scopes itself)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from subctl.errors import AuthError
from subctl.services import access
from subctl.store.http.client import HubSpotClient
from subctl.store.http.tokeninfo import OAUTH_INFO, PRIVATE_APP_INFO, token_scopes
from tests.conftest import Invoke
from tests.fakehub import FakeHubSpot
from tests.fakehub.app import all_scopes
from tests.test_cli_remote import mirror_seeded

PAT = "pat-na1-SCOPES-7c1e-42aa-b00b-0123456789ab"
OAUTH = "CNbOauthAccessToken-SCOPES-d00d-7e57"
READ_ONLY = frozenset(s for s in all_scopes() if s.endswith(".read"))
WRITE = "crm.objects.subscriptions.write"


def info_requests(hub: FakeHubSpot) -> list[str]:
    return [r.path for r in hub.requests if r.path.startswith("/oauth/")]


def others(hub: FakeHubSpot) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in hub.requests if not r.path.startswith("/oauth/")]


@pytest.fixture
def served(
    seeded: Invoke, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[tuple[Invoke, FakeHubSpot]]:
    """A ``hub`` profile on a served fake whose token (``kind``: the parameter) is read-only."""
    kind = getattr(request, "param", "private-app")
    token = PAT if kind == "private-app" else OAUTH
    hub = FakeHubSpot(token=token, scopes=READ_ONLY, token_kind=kind)
    mirror_seeded(hub)
    monkeypatch.setenv("SUBCTL_TOKEN", token)
    with hub.serve() as url:
        added = seeded(f"profile add hub --hubspot --base-url {url}")
        assert added.exit_code == 0, added.stderr
        yield seeded, hub


def leaks(*texts: str) -> bool:
    return any(token in text or token[-12:] in text for text in texts for token in (PAT, OAUTH))


REFUSED = (
    'Error: profile "hub" lacks the "edit" permission needed by cancel: its HubSpot token'
    f" lacks the scope {WRITE}\n"
)


@pytest.mark.parametrize("served", ["private-app", "oauth"], indirect=True)
def test_a_read_only_token_cannot_cancel_and_can_list(
    served: tuple[Invoke, FakeHubSpot], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    invoke, hub = served
    refused = invoke("-p hub cancel 1 --yes")
    assert refused.exit_code == 4
    assert refused.stderr.startswith(REFUSED), refused.stderr
    assert others(hub) == []  # refused before any request but the scopes' one
    expected = PRIVATE_APP_INFO if hub.token_kind == "private-app" else OAUTH_INFO + "{token}"
    assert info_requests(hub) == [expected]
    assert hub.records["subscriptions"][1].props["hs_status"] == "active"

    listed = invoke("-p hub list --all --fields id,status --sort id --format csv")
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout.splitlines()[:2] == ["hs_object_id,hs_status", "1,active"]
    shown = invoke("-p hub profile show --format json")
    assert shown.exit_code == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert (data["permissions"], data["permissions_from"]) == (
        "view,export,sensitive_data", "the HubSpot token's scopes"
    )  # fmt: skip
    # asked once: the answer is the workspace's for an hour
    assert info_requests(hub) == [expected]
    outputs = [refused.stdout, refused.stderr, listed.stderr, shown.stdout, shown.stderr]
    assert not leaks(*outputs, caplog.text, repr(hub.requests))
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)  # httpx did log


def test_the_config_restricts_further_and_refuses_without_a_request(
    served: tuple[Invoke, FakeHubSpot],
) -> None:
    invoke, hub = served
    assert invoke("config set profiles.hub.permissions view,edit").exit_code == 0
    shown = json.loads(invoke("-p hub profile show hub --format json").stdout)
    assert (shown["permissions"], shown["permissions_from"]) == (
        "view,edit", "the profile's config; the token's scopes not known yet (its next command"
        " asks HubSpot)"
    )  # fmt: skip
    assert hub.requests == []  # profile show asks nothing: it works offline
    assert invoke("-p hub list --all --format csv").exit_code == 0
    shown = json.loads(invoke("-p hub profile show hub --format json").stdout)
    assert (shown["permissions"], shown["permissions_from"]) == (
        "view", "the HubSpot token's scopes and the profile's config"
    )  # fmt: skip
    hub.requests.clear()
    exported = invoke("-p hub export -a -o - --format csv")
    assert exported.exit_code == 4
    assert exported.stderr.startswith(
        'Error: profile "hub" lacks the "export" permission needed by export\n'
    )
    assert hub.requests == []  # the config refused: the cached scopes were not even needed


def test_a_token_granted_the_write_scope_cancels(served: tuple[Invoke, FakeHubSpot]) -> None:
    invoke, hub = served
    hub.scopes = READ_ONLY | {WRITE}
    done = invoke("-p hub cancel 1 --yes")
    assert done.exit_code == 0, done.stderr
    assert hub.records["subscriptions"][1].props["hs_status"] == "canceled"


@pytest.mark.parametrize("served", ["other"], indirect=True)
def test_a_token_hubspot_says_nothing_of_keeps_every_permission(
    served: tuple[Invoke, FakeHubSpot],
) -> None:
    invoke, hub = served
    # subctl lets it through; HubSpot refuses the change (403 naming the scope), exit 4
    refused = invoke("-p hub cancel 1 --yes")
    assert refused.exit_code == 4
    assert WRITE in refused.stderr
    shown = json.loads(invoke("-p hub profile show --format json").stdout)
    assert (shown["permissions"], shown["permissions_from"]) == (
        "all", "all: HubSpot did not say the token's scopes (it enforces them itself)"
    )  # fmt: skip
    assert any(r.status == 403 for r in hub.requests)
    assert info_requests(hub) == [OAUTH_INFO + "{token}"]  # asked once (cached)


def test_profile_show_without_a_token_says_why(
    served: tuple[Invoke, FakeHubSpot], monkeypatch: pytest.MonkeyPatch
) -> None:
    invoke, hub = served
    monkeypatch.delenv("SUBCTL_TOKEN")
    shown = invoke("-p hub profile show --format json")
    assert shown.exit_code == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["permissions"] == "all"
    assert data["permissions_from"].startswith("all; the token's scopes unknown (")
    assert hub.requests == []


# -- the pieces ------------------------------------------------------------------------------


class Settings:
    """A workspace's settings (what ``access.token_permissions`` uses of a ``Workspace``)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get_setting(self, key: str) -> str | None:
        return self.values.get(key)

    def set_setting(self, key: str, value: str) -> None:
        self.values[key] = value


def test_the_answer_is_cached_per_token_for_an_hour() -> None:
    ws = Settings()
    asked: list[int] = []

    def ask() -> frozenset[str] | None:
        asked.append(1)
        return frozenset({"crm.objects.subscriptions.read"})

    def perms(fingerprint: str, now: float) -> frozenset[str]:
        found = access.token_permissions(ws, fingerprint, now, ask)  # type: ignore[arg-type]
        return found.granted()

    read_only = frozenset({"view", "export", "sensitive_data"})
    assert perms("a", 1000.0) == read_only and len(asked) == 1
    assert perms("a", 1000.0 + 3599) == read_only and len(asked) == 1
    assert perms("a", 1000.0 + 3600) == read_only and len(asked) == 2  # expired
    assert perms("b", 4600.0) == read_only and len(asked) == 3  # another token
    ws.values[access.SCOPES_SETTING] = "not json"
    assert perms("b", 4600.0) == read_only and len(asked) == 4
    assert PAT not in ws.values[access.SCOPES_SETTING]


def test_the_mapping_from_scopes() -> None:
    def granted(*scopes: str) -> list[str]:
        held = access.TokenPermissions(frozenset(scopes)).granted()
        return [p for p in access.PERMISSIONS if p in held]

    assert granted() == ["export", "sensitive_data"]
    assert granted("crm.objects.subscriptions.read") == ["view", "export", "sensitive_data"]
    assert granted("crm.objects.subscriptions.read", WRITE) == [
        "view", "edit", "delete", "export", "sensitive_data"
    ]  # fmt: skip
    assert granted("crm.schemas.subscriptions.write") == [
        "export", "properties", "sensitive_data"
    ]  # fmt: skip
    assert access.TokenPermissions(None).granted() == frozenset(access.PERMISSIONS)


def test_the_clients_errors_never_carry_an_oauth_token() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"message": "forbidden"})

    client = HubSpotClient("https://api.example", OAUTH, transport=httpx.MockTransport(answer))
    with pytest.raises(AuthError) as raised:
        token_scopes(client, OAUTH)
    assert raised.value.message == f"HubSpot refused GET {OAUTH_INFO}{{token}}: forbidden"


def test_a_400_or_404_is_a_token_of_another_kind() -> None:
    statuses: list[int] = [400, 404]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(statuses.pop(0), json={"message": "no"})

    client = HubSpotClient("https://api.example", PAT, transport=httpx.MockTransport(answer))
    assert token_scopes(client, PAT) is None
    assert token_scopes(client, PAT) is None


def test_scopes_as_hubspot_spells_them() -> None:
    answers: list[Any] = [{"scopes": ["a", "b"]}, {"scopes": "a b"}, {"hub_id": 1}]

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=answers.pop(0))

    client = HubSpotClient("https://api.example", OAUTH, transport=httpx.MockTransport(answer))
    assert token_scopes(client, OAUTH) == frozenset({"a", "b"})
    assert token_scopes(client, OAUTH) == frozenset({"a", "b"})
    assert token_scopes(client, OAUTH) is None
