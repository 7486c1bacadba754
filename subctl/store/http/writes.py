"""Typed operations (``store.ops``) carried out on HubSpot: ``execute(client, ops, registry)``.

- ``Update``: ``PATCH /crm/v3/objects/subscriptions/{id}`` (one), ``batch/update`` (several:
  100 per request, 207 per item); its line items ``PATCH /crm/v3/objects/line_items/{id}``
- ``Cancel``: ``POST /payments-subscriptions/v1/subscriptions/crm/{id}/cancel`` (no body)
- ``Pause``: ``…/{id}/pause`` with ``{"pauseReason": …}`` or ``{}``
- ``Resume``: ``…/{id}/unpause`` with ``{"proposedNextBillingDate": <epoch ms, midnight UTC>}``
- ``Delete``: ``DELETE /crm/v3/objects/subscriptions/{id}`` (archive; several: ``batch/archive``)
- ``CancelAtPeriodEnd``: ``PATCH`` of ``hs_scheduled_cancellation_date`` (below)
- ``Upsert``: ``PATCH`` (an existing record) or ``POST`` (create), associations by v4 ``PUT``
- ``Refund``, ``Notify``, ``MarkUnpaid``, ``Pay``, ``Bill``: no endpoint, ``InvalidState`` (5)

**Before anything is sent**, every operation is checked: one HubSpot has no endpoint for
(refunds, the billing simulation's events, an e-mail of subctl's own, a pause with a resume
date) refuses the whole call, naming what HubSpot cannot do; then the status of every
operation with an ``expect_status`` is read (``batch/read``, 100 per request) and one that
moved, or a record that is gone, is a ``Conflict`` with nothing written, as the SQL store's.

**Lifecycle calls are not idempotent** and never retried blindly: when the client raises
``InDoubt`` (the answer was lost after the request went out), the record is read again; in
the operation's target status it was applied and is done; still in ``expect_status`` it was
not, and is sent again after the client's backoff (at most ``IN_DOUBT_ATTEMPTS`` times; then
the ``InDoubt`` stands and the batch journal keeps the item in doubt); anything else is a
``Conflict``.

**``CancelAtPeriodEnd``**: HubSpot documents no property or endpoint for it (DOMAIN.md §1:
no internal name for a cancellation date is established). subctl PATCHes the property its
schema defines for it, ``hs_scheduled_cancellation_date`` (the day the subscription ends, as
HubSpot's date wire form), and nothing else: the next payment's date and amount are HubSpot's
to compute. An account without that property answers 400, shown as HubSpot's message.

Values go out as HubSpot's wire strings (``codec.to_wire``; no value is ``""``); the columns
HubSpot computes itself (``hs_lastmodifieddate``, ``hs_mrr``, ``hs_canceled_at``, …) are never
sent. Buyer e-mails (``op.messages``) are HubSpot's to send.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from subctl.codec import to_wire
from subctl.errors import Conflict, InDoubt, InvalidState, NotFound, UsageError
from subctl.schema import PropertyRegistry, PropType
from subctl.store.http.client import HubSpotClient
from subctl.store.ops import (
    Bill,
    Cancel,
    CancelAtPeriodEnd,
    Delete,
    MarkUnpaid,
    Notify,
    Op,
    Pause,
    Pay,
    Refund,
    Resume,
    Update,
    Upsert,
)

OBJECTS = "/crm/v3/objects/subscriptions"
LIFECYCLE = "/payments-subscriptions/v1/subscriptions/crm"
LINE_ITEMS = "/crm/v3/objects/line_items"
ASSOCIATIONS = "/crm/v4/objects/subscriptions"
SCHEDULED_CANCELLATION = "hs_scheduled_cancellation_date"
IN_DOUBT_ATTEMPTS = 5

# What each lifecycle operation calls, and the status it leaves.
_LIFECYCLE: dict[type[Op], tuple[str, str]] = {
    Cancel: ("cancel", "canceled"),
    Pause: ("pause", "paused"),
    Resume: ("unpause", "active"),
}

_NO_ENDPOINT: dict[type[Op], str] = {
    Refund: "refunds (HubSpot has no refund endpoint; refund in HubSpot's payments tool)",
    Notify: "e-mails of subctl's own (HubSpot sends its own)",
    MarkUnpaid: "the billing simulation (HubSpot bills by itself)",
    Pay: "the billing simulation (HubSpot bills by itself)",
    Bill: "the billing simulation (HubSpot bills by itself)",
}


def execute(client: HubSpotClient, ops: Sequence[Op], registry: PropertyRegistry) -> None:
    """Carry out ``ops`` on HubSpot (see the module's docstring): updates and deletions of
    several records first, as batches, then the others one by one, in order."""
    bodies = [_checked(op, registry) for op in ops]
    _expect(client, ops)
    _require_records(client, ops)
    updates = [(op, body) for op, body in zip(ops, bodies, strict=True)
               if isinstance(op, Update | CancelAtPeriodEnd) and not _line_items(op)]  # fmt: skip
    deletes = [op for op in ops if isinstance(op, Delete)]
    if len(updates) > 1:
        _batch_update(client, updates)
    if len(deletes) > 1:
        _batch_archive(client, deletes)
    for op, body in zip(ops, bodies, strict=True):
        if isinstance(op, Update | CancelAtPeriodEnd):
            for item in _line_items(op):
                properties = {"quantity": str(item.quantity), "price": format(item.price, "f")}
                client.patch(f"{LINE_ITEMS}/{item.id}", {"properties": properties})
            if body and (len(updates) == 1 or _line_items(op)):
                client.patch(f"{OBJECTS}/{op.subscription_id}", {"properties": body})
        elif isinstance(op, Delete):
            if len(deletes) == 1:
                _delete(client, op)
        elif type(op) in _LIFECYCLE:
            _lifecycle(client, op, body)
        elif isinstance(op, Upsert):
            _upsert(client, op, body)


# -- before anything is sent -------------------------------------------------------------------


def _checked(op: Op, registry: PropertyRegistry) -> dict[str, Any]:
    """The body ``op`` sends; ``InvalidState`` when HubSpot cannot carry it out."""
    refused = _NO_ENDPOINT.get(type(op))
    if refused is not None:
        raise InvalidState(f"a remote HubSpot profile cannot do {refused}; nothing was sent")
    if isinstance(op, Cancel):
        if op.refunds:
            raise InvalidState(
                "HubSpot has no refund endpoint: cancel without a refund on a remote profile, "
                "and refund in HubSpot's payments tool; nothing was sent"
            )
        return {}
    if isinstance(op, Pause):
        if op.resume_on is not None:
            raise InvalidState(
                "HubSpot's pause takes no resume date: pause without one and resume by hand; "
                "nothing was sent"
            )
        return {"pauseReason": op.reason} if op.reason else {}
    if isinstance(op, Resume):
        return {"proposedNextBillingDate": int(to_wire(PropType.DATE, op.next_billing_date))}
    if isinstance(op, CancelAtPeriodEnd):
        return {SCHEDULED_CANCELLATION: to_wire(PropType.DATE, op.end)}
    if isinstance(op, Update | Upsert):
        if isinstance(op, Upsert) and op.create and op.subscription_id:
            raise InvalidState(
                f"HubSpot assigns record ids: subscription {op.subscription_id} cannot be "
                "created with its own id on a remote profile; nothing was sent"
            )
        if isinstance(op, Upsert) and any(r.values is not None for r in op.records):
            raise InvalidState(
                "creating associated records during an import is not supported on a remote "
                "HubSpot profile; create them in HubSpot first; nothing was sent"
            )
        return _wire_values(op.values, registry)
    return {}  # Delete


def _wire_values(values: dict[str, Any], registry: PropertyRegistry) -> dict[str, str]:
    body = {}
    for name, value in values.items():
        prop = registry.get(name)
        if prop is None:
            raise UsageError(f"unknown property {name}; nothing was sent")
        body[prop.name] = "" if value is None else to_wire(prop.type, value)
    return body


def _line_items(op: Op) -> tuple[Any, ...]:
    return op.line_items if isinstance(op, Update) else ()


def _expect(client: HubSpotClient, ops: Sequence[Op]) -> None:
    """``Conflict`` (nothing sent) when a record is gone or its status moved."""
    expected = {op.subscription_id: op.expect_status for op in ops if op.expect_status}
    if not expected:
        return
    found = statuses(client, list(expected))
    for sid, status in expected.items():
        now = found.get(sid)
        if sid not in found:
            raise Conflict(f"subscription {sid} is no longer in HubSpot; nothing was written")
        if now != status:
            raise Conflict(
                f"subscription {sid} is {now or 'without a status'} now, not {status}; "
                "nothing was written"
            )


def _require_records(client: HubSpotClient, ops: Sequence[Op]) -> None:
    """``Conflict`` (nothing sent) when a record an upsert associates does not exist (an
    import's associated records must exist on a remote profile): one batch read per object
    type, so that an upsert batch is all or nothing."""
    from subctl.schema import ASSOCIATION_BY_NAME
    from subctl.store.http.objects import OBJECTS as PATHS

    wanted: dict[str, set[int]] = {}
    for op in ops:
        if isinstance(op, Upsert):
            for object_type, record_id, _type_id in op.associations:
                wanted.setdefault(object_type, set()).add(int(record_id))
    for object_type, ids in wanted.items():
        wire = PATHS.get(object_type)
        if wire is None:
            continue
        result = client.batch(f"/crm/v3/objects/{wire.path}/batch/read",
                              [{"id": str(i)} for i in sorted(ids)], idempotent=True,
                              extra={"properties": ["hs_object_id"]})  # fmt: skip
        missing = sorted(ids - {int(r["id"]) for r in result.results})
        if missing:
            label = ASSOCIATION_BY_NAME[object_type].label.lower()
            raise Conflict(f"{label} {missing[0]} does not exist; nothing was written")


def statuses(client: HubSpotClient, ids: Sequence[int]) -> dict[int, str | None]:
    """The current ``hs_status`` of each of ``ids`` that exists (``batch/read``)."""
    if len(ids) == 1:  # the item-by-item path: one GET, and a 404 is "gone"
        try:
            record = client.get(f"{OBJECTS}/{ids[0]}", {"properties": "hs_status"})
        except NotFound:
            return {}
        return {ids[0]: (record.get("properties") or {}).get("hs_status") or None}
    result = client.batch(f"{OBJECTS}/batch/read", [{"id": str(i)} for i in ids],
                          idempotent=True, extra={"properties": ["hs_status"]})  # fmt: skip
    return {
        int(r["id"]): (r.get("properties") or {}).get("hs_status") or None for r in result.results
    }


# -- the calls -----------------------------------------------------------------------------


def _lifecycle(client: HubSpotClient, op: Op, body: dict[str, Any]) -> None:
    verb, target = _LIFECYCLE[type(op)]
    path = f"{LIFECYCLE}/{op.subscription_id}/{verb}"
    for attempt in range(1, IN_DOUBT_ATTEMPTS + 1):
        try:
            client.post(path, None if isinstance(op, Cancel) else body, idempotent=False)
            return
        except InDoubt:
            now = statuses(client, [op.subscription_id]).get(op.subscription_id)
            if now == target:
                return  # applied before its answer was lost
            if op.expect_status is not None and now != op.expect_status:
                raise Conflict(
                    f"subscription {op.subscription_id} is {now or 'gone'} now after an "
                    f"unconfirmed {verb}, not {op.expect_status}; nothing more was sent"
                ) from None
            if attempt == IN_DOUBT_ATTEMPTS:
                raise  # still not applied: HubSpot keeps failing; the item stays in doubt
            client.sleep(client.backoff(attempt))


def _delete(client: HubSpotClient, op: Delete) -> None:
    try:
        client.delete(f"{OBJECTS}/{op.subscription_id}")
    except NotFound:
        pass  # archived already (a retried DELETE whose first answer was lost)


def _batch_update(client: HubSpotClient, updates: Sequence[tuple[Op, dict[str, Any]]]) -> None:
    inputs = [{"id": str(op.subscription_id), "properties": body} for op, body in updates]
    result = client.batch(f"{OBJECTS}/batch/update", inputs, idempotent=True)
    if result.errors:
        failed = sorted(result.failed_ids(), key=int)
        message = str(result.errors[0].get("message") or "refused").rstrip(".")
        raise Conflict(
            f"HubSpot refused {len(failed) or len(result.errors)} of {len(inputs)} updates"
            f"{' (' + ', '.join(failed[:10]) + ')' if failed else ''}: {message}; "
            f"the other {len(result.results)} were written"
        )


def _batch_archive(client: HubSpotClient, deletes: Sequence[Delete]) -> None:
    client.batch(f"{OBJECTS}/batch/archive", [{"id": str(op.subscription_id)} for op in deletes],
                 idempotent=True)  # fmt: skip


def _upsert(client: HubSpotClient, op: Upsert, body: dict[str, Any]) -> None:
    if op.create:  # without an id (``_checked``)
        created = client.post(OBJECTS, {"properties": body}, idempotent=False)
        op.subscription_id = int(created["id"])
    elif body:
        client.patch(f"{OBJECTS}/{op.subscription_id}", {"properties": body})
    for object_type, record_id, type_id in op.associations:
        client.put(
            f"{ASSOCIATIONS}/{op.subscription_id}/associations/{object_type}/{record_id}",
            [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
        )
