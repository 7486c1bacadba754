"""The remote HubSpot profile's record store: ``client.py`` (HTTP, pacing, retries, errors),
``writes.py`` (typed operations -> endpoints), ``search.py`` (the query AST -> CRM search
filter groups, packed into searches), ``records.py`` (``HttpStore``: the reads, past search's
limits) and ``objects.py`` (the other CRM objects' paths and properties).

Opening it imports httpx, so nothing here is imported on ``--help`` (``tests/test_startup.py``):
``open_remote`` imports the client when called."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from subctl.store.http.records import HttpStore


def open_remote(
    base_url: str,
    token: str,
    tier: str | None,
    transport: httpx.BaseTransport | None = None,
    notice: Callable[[str], None] | None = None,
) -> HttpStore:
    """An ``HttpStore`` over a HubSpot account (``tier``: the account's, None when the profile
    does not say: the client's default rate limit, and sensitive properties looked for;
    ``transport``: tests' fake server; ``notice``: where a long retry wait is said, the CLI's
    stderr)."""
    from subctl.store.http.client import HubSpotClient
    from subctl.store.http.records import HttpStore

    if tier is None:
        client = HubSpotClient(base_url, token, transport=transport, notice=notice)
    else:
        client = HubSpotClient(base_url, token, tier=tier, transport=transport, notice=notice)
    return HttpStore(client, tier=tier)


def token_scopes(store: object, token: str) -> frozenset[str] | None:
    """The scopes HubSpot says ``token`` has (None: it does not say; ``tokeninfo.py``)."""
    from subctl.store.http.client import HubSpotClient
    from subctl.store.http.tokeninfo import token_scopes as ask

    client = getattr(store, "client", None)
    if not isinstance(client, HubSpotClient):  # a stand-in store (tests): nothing to ask
        return None
    return ask(client, token)
