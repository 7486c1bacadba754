"""``HttpStore``: the ``RecordStore`` of a remote profile, over HubSpot's CRM API (DOMAIN.md
§2-§6) through ``client.HubSpotClient`` (pacing, retries, error mapping live there).

Reading past CRM search's limits (DOMAIN.md §3), decided here once for every verb:

- **More than 10,000 matches**: a search pages with ``after`` until HubSpot's 10,000th result,
  then starts again with ``hs_object_id > <the last id seen>`` added to each filter group, in
  ascending id order (the default order of every unsorted read): every match comes back once,
  however many there are. A group already holding 6 filters has no room for that filter: such a
  query is refused (``QueryTooComplex``) before anything is printed, when its first page says it
  has more than 10,000 matches.
- **More filter groups or filters than one search allows** (5 groups, 6 per group, 18 in all,
  3,000 characters): the groups are packed into several searches (``crm.plan``), each read in
  ascending id order, and merged by id (``heapq.merge``) without duplicates: a record matching
  two searches comes back once. An ``IN`` list too long for the body is split across groups.
- **A sort**: sent to HubSpot when one search can return the whole answer in that order (one
  search, and at most 10,000 matches or a ``limit`` of at most 10,000). Otherwise (several
  searches, or a partitioned one) the rows are sorted here, with bounded memory: they go through
  a temporary SQLite database on disk (nulls last, then by id, as the SQL store sorts) and come
  back in order. Choice: sort client-side rather than refuse, because ``export`` and
  ``list --all`` of a large account sorted by a date is the common case; the cost is a
  temporary file the size of the selection (deleted when the read ends).
- **Ids**: a query that is only ``hs_object_id = / in (...)`` reads the records with batch reads
  (100 per request), never a search body with thousands of ids.

``count`` is the ``total`` of one search (``limit`` 1) when the query fits one search, else the
number of distinct ids of the merged searches.
"""

from __future__ import annotations

import datetime as dt
import heapq
import importlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, Protocol

from subctl import codec
from subctl.errors import Conflict, NotFound, UsageError
from subctl.query.ast import SEGMENT_FIELD, And, Condition, Expr, Op, Query, Sort
from subctl.schema import (
    ASSOCIATION_BY_NAME,
    STANDARD_PROPERTIES,
    Option,
    Property,
    PropertyRegistry,
    PropType,
)
from subctl.store.base import (
    HUBSPOT,
    AssociatedRecord,
    AssociationCell,
    Capabilities,
    Change,
    FileExport,
    HeldList,
    LineItem,
    Payment,
    Subscription,
    SubscriptionDetail,
    SyncedSubscription,
    cell_objects,
)
from subctl.store.http import lists
from subctl.store.http import search as crm
from subctl.store.http.objects import (
    BY_PATH,
    OBJECT_TYPE_ID,
    OBJECTS,
    SUBSCRIPTIONS,
    line_item_of,
    payment_of,
    record_properties,
    record_values,
)

if TYPE_CHECKING:
    from subctl.store.base import RecordStore
    from subctl.store.ops import Op as Operation

OBJECTS_PATH = "/crm/v3/objects/subscriptions"
SEARCH_PATH = OBJECTS_PATH + "/search"
PROPERTIES_PATH = "/crm/v3/properties/subscriptions"
RULES_PATH = "/crm/v3/property-validations/" + OBJECT_TYPE_ID
BATCH = 100  # ids per batch read (DOMAIN.md §2)
SENSITIVITIES = ("non_sensitive", "sensitive", "highly_sensitive")  # one list per GET
ASSOCIATION_BATCH = 1000  # inputs per v4 association batch read (DOMAIN.md §6)
ID = "hs_object_id"
LINKS = "@associations"  # a row's associations while it is sorted (no property is named so)
# No history of the change stamp itself (as the SQL store).
UNTRACKED = frozenset({"hs_lastmodifieddate", "hs_createdate", ID})


class Client(Protocol):
    """What ``HttpStore`` uses of ``client.HubSpotClient``."""

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...

    def post(self, path: str, body: Any, *, idempotent: bool, search: bool = False) -> Any: ...

    def patch(self, path: str, body: Any, *, idempotent: bool = True) -> Any: ...

    def put(self, path: str, body: Any = None) -> Any: ...

    def delete(self, path: str) -> Any: ...

    def pages(self, path: str, params: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]: ...

    def close(self) -> None: ...


Row = tuple[int, dict[str, Any]]  # an id and a record's wire properties


class HttpStore:
    """The ``RecordStore`` of a HubSpot account."""

    def __init__(self, client: Client, tier: str | None = None) -> None:
        self.client = client
        self.tier = tier  # the profile's --tier: the property limit's default tier
        self._registry: PropertyRegistry | None = None
        self.requests = 0  # searches and batch reads made by reads (tests, benchmarks)
        # whether the account may have sensitive properties (``properties``): Enterprise, an
        # unknown tier, or one made here (``property settings --tier`` may say enterprise)
        self.sensitive_data = tier in (None, "enterprise")
        # the object ids of the last ``associations(sub, type)`` read: ``dissociate`` of one
        # of them needs no read of its own (the caller has just read them to decide)
        self._seen_links: tuple[tuple[int, str], set[int]] | None = None

    @property
    def capabilities(self) -> Capabilities:
        return HUBSPOT

    @property
    def account_tier(self) -> str | None:
        return self.tier

    def close(self) -> None:
        self.client.close()

    # -- properties -----------------------------------------------------------------------

    def properties(self) -> PropertyRegistry:
        """The account's definitions, read once per process with their validation rules. A
        property subctl knows (``schema.STANDARD_PROPERTIES``) keeps its definition there
        (aliases, money); the rest come from HubSpot.

        HubSpot lists one data sensitivity per ``GET`` (non-sensitive by default), and only
        Enterprise accounts have sensitive properties (DOMAIN.md §1): choice, the sensitive
        and highly sensitive lists are read on the enterprise tier, or when the tier is not
        known (``tier`` None), or once one was made here; the profile's ``--tier`` (default
        professional) says the tier. So a Professional account's definitions cost one ``GET``
        (and the rules' one), not three."""
        if self._registry is None:
            found: dict[str, dict[str, Any]] = {}
            for sensitivity in SENSITIVITIES if self.sensitive_data else SENSITIVITIES[:1]:
                answer = self.client.get(PROPERTIES_PATH, {"dataSensitivity": sensitivity})
                for item in answer.get("results", []):
                    found.setdefault(item["name"], item)
            rules = self._rules()
            known = {p.name: p for p in STANDARD_PROPERTIES}
            props = [known[name] if name in known and item.get("hubspotDefined", True)
                     else _property(item, rules.get(name, ()))
                     for name, item in found.items()]  # fmt: skip
            props += [p for name, p in known.items() if name not in found]
            self._registry = PropertyRegistry(props)
        return self._registry

    def _rules(self) -> dict[str, tuple[tuple[str, tuple[str, ...]], ...]]:
        try:
            answer = self.client.get(RULES_PATH)
        except NotFound:
            return {}
        out: dict[str, list[tuple[str, tuple[str, ...]]]] = {}
        for item in answer.get("results", []) if isinstance(answer, dict) else answer:
            name = item.get("propertyName")
            rules = item.get("propertyValidationRules") or item.get("rules") or []
            for rule in rules:
                out.setdefault(name, []).append(
                    (rule["ruleType"], tuple(str(a) for a in rule.get("ruleArguments", ())))
                )
        return {k: tuple(v) for k, v in out.items()}

    def _custom(self, name: str) -> Property:
        prop = self.properties().get(name)
        if prop is None or prop.name != name or prop.hubspot_defined:
            raise NotFound(f"custom property {name} not found")
        return prop

    def create_property(self, prop: Property) -> None:
        if prop.hubspot_defined or not prop.name.isidentifier():
            raise UsageError(f"cannot create {prop.name}: not a custom property name")
        if self.properties().get(prop.name) is not None:
            raise Conflict(f"property {prop.name} already exists")
        body = _definition(prop) | {
            "name": prop.name,
            "type": prop.type.value,
            "hasUniqueValue": prop.unique,
        }
        self.client.post(PROPERTIES_PATH, body, idempotent=False)
        self._set_rules(prop, ())
        self._registry = None
        self.sensitive_data |= prop.sensitivity != "non_sensitive"

    def update_property(self, prop: Property) -> None:
        old = self._custom(prop.name)
        if (old.type, old.unique) != (prop.type, prop.unique):
            raise UsageError(f"the type and uniqueness of {prop.name} cannot change")
        self.client.patch(f"{PROPERTIES_PATH}/{prop.name}", _definition(prop))
        self._set_rules(prop, old.rules)
        self._registry = None
        self.sensitive_data |= prop.sensitivity != "non_sensitive"

    def _set_rules(self, prop: Property, old: Sequence[tuple[str, tuple[str, ...]]]) -> None:
        new = dict(prop.rules)
        for rule_type, _args in old:
            if rule_type not in new:
                self.client.delete(f"{RULES_PATH}/{prop.name}/rule-type/{rule_type}")
        for rule_type, args in prop.rules:
            self.client.put(
                f"{RULES_PATH}/{prop.name}/rule-type/{rule_type}",
                {"ruleArguments": list(args), "shouldApplyNormalization": False},
            )

    def delete_property(self, name: str) -> None:
        self._custom(name)
        self.client.delete(f"{PROPERTIES_PATH}/{name}")
        self._registry = None

    # -- reading subscriptions ------------------------------------------------------------

    def _props(self, fields: Sequence[str] | None, *, exact: bool = False) -> list[Property]:
        registry = self.properties()
        if fields is None:
            return [registry.get(ID), *(p for p in registry if p.name != ID)]  # type: ignore[list-item]
        props: list[Property] = []
        for name in dict.fromkeys((ID, *fields)):
            prop = registry.get(name)
            if prop is None or (exact and prop.name != name):
                raise UsageError(f'unknown property "{name}"')
            props.append(prop)
        return list(dict.fromkeys(props))

    def search(self, query: Query, fields: Sequence[str] | None = None) -> Iterator[Subscription]:
        if fields is not None:  # as the SQL store: names of no property are left out
            registry = self.properties()
            fields = [f for f in fields if registry.get(f) is not None]
        props = self._props(fields)
        for sub_id, values in self._rows(query, props):
            yield Subscription(sub_id, _typed(values, props))

    def search_stored(
        self, query: Query, fields: Sequence[str]
    ) -> Iterator[Sequence[Sequence[Any]]]:
        props = self._props(fields, exact=True)
        by_name = {p.name: p for p in props}
        wanted = [by_name[name] for name in fields]  # in the order asked
        # Stored values as a SQL store reads them: the id is an integer column, not a float.
        store = [_id_storage if p.name == ID else p.to_storage for p in wanted]
        chunk: list[list[Any]] = []
        for _sub_id, values in self._rows(query, props):
            chunk.append([to(_typed_one(values.get(p.name), p))
                          for to, p in zip(store, wanted, strict=True)])  # fmt: skip
            if len(chunk) == 500:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def count(self, where: Expr | None = None) -> int:
        segment = _segment_of(where)
        if segment is not None:
            name, rest = segment
            if rest is None:
                return self.get_list(name).size
            return sum(1 for _ in self._segment_rows(name, rest, [ID]))
        ids = _only_ids(where)
        if ids is not None:
            return len(self._read(ids, [ID]))
        groups = crm.compile_groups(where, self.properties())
        searches = crm.plan(groups, crm.MAX_BODY - 150)
        if len(searches) == 1:
            body = {"filterGroups": _groups(searches[0]), "properties": [ID], "limit": 1}
            return int(self._search(body).get("total", 0))
        return sum(1 for _ in self._merged(searches, [ID], None))

    def _rows(self, query: Query, props: Sequence[Property]) -> Iterator[Row]:
        """The matches of ``query`` as (id, wire properties), in the query's order."""
        names = [p.name for p in props]
        limit = query.limit
        if limit is not None and limit <= 0:
            return
        segment = _segment_of(query.where)
        if segment is not None:
            sort = query.sort
            if sort is None or (sort.field == ID and not sort.descending):
                yield from _limited(self._segment_rows(segment[0], segment[1], names), limit)
                return
            by = self._sort_prop(sort)  # read with the rows: sorted here (members come by id)
            read = names if by.name in names else [*names, by.name]
            members = self._segment_rows(segment[0], segment[1], read)
            yield from _limited(_sorted(members, by, sort.descending), limit)
            return
        ids = _only_ids(query.where)
        if ids is not None:
            found = self._read(ids, names)
            rows: Iterable[Row] = sorted(found.items())
            if query.sort is not None and query.sort.field != ID:
                rows = _sorted(rows, self._sort_prop(query.sort), query.sort.descending)
            elif query.sort is not None and query.sort.descending:
                rows = reversed(list(rows))
            yield from _limited(rows, limit)
            return
        groups = crm.compile_groups(query.where, self.properties())
        base = _size({"properties": names, "sorts": [{"propertyName": ID}], "limit": 200})
        with_props = base + 400 < crm.MAX_BODY  # else: ids from search, then batch reads
        budget = crm.MAX_BODY - (base if with_props else 150) - 100
        searches = crm.plan(groups, budget)
        read = names if with_props else [ID]
        sort = query.sort
        if sort is not None and sort.field == ID:
            sort_prop = None
            descending = sort.descending
        else:
            sort_prop = None if sort is None else self._sort_prop(sort)
            descending = False
        if sort_prop is not None and sort is not None:
            served = self._server_sorted(searches, read, sort_prop, sort.descending, limit)
            if served is None:  # the sort cannot survive partitioning or merging: sort here
                merged = self._complete(self._merged(searches, read, None), names, with_props)
                yield from _limited(_sorted(merged, sort_prop, sort.descending), limit)
                return
            yield from _limited(self._complete(served, names, with_props), limit)
            return
        merged = self._merged(searches, read, limit, descending=descending)
        yield from _limited(self._complete(merged, names, with_props), limit)

    def _segment_rows(self, name: str, rest: Expr | None, names: list[str]) -> Iterator[Row]:
        """The members of the list ``name`` (membership pages) matching ``rest``, in id order:
        each 100 members are read by one batch read, or, with ``rest``, by a search for
        ``hs_object_id in (those 100) and rest`` (about 1,000 characters of ids, never a body
        of thousands). Memory: one chunk of ids."""
        chunk: list[int] = []

        def read(part: list[int]) -> Iterator[Row]:
            if rest is None:
                found = self._read(part, names)
                for sid in part:
                    if sid in found:  # archived since it joined: gone
                        yield sid, found[sid]
                return
            where = And((Condition(ID, Op.IN, tuple(part)), rest))
            yield from self._rows(Query(where=where), self._props(names, exact=True))

        for sid in self.list_members(name):
            chunk.append(sid)
            if len(chunk) == BATCH:
                yield from read(chunk)
                chunk = []
        if chunk:
            yield from read(chunk)

    # -- segments as HubSpot lists (store.base.SegmentStore; lists.py) ----------------------

    def create_list(self, request: Mapping[str, Any], members: Sequence[int] = ()) -> HeldList:
        return lists.create(self.client, request, members)

    def get_list(self, name: str) -> HeldList:
        return lists.find(self.client, name)

    def set_list_filters(self, name: str, filter_branch: Mapping[str, Any]) -> None:
        lists.set_filters(self.client, self.get_list(name).id, filter_branch)

    def list_members(self, name: str) -> Iterator[int]:
        return lists.members(self.client, self.get_list(name).id)

    def change_list_members(
        self, name: str, add: Sequence[int], remove: Sequence[int]
    ) -> tuple[list[int], list[int]]:
        return lists.change(self.client, self.get_list(name).id, add, remove)

    def delete_list(self, name: str) -> None:
        lists.delete(self.client, self.get_list(name).id)

    def _sort_prop(self, sort: Sort) -> Property:
        prop = self.properties().get(sort.field)
        if prop is None:
            raise UsageError(f'cannot sort by unknown field "{sort.field}"')
        return prop

    def _complete(self, rows: Iterable[Row], names: list[str], complete: bool) -> Iterator[Row]:
        """Rows with every property asked: as they are when the search returned them, else
        read by batch reads of 100."""
        if complete:
            yield from rows
            return
        chunk: list[Row] = []
        for row in rows:
            chunk.append(row)
            if len(chunk) == BATCH:
                yield from self._fill(chunk, names)
                chunk = []
        yield from self._fill(chunk, names)

    def _fill(self, chunk: list[Row], names: list[str]) -> Iterator[Row]:
        if not chunk:
            return
        found = self._read([sid for sid, _ in chunk], names)
        for sid, _ in chunk:
            if sid in found:  # archived since the search: gone
                yield sid, found[sid]

    def _search(self, body: dict[str, Any]) -> Any:
        self.requests += 1
        return self.client.post(SEARCH_PATH, body, idempotent=True, search=True)

    def _server_sorted(
        self,
        searches: list[list[crm.Group]],
        names: list[str],
        prop: Property,
        descending: bool,
        limit: int | None,
    ) -> Iterator[Row] | None:
        """The rows sorted by HubSpot, when one search holds the whole answer in order; else
        None (having read one page)."""
        if len(searches) != 1:
            return None
        direction = "DESCENDING" if descending else "ASCENDING"
        body: dict[str, Any] = {
            "filterGroups": _groups(searches[0]),
            "sorts": [{"propertyName": prop.name, "direction": direction}],
            "properties": names,
            "limit": min(crm.PAGE, limit or crm.PAGE),
        }
        first = self._search(body)
        total = int(first.get("total", 0))
        if total > crm.RESULT_CAP and (limit is None or limit > crm.RESULT_CAP):
            return None
        return self._pages(body, first)

    def _pages(self, body: dict[str, Any], answer: Any) -> Iterator[Row]:
        """A search's rows page by page (``after``), up to HubSpot's 10,000 results."""
        while True:
            for item in answer.get("results", []):
                yield int(item["id"]), item.get("properties", {})
            after = (answer.get("paging") or {}).get("next", {}).get("after")
            if not after or int(after) >= crm.RESULT_CAP:
                return
            answer = self._search({**body, "after": str(after)})

    def _merged(
        self,
        searches: list[list[crm.Group]],
        names: list[str],
        limit: int | None,
        *,
        descending: bool = False,
    ) -> Iterator[Row]:
        """The union of the searches in id order, each id once."""
        streams = [self._by_id(groups, names, limit, descending) for groups in searches]
        if len(streams) == 1:
            yield from streams[0]
            return
        key = (lambda row: -row[0]) if descending else (lambda row: row[0])
        last = None
        for row in heapq.merge(*streams, key=key):
            if row[0] != last:
                last = row[0]
                yield row

    def _by_id(
        self, groups: list[crm.Group], names: list[str], limit: int | None, descending: bool
    ) -> Iterator[Row]:
        """One search's every match in id order, partitioned by id ranges past the 10,000
        results one search pages through."""
        direction = "DESCENDING" if descending else "ASCENDING"
        page = min(crm.PAGE, limit or crm.PAGE)
        body: dict[str, Any] = {
            "filterGroups": _groups(groups),
            "sorts": [{"propertyName": ID, "direction": direction}],
            "properties": names,
            "limit": page,
        }
        answer = self._search(body)
        if int(answer.get("total", 0)) > crm.RESULT_CAP and not crm.partitionable(groups):
            raise crm.QueryTooComplex(
                f"query matches more than {crm.RESULT_CAP:,} subscriptions and a filter "
                f"group has {crm.MAX_FILTERS_PER_GROUP} filters: no room for the id ranges "
                "that read past HubSpot's limit",
                hint="narrow it, or split it into several queries",
            )
        seen = 0
        last: int | None = None
        while True:
            for row in self._pages(body, answer):
                last = row[0]
                seen += 1
                yield row
            if last is None or int(answer.get("total", 0)) <= crm.RESULT_CAP:
                return
            if limit is not None and seen >= limit:
                return
            # The next partition: ids past the last one seen (before it, descending).
            bound = {"propertyName": ID, "operator": "LT" if descending else "GT",
                     "value": str(last)}  # fmt: skip
            body = {**body, "filterGroups": _groups([[*g, bound] for g in groups])}
            answer = self._search(body)
            if not answer.get("results"):
                return
            last = None

    def _read(self, sub_ids: Iterable[int], names: Sequence[str]) -> dict[int, dict[str, Any]]:
        """Batch reads (100 ids per request) of the subscriptions that exist."""
        ids = list(dict.fromkeys(int(i) for i in sub_ids))
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), BATCH):
            part = ids[start : start + BATCH]
            body = {"inputs": [{"id": str(i)} for i in part], "properties": list(names)}
            self.requests += 1
            answer = self.client.post(OBJECTS_PATH + "/batch/read", body, idempotent=True)
            for item in answer.get("results", []):
                found[int(item["id"])] = item.get("properties", {})
        return found

    def get(self, sub_id: int) -> Subscription:
        props = self._props(None)
        found = self._read([sub_id], [p.name for p in props])
        if sub_id not in found:
            raise NotFound(f"subscription {sub_id} not found")
        return Subscription(sub_id, _typed(found[sub_id], props))

    def get_many(self, sub_ids: Sequence[int], fields: Sequence[str]) -> dict[int, Subscription]:
        props = self._props(fields)
        found = self._read(sub_ids, [p.name for p in props])
        return {sid: Subscription(sid, _typed(values, props)) for sid, values in found.items()}

    def detail(self, sub_id: int) -> SubscriptionDetail:
        """The subscription, its associations (v4), payments and property history (HubSpot's
        ``propertiesWithHistory``: each change from the previous value, newest first)."""
        props = self._props(None)
        names = [p.name for p in props]
        try:
            answer = self.client.get(
                f"{OBJECTS_PATH}/{sub_id}",
                {"properties": ",".join(names), "propertiesWithHistory": ",".join(
                    n for n in names if n not in UNTRACKED)},
            )  # fmt: skip
        except NotFound:
            raise NotFound(f"subscription {sub_id} not found") from None
        detail = SubscriptionDetail(Subscription(sub_id, _typed(answer.get("properties", {}),
                                                                props)))  # fmt: skip
        detail.associations = self.associations(sub_id)
        paid = [a.id for a in detail.associations if a.object_type == "payment"]
        detail.payments = sorted(self._payments(paid).values(), key=lambda p: (p.created_at, p.id))
        detail.history = _history(answer.get("propertiesWithHistory") or {})
        return detail

    # -- associations and the other objects ------------------------------------------------

    def _records(
        self, object_type: str, ids: Sequence[int], extra: Sequence[str] = ()
    ) -> dict[int, dict[str, Any]]:
        wire = OBJECTS[object_type]
        names = [*wire.properties, *extra]
        found: dict[int, dict[str, Any]] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), BATCH):
            part = unique[start : start + BATCH]
            body = {"inputs": [{"id": str(i)} for i in part], "properties": names}
            self.requests += 1
            answer = self.client.post(
                f"/crm/v3/objects/{wire.path}/batch/read", body, idempotent=True
            )
            for item in answer.get("results", []):
                found[int(item["id"])] = item.get("properties", {})
        return found

    def _links(self, sub_ids: Sequence[int], object_type: str) -> dict[int, dict[int, int]]:
        """v4 batch read (1,000 subscriptions per request): subscription -> {object id: type
        id}, object ids ascending. HubSpot answers a page of each subscription's associations
        (``paging.next.after`` on its result when there are more): the subscriptions with
        more are read again, each input ``{id, after}``, 1,000 a request, until none has."""
        path = OBJECTS[object_type].path
        out: dict[int, dict[int, int]] = {}
        inputs = [{"id": str(i)} for i in dict.fromkeys(int(i) for i in sub_ids)]
        asked: set[tuple[int, str]] = set()  # a cursor answered twice is not followed again
        while inputs:
            more: list[dict[str, str]] = []
            for start in range(0, len(inputs), ASSOCIATION_BATCH):
                body = {"inputs": inputs[start : start + ASSOCIATION_BATCH]}
                self.requests += 1
                answer = self.client.post(
                    f"/crm/v4/associations/{SUBSCRIPTIONS}/{path}/batch/read", body,
                    idempotent=True,
                )  # fmt: skip
                for item in answer.get("results", []):
                    sid = int(item["from"]["id"])
                    links = out.setdefault(sid, {})
                    for to in item.get("to", []):
                        links[int(to["toObjectId"])] = _type_id(to, object_type)
                    after = ((item.get("paging") or {}).get("next") or {}).get("after")
                    if after and (sid, str(after)) not in asked:
                        asked.add((sid, str(after)))
                        more.append({"id": str(sid), "after": str(after)})
            inputs = more
        return {sid: dict(sorted(links.items())) for sid, links in out.items()}

    def _require(self, sub_id: int) -> None:
        if sub_id not in self._read([sub_id], [ID]):
            raise NotFound(f"subscription {sub_id} not found")

    def associations(self, sub_id: int, object_type: str | None = None) -> list[AssociatedRecord]:
        """``NotFound`` for a subscription that does not exist. Of one object type: the v4
        read first, and the subscription read only when it has none (HubSpot lists the
        associations of a live record only): one request less when it has some."""
        one = object_type is not None and object_type in OBJECTS
        if not one:
            self._require(sub_id)
        found: list[AssociatedRecord] = []
        if object_type is not None and object_type not in OBJECTS:
            return found  # an object type nothing is associated with (as the SQL store)
        for name in sorted(OBJECTS) if object_type is None else [object_type]:
            links = self._links([sub_id], name).get(sub_id, {})
            if one:
                self._seen_links = ((sub_id, name), set(links))
                if not links:
                    self._require(sub_id)
            if not links:
                continue
            records = self._records(name, list(links))
            for oid, type_id in links.items():
                label, details = OBJECTS[name].label(oid, records.get(oid, {}), False)
                found.append(AssociatedRecord(name, oid, type_id, label, details))
        return found

    def association_cells(
        self,
        sub_ids: Sequence[int],
        objects: Sequence[str],
        *,
        cap: int | None = 1000,
        all_emails: bool = False,
        all_domains: bool = False,
    ) -> dict[int, dict[str, AssociationCell]]:
        """One v4 batch read per object type and 1,000 subscriptions, then batch reads of the
        records shown (100 per request): never one request per subscription."""
        names = cell_objects(objects, cap)
        ids = list(dict.fromkeys(int(i) for i in sub_ids))
        empty = AssociationCell((), (), 0)
        out: dict[int, dict[str, AssociationCell]] = {sid: {} for sid in ids}
        for name in names:
            wide = (name == "contact" and all_emails) or (name == "company" and all_domains)
            links = self._links(ids, name) if ids else {}
            shown = {sid: list(found)[:cap] for sid, found in links.items()}
            records = self._records(name, [oid for part in shown.values() for oid in part])
            for sid in ids:
                if sid not in shown or not shown[sid]:
                    out[sid][name] = empty
                    continue
                label = OBJECTS[name].label
                cell_labels = tuple(
                    label(oid, records[oid], wide)[0] if oid in records else str(oid)
                    for oid in shown[sid]
                )
                out[sid][name] = AssociationCell(tuple(shown[sid]), cell_labels, len(links[sid]))
        return out

    def line_items(self, sub_id: int) -> list[LineItem]:
        self._require(sub_id)
        links = self._links([sub_id], "line_item").get(sub_id, {})
        records = self._records("line_item", list(links))
        return [line_item_of(oid, records[oid]) for oid in sorted(records)]

    def _payments(self, ids: Sequence[int]) -> dict[int, Payment]:
        records = self._records("payment", ids)
        return {oid: payment_of(oid, values) for oid, values in records.items()}

    def payment(self, payment_id: int) -> Payment:
        found = self._payments([payment_id])
        if payment_id not in found:
            raise NotFound(f"payment {payment_id} not found")
        return found[payment_id]

    def payments_of(
        self, sub_ids: Sequence[int], statuses: Sequence[str] | None = None
    ) -> dict[int, list[Payment]]:
        links = self._links(sub_ids, "payment")
        payments = self._payments([oid for found in links.values() for oid in found])
        out: dict[int, list[Payment]] = {}
        for sid in dict.fromkeys(int(i) for i in sub_ids):
            mine = [payments[oid] for oid in links.get(sid, {}) if oid in payments]
            mine = [p for p in mine if statuses is None or p.status in statuses]
            if mine:
                out[sid] = sorted(mine, key=lambda p: (p.created_at, p.id))
        return out

    def buyer_emails(self, sub_ids: Sequence[int]) -> dict[int, str]:
        links = self._links(sub_ids, "contact")
        contacts = self._records("contact", [oid for found in links.values() for oid in found])
        out: dict[int, str] = {}
        for sid, found in links.items():
            for oid in found:
                email = (contacts.get(oid) or {}).get("email")
                if email:
                    out[sid] = email
                    break
        return out

    def record_label(self, object_type: str, object_id: int) -> str:
        if object_type not in OBJECTS:
            raise UsageError(f'unknown object type "{object_type}"')
        found = self._records(object_type, [object_id])
        if object_id not in found:
            label = ASSOCIATION_BY_NAME[object_type].label.lower()
            raise NotFound(f"{label} {object_id} not found")
        return OBJECTS[object_type].label(object_id, found[object_id], False)[0]

    def associated_subscriptions(self, object_type: str, object_id: int) -> list[int]:
        if object_type not in OBJECTS:
            return []
        path = OBJECTS[object_type].path
        answer = self.client.get(
            f"/crm/v4/objects/{path}/{object_id}/associations/{SUBSCRIPTIONS}", {"limit": 500}
        )
        ids = {int(item["toObjectId"]) for item in answer.get("results", [])}
        after = (answer.get("paging") or {}).get("next", {}).get("after")
        while after:
            answer = self.client.get(
                f"/crm/v4/objects/{path}/{object_id}/associations/{SUBSCRIPTIONS}",
                {"limit": 500, "after": after},
            )
            ids |= {int(item["toObjectId"]) for item in answer.get("results", [])}
            after = (answer.get("paging") or {}).get("next", {}).get("after")
        return sorted(ids)

    def associate(self, sub_id: int, object_type: str, object_id: int, type_id: int) -> None:
        """One v4 ``PUT`` (idempotent: an association already there is left as it is). HubSpot
        answers 404 when either record does not exist: only then are they read, to say which
        (choice: no reads before the call, which cost two requests per association)."""
        if object_type not in OBJECTS:
            raise UsageError(f'unknown object type "{object_type}"')
        path = OBJECTS[object_type].path
        category = "HUBSPOT_DEFINED" if type_id < 9000 else "USER_DEFINED"
        try:
            self.client.put(
                f"/crm/v4/objects/{SUBSCRIPTIONS}/{sub_id}/associations/{path}/{object_id}",
                [{"associationCategory": category, "associationTypeId": type_id}],
            )
        except NotFound:
            self._require(sub_id)  # NotFound naming the subscription
            self.record_label(object_type, object_id)  # ... or the record
            raise

    def dissociate(self, sub_id: int, object_type: str, object_id: int) -> None:
        """HubSpot answers 204 whether or not there was an association: read it first,
        unless the last ``associations`` read of this subscription and type (the caller's,
        to decide) had it (choice: a read twice per removal otherwise; a removal by someone
        else in between is reported removed, as HubSpot's 204 would)."""
        if object_type not in OBJECTS:
            raise UsageError(f'unknown object type "{object_type}"')
        seen = self._seen_links
        known = seen[1] if seen is not None and seen[0] == (sub_id, object_type) else set()
        if object_id not in known and object_id not in self._links([sub_id], object_type).get(
            sub_id, {}
        ):
            label = ASSOCIATION_BY_NAME[object_type].label.lower()
            raise NotFound(f"subscription {sub_id} is not associated with {label} {object_id}")
        path = OBJECTS[object_type].path
        self.client.delete(
            f"/crm/v4/objects/{SUBSCRIPTIONS}/{sub_id}/associations/{path}/{object_id}"
        )
        known.discard(object_id)

    def create_record(self, object_type: str, values: Mapping[str, Any]) -> int:
        body = {"properties": record_properties(object_type, values)}
        answer = self.client.post(
            f"/crm/v3/objects/{OBJECTS[object_type].path}", body, idempotent=False
        )
        return int(answer["id"])

    # -- server-side exports ---------------------------------------------------------------

    def export_file(
        self, spec: FileExport, out: IO[bytes], progress: Callable[[str], None] | None = None
    ) -> int | None:
        """HubSpot's CRM export of ``spec`` written to ``out`` (``store.http.exports``): one
        export request, so its filter must fit one search (``QueryTooComplex`` otherwise)."""
        exports = importlib.import_module("subctl.store.http.exports")
        groups = [] if spec.where is None else crm.to_filter_groups(spec.where, self.properties())
        request = exports.ExportRequest(
            name=spec.name,
            format=spec.format.upper(),
            properties=[p for p in spec.properties if p != ID],
            filter_groups=groups,
            language=exports.language(spec.language),
            internal_names=spec.internal_names,
            internal_values=spec.internal_names,
        )
        fetch = exports.plain_fetch(getattr(self.client, "transport", None))
        outcome = exports.run(self.client, request, out, fetch=fetch, progress=progress)
        records: int | None = outcome.records
        return records

    # -- what ``subctl sync`` reads (SYNC-API) ------------------------------------------------

    def changed_since(
        self, since: dt.datetime | None, *, after_id: int = 0, chunk: int = 100
    ) -> Iterator[Sequence[SyncedSubscription]]:
        """A full sync (``since`` None): the objects list, 100 a page, every property and the
        associations of every object type inline: 50,000 subscriptions in 500 requests. Its
        ``after`` cursor is the last id of the previous page (HubSpot's list pages by id, as
        the fake does), so ``after_id`` resumes a stopped sync.

        Incremental: a search on ``hs_lastmodifieddate`` (inclusive), sorted by it (the only
        request when nothing changed). Up to 10,000 matches: its pages, the associations by v4
        batch reads of 1,000 subscriptions per object type (or, for fewer records than object
        types, one ``GET`` each with the associations inline). More: the
        objects list as for a full sync (cheaper than searches plus association reads), the
        changed records kept and sorted here by (``hs_lastmodifieddate``, id) in a temporary
        SQLite file (bounded memory)."""
        props = self._props(None)
        if since is None:
            for page in self._listed(props, after_id, min(chunk, BATCH)):
                yield [SyncedSubscription(Subscription(sid, _typed(values, props)), links)
                       for sid, values, links in page]  # fmt: skip
            return
        where = Condition("hs_lastmodifieddate", Op.GTE, (since,))
        names = [p.name for p in props]
        complete = _size(names) + 400 < crm.MAX_BODY  # else: ids, then batch reads
        body: dict[str, Any] = {
            "filterGroups": _groups(crm.compile_groups(where, self.properties())),
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "properties": names if complete else [ID, "hs_lastmodifieddate"],
            "limit": crm.PAGE,
        }
        first = self._search(body)
        total = int(first.get("total", 0))
        if total == 0:
            return
        if total <= crm.RESULT_CAP:
            rows = self._complete(self._pages(body, first), names, complete)
            yield from self._synced(rows, props, chunk)
            return
        changed = self._listed_since(props, since)
        stamp = self.properties().get("hs_lastmodifieddate")
        assert stamp is not None
        part: list[SyncedSubscription] = []
        for sid, values in _sorted(changed, stamp, False):
            links = tuple(tuple(link) for link in values.pop(LINKS))
            part.append(SyncedSubscription(Subscription(sid, _typed(values, props)), links))
            if len(part) >= chunk:
                yield part
                part = []
        if part:
            yield part

    def _listed_since(self, props: Sequence[Property], since: dt.datetime) -> Iterator[Row]:
        """The objects list's records changed at ``since`` or later, their associations under
        ``LINKS`` (for ``_sorted``)."""
        for page in self._listed(props, 0, BATCH):
            for sid, values, links in page:
                changed = codec.from_wire(PropType.DATETIME, values.get("hs_lastmodifieddate"))
                if changed is not None and changed >= since:
                    yield sid, {**values, LINKS: [list(link) for link in links]}

    def _listed(
        self, props: Sequence[Property], after_id: int, page: int
    ) -> Iterator[list[tuple[int, dict[str, Any], tuple[tuple[str, int, int], ...]]]]:
        """The objects list, page by page: (id, wire properties, associations)."""
        params: dict[str, Any] = {
            "limit": page,
            "properties": ",".join(p.name for p in props),
            "associations": ",".join(BY_PATH),
        }
        after: str | None = str(after_id) if after_id else None
        while True:
            answer = self.client.get(OBJECTS_PATH, params | ({"after": after} if after else {}))
            self.requests += 1
            found = []
            for item in answer.get("results", []):
                links: list[tuple[str, int, int]] = []
                for path, held in (item.get("associations") or {}).items():
                    name = BY_PATH.get(path)
                    if name is None:
                        continue
                    for to in held.get("results", []):
                        links.append((name, int(to["id"]), ASSOCIATION_BY_NAME[name].type_id))
                found.append((int(item["id"]), item.get("properties", {}), tuple(sorted(links))))
            if found:
                yield found
            after = (answer.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return

    def _synced(
        self, rows: Iterable[Row], props: Sequence[Property], chunk: int
    ) -> Iterator[list[SyncedSubscription]]:
        """Rows (sorted by ``hs_lastmodifieddate``) with their associations (v4 batch reads
        of up to 1,000 subscriptions per object type), in chunks of ``chunk``, ordered by
        (``hs_lastmodifieddate``, id): HubSpot sorts by one property only, so the rows of the
        latest date in hand wait for the next date (or the end) and each group is put in id
        order before it goes."""
        buffered: list[Row] = []

        def stamp(row: Row) -> str:
            return str(codec.from_wire(PropType.DATETIME, row[1].get("hs_lastmodifieddate")))

        def flush(ready: list[Row]) -> Iterator[list[SyncedSubscription]]:
            ready.sort(key=lambda row: (stamp(row), row[0]))
            ids = [sid for sid, _ in ready]
            links: dict[int, list[tuple[str, int, int]]] = {}
            if len(ids) < len(OBJECTS):  # fewer records than object types: one GET each
                for sid in ids:
                    links[sid] = self._inline_links(sid)
            else:
                for name in OBJECTS:
                    for sid, found in self._links(ids, name).items():
                        links.setdefault(sid, []).extend((name, oid, t) for oid, t in found.items())
            synced = [SyncedSubscription(Subscription(sid, _typed(values, props)),
                                         tuple(sorted(links.get(sid, ()))))
                      for sid, values in ready]  # fmt: skip
            for start in range(0, len(synced), chunk):
                yield synced[start : start + chunk]

        for row in rows:
            buffered.append(row)
            if len(buffered) >= ASSOCIATION_BATCH:
                last = stamp(buffered[-1])
                ready = [r for r in buffered if stamp(r) != last]
                if ready:
                    buffered = [r for r in buffered if stamp(r) == last]
                    yield from flush(ready)
        if buffered:
            yield from flush(buffered)

    def _inline_links(self, sub_id: int) -> list[tuple[str, int, int]]:
        """One subscription's associations of every object type, inline in one ``GET``."""
        try:
            answer = self.client.get(
                f"{OBJECTS_PATH}/{sub_id}", {"properties": ID, "associations": ",".join(BY_PATH)}
            )
        except NotFound:  # archived since the search
            return []
        self.requests += 1
        links: list[tuple[str, int, int]] = []
        for path, held in (answer.get("associations") or {}).items():
            name = BY_PATH.get(path)
            if name is not None:
                links += [(name, int(to["id"]), ASSOCIATION_BY_NAME[name].type_id)
                          for to in held.get("results", [])]  # fmt: skip
        return links

    def archived_since(self, since: dt.datetime | None) -> Iterator[Sequence[int]]:
        """The archived subscriptions (``?archived=true``, 100 a page), those archived at
        ``since`` or later."""
        params: dict[str, Any] = {"limit": BATCH, "archived": "true", "properties": ID}
        after: str | None = None
        while True:
            answer = self.client.get(OBJECTS_PATH, params | ({"after": after} if after else {}))
            self.requests += 1
            ids = []
            for item in answer.get("results", []):
                at = codec.from_wire(PropType.DATETIME, item.get("archivedAt"))
                if since is None or at is None or at >= since:
                    ids.append(int(item["id"]))
            if ids:
                yield ids
            after = (answer.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return

    def record_values(self, object_type: str, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """Batch reads (100 per request) of the records, as ``create_record`` takes them."""
        return {
            oid: record_values(object_type, values)
            for oid, values in self._records(object_type, ids).items()
        }

    # -- writes ------------------------------------------------------------------------------

    def execute(self, ops: Sequence[Operation]) -> None:
        """HubSpot's calls for typed operations: ``writes.execute`` (one operation per call,
        in order; ``Conflict`` when a subscription's status moved)."""
        self._seen_links = None  # a write may change associations
        writes = importlib.import_module("subctl.store.http.writes")
        writes.execute(self.client, ops, self.properties())


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")))


def _groups(groups: list[crm.Group]) -> list[dict[str, Any]]:
    return [{"filters": g} for g in groups if g] if any(groups) else []


def _segment_of(where: Expr | None) -> tuple[str, Expr | None] | None:
    """``(name, the rest)`` of a query that selects a segment's members (``--segment``: the
    condition alone, or ANDed with others), else None. Two segments ANDed: the first is read
    by membership, the second stays in the rest (and is refused by search)."""
    if isinstance(where, Condition) and where.field == SEGMENT_FIELD:
        return str(where.values[0]), None
    if isinstance(where, And):
        for n, item in enumerate(where.items):
            if isinstance(item, Condition) and item.field == SEGMENT_FIELD:
                others = where.items[:n] + where.items[n + 1 :]
                rest = others[0] if len(others) == 1 else And(others) if others else None
                return str(item.values[0]), rest
    return None


def _only_ids(where: Expr | None) -> list[int] | None:
    """The ids of a query that is only ``hs_object_id = n`` or ``in (...)``, else None."""
    if isinstance(where, Condition) and where.field == ID and where.op in (Op.EQ, Op.IN):
        return [int(v) for v in where.values]
    return None


def _limited(rows: Iterable[Row], limit: int | None) -> Iterator[Row]:
    """The first ``limit`` rows, stopping as the last is given (no page read past it)."""
    if limit is None:
        yield from rows
        return
    for n, row in enumerate(rows, 1):
        yield row
        if n >= limit:
            return


def _typed_one(text: Any, prop: Property) -> Any:
    if prop.name == ID and text not in (None, ""):
        return int(text)
    return codec.from_wire(prop.type, None if text is None else str(text), money=prop.money)


def _id_storage(value: Any) -> Any:
    return value


def _typed(values: Mapping[str, Any], props: Sequence[Property]) -> dict[str, Any]:
    return {p.name: _typed_one(values.get(p.name), p) for p in props}


def _sorted(rows: Iterable[Row], prop: Property, descending: bool) -> Iterator[Row]:
    """Rows sorted by one property, nulls last, then by id, in a temporary SQLite database
    (on disk past SQLite's page cache: bounded memory however many rows there are)."""
    db = sqlite3.connect("")  # a temporary database, deleted when closed
    try:
        db.execute("PRAGMA cache_size = -8192")  # KiB
        db.execute("CREATE TABLE r (k, id INTEGER, props TEXT)")
        batch: list[tuple[Any, int, str]] = []
        for sid, values in rows:
            key = prop.to_storage(_typed_one(values.get(prop.name), prop))
            batch.append((key, sid, json.dumps(values)))
            if len(batch) == 1000:
                db.executemany("INSERT INTO r VALUES (?, ?, ?)", batch)
                batch = []
        db.executemany("INSERT INTO r VALUES (?, ?, ?)", batch)
        order = "DESC" if descending else "ASC"
        cursor = db.execute(f"SELECT id, props FROM r ORDER BY k IS NULL, k {order}, id")
        while found := cursor.fetchmany(500):
            for sid, text in found:
                yield int(sid), json.loads(text)
    finally:
        db.close()


def _type_id(to: Mapping[str, Any], object_type: str) -> int:
    types = [t for t in to.get("associationTypes", []) if t.get("typeId") is not None]
    default = ASSOCIATION_BY_NAME[object_type].type_id
    ids = [int(t["typeId"]) for t in types]
    return default if default in ids or not ids else ids[0]


def _property(item: Mapping[str, Any], rules: tuple[tuple[str, tuple[str, ...]], ...]) -> Property:
    options = sorted(item.get("options") or [], key=lambda o: o.get("displayOrder", 0))
    metadata = item.get("modificationMetadata") or {}
    try:
        ptype = PropType(item.get("type", "string"))
    except ValueError:
        ptype = PropType.STRING
    return Property(
        name=item["name"],
        label=item.get("label") or item["name"],
        type=ptype,
        field_type=item.get("fieldType", "text"),
        options=tuple(
            Option(o.get("label", o["value"]), o["value"], o.get("description") or "")
            for o in options
        ),
        description=item.get("description") or "",
        group=item.get("groupName") or "subscriptioninformation",
        hubspot_defined=bool(item.get("hubspotDefined", False)),
        read_only_value=bool(metadata.get("readOnlyValue", False)),
        sensitivity=item.get("dataSensitivity") or "non_sensitive",
        unique=bool(item.get("hasUniqueValue", False)),
        rules=rules,
    )


def _definition(prop: Property) -> dict[str, Any]:
    """The fields of a property definition ``POST``/``PATCH`` sends (DOMAIN.md §4)."""
    return {
        "label": prop.label,
        "fieldType": prop.field_type,
        "groupName": prop.group,
        "description": prop.description,
        "options": [
            {
                "label": o.label,
                "value": o.value,
                "description": o.description,
                "displayOrder": n,
                "hidden": False,
            }
            for n, o in enumerate(prop.options)
        ],  # fmt: skip
        "dataSensitivity": prop.sensitivity,
    }


def _history(found: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[Change]:
    """``propertiesWithHistory`` (each property's values, newest first) as changes, newest
    first: each value from the one before it. The value a record was created with is no change
    (as on the SQL store, whose seeded records have no history)."""
    changes: list[Change] = []
    for name, entries in found.items():
        if name in UNTRACKED:
            continue
        ordered = sorted(entries, key=lambda e: codec.from_wire(
            PropType.DATETIME, str(e.get("timestamp") or "0")))  # fmt: skip
        previous: str | None = None
        for n, entry in enumerate(ordered):
            value = entry.get("value")
            new = value if value not in (None, "") else None
            if n and new != previous:
                stamp = codec.from_wire(PropType.DATETIME, str(entry.get("timestamp") or "0"))
                source = str(entry.get("sourceType") or entry.get("sourceId") or "API")
                changes.append(Change(name, previous, new, stamp, source))
            previous = new
    changes.sort(key=lambda c: c.changed_at, reverse=True)
    return changes


if TYPE_CHECKING:

    def _conforms(store: HttpStore) -> RecordStore:  # mypy checks HttpStore against the protocol
        return store
