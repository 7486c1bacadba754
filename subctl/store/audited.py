"""``AuditedRecords``: the audit log of a record store that cannot write the workspace in its
own transaction (HubSpot's API), for the changes outside a batch: property definitions and
associations (``associate``, ``--create``, ``--replace``).

A SQL store appends these rows in the change's transaction (``store/sql/records.py``); a
remote one's change is a call to HubSpot, so this wrapper appends the same row (same target,
before and after) to the profile's workspace once the call has succeeded. A call that fails
appends nothing; a crash between the call and the row loses the row (HubSpot's own audit
history still has the change). Batches (``execute``) are audited item by item by
``unit.ItemByItem``; saved views and segments live in the workspace, which audits them itself.

Every other attribute is the wrapped store's (reads, ``execute``, server-side exports).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from subctl.schema import Property
from subctl.store.base import (
    AssociatedRecord,
    AuditChange,
    AuditContext,
    RecordStore,
    Workspace,
    audited_definition,
)
from subctl.store.ops import Operation


class AuditedRecords:
    """A ``RecordStore`` whose definition and association changes append audit rows."""

    def __init__(self, records: RecordStore, workspace: Workspace, audit: AuditContext) -> None:
        self.records = records
        self.workspace = workspace
        self.audit = audit
        # the last associations of one subscription and object type read through this wrapper
        # (object id -> type id): the before of the next ``associate`` of that pair
        self._seen: tuple[tuple[int, str], dict[int, int]] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.records, name)

    def _append(self, change: AuditChange) -> None:
        self.workspace.append_audit(self.audit, [change], self.audit.clock())

    def create_property(self, prop: Property) -> None:
        self.records.create_property(prop)
        self._append(AuditChange(f"property:{prop.name}", None, audited_definition(prop)))

    def update_property(self, prop: Property) -> None:
        old = self.records.properties().get(prop.name)
        self.records.update_property(prop)
        if old is None:  # the store found it (it raised NotFound otherwise): defensive
            return
        before, after = audited_definition(old), audited_definition(prop)
        changed = [k for k in after if before.get(k) != after[k]]
        self._append(AuditChange(f"property:{prop.name}", {k: before.get(k) for k in changed},
                                 {k: after[k] for k in changed}))  # fmt: skip

    def delete_property(self, name: str) -> None:
        old = self.records.properties().get(name)
        self.records.delete_property(name)
        before = None if old is None else audited_definition(old)
        self._append(AuditChange(f"property:{name}", before, None))

    def associations(self, sub_id: int, object_type: str | None = None) -> list[AssociatedRecord]:
        """The wrapped store's; those of one object type are kept for the next ``associate``
        of that subscription and type (``associate``'s before)."""
        found = self.records.associations(sub_id, object_type)
        if object_type is not None:
            self._seen = ((sub_id, object_type), {a.id: a.type_id for a in found})
        return found

    def associate(self, sub_id: int, object_type: str, object_id: int, type_id: int) -> None:
        """As a SQL store: a row for a new association, or a changed type; none when the
        association was already there with that type. The before: the associations of that
        subscription and object type the caller has just read through this wrapper (the
        service reads them for its checks right before it associates: choice, a second read
        here cost 2 requests per association on HubSpot), else one read before the call."""
        seen, self._seen = self._seen, None
        if seen is not None and seen[0] == (sub_id, object_type):
            found = [seen[1][object_id]] if object_id in seen[1] else []
        else:
            found = [a.type_id for a in self.records.associations(sub_id, object_type)
                     if a.id == object_id]  # fmt: skip
        self.records.associate(sub_id, object_type, object_id, type_id)
        target = f"association:{object_type}:{object_id}"
        if not found:
            self._append(AuditChange(target, None, {"type_id": type_id}, sub_id))
        elif found[0] != type_id:
            self._append(AuditChange(target, {"type_id": found[0]}, {"type_id": type_id}, sub_id))

    def execute(self, ops: Sequence[Operation]) -> None:
        self._seen = None  # a write in between: the associations read may be stale
        self.records.execute(ops)

    def dissociate(self, sub_id: int, object_type: str, object_id: int) -> None:
        self._seen = None
        self.records.dissociate(sub_id, object_type, object_id)
        target = f"association:{object_type}:{object_id}"
        self._append(AuditChange(target, {"associated": True}, None, sub_id))
