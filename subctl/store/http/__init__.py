"""The remote record store: HubSpot's CRM API (``HttpStore``). Opening it imports httpx, so
nothing here is imported on ``--help`` (``tests/test_startup.py``): ``open_remote`` imports the
client when called."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from subctl.store.http.records import HttpStore


def open_remote(
    base_url: str, token: str, tier: str, transport: httpx.BaseTransport | None = None
) -> HttpStore:
    """An ``HttpStore`` over a HubSpot account (``transport``: tests' fake server)."""
    import importlib

    from subctl.store.http.records import HttpStore

    # ``client.py`` is H1's (session 22): imported by name until it is on main.
    client = importlib.import_module("subctl.store.http.client")
    return HttpStore(client.HubSpotClient(base_url, token, tier=tier, transport=transport))
