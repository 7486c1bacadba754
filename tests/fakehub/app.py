"""``FakeHubSpot``: HubSpot's CRM API for subscriptions, in process (``handle``, an
``httpx.MockTransport``) or on 127.0.0.1 (``serve``), with HubSpot's shapes and limits
(DOMAIN.md §2-§7).

What it enforces, and the choices where HubSpot's documentation is silent (each marked
"choice"):
- Authentication: ``Authorization: Bearer <token>``, else 401 ``INVALID_AUTHENTICATION``; a
  call needing a scope the token lacks (``FakeHubSpot(scopes=...)``): 403 ``MISSING_SCOPES``
  naming it in ``context.missingScopes`` (and ``errors[0].context.requiredGranularScopes``).
- Rate limits: the tier's requests per rolling 10 s (190, or 100 on free/starter), headers
  ``X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds`` (and ``-Daily``,
  ``-Daily-Remaining``) on every answer; past it, 429 ``RATE_LIMITS`` with ``Retry-After``
  (whole seconds until the window has room). Search also has 5 requests per rolling second
  (choice: a search counts in both budgets). Choice: a request answered 429 does not count.
- Search: 5 filter groups x 6 filters, 18 in all, one sort, ``limit`` <= 200, 3,000-character
  body, ``after`` < 10,000 (paging further: 400); archived records are excluded; the default
  order is creation date, oldest first (then id). Semantics: ``tests.fakehub.search``.
- Lists (``GET /crm/v3/objects/...``): ``limit`` <= 100 (choice: 400 past it), ``after`` paging
  by id; ``archived=true`` lists the archived records only.
- Batches: at most 100 inputs (v4 association reads: 1,000); records that do not exist come
  back as a 207 with ``errors[]`` of ``{status, category, message, context: {ids}}``. A v4
  association batch read answers at most ``association_page`` (500, as the v4 ``GET``'s
  largest ``limit``) associations per input, with ``paging.next.after`` on that result; the
  next page is the input ``{id, after}``.
- Writes: property values are strings (``""`` clears); unknown properties, invalid options,
  numbers, dates (a date is midnight UTC) and booleans: 400 ``VALIDATION_ERROR``; HubSpot's
  computed properties (``hs_object_id``, ``hs_createdate``, ``hs_lastmodifieddate``) cannot be
  set. Every change bumps ``hs_lastmodifieddate`` (strictly increasing).
- Lifecycle (``/payments-subscriptions/v1/subscriptions/crm/{id}/...``): ``pause`` (a JSON
  body, ``{}`` at least) from active -> paused (``hs_pause_reason``); ``unpause`` with
  ``proposedNextBillingDate`` (epoch ms, required) from paused -> active with that next
  payment due date; ``cancel`` (no body) from active, unpaid, past_due, scheduled, paused ->
  canceled (``hs_canceled_at`` now, next due date and amount cleared, MRR 0). A wrong status:
  409 ``CONFLICT`` (choice; a missing body or date: 400). Success answers 204 (choice: the spec
  documents no success body, so a client re-reads).
- Deleting a billable subscription (``hs_invoice_creation`` on) that is not canceled or expired:
  400 (the guide's rule). Deleting a record that does not exist: 204, as HubSpot.
- Faults (``faults``: the share of requests): 429 with ``Retry-After``, 500/502/503 or a
  timeout (``httpx.ReadTimeout`` in process; in ``serve()`` mode no answer for
  ``timeout_delay`` seconds, then a closed connection). Half of the 5xx and timeouts are *lost
  responses*: the change was applied. ``inject(...)`` scripts faults for the next requests.
- CRM exports (start, poll, a pre-signed download link that expires after five minutes):
  ``tests.fakehub.exports``.
- Lists API (``/crm/v3/lists``: create, get, by name, delete, filters, memberships, add and
  remove): ``tests.fakehub.lists`` (a ``filterBranch`` evaluated with HubSpot's list semantics).
- ``requests``: every request (``Logged``): clock time, method, path, query, JSON body, status,
  and the fault injected. The token is never logged. ``applied``: lifecycle changes carried
  out per (subscription id, action), lost answers included (exactly-once checks).
"""

from __future__ import annotations

import bisect
import collections
import datetime as dt
import json
import math
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from subctl.codec import EPOCH, datetime_to_ms, iso_datetime
from tests.fakehub.exports import FILE_PREFIX, Exports
from tests.fakehub.lists import PROCESSING, BadBranch, FakeList, compile_branch
from tests.fakehub.objects import (
    COMPUTED,
    OBJECT_TYPES,
    TYPE_IDS,
    Invalid,
    ObjectType,
    PropDef,
    normalize,
    object_type,
    render,
    standard_properties,
    wire_of,
)
from tests.fakehub.search import BadFilter, compile_filter, sort_key

TIER_LIMITS = {"free": 100, "starter": 100, "professional": 190, "enterprise": 190}
DAILY_LIMITS = {
    "free": 250_000,
    "starter": 250_000,
    "professional": 650_000,
    "enterprise": 1_000_000,
}
INTERVAL_S = 10.0
SEARCH_PER_SECOND = 5
MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
SEARCH_LIMIT, LIST_LIMIT, RESULT_CAP, BODY_CHARS, BATCH = 200, 100, 10_000, 3_000, 100
ASSOCIATION_BATCH = 1_000
FAULT_KINDS = ("429", "500", "502", "503", "timeout")
LIFECYCLE_PREFIX = "/payments-subscriptions/v1/subscriptions/crm/"
CANCELABLE = frozenset({"active", "unpaid", "past_due", "scheduled", "paused"})


PRIVATE_APP_INFO = "/oauth/v2/private-apps/get/access-token-info"
OAUTH_INFO = "/oauth/v1/access-tokens/"


def all_scopes() -> frozenset[str]:
    found = {"crm.export", "crm.lists.read", "crm.lists.write"}
    for o in OBJECT_TYPES:
        for kind in ("objects", "schemas"):
            found |= {f"crm.{kind}.{o.scope}.read", f"crm.{kind}.{o.scope}.write"}
    return frozenset(found)


@dataclass
class Logged:
    """One request as the fake saw it (never its headers: no token)."""

    t: float  # the fake's clock
    method: str
    path: str
    query: dict[str, str]  # repeated parameters joined by ","
    json: Any  # the decoded body, None without one
    status: int = 0  # the status answered (0 when the request raised, see ``fault``)
    fault: str | None = None  # an injected fault: 429, 500, 502, 503, timeout; lost-...


@dataclass
class Record:
    id: int
    props: dict[str, str]  # stored values (no entry: no value)
    created_ms: int
    updated_ms: int
    archived: bool = False
    archived_ms: int | None = None
    # property -> its values, oldest first: (stored value or None, epoch ms, sourceType)
    history: dict[str, list[tuple[str | None, int, str]]] = field(default_factory=dict)

    def change(self, values: Mapping[str, str], at: int, source: str) -> None:
        """Take ``values`` as the record's properties, keeping each change's history."""
        for key in set(self.props) | set(values):
            if self.props.get(key) != values.get(key):
                self.history.setdefault(key, []).append((values.get(key), at, source))
        self.props = dict(values)


class _Timeout(Exception):
    """A timeout fault: in process, ``httpx.ReadTimeout``; served, a withheld answer."""


class _Answer(Exception):
    def __init__(self, response: httpx.Response) -> None:
        self.response = response


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(status, json=body)


def error(
    status: int, category: str, message: str, *, sub: str | None = None, **extra: Any
) -> httpx.Response:
    """HubSpot's error body: status, message, correlationId (a UUID), category (DOMAIN.md §2)."""
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
    }
    if sub:
        body["subCategory"] = sub
    body.update(extra)
    return _json(status, body)


def _fail(status: int, category: str, message: str, **extra: Any) -> _Answer:
    return _Answer(error(status, category, message, **extra))


def _bad(message: str, **extra: Any) -> _Answer:
    return _fail(400, "VALIDATION_ERROR", message, **extra)


def _not_found(o: ObjectType, ident: Any) -> _Answer:
    return _fail(404, "OBJECT_NOT_FOUND", f"resource not found: {o.name} {ident} does not exist")


Route = tuple[str, re.Pattern[str], Callable[..., httpx.Response], str]


class FakeHubSpot:
    def __init__(
        self,
        *,
        tier: str = "professional",
        clock: Callable[[], float] | None = None,
        faults: float = 0.0,
        seed: int = 0,
        token: str = "pat-test-token",
        scopes: Iterable[str] | None = None,
        token_kind: str = "private-app",
        wall: Callable[[], float] | None = None,
        timeout_delay: float = 2.0,
        export_polls: int = 1,
    ) -> None:
        if tier not in TIER_LIMITS:
            raise ValueError(f"tier: one of {', '.join(TIER_LIMITS)}")
        self.tier = tier
        self.limit = TIER_LIMITS[tier]
        self.daily = DAILY_LIMITS[tier]
        self.clock: Callable[[], float] = clock or time.monotonic
        self.wall: Callable[[], float] = wall or time.time  # timestamps of records
        self.faults = faults
        self.rng = random.Random(seed)
        self.token = token
        self.scopes = frozenset(all_scopes() if scopes is None else scopes)
        self.token_kind = token_kind  # "private-app", "oauth", or "other" (neither endpoint)
        self.timeout_delay = timeout_delay
        self.association_page = 500  # associations per input of a v4 batch read
        self.requests: list[Logged] = []
        self.transport = httpx.MockTransport(self.handle)
        self.props = standard_properties()
        self.records: dict[str, dict[int, Record]] = {o.name: {} for o in OBJECT_TYPES}
        # (subscription id, object type name, object id) -> type ids (from the subscription)
        self.links: dict[tuple[int, str, int], set[int]] = {}
        self._of_sub: dict[int, set[tuple[str, int]]] = {}  # indexes of ``links``
        self._of_other: dict[tuple[str, int], set[int]] = {}
        self._version = 0  # bumped on every change (search results are cached per version)
        self._cache: dict[str, tuple[int, list[Record]]] = {}
        self.rules: dict[str, dict[str, dict[str, Any]]] = {}  # property validations
        self.exports = Exports(self, polls=export_polls)
        self.lists: dict[int, FakeList] = {}
        # lifecycle changes carried out, per (subscription id, action): exactly-once checks
        self.applied: collections.Counter[tuple[int, str]] = collections.Counter()
        self._script: list[tuple[str, str]] = []  # (fault, path part it waits for)
        self._window: collections.deque[float] = collections.deque()
        self._search_window: collections.deque[float] = collections.deque()
        self._used_today = 0
        self._next_id = 1_000_001
        self._last_ms = 0
        self._lock = threading.RLock()
        self._source = "API"  # sourceType of changes (modify(): CRM_UI)
        self._routes = self._build_routes()
        self._reads = (
            self._search, self._batch_read, self._assoc_batch_read, self._private_app_info
        )  # fmt: skip

    # -- test-side set-up ------------------------------------------------------------------

    def seed(self, rows: Sequence[Mapping[str, Any]]) -> list[int]:
        """Subscriptions from rows of typed property values (the contract suite's seed form),
        stored as HubSpot wire strings (``codec.to_wire``); ``hs_object_id`` gives the id,
        ``hs_createdate``/``hs_lastmodifieddate`` (datetimes) the stamps."""
        ids = []
        with self._lock:
            defs = self.props["subscriptions"]
            for row in rows:
                values = {}
                for name, value in row.items():
                    if name in COMPUTED or value is None:
                        continue
                    prop = defs.get(name)
                    if prop is None:
                        raise KeyError(f"no subscription property {name}")
                    values[name] = normalize(prop, wire_of(prop, value), None)
                given = row.get("hs_object_id")
                rec = self._new(
                    "subscriptions",
                    {k: v for k, v in values.items() if v},
                    None if given is None else int(given),
                )
                # A seed may set the stamps HubSpot computes (the contract suite's sync tests)
                for key in ("hs_createdate", "hs_lastmodifieddate"):
                    if row.get(key) is not None:
                        ms = datetime_to_ms(row[key])
                        if key == "hs_createdate":
                            rec.created_ms = ms
                        else:
                            rec.updated_ms = ms
                ids.append(rec.id)
            self._version += 1
        return ids

    def add_record(
        self, object_type: str, values: Mapping[str, str], *, record_id: int | None = None
    ) -> int:
        """A contact, company, deal, line item, payment, ... from wire values; its id (given,
        or the next one)."""
        with self._lock:
            o = self._object(object_type)
            props = {k: str(v) for k, v in values.items() if v != ""}
            return self._new(o.name, props, record_id).id

    def associate(self, sub_id: int, object_type: str, object_id: int, type_id: int) -> None:
        with self._lock:
            o = self._object(object_type)
            self._link(sub_id, o.name, object_id, {type_id})

    def modify(self, sub_id: int, **props: str) -> None:
        """A change made in HubSpot (not through the API under test): bumps the modified date."""
        with self._lock:
            rec = self.records["subscriptions"][sub_id]
            self._source = "CRM_UI"
            try:
                self._write(rec, "subscriptions", props, strict=False)
            finally:
                self._source = "API"

    def archive(self, sub_id: int) -> None:
        with self._lock:
            rec = self.records["subscriptions"][sub_id]
            rec.archived, rec.archived_ms = True, self._now_ms()
            rec.updated_ms = rec.archived_ms

    def inject(self, *faults: str, on: str = "") -> None:
        """Faults for the next requests, in order (after authentication): ``429``, ``500``,
        ``502``, ``503``, ``timeout``, or ``lost-500`` (``lost-502``, ``lost-503``,
        ``lost-timeout``): the change is applied, the answer lost. ``on``: only for requests
        whose path contains it (``on="/cancel"``); others pass. While scripted faults wait,
        no random fault is drawn."""
        with self._lock:
            self._script.extend((f, on) for f in faults)

    def subscription(self, sub_id: int) -> dict[str, str | None]:
        """A subscription's properties as the API returns them (for assertions)."""
        with self._lock:
            rec = self.records["subscriptions"][sub_id]
            return self._properties("subscriptions", rec, None)

    # -- the API ---------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        try:
            return self._handle(request)
        except _Timeout:
            raise httpx.ReadTimeout("timed out (injected)", request=request) from None

    def _handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            raw = request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = ValueError
            query: dict[str, str] = {}
            for key, value in request.url.params.multi_items():
                query[key] = f"{query[key]},{value}" if key in query else value
            path, logged_body = request.url.path, None if body is ValueError else body
            if path.startswith(OAUTH_INFO):  # the token is in the path: never in the log
                path = OAUTH_INFO + "{token}"
            if path == PRIVATE_APP_INFO and isinstance(logged_body, dict):
                logged_body = {**logged_body, "tokenKey": "{token}"}
            entry = Logged(self.clock(), request.method, path, query, logged_body)
            self.requests.append(entry)
            response, timeout = self._answer(request, entry, raw, body)
            entry.status = 0 if timeout else response.status_code
            if timeout:
                raise _Timeout
            return response

    def _answer(
        self, request: httpx.Request, entry: Logged, raw: bytes, body: Any
    ) -> tuple[httpx.Response, bool]:
        auth = request.headers.get("authorization", "")
        if request.url.path.startswith(FILE_PREFIX):  # an export file: S3, in HubSpot
            status, content, kind = self.exports.download(
                request.url.path, dict(request.url.params), bool(auth)
            )
            return httpx.Response(status, content=content, headers={"Content-Type": kind}), False
        if auth != f"Bearer {self.token}":
            return error(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            ), False
        route = self._route(request.method, request.url.path)
        searching = route is not None and route[0][2] == self._search
        now = entry.t
        limited = self._rate_limited(now, searching)
        if limited is not None:
            return self._headers(limited, now), False
        self._window.append(now)
        if searching:
            self._search_window.append(now)
        self._used_today += 1
        fault = self._fault(request.url.path)
        entry.fault = fault
        if fault == "429":
            self._window.pop()
            if searching:
                self._search_window.pop()
            answer = error(
                429,
                "RATE_LIMITS",
                "You have reached your ten_secondly_rolling limit.",
                policyName="TEN_SECONDLY_ROLLING",
            )
            answer.headers["Retry-After"] = "1"
            return self._headers(answer, now), False
        lost = fault is not None and fault.startswith("lost-")
        kind = fault.removeprefix("lost-") if fault else None
        if kind is not None and not lost:
            if kind == "timeout":
                return httpx.Response(504), True
            return self._headers(self._server_error(int(kind)), now), False
        response = self._dispatch(request, route, raw, body)
        if request.method != "GET" and (route is None or route[0][2] not in self._reads):
            self._version += 1
        if kind == "timeout":
            return response, True
        if kind is not None:
            return self._headers(self._server_error(int(kind)), now), False
        return self._headers(response, now), False

    def _server_error(self, status: int) -> httpx.Response:
        messages = {500: "internal error", 502: "Bad Gateway", 503: "Service Unavailable"}
        return error(
            status,
            "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE",
            messages.get(status, "error"),
        )

    def _fault(self, path: str) -> str | None:
        for i, (scripted, on) in enumerate(self._script):
            if on in path:
                del self._script[i]
                return scripted
        if self._script:
            return None
        if self.faults <= 0 or self.rng.random() >= self.faults:
            return None
        kind = self.rng.choice(FAULT_KINDS)
        if kind != "429" and self.rng.random() < 0.5:
            return "lost-" + kind
        return kind

    def _rate_limited(self, now: float, searching: bool) -> httpx.Response | None:
        while self._window and self._window[0] <= now - INTERVAL_S:
            self._window.popleft()
        while self._search_window and self._search_window[0] <= now - 1.0:
            self._search_window.popleft()
        wait = None
        if len(self._window) >= self.limit:
            wait = self._window[0] + INTERVAL_S - now
            message, policy = (
                "You have reached your ten_secondly_rolling limit.",
                "TEN_SECONDLY_ROLLING",
            )
        elif searching and len(self._search_window) >= SEARCH_PER_SECOND:
            wait = self._search_window[0] + 1.0 - now
            message, policy = "You have reached your secondly limit.", "SECONDLY"
        if wait is None:
            return None
        answer = error(429, "RATE_LIMITS", message, policyName=policy)
        answer.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return answer

    def _headers(self, response: httpx.Response, now: float) -> httpx.Response:
        while self._window and self._window[0] <= now - INTERVAL_S:
            self._window.popleft()
        response.headers["X-HubSpot-RateLimit-Max"] = str(self.limit)
        response.headers["X-HubSpot-RateLimit-Remaining"] = str(
            max(0, self.limit - len(self._window))
        )
        response.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(int(INTERVAL_S * 1000))
        response.headers["X-HubSpot-RateLimit-Daily"] = str(self.daily)
        response.headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(
            max(0, self.daily - self._used_today)
        )
        return response

    def _route(self, method: str, path: str) -> tuple[Route, re.Match[str]] | None:
        for route in self._routes:
            if route[0] == method:
                match = route[1].fullmatch(path)
                if match:
                    return route, match
        return None

    def _dispatch(
        self,
        request: httpx.Request,
        found: tuple[Route, re.Match[str]] | None,
        raw: bytes,
        body: Any,
    ) -> httpx.Response:
        if found is None:
            return error(
                404, "OBJECT_NOT_FOUND", f"no endpoint {request.method} {request.url.path}"
            )
        (_method, _pattern, handler, scope), match = found
        args = dict(match.groupdict())
        try:
            if body is ValueError:
                raise _bad("Invalid input JSON on line 1: the body is not JSON")
            need = self._scope(scope, args)
            if need is not None and need not in self.scopes:
                raise _fail(
                    403,
                    "MISSING_SCOPES",
                    "This app hasn't been granted all required scopes to make this call.",
                    context={"missingScopes": [need]},
                    errors=[
                        {
                            "message": "One or more of the following scopes are required.",
                            "context": {"requiredGranularScopes": [need]},
                        }
                    ],
                )
            base = f"{request.url.scheme}://{request.url.netloc.decode()}"
            return handler(params=request.url.params, body=body, raw=raw, base=base, **args)
        except _Answer as answer:
            return answer.response

    def _scope(self, scope: str, args: Mapping[str, str]) -> str | None:
        """``objects.read`` etc. become the scope of the path's object type."""
        if scope.startswith("crm.") or not scope:
            return scope or None
        kind, access = scope.split(".")
        key = args.get("type") or args.get("from") or "subscriptions"
        o = object_type(key)
        if o is None:
            return None
        return f"crm.{kind}.{o.scope}.{access}"

    # -- what a token may do (its scopes) ---------------------------------------------------

    def _private_app_info(self, *, body: Any, **_: Any) -> httpx.Response:
        """A private app's token: its scopes. Choice: any other token (or kind) is 400
        ``BAD_REQUEST``, as HubSpot answers a token it cannot read."""
        key = body.get("tokenKey") if isinstance(body, dict) else None
        if self.token_kind != "private-app" or key != self.token:
            raise _bad("the token is not a valid private app access token")
        info = {"userId": 7, "hubId": 1234567, "appId": 4242, "scopes": sorted(self.scopes)}
        return httpx.Response(200, json=info)

    def _oauth_info(self, *, token: str, **_: Any) -> httpx.Response:
        """An OAuth access token's metadata. Choice: any other token is 404."""
        if self.token_kind != "oauth" or token != self.token:
            raise _fail(404, "NOT_FOUND", "access token not found")
        info = {
            "token": token, "user": "ops@example.com", "hub_id": 1234567, "app_id": 4242,
            "expires_in": 1800, "user_id": 7, "token_type": "access", "hub_domain": "x.example",
            "scopes": sorted(self.scopes),
        }  # fmt: skip
        return httpx.Response(200, json=info)

    def _build_routes(self) -> list[Route]:
        obj = r"/crm/v3/objects/(?P<type>[\w-]+)"
        props = r"/crm/v3/properties/(?P<type>[\w-]+)"
        v4 = r"/crm/v4/objects/(?P<from>[\w-]+)/(?P<id>\d+)/associations"
        table: list[tuple[str, str, Callable[..., httpx.Response], str]] = [
            ("POST", PRIVATE_APP_INFO, self._private_app_info, ""),
            ("GET", OAUTH_INFO + r"(?P<token>[^/]+)", self._oauth_info, ""),
            ("GET", obj, self._list, "objects.read"),
            ("POST", obj, self._create, "objects.write"),
            ("POST", obj + "/search", self._search, "objects.read"),
            ("POST", obj + "/batch/read", self._batch_read, "objects.read"),
            ("POST", obj + "/batch/create", self._batch_create, "objects.write"),
            ("POST", obj + "/batch/update", self._batch_update, "objects.write"),
            ("POST", obj + "/batch/archive", self._batch_archive, "objects.write"),
            ("GET", obj + r"/(?P<id>\d+)", self._get, "objects.read"),
            ("PATCH", obj + r"/(?P<id>\d+)", self._patch, "objects.write"),
            ("DELETE", obj + r"/(?P<id>\d+)", self._delete, "objects.write"),
            (
                "POST",
                LIFECYCLE_PREFIX + r"(?P<id>\d+)/(?P<action>pause|unpause|cancel)",
                self._lifecycle,
                "crm.objects.subscriptions.write",
            ),
            ("GET", props, self._properties_list, "schemas.read"),
            ("POST", props, self._property_create, "schemas.write"),
            ("GET", props + r"/(?P<name>[\w-]+)", self._property_get, "schemas.read"),
            ("PATCH", props + r"/(?P<name>[\w-]+)", self._property_patch, "schemas.write"),
            ("DELETE", props + r"/(?P<name>[\w-]+)", self._property_delete, "schemas.write"),
            (
                "GET",
                r"/crm/v3/property-validations/(?P<type>[\w-]+)",
                self._rules_list,
                "schemas.read",
            ),
            (
                "GET",
                r"/crm/v3/property-validations/(?P<type>[\w-]+)/(?P<name>[\w-]+)",
                self._rules_get,
                "schemas.read",
            ),
            (
                "PUT",
                r"/crm/v3/property-validations/(?P<type>[\w-]+)/(?P<name>[\w-]+)"
                r"/rule-type/(?P<rule>\w+)",
                self._rule_put,
                "schemas.write",
            ),
            (
                "DELETE",
                r"/crm/v3/property-validations/(?P<type>[\w-]+)/(?P<name>[\w-]+)"
                r"/rule-type/(?P<rule>\w+)",
                self._rule_delete,
                "schemas.write",
            ),
            ("GET", v4 + r"/(?P<to>[\w-]+)", self._assoc_list, "objects.read"),
            (
                "PUT",
                v4 + r"/default/(?P<to>[\w-]+)/(?P<to_id>\d+)",
                self._assoc_default,
                "objects.write",
            ),
            ("PUT", v4 + r"/(?P<to>[\w-]+)/(?P<to_id>\d+)", self._assoc_put, "objects.write"),
            ("DELETE", v4 + r"/(?P<to>[\w-]+)/(?P<to_id>\d+)", self._assoc_delete, "objects.write"),
            (
                "POST",
                r"/crm/v4/associations/(?P<from>[\w-]+)/(?P<to>[\w-]+)/batch/read",
                self._assoc_batch_read,
                "objects.read",
            ),
            ("POST", r"/crm/v3/lists", self._list_create, "crm.lists.write"),
            ("GET", r"/crm/v3/lists/(?P<list_id>\d+)", self._list_get, "crm.lists.read"),
            (
                "GET",
                r"/crm/v3/lists/object-type-id/(?P<ot>[\w-]+)/name/(?P<name>[^/]+)",
                self._list_by_name,
                "crm.lists.read",
            ),
            ("DELETE", r"/crm/v3/lists/(?P<list_id>\d+)", self._list_delete, "crm.lists.write"),
            (
                "PUT",
                r"/crm/v3/lists/(?P<list_id>\d+)/update-list-filters",
                self._list_filters,
                "crm.lists.write",
            ),
            (
                "GET",
                r"/crm/v3/lists/(?P<list_id>\d+)/memberships",
                self._list_members,
                "crm.lists.read",
            ),
            (
                "PUT",
                r"/crm/v3/lists/(?P<list_id>\d+)/memberships/(?P<change>add|remove)",
                self._list_change,
                "crm.lists.write",
            ),
            ("POST", r"/crm/v3/exports/export/async", self._export_start, "crm.export"),
            (
                "GET",
                r"/crm/v3/exports/export/async/tasks/(?P<task>\d+)/status",
                self._export_status,
                "crm.export",
            ),
            ("GET", r"/crm/v3/exports/export/(?P<task>\d+)", self._export_get, "crm.export"),
        ]
        return [(m, re.compile(p), h, s) for m, p, h, s in table]

    # -- records -------------------------------------------------------------------------

    def _object(self, key: str) -> ObjectType:
        o = object_type(key)
        if o is None:
            raise KeyError(f"unknown object type {key}")
        return o

    def _type(self, key: str) -> ObjectType:
        o = object_type(key)
        if o is None:
            raise _bad(f"Unable to infer object type from: {key}")
        return o

    def _now_ms(self) -> int:
        self._version += 1
        self._last_ms = max(self._last_ms + 1, int(self.wall() * 1000))
        return self._last_ms

    def _new(self, name: str, props: dict[str, str], given: int | None = None) -> Record:
        if given is None:
            given = self._next_id
        self._next_id = max(self._next_id, given + 1)
        # created now (several records may share a millisecond, as in HubSpot); later changes
        # are stamped strictly after it (``_now_ms``)
        ms = int(self.wall() * 1000)
        self._last_ms = max(self._last_ms, ms)
        self._version += 1
        rec = Record(given, dict(props), ms, ms)
        rec.history = {k: [(v, ms, self._source)] for k, v in props.items()}
        self.records[name][given] = rec
        return rec

    def _live(self, name: str, ident: Any, *, archived: bool = False) -> Record | None:
        try:
            rec = self.records[name].get(int(ident))
        except (TypeError, ValueError):
            return None
        if rec is None or rec.archived != archived:
            return None
        return rec

    def _write(
        self, rec: Record, name: str, values: Any, *, strict: bool = True, creating: bool = False
    ) -> None:
        """Apply wire values (validated as HubSpot does); bump the modified date on a change."""
        if not isinstance(values, Mapping):
            raise _bad("properties must be an object")
        changed = self._validate(name, values, rec.props, strict=strict)
        self._unique(name, rec.id, changed, rec.props)
        if changed != rec.props:
            if not creating:
                rec.updated_ms = self._now_ms()
            rec.change(changed, rec.updated_ms, self._source)

    def _validate(
        self, name: str, values: Mapping[str, Any], held: Mapping[str, str], *, strict: bool
    ) -> dict[str, str]:
        defs = self.props[name]
        result = dict(held)
        problems = []
        for key, value in values.items():
            prop = defs.get(key)
            if prop is None:
                if name != "subscriptions":  # the other objects take any property
                    if value in ("", None):
                        result.pop(key, None)
                    else:
                        result[key] = str(value)
                    continue
                problems.append((key, "PROPERTY_DOESNT_EXIST", f'Property "{key}" does not exist'))
                continue
            if strict and key in COMPUTED:
                problems.append(
                    (
                        key,
                        "READ_ONLY_VALUE",
                        f"{key} is a read only property; its value cannot be set",
                    )
                )
                continue
            try:
                stored = normalize(prop, value, held.get(key))
            except Invalid as exc:
                problems.append((key, exc.error, exc.message))
                continue
            if stored is None:
                result.pop(key, None)
            else:
                result[key] = stored
        if problems:
            details = [
                {"isValid": False, "message": m, "error": e, "name": n, "localizedErrorMessage": m}
                for n, e, m in problems
            ]
            raise _bad(
                f"Property values were not valid: {json.dumps(details)}",
                errors=[
                    {"message": m, "code": e, "context": {"propertyName": [n]}}
                    for n, e, m in problems
                ],
            )
        return result

    def _unique(
        self,
        name: str,
        ident: int | None,
        values: Mapping[str, str],
        held: Mapping[str, str],
        staged: Sequence[Mapping[str, str]] = (),
    ) -> None:
        """409 CONFLICT when a new value of a ``hasUniqueValue`` property is another record's
        (or another input's of the same batch). Choice: HubSpot documents no status for it;
        values compare exactly."""
        defs = self.props[name]
        for key, value in values.items():
            prop = defs.get(key)
            if prop is None or not prop.unique or held.get(key) == value:
                continue
            taken = [
                r.id
                for r in self.records[name].values()
                if r.id != ident and not r.archived and r.props.get(key) == value
            ]
            if taken or any(other.get(key) == value for other in staged):
                where = f"record {taken[0]}" if taken else "another input of this batch"
                raise _fail(
                    409,
                    "CONFLICT",
                    f"{key} must be unique: {value!r} is already the value of {where}",
                    context={"propertyName": [key]},
                )

    def _properties(
        self, name: str, rec: Record, wanted: Sequence[str] | None
    ) -> dict[str, str | None]:
        defs = self.props[name]
        computed = {
            "hs_object_id": str(rec.id),
            "hs_createdate": iso_datetime(_moment(rec.created_ms)),
            "hs_lastmodifieddate": iso_datetime(_moment(rec.updated_ms)),
        }
        if wanted is None:
            return {**{k: render(defs.get(k), v) for k, v in rec.props.items()}, **computed}
        found: dict[str, str | None] = dict(computed)
        for key in wanted:
            if key in computed:
                continue
            if key in defs or key in rec.props:
                found[key] = render(defs.get(key), rec.props.get(key))
        return found

    def _shape(self, name: str, rec: Record, wanted: Sequence[str] | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(rec.id),
            "properties": self._properties(name, rec, wanted),
            "createdAt": iso_datetime(_moment(rec.created_ms)),
            "updatedAt": iso_datetime(_moment(rec.updated_ms)),
            "archived": rec.archived,
        }
        if rec.archived and rec.archived_ms is not None:
            body["archivedAt"] = iso_datetime(_moment(rec.archived_ms))
        return body

    def _wanted(self, name: str, given: Any) -> list[str]:
        """Properties asked for; none given: HubSpot's few defaults."""
        if given is None or given == [] or given == "":
            return ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"]
        if isinstance(given, str):
            return [p for p in given.split(",") if p]
        if not isinstance(given, list) or not all(isinstance(p, str) for p in given):
            raise _bad("properties must be an array of property names")
        return given

    def _list(self, *, type: str, params: httpx.QueryParams, **_: Any) -> httpx.Response:
        o = self._type(type)
        limit = _int(params.get("limit", "10"), "limit")
        if not 1 <= limit <= LIST_LIMIT:
            raise _bad(f"limit must be between 1 and {LIST_LIMIT}")
        after = params.get("after")
        if after is not None:
            after_id = _int(after, "after")
        archived = params.get("archived", "false").lower() == "true"
        wanted = self._wanted(o.name, ",".join(params.get_list("properties")) or None)
        key = f"list:{o.name}:{archived}"
        cached = self._cache.get(key)
        if cached is not None and cached[0] == self._version:
            ordered = cached[1]
        else:
            ordered = sorted(
                (r for r in self.records[o.name].values() if r.archived == archived),
                key=lambda r: r.id,
            )
            self._cache[key] = (self._version, ordered)
        start = 0 if after is None else bisect.bisect_right(ordered, after_id, key=lambda r: r.id)
        ids = [r.id for r in ordered[start : start + limit + 1]]
        page = ids[:limit]
        body: dict[str, Any] = {
            "results": [self._shape(o.name, self.records[o.name][i], wanted) for i in page]
        }
        if len(ids) > limit:
            body["paging"] = {"next": {"after": str(page[-1]), "link": "?after=" + str(page[-1])}}
        associations = ",".join(params.get_list("associations"))
        if associations:
            for shaped in body["results"]:
                shaped["associations"] = self._v3_associations(o, int(shaped["id"]), associations)
        return _json(200, body)

    def _v3_associations(self, o: ObjectType, ident: int, names: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for key in names.split(","):
            other = object_type(key)
            if other is None:
                continue
            ids = sorted(self._linked(o.name, ident, other.name))
            if ids:
                found[other.name] = {"results": [{"id": str(i), "type": "default"} for i in ids]}
        return found

    def _get(self, *, type: str, id: str, params: httpx.QueryParams, **_: Any) -> httpx.Response:
        o = self._type(type)
        archived = params.get("archived", "false").lower() == "true"
        rec = self._live(o.name, id, archived=archived)
        if rec is None:
            raise _not_found(o, id)
        wanted = self._wanted(o.name, ",".join(params.get_list("properties")) or None)
        shaped = self._shape(o.name, rec, wanted)
        associations = ",".join(params.get_list("associations"))
        if associations:
            shaped["associations"] = self._v3_associations(o, rec.id, associations)
        history = [n for n in ",".join(params.get_list("propertiesWithHistory")).split(",") if n]
        if history:
            shaped["propertiesWithHistory"] = self._history(o, rec, history)
        return _json(200, shaped)

    def _history(self, o: ObjectType, rec: Record, names: Sequence[str]) -> dict[str, Any]:
        """``propertiesWithHistory``: each property's values, newest first (a cleared value is
        ``""``), with ``timestamp`` and ``sourceType``."""
        defs = self.props[o.name]
        found: dict[str, Any] = {}
        for name in names:
            if name not in defs:
                continue
            found[name] = [
                {
                    "value": render(defs[name], value) or "",
                    "timestamp": iso_datetime(_moment(at)),
                    "sourceType": source,
                    "sourceId": "fakehub",
                }
                for value, at, source in reversed(rec.history.get(name, []))
            ]
        return found

    def _create(self, *, type: str, body: Any, **_: Any) -> httpx.Response:
        o = self._type(type)
        return _json(201, self._create_one(o, body))

    def _create_one(self, o: ObjectType, item: Any) -> dict[str, Any]:
        if not isinstance(item, Mapping):
            raise _bad("the body must be an object with properties")
        values = self._validate(o.name, item.get("properties") or {}, {}, strict=True)
        self._unique(o.name, None, values, {})
        rec = self._new(o.name, values)
        for link in item.get("associations") or []:
            to = link.get("to", {}).get("id")
            types = link.get("types") or []
            self._link_from(o, rec.id, to, types)
        return self._shape(o.name, rec, list(values) + ["hs_object_id"])

    def _link_from(self, o: ObjectType, ident: int, to: Any, types: Sequence[Any]) -> None:
        """An association given at creation: ``types[].associationTypeId`` names the object
        (subscriptions: the other object by its type id)."""
        for t in types:
            type_id = int(t.get("associationTypeId", 0))
            for other, (forward, reverse) in TYPE_IDS.items():
                if o.name == "subscriptions" and type_id == forward:
                    self._link(ident, other, int(to), {forward})
                elif o.name == other and type_id == reverse:
                    self._link(int(to), other, ident, {forward})

    def _patch(self, *, type: str, id: str, body: Any, **_: Any) -> httpx.Response:
        o = self._type(type)
        rec = self._live(o.name, id)
        if rec is None:
            raise _not_found(o, id)
        if not isinstance(body, Mapping) or "properties" not in body:
            raise _bad("the body must be an object with properties")
        self._write(rec, o.name, body["properties"])
        return _json(200, self._shape(o.name, rec, list(rec.props) + ["hs_object_id"]))

    def _delete(self, *, type: str, id: str, **_: Any) -> httpx.Response:
        o = self._type(type)
        rec = self._live(o.name, id)
        if rec is not None:
            self._archive(o, rec)
        return httpx.Response(204)

    def _archive(self, o: ObjectType, rec: Record) -> None:
        if o.name == "subscriptions" and rec.props.get("hs_invoice_creation") == "on":
            if rec.props.get("hs_status") not in ("canceled", "expired"):
                raise _bad(
                    f"subscription {rec.id} is billable and "
                    f"{rec.props.get('hs_status')}: only a canceled or expired billable "
                    "subscription can be deleted"
                )
        rec.archived, rec.archived_ms = True, self._now_ms()
        rec.updated_ms = rec.archived_ms

    # -- batches -------------------------------------------------------------------------

    def _inputs(self, body: Any, cap: int = BATCH) -> list[Mapping[str, Any]]:
        if not isinstance(body, Mapping) or not isinstance(body.get("inputs"), list):
            raise _bad("the body must be an object with inputs")
        inputs = body["inputs"]
        if len(inputs) > cap:
            raise _bad(
                f"Batch input is limited to {cap} inputs; got {len(inputs)}",
                context={"inputs": [str(len(inputs))]},
            )
        if not all(isinstance(i, Mapping) for i in inputs):
            raise _bad("each input is an object")
        return inputs

    def _batch(
        self, status_ok: int, results: list[Any], missing: list[str], o: ObjectType, verb: str
    ) -> httpx.Response:
        stamp = iso_datetime(dt.datetime.now(dt.UTC))
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": stamp,
            "completedAt": stamp,
        }
        if not missing:
            return _json(status_ok, body)
        body["numErrors"] = 1
        body["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Could not {verb} some {o.name.upper()} objects, they may be "
                "deleted or not exist. Check that ids are valid.",
                "context": {"ids": missing},
            }
        ]
        return _json(207, body)

    def _batch_read(
        self, *, type: str, body: Any, params: httpx.QueryParams, **_: Any
    ) -> httpx.Response:
        o = self._type(type)
        inputs = self._inputs(body)
        if body.get("idProperty") not in (None, "hs_object_id"):
            raise _bad("idProperty: only record ids are supported by the fake")
        archived = params.get("archived", "false").lower() == "true"
        wanted = self._wanted(o.name, body.get("properties"))
        results, missing, seen = [], [], set()
        for item in inputs:
            ident = str(item.get("id"))
            rec = self._live(o.name, ident, archived=archived)
            if rec is None:
                missing.append(ident)
            elif rec.id not in seen:
                seen.add(rec.id)
                results.append(self._shape(o.name, rec, wanted))
        return self._batch(200, results, missing, o, "get")

    def _batch_create(self, *, type: str, body: Any, **_: Any) -> httpx.Response:
        o = self._type(type)
        inputs = self._inputs(body)
        return self._batch(201, [self._create_one(o, i) for i in inputs], [], o, "create")

    def _batch_update(self, *, type: str, body: Any, **_: Any) -> httpx.Response:
        o = self._type(type)
        inputs = self._inputs(body)
        # validate every input first: a validation error fails the whole batch, as HubSpot
        staged, missing = [], []
        for item in inputs:
            rec = self._live(o.name, item.get("id"))
            if rec is None:
                missing.append(str(item.get("id")))
                continue
            values = item.get("properties")
            if not isinstance(values, Mapping):
                raise _bad("each input has properties")
            checked = self._validate(o.name, values, rec.props, strict=True)
            self._unique(o.name, rec.id, checked, rec.props, [v for _r, v in staged])
            staged.append((rec, checked))
        results = []
        for rec, values in staged:
            if values != rec.props:
                rec.updated_ms = self._now_ms()
                rec.change(values, rec.updated_ms, self._source)
            results.append(self._shape(o.name, rec, list(rec.props) + ["hs_object_id"]))
        return self._batch(200, results, missing, o, "update")

    def _batch_archive(self, *, type: str, body: Any, **_: Any) -> httpx.Response:
        o = self._type(type)
        inputs = self._inputs(body)
        recs = [r for r in (self._live(o.name, i.get("id")) for i in inputs) if r is not None]
        for rec in recs:  # all or nothing on a refused delete
            if o.name == "subscriptions" and rec.props.get("hs_invoice_creation") == "on":
                if rec.props.get("hs_status") not in ("canceled", "expired"):
                    raise _bad(f"subscription {rec.id} is billable and not canceled or expired")
        for rec in recs:
            self._archive(o, rec)
        return httpx.Response(204)

    # -- search --------------------------------------------------------------------------

    def _search(self, *, type: str, body: Any, raw: bytes, **_: Any) -> httpx.Response:
        o = self._type(type)
        if len(raw.decode("utf-8", "replace")) > BODY_CHARS:
            raise _bad(f"The request body is limited to {BODY_CHARS} characters; got {len(raw)}")
        if body is None:
            body = {}
        if not isinstance(body, Mapping):
            raise _bad("the search body is an object")
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list) or not all(isinstance(g, Mapping) for g in groups):
            raise _bad("filterGroups must be an array of objects")
        if len(groups) > MAX_GROUPS:
            raise _bad(f"Too many filter groups: {len(groups)}; the maximum is {MAX_GROUPS}")
        total = 0
        for g in groups:
            filters = g.get("filters") or []
            if len(filters) > MAX_FILTERS_PER_GROUP:
                raise _bad(
                    f"Too many filters in a filter group: {len(filters)}; the maximum "
                    f"is {MAX_FILTERS_PER_GROUP}"
                )
            total += len(filters)
        if total > MAX_FILTERS:
            raise _bad(f"Too many filters: {total}; the maximum is {MAX_FILTERS}")
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or not 0 <= limit <= SEARCH_LIMIT:
            raise _bad(f"limit must be between 0 and {SEARCH_LIMIT}")
        after = body.get("after")
        offset = 0
        if after is not None:
            if not isinstance(after, str | int) or not str(after).isdigit():
                raise _bad(f"after must be an integer string; got {after!r}")
            offset = int(after)
        if offset >= RESULT_CAP:
            raise _bad(
                f"Paging beyond {RESULT_CAP} results is not supported by search; narrow the query",
                subCategory="PAGING_LIMIT_EXCEEDED",
            )
        sorts = body.get("sorts") or []
        if not isinstance(sorts, list) or len(sorts) > 1:
            raise _bad("Only one sort is allowed")
        matchers = self._matchers(o, groups)
        wanted = self._wanted(o.name, body.get("properties"))
        key = o.name + json.dumps(
            {k: v for k, v in body.items() if k not in ("after", "limit", "properties")},
            sort_keys=True,
        )
        cached = self._cache.get(key)
        if cached is not None and cached[0] == self._version:
            hits = cached[1]
        else:
            hits = self._hits(o, body, matchers)
            if len(self._cache) > 16:
                self._cache.clear()
            self._cache[key] = (self._version, hits)
        page = hits[offset : offset + limit]
        found: dict[str, Any] = {
            "total": len(hits),
            "results": [self._shape(o.name, r, wanted) for r in page],
        }
        if offset + limit < len(hits) and limit:
            found["paging"] = {"next": {"after": str(offset + limit)}}
        return _json(200, found)

    def _matchers(self, o: ObjectType, groups: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
        defs = self.props[o.name]
        try:
            return [
                [
                    compile_filter(f, defs, lambda s, i: self._associated(o, s, i))
                    for f in g.get("filters") or []
                ]
                for g in groups
            ]
        except BadFilter as exc:
            raise _bad(str(exc)) from None

    def _hits(
        self, o: ObjectType, body: Mapping[str, Any], matchers: list[list[Any]]
    ) -> list[Record]:
        """Every live record matching the search, in its order (creation, or the sort)."""
        sorts = body.get("sorts") or []
        query = body.get("query")
        hits = []
        for rec in self.records[o.name].values():
            if rec.archived:
                continue
            stored = self._searchable(rec)
            if matchers and not any(all(m(stored, rec.id) for m in g) for g in matchers):
                continue
            if isinstance(query, str) and query and not self._query_hit(o, rec, query):
                continue
            hits.append(rec)
        return self._sorted(o, hits, sorts[0] if sorts else None)

    def _searchable(self, rec: Record) -> dict[str, str]:
        return {
            **rec.props,
            "hs_object_id": str(rec.id),
            "hs_createdate": str(rec.created_ms),
            "hs_lastmodifieddate": str(rec.updated_ms),
        }

    def _query_hit(self, o: ObjectType, rec: Record, query: str) -> bool:
        """``query``: a word search over the default text properties (choice: every string
        property and the id)."""
        words = query.lower().split()
        text = (
            " ".join(
                v
                for k, v in rec.props.items()
                if (p := self.props[o.name].get(k)) is None or p.type == "string"
            ).lower()
            + f" {rec.id}"
        )
        return all(w in text for w in words)

    def _sorted(self, o: ObjectType, hits: list[Record], sort: Any) -> list[Record]:
        if sort is None:
            return sorted(hits, key=lambda r: (r.created_ms, r.id))
        if isinstance(sort, str):
            descending = sort.startswith("-")
            name = sort.lstrip("-")
        elif isinstance(sort, Mapping):
            name = sort.get("propertyName", "")
            direction = sort.get("direction", "ASCENDING")
            if direction not in ("ASCENDING", "DESCENDING"):
                raise _bad("sort direction: ASCENDING or DESCENDING")
            descending = direction == "DESCENDING"
        else:
            raise _bad("a sort is a property name or {propertyName, direction}")
        prop = self.props[o.name].get(name)
        if prop is None:
            raise _bad(f"cannot sort by unknown property {name}")
        valued = [(self._searchable(r).get(name), r) for r in hits]
        present = [(v, r) for v, r in valued if v is not None]
        absent = [r for v, r in valued if v is None]
        present.sort(key=lambda vr: vr[1].id)
        # stable even reversed: equal values stay by id ascending
        present.sort(key=lambda vr: sort_key(prop, vr[0]), reverse=descending)
        # nulls last in either direction, as the SQL store
        return [r for _v, r in present] + sorted(absent, key=lambda r: r.id)

    def _associated(self, o: ObjectType, singular: str, other_id: int) -> set[int]:
        other = object_type(singular)
        if other is None or o.name != "subscriptions":
            raise BadFilter(f"unknown association {singular}")
        return set(self._of_other.get((other.name, other_id), ()))

    def _link(self, sub: int, other: str, other_id: int, type_ids: set[int]) -> None:
        self.links.setdefault((sub, other, other_id), set()).update(type_ids)
        self._of_sub.setdefault(sub, set()).add((other, other_id))
        self._of_other.setdefault((other, other_id), set()).add(sub)
        self._version += 1

    def _linked(self, name: str, ident: int, other: str) -> set[int]:
        """Ids of ``other`` records associated with record ``ident`` of type ``name``."""
        if name == "subscriptions":
            return {i for (n, i) in self._of_sub.get(ident, ()) if n == other}
        if other == "subscriptions":
            return set(self._of_other.get((name, ident), ()))
        return set()

    # -- lifecycle -----------------------------------------------------------------------

    def _lifecycle(self, *, id: str, action: str, body: Any, **_: Any) -> httpx.Response:
        o = self._type("subscriptions")
        rec = self._live("subscriptions", id)
        if rec is None:
            raise _not_found(o, id)
        status = rec.props.get("hs_status")
        changes: dict[str, str] = {}
        if action == "pause":
            if not isinstance(body, Mapping):
                raise _bad("pause takes a JSON body ({} at least)")
            if status != "active":
                raise _conflict(rec.id, status, "pause", "only an active subscription")
            changes = {"hs_status": "paused", "hs_mrr": "0"}
            reason = body.get("pauseReason")
            changes["hs_pause_reason"] = reason if isinstance(reason, str) else ""
        elif action == "unpause":
            date = body.get("proposedNextBillingDate") if isinstance(body, Mapping) else None
            if not isinstance(date, int) or isinstance(date, bool):
                raise _bad("proposedNextBillingDate (epoch milliseconds) is required")
            if status != "paused":
                raise _conflict(rec.id, status, "unpause", "only a paused subscription")
            day_ms = date - date % 86_400_000
            changes = {
                "hs_status": "active",
                "hs_next_payment_due_date": str(day_ms),
                "hs_pause_reason": "",
            }
        else:
            if body not in (None, {}):
                raise _bad("cancel takes no body")
            if status not in CANCELABLE:
                raise _conflict(
                    rec.id,
                    status,
                    "cancel",
                    "an active, unpaid, past due, scheduled or paused subscription",
                )
            changes = {
                "hs_status": "canceled",
                "hs_canceled_at": str(self._now_ms()),
                "hs_next_payment_due_date": "",
                "hs_next_payment_amount": "",
                "hs_scheduled_cancellation_date": "",
                "hs_mrr": "0",
            }
        self._write(rec, "subscriptions", changes, strict=False)
        self.applied[(rec.id, action)] += 1
        return httpx.Response(204)

    # -- properties ----------------------------------------------------------------------

    def _defs(self, type: str) -> tuple[ObjectType, dict[str, PropDef]]:
        o = self._type(type)
        return o, self.props[o.name]

    def _properties_list(self, *, type: str, params: httpx.QueryParams, **_: Any) -> httpx.Response:
        _o, defs = self._defs(type)
        sensitivity = params.get("dataSensitivity", "non_sensitive")
        results = [d.wire() for d in defs.values() if d.sensitivity == sensitivity]
        return _json(200, {"results": results})

    def _property_get(self, *, type: str, name: str, **_: Any) -> httpx.Response:
        o, defs = self._defs(type)
        if name not in defs:
            raise _fail(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} of {o.name}")
        return _json(200, defs[name].wire())

    def _property_create(self, *, type: str, body: Any, **_: Any) -> httpx.Response:
        o, defs = self._defs(type)
        if not isinstance(body, Mapping):
            raise _bad("the body is a property definition")
        missing = [
            k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)
        ]
        if missing:
            raise _bad(f"missing required fields: {', '.join(missing)}")
        name = body["name"]
        if name in defs:
            raise _fail(409, "OBJECT_ALREADY_EXISTS", f"A property named '{name}' already exists.")
        allowed = VALID_PAIRS.get(body["type"])
        if allowed is None or body["fieldType"] not in allowed:
            raise _bad(f"fieldType {body['fieldType']} is not valid for type {body['type']}")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise _bad(f"invalid property name {name}: lower case letters, digits and _")
        options = body.get("options") or []
        if body["type"] == "enumeration" and body["fieldType"] != "booleancheckbox" and not options:
            raise _bad("an enumeration property needs options")
        stamp = iso_datetime(_moment(self._now_ms()))
        known = {
            "name",
            "label",
            "type",
            "fieldType",
            "groupName",
            "description",
            "options",
            "hasUniqueValue",
            "dataSensitivity",
            "numberDisplayHint",
            "displayOrder",
        }
        defs[name] = PropDef(
            name=name,
            label=body["label"],
            type=body["type"],
            field_type=body["fieldType"],
            group=body["groupName"],
            description=body.get("description", ""),
            options=[_option(x, i) for i, x in enumerate(options)],
            hubspot_defined=False,
            read_only_value=body["fieldType"] == "calculation_equation",
            read_only_definition=False,
            sensitivity=body.get("dataSensitivity", "non_sensitive"),
            unique=bool(body.get("hasUniqueValue", False)),
            display_hint=body.get("numberDisplayHint"),
            display_order=int(body.get("displayOrder", -1)),
            created_at=stamp,
            updated_at=stamp,
            extra={k: v for k, v in body.items() if k not in known},
        )
        return _json(201, defs[name].wire())

    def _property_patch(self, *, type: str, name: str, body: Any, **_: Any) -> httpx.Response:
        o, defs = self._defs(type)
        prop = defs.get(name)
        if prop is None:
            raise _fail(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} of {o.name}")
        if prop.read_only_definition:
            raise _bad(f"{name} is a HubSpot-defined property; its definition cannot change")
        if not isinstance(body, Mapping):
            raise _bad("the body is a partial property definition")
        if "type" in body and body["type"] != prop.type:
            raise _bad("a property's type cannot change")
        if "fieldType" in body:
            if body["fieldType"] not in VALID_PAIRS.get(prop.type, set()):
                raise _bad(f"fieldType {body['fieldType']} is not valid for type {prop.type}")
            prop.field_type = body["fieldType"]
        prop.label = body.get("label", prop.label)
        prop.description = body.get("description", prop.description)
        prop.group = body.get("groupName", prop.group)
        if "options" in body:
            prop.options = [_option(x, i) for i, x in enumerate(body["options"])]
        if "dataSensitivity" in body:
            prop.sensitivity = body["dataSensitivity"]
        if "numberDisplayHint" in body:
            prop.display_hint = body["numberDisplayHint"]
        if "hasUniqueValue" in body and bool(body["hasUniqueValue"]) != prop.unique:
            raise _bad("hasUniqueValue cannot be changed once set")
        prop.updated_at = iso_datetime(_moment(self._now_ms()))
        return _json(200, prop.wire())

    def _property_delete(self, *, type: str, name: str, **_: Any) -> httpx.Response:
        o, defs = self._defs(type)
        prop = defs.get(name)
        if prop is None:
            raise _fail(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} of {o.name}")
        if prop.hubspot_defined:
            raise _bad(f"{name} is a HubSpot-defined property and cannot be deleted")
        del defs[name]
        self.rules.get(o.name, {}).pop(name, None)
        for rec in self.records[o.name].values():
            rec.props.pop(name, None)
            rec.history.pop(name, None)
        return httpx.Response(204)

    # -- property validations (DOMAIN.md §4) ---------------------------------------------

    def _rules_body(self, name: str, rules: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
        return {"propertyName": name, "propertyValidationRules": list(rules.values())}

    def _rules_list(self, *, type: str, **_: Any) -> httpx.Response:
        o = self._type(type)
        held = self.rules.get(o.name, {})
        return _json(200, {"results": [self._rules_body(n, r) for n, r in held.items() if r]})

    def _rules_get(self, *, type: str, name: str, **_: Any) -> httpx.Response:
        o, defs = self._defs(type)
        if name not in defs:
            raise _fail(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} of {o.name}")
        return _json(200, self._rules_body(name, self.rules.get(o.name, {}).get(name, {})))

    def _rule_put(self, *, type: str, name: str, rule: str, body: Any, **_: Any) -> httpx.Response:
        o, defs = self._defs(type)
        if name not in defs:
            raise _fail(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} of {o.name}")
        if not isinstance(body, Mapping) or not isinstance(body.get("ruleArguments", []), list):
            raise _bad("the body is {ruleArguments: [...], shouldApplyNormalization}")
        held = self.rules.setdefault(o.name, {}).setdefault(name, {})
        held[rule] = {
            "ruleType": rule,
            "ruleArguments": [str(a) for a in body.get("ruleArguments", [])],
            "shouldApplyNormalization": bool(body.get("shouldApplyNormalization", False)),
        }
        return httpx.Response(204)

    def _rule_delete(self, *, type: str, name: str, rule: str, **_: Any) -> httpx.Response:
        o = self._type(type)
        held = self.rules.get(o.name, {}).get(name, {})
        if rule not in held:
            raise _fail(404, "OBJECT_NOT_FOUND", f"no {rule} rule on {name}")
        del held[rule]
        return httpx.Response(204)

    # -- associations v4 (DOMAIN.md §6) -------------------------------------------------

    def _pair(self, from_: str, ident: Any, to: str, to_id: Any) -> tuple[int, str, int, bool]:
        """(subscription id, other object name, other id, whether the path starts at the
        subscription); 404 when a side does not exist; 400 for a pair the fake does not
        relate (only subscriptions' associations are kept)."""
        a, b = self._type(from_), self._type(to)
        if self._live(a.name, ident) is None:
            raise _not_found(a, ident)
        if self._live(b.name, to_id) is None:
            raise _not_found(b, to_id)
        if a.name == "subscriptions" and b.name != "subscriptions":
            return int(ident), b.name, int(to_id), True
        if b.name == "subscriptions" and a.name != "subscriptions":
            return int(to_id), a.name, int(ident), False
        raise _bad(f"the fake relates subscriptions only, not {a.name} and {b.name}")

    def _types_wire(
        self, type_ids: Iterable[int], forward: bool, other: str
    ) -> list[dict[str, Any]]:
        pair = TYPE_IDS.get(other)
        found = []
        for t in sorted(type_ids):
            shown = t
            if not forward and pair is not None and t == pair[0]:
                shown = pair[1]
            hubspot = pair is not None and t == pair[0]
            found.append(
                {
                    "category": "HUBSPOT_DEFINED" if hubspot else "USER_DEFINED",
                    "typeId": shown,
                    "label": None,
                }
            )
        return found

    def _assoc_list(self, *, id: str, params: httpx.QueryParams, **args: Any) -> httpx.Response:
        a, b = self._type(args["from"]), self._type(args["to"])
        if self._live(a.name, id) is None:
            raise _not_found(a, id)
        limit = _int(params.get("limit", "500"), "limit")
        if not 1 <= limit <= 500:
            raise _bad("limit must be between 1 and 500")
        after = _int(params.get("after", "0"), "after")
        rows = self._assoc_rows(a, int(id), b)
        page = [r for r in rows if int(r["toObjectId"]) > after][:limit]
        body: dict[str, Any] = {"results": page}
        if page and page[-1] is not rows[-1]:
            body["paging"] = {"next": {"after": page[-1]["toObjectId"]}}
        return _json(200, body)

    def _assoc_rows(self, a: ObjectType, ident: int, b: ObjectType) -> list[dict[str, Any]]:
        rows = []
        if a.name == "subscriptions":
            for n, i in self._of_sub.get(ident, ()):
                types = self.links[(ident, n, i)]
                if n == b.name and self._live(n, i) is not None:
                    rows.append(
                        {"toObjectId": str(i), "associationTypes": self._types_wire(types, True, n)}
                    )
        elif b.name == "subscriptions":
            for s in self._of_other.get((a.name, ident), ()):
                n, types = a.name, self.links[(s, a.name, ident)]
                if self._live("subscriptions", s) is not None:
                    rows.append(
                        {
                            "toObjectId": str(s),
                            "associationTypes": self._types_wire(types, False, n),
                        }
                    )
        rows.sort(key=lambda r: int(r["toObjectId"]))
        return rows

    def _assoc_put(self, *, id: str, to_id: str, body: Any, **args: Any) -> httpx.Response:
        sub, other, other_id, forward = self._pair(args["from"], id, args["to"], to_id)
        if not isinstance(body, list) or not body:
            raise _bad("the body is [{associationCategory, associationTypeId}]")
        pair = TYPE_IDS.get(other)
        added = set()
        for spec in body:
            if not isinstance(spec, Mapping) or not isinstance(spec.get("associationTypeId"), int):
                raise _bad("each association type has associationCategory and associationTypeId")
            type_id = spec["associationTypeId"]
            if pair is not None and not forward and type_id == pair[1]:
                type_id = pair[0]
            elif (
                pair is not None
                and type_id not in pair
                and spec.get("associationCategory") == "HUBSPOT_DEFINED"
            ):
                raise _bad(
                    f"association type {type_id} is not defined between subscriptions and {other}"
                )
            added.add(type_id)
        self._link(sub, other, other_id, added)
        a, b = self._type(args["from"]), self._type(args["to"])
        return _json(
            201,
            {
                "fromObjectTypeId": a.type_id,
                "fromObjectId": int(id),
                "toObjectTypeId": b.type_id,
                "toObjectId": int(to_id),
                "labels": [],
            },
        )

    def _assoc_default(self, *, id: str, to_id: str, **args: Any) -> httpx.Response:
        sub, other, other_id, _forward = self._pair(args["from"], id, args["to"], to_id)
        pair = TYPE_IDS.get(other)
        if pair is None:
            raise _bad(f"no default association between subscriptions and {other}")
        self._link(sub, other, other_id, {pair[0]})
        stamp = iso_datetime(dt.datetime.now(dt.UTC))
        a, b = self._type(args["from"]), self._type(args["to"])
        return _json(
            200,
            {
                "status": "COMPLETE",
                "startedAt": stamp,
                "completedAt": stamp,
                "results": [
                    {
                        "from": {"id": id},
                        "to": {"id": to_id},
                        "associationSpec": {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": pair[0],
                        },
                        "fromObjectTypeId": a.type_id,
                        "toObjectTypeId": b.type_id,
                    }
                ],
            },
        )

    def _assoc_delete(self, *, id: str, to_id: str, **args: Any) -> httpx.Response:
        a, b = self._type(args["from"]), self._type(args["to"])
        if a.name == "subscriptions":
            key = (int(id), b.name, int(to_id))
        else:
            key = (int(to_id), a.name, int(id))
        if self.links.pop(key, None) is not None:  # HubSpot answers 204 either way
            self._of_sub[key[0]].discard(key[1:])
            self._of_other[key[1:]].discard(key[0])
        return httpx.Response(204)

    def _assoc_batch_read(self, *, body: Any, **args: Any) -> httpx.Response:
        a, b = self._type(args["from"]), self._type(args["to"])
        inputs = self._inputs(body, ASSOCIATION_BATCH)
        results, missing = [], []
        for item in inputs:
            ident = str(item.get("id"))
            if self._live(a.name, ident) is None:
                missing.append(ident)
                continue
            after = _int(str(item.get("after") or "0"), "after")
            rows = [r for r in self._assoc_rows(a, int(ident), b) if int(r["toObjectId"]) > after]
            if rows:
                page = rows[: self.association_page]
                result: dict[str, Any] = {"from": {"id": ident}, "to": page}
                if len(rows) > len(page):
                    result["paging"] = {"next": {"after": page[-1]["toObjectId"]}}
                results.append(result)
            else:
                missing.append(ident)  # HubSpot reports records without associations as errors
        stamp = iso_datetime(dt.datetime.now(dt.UTC))
        found: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": stamp,
            "completedAt": stamp,
        }
        if not missing:
            return _json(200, found)
        found["numErrors"] = len(missing)
        found["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                "message": f"No {b.name} is associated with {a.name} {i}.",
                "context": {"fromObjectId": [i], "ids": [i]},
            }
            for i in missing
        ]
        return _json(207, found)

    # -- Lists API (DOMAIN.md §7; tests.fakehub.lists) --------------------------------------

    def _list_test(self, o: ObjectType, branch: Any) -> Callable[[Mapping[str, str]], bool]:
        try:
            return compile_branch(branch, self.props[o.name], int(self.wall() * 1000))
        except BadBranch as exc:
            raise _bad(str(exc)) from None

    def _list_matches(self, o: ObjectType, branch: Any) -> list[int]:
        test = self._list_test(o, branch)
        return sorted(
            r.id
            for r in self.records[o.name].values()
            if not r.archived and test(self._searchable(r))
        )

    def _list_wire(self, found: FakeList) -> dict[str, Any]:
        o = self._type(found.object_type_id)
        size = len(self._list_ids(found, o))
        body: dict[str, Any] = {
            "listId": str(found.id),
            "name": found.name,
            "objectTypeId": found.object_type_id,
            "processingType": found.processing,
            "processingStatus": "COMPLETE",
            "createdAt": iso_datetime(_moment(found.created_ms)),
            "updatedAt": iso_datetime(_moment(found.updated_ms)),
            "additionalProperties": {"hs_list_size": str(size)},
            "size": size,
        }
        if found.branch is not None:
            body["filterBranch"] = found.branch
        return body

    def _list_ids(self, found: FakeList, o: ObjectType) -> list[int]:
        if found.processing == "DYNAMIC":
            return self._list_matches(o, found.branch)
        live = self.records[o.name]
        return sorted(i for i in found.members if i in live and not live[i].archived)

    def _list_create(self, *, body: Any, **_: Any) -> httpx.Response:
        if not isinstance(body, Mapping):
            raise _bad("the body is a list definition")
        missing = [k for k in ("name", "objectTypeId", "processingType") if not body.get(k)]
        if missing:
            raise _bad(f"missing required fields: {', '.join(missing)}")
        if body["processingType"] not in PROCESSING:
            raise _bad(f"processingType: one of {', '.join(PROCESSING)}")
        o = self._type(str(body["objectTypeId"]))
        if any(
            x.name == body["name"] and x.object_type_id == o.type_id for x in self.lists.values()
        ):
            raise _fail(
                409, "OBJECT_ALREADY_EXISTS", f"A list named '{body['name']}' already exists."
            )
        branch = body.get("filterBranch")
        if body["processingType"] == "MANUAL":
            if branch is not None:
                raise _bad("a MANUAL list has no filterBranch")
        elif branch is None:
            raise _bad(f"a {body['processingType']} list needs a filterBranch")
        ms = self._now_ms()
        made = FakeList(
            self.exports._next,
            str(body["name"]),
            o.type_id,
            str(body["processingType"]),
            branch,
            ms,
            ms,
        )
        self.exports._next += 1  # one id sequence for tasks and lists: never confused
        if made.processing == "SNAPSHOT":
            made.members = dict.fromkeys(self._list_matches(o, branch), ms)
        elif branch is not None:
            self._list_test(o, branch)  # a DYNAMIC list's filters are checked now
        self.lists[made.id] = made
        return _json(200, {"list": self._list_wire(made)})

    def _the_list(self, list_id: str) -> FakeList:
        found = self.lists.get(int(list_id))
        if found is None:
            raise _fail(404, "OBJECT_NOT_FOUND", f"List {list_id} does not exist.")
        return found

    def _list_get(self, *, list_id: str, **_: Any) -> httpx.Response:
        return _json(200, {"list": self._list_wire(self._the_list(list_id))})

    def _list_by_name(self, *, ot: str, name: str, **_: Any) -> httpx.Response:
        o = self._type(ot)
        for found in self.lists.values():
            if found.name == name and found.object_type_id == o.type_id:
                return _json(200, {"list": self._list_wire(found)})
        raise _fail(404, "OBJECT_NOT_FOUND", f"List {name} does not exist.")

    def _list_delete(self, *, list_id: str, **_: Any) -> httpx.Response:
        self._the_list(list_id)
        del self.lists[int(list_id)]
        return httpx.Response(204)

    def _list_filters(self, *, list_id: str, body: Any, **_: Any) -> httpx.Response:
        found = self._the_list(list_id)
        if found.processing != "DYNAMIC":
            raise _bad(f"the filters of a {found.processing} list cannot change")
        branch = body.get("filterBranch") if isinstance(body, Mapping) else None
        self._list_test(self._type(found.object_type_id), branch)
        found.branch, found.updated_ms = branch, self._now_ms()
        return _json(200, {"updatedList": self._list_wire(found)})

    def _list_members(self, *, list_id: str, params: httpx.QueryParams, **_: Any) -> httpx.Response:
        found = self._the_list(list_id)
        limit = _int(params.get("limit", "100"), "limit")
        if not 1 <= limit <= 250:
            raise _bad("limit must be between 1 and 250")
        after = params.get("after")
        ids = self._list_ids(found, self._type(found.object_type_id))
        if after is not None:
            start = _int(after, "after")
            ids = [i for i in ids if i > start]
        page = ids[:limit]
        stamp = iso_datetime(_moment(found.updated_ms))
        body: dict[str, Any] = {
            "results": [
                {
                    "recordId": str(i),
                    "membershipTimestamp": iso_datetime(_moment(found.members[i]))
                    if i in found.members
                    else stamp,
                }
                for i in page
            ]
        }
        if len(ids) > limit:
            body["paging"] = {"next": {"after": str(page[-1])}}
        return _json(200, body)

    def _list_change(self, *, list_id: str, change: str, body: Any, **_: Any) -> httpx.Response:
        found = self._the_list(list_id)
        if found.processing == "DYNAMIC":
            raise _bad("a DYNAMIC list's members come from its filters")
        if not isinstance(body, list):
            raise _bad("the body is an array of record ids")
        o = self._type(found.object_type_id)
        ids = [str(i) for i in body]
        known = [i for i in ids if self._live(o.name, i) is not None]
        missing = [i for i in ids if i not in known]
        ms = self._now_ms()
        if change == "add":
            added = [i for i in known if int(i) not in found.members]
            found.members.update(dict.fromkeys((int(i) for i in added), ms))
            return _json(200, {"recordIdsAdded": added, "recordsIdsMissing": missing})
        removed = [i for i in known if found.members.pop(int(i), None) is not None]
        return _json(200, {"recordIdsRemoved": removed, "recordIdsMissing": missing})

    # -- CRM exports (DOMAIN.md §5; tests.fakehub.exports) ----------------------------------

    def _export_start(self, *, body: Any, **_: Any) -> httpx.Response:
        problem = self.exports.validate(body)
        if problem is not None:
            raise _bad(problem)
        self._type(str(body["objectType"]))
        task = self.exports.start(body, self._now_ms())
        return _json(202, {"id": str(task.id), "links": {}})

    def _task(self, task: str) -> Any:
        found = self.exports.tasks.get(int(task))
        if found is None:
            raise _fail(404, "OBJECT_NOT_FOUND", f"no export task {task}")
        return found

    def _export_status(self, *, task: str, base: str, **_: Any) -> httpx.Response:
        return _json(200, self.exports.poll(self._task(task), self._now_ms(), base))

    def _export_get(self, *, task: str, **_: Any) -> httpx.Response:
        found = self._task(task)
        state = {"PENDING": "ENQUEUED", "PROCESSING": "PROCESSING", "COMPLETE": "DONE"}
        body: dict[str, Any] = {
            "id": str(found.id),
            "exportState": state[found.state],
            "exportName": found.request.get("exportName"),
            "objectType": found.request.get("objectType"),
        }
        if found.state == "COMPLETE":
            body["recordCount"] = found.record_count
        return _json(200, body)

    # -- serving --------------------------------------------------------------------------

    @contextmanager
    def serve(self) -> Iterator[str]:
        """A threaded HTTP server on 127.0.0.1 (a free port) answering with ``handle``;
        yields its base URL (``http://127.0.0.1:PORT``)."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                content = self.rfile.read(length) if length else b""
                headers = [(k, v) for k, v in self.headers.items() if k.lower() != "host"]
                request = httpx.Request(
                    self.command,
                    f"http://{self.headers.get('host')}{self.path}",
                    headers=headers,
                    content=content,
                )
                try:
                    response = fake._handle(request)
                except _Timeout:
                    time.sleep(fake.timeout_delay)
                    self.close_connection = True
                    return
                data = response.read()
                self.send_response(response.status_code)
                for key, value in response.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # quiet (and never the token: the request line has none)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


# The valid type/fieldType pairs of DOMAIN.md §4.
VALID_PAIRS: dict[str, set[str]] = {
    "bool": {"booleancheckbox", "calculation_equation"},
    "enumeration": {"booleancheckbox", "checkbox", "radio", "select", "calculation_equation"},
    "date": {"date"},
    "datetime": {"date"},
    "string": {"text", "textarea", "file", "html", "phonenumber", "calculation_equation"},
    "number": {"number", "calculation_equation"},
}


def _option(given: Any, order: int) -> dict[str, Any]:
    if not isinstance(given, Mapping) or "label" not in given or "value" not in given:
        raise _bad("an option has a label and a value")
    return {
        "label": str(given["label"]),
        "value": str(given["value"]),
        "description": str(given.get("description", "")),
        "displayOrder": int(given.get("displayOrder", order)),
        "hidden": bool(given.get("hidden", False)),
    }


def _conflict(ident: int, status: str | None, action: str, allowed: str) -> _Answer:
    return _fail(
        409,
        "CONFLICT",
        f"Cannot {action} subscription {ident}: it is {status}; {allowed} can be {action}d",
        context={"status": [status or ""]},
    )


def _moment(ms: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=ms)


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _bad(f"{name} must be an integer; got {text!r}") from None
