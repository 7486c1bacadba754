"""Segments as HubSpot lists (DOMAIN.md §7, ``store.base.SegmentStore``): a list of
subscriptions (object type ``0-69``) named after the segment.

- create: ``POST /crm/v3/lists`` (not retried: a lost answer is found again by name), then for
  a manual list ``PUT .../memberships/add`` in chunks of 100 ids;
- by name: ``GET /crm/v3/lists/object-type-id/0-69/name/NAME`` (one request per use: the
  list's id is not kept locally, so a list renamed or deleted in HubSpot is seen at once);
- members: ``GET .../memberships`` pages of 250 ids (``after``), in id order;
- filters: ``PUT .../update-list-filters``; delete: ``DELETE /crm/v3/lists/{id}``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from subctl.errors import Conflict, InDoubt, InvalidState, NotFound
from subctl.store.base import HeldList

if TYPE_CHECKING:
    from subctl.store.http.records import Client

LISTS = "/crm/v3/lists"
OBJECT_TYPE_ID = "0-69"
MEMBERS_PAGE = 250  # the memberships endpoint's largest page
CHANGE_CHUNK = 100  # ids per memberships add/remove request


def _held(body: Any) -> HeldList:
    found = (body or {}).get("list") or body or {}
    size = found.get("size")
    if size is None:
        size = (found.get("additionalProperties") or {}).get("hs_list_size", 0)
    return HeldList(
        str(found.get("listId", "")),
        str(found.get("name", "")),
        str(found.get("processingType", "")),
        int(size or 0),
    )


def find(client: Client, name: str) -> HeldList:
    """The list named ``name``; raises NotFound (exit 3) saying so."""
    try:
        body = client.get(f"{LISTS}/object-type-id/{OBJECT_TYPE_ID}/name/{quote(name, safe='')}")
    except NotFound:
        raise NotFound(
            f'HubSpot has no list "{name}" (deleted or renamed in HubSpot?)',
            hint=f"subctl segment delete {name}, then create it again",
        ) from None
    return _held(body)


def create(client: Client, request: Mapping[str, Any], members: Sequence[int]) -> HeldList:
    try:
        made = _held(client.post(LISTS, dict(request), idempotent=False))
    except InDoubt:  # the answer was lost: the list exists if HubSpot made it
        try:
            made = find(client, str(request["name"]))
        except NotFound:
            made = _held(client.post(LISTS, dict(request), idempotent=False))
    except Conflict:
        raise InvalidState(
            f'HubSpot already has a list named "{request["name"]}"',
            hint="choose another segment name, or delete that list in HubSpot",
        ) from None
    if members:
        change(client, made.id, list(members), [])
        made = find(client, made.name)
    return made


def members(client: Client, list_id: str) -> Iterator[int]:
    for page in client.pages(f"{LISTS}/{list_id}/memberships", {"limit": MEMBERS_PAGE}):
        for row in page:
            yield int(row["recordId"])


def change(
    client: Client, list_id: str, add: Sequence[int], remove: Sequence[int]
) -> tuple[list[int], list[int]]:
    """The ids HubSpot says it added and removed (PUT: idempotent, retried when lost)."""
    done: tuple[list[int], list[int]] = ([], [])
    steps = (
        ("add", add, "recordIdsAdded", done[0]),
        ("remove", remove, "recordIdsRemoved", done[1]),
    )
    for verb, ids, key, changed in steps:
        for start in range(0, len(ids), CHANGE_CHUNK):
            chunk = [str(i) for i in ids[start : start + CHANGE_CHUNK]]
            answer = client.put(f"{LISTS}/{list_id}/memberships/{verb}", chunk) or {}
            changed.extend(int(i) for i in answer.get(key) or [])
    return done


def set_filters(client: Client, list_id: str, branch: Mapping[str, Any]) -> None:
    client.put(f"{LISTS}/{list_id}/update-list-filters", {"filterBranch": dict(branch)})


def delete(client: Client, list_id: str) -> None:
    client.delete(f"{LISTS}/{list_id}")
