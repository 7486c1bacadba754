"""A small in-process HubSpot for the client's and the writes' tests and the remote cancel
benchmark, until F's ``tests/fakehub`` (the whole API) is on main: subscriptions by id
(``GET``, ``PATCH``, ``DELETE``, ``POST`` create, ``batch/read|update|archive``), line items
``PATCH``, v4 association ``PUT``, the lifecycle ``cancel``/``pause``/``unpause``.

It enforces the tier's budget (a sliding window of 10 s: a request over it is answered 429
with ``Retry-After``), sends HubSpot's rate-limit headers, and injects faults at ``faults``
of the requests: 429, 500/502/503 or ``httpx.ReadTimeout``, half of the 5xx and timeouts
*after* the change was applied (a lost answer). ``log`` holds every request (time, method,
path, status); ``applied`` counts each lifecycle change carried out per subscription.
"""

from __future__ import annotations

import json
import random
import re
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

BUDGETS = {"free": 100, "starter": 100, "professional": 190, "enterprise": 190}
_LIFECYCLE = re.compile(
    r"^/payments-subscriptions/v1/subscriptions/crm/(\d+)/(cancel|pause|unpause)$"
)
_OBJECT = re.compile(r"^/crm/v3/objects/subscriptions/(\d+)$")
_LINE_ITEM = re.compile(r"^/crm/v3/objects/line_items/(\d+)$")
_ASSOC = re.compile(r"^/crm/v4/objects/subscriptions/(\d+)/associations/(\w+)/(\d+)$")
_TARGET = {"cancel": ("canceled", ("active", "past_due", "unpaid", "paused", "scheduled")),
           "pause": ("paused", ("active", "past_due", "unpaid")),
           "unpause": ("active", ("paused",))}  # fmt: skip


@dataclass
class Logged:
    t: float
    method: str
    path: str
    status: int  # 0: timed out
    body: Any = None


class MiniHub:
    def __init__(
        self,
        *,
        clock: Callable[[], float],
        tier: str = "professional",
        faults: float = 0.0,
        seed: int = 0,
        token: str = "pat-test-token",
    ) -> None:
        self.clock = clock
        self.budget = BUDGETS[tier]
        self.faults = faults
        self.random = random.Random(seed)
        self.token = token
        self.records: dict[int, dict[str, str]] = {}
        self.line_items: dict[int, dict[str, str]] = {}
        self.associations: set[tuple[int, str, int, int]] = set()
        self.archived: set[int] = set()
        self.applied: Counter[tuple[int, str]] = Counter()
        self.log: list[Logged] = []
        self.window: deque[float] = deque()
        self._lock = threading.Lock()
        self._next_id = 1
        # Faults forced on the next requests, in order, before any random ones: "429",
        # "5xx" or "timeout" (before HubSpot acts), "5xx-after" or "timeout-after" (a lost
        # answer), "" (none).
        self.script: deque[str] = deque()
        self.transport = httpx.MockTransport(self.handle)

    def add(self, **props: str) -> int:
        with self._lock:
            sid = self._next_id
            self._next_id += 1
            self.records[sid] = {"hs_object_id": str(sid), **props}
            return sid

    # -- the handler ------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            now = self.clock()
            body = json.loads(request.content) if request.content else None
            entry = Logged(now, request.method, request.url.path, 0, body)
            self.log.append(entry)
            response, lost = self._answer(request, now, body)
            entry.status = response.status_code if response is not None else 0
        if response is None:
            raise httpx.ReadTimeout("timed out", request=request)
        return response if not lost else response

    def _answer(
        self, request: httpx.Request, now: float, body: Any
    ) -> tuple[httpx.Response | None, bool]:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(
                401, "INVALID_AUTHENTICATION", "Authentication credentials not found"
            ), False
        window = self.window
        while window and window[0] <= now - 10.0:
            window.popleft()
        window.append(now)
        headers = {
            "X-HubSpot-RateLimit-Max": str(self.budget),
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Remaining": str(max(0, self.budget - len(window))),
        }
        if len(window) > self.budget:
            return _error(429, "RATE_LIMITS", "You have reached your ten_secondly_rolling limit.",
                          headers={**headers, "Retry-After": "1"}), False  # fmt: skip
        if self.script:
            kind = self.script.popleft()
            after = kind.endswith("-after")
            kind = kind.removesuffix("-after")
        else:
            fault = self.random.random() < self.faults
            kind = self.random.choice(("429", "5xx", "timeout")) if fault else ""
            after = self.random.random() < 0.5
        if kind == "429":
            return _error(429, "RATE_LIMITS", "injected", headers={"Retry-After": "1"}), False
        if kind and not after:  # failed before HubSpot did anything
            return (
                None
                if kind == "timeout"
                else _error(self.random.choice((500, 502, 503)), "INTERNAL", "injected")
            ), False
        response = self._route(request, body)
        response.headers.update(headers)
        if kind:  # applied, then the answer was lost
            return (None if kind == "timeout" else _error(503, "INTERNAL", "injected")), True
        return response, False

    def _route(self, request: httpx.Request, body: Any) -> httpx.Response:
        path, method = request.url.path, request.method
        if m := _LIFECYCLE.match(path):
            return self._lifecycle(int(m[1]), m[2], body)
        if m := _OBJECT.match(path):
            sid = int(m[1])
            if sid not in self.records:
                return _error(404, "OBJECT_NOT_FOUND", "Object not found.")
            if method == "GET":
                return httpx.Response(200, json=self._record(sid))
            if method == "PATCH":
                self.records[sid].update(body["properties"])
                return httpx.Response(200, json=self._record(sid))
            if method == "DELETE":
                del self.records[sid]
                self.archived.add(sid)
                return httpx.Response(204)
        if m := _LINE_ITEM.match(path):
            self.line_items.setdefault(int(m[1]), {}).update(body["properties"])
            return httpx.Response(200, json={"id": m[1]})
        if (m := _ASSOC.match(path)) and method == "PUT":
            for label in body:
                self.associations.add((int(m[1]), m[2], int(m[3]), label["associationTypeId"]))
            return httpx.Response(201, json={})
        if path == "/crm/v3/objects/subscriptions" and method == "POST":
            sid = self._next_id
            self._next_id += 1
            self.records[sid] = {"hs_object_id": str(sid), **body["properties"]}
            return httpx.Response(201, json=self._record(sid))
        if path.startswith("/crm/v3/objects/subscriptions/batch/"):
            return self._batch(path.rsplit("/", 1)[1], body)
        return _error(404, "OBJECT_NOT_FOUND", f"no route {method} {path}")

    def _record(self, sid: int) -> dict[str, Any]:
        return {"id": str(sid), "properties": dict(self.records[sid]), "archived": False}

    def _lifecycle(self, sid: int, verb: str, body: Any) -> httpx.Response:
        if sid not in self.records:
            return _error(404, "OBJECT_NOT_FOUND", "Object not found.")
        if verb != "cancel" and not isinstance(body, dict):
            return _error(400, "VALIDATION_ERROR", "a JSON body is required")
        if verb == "unpause" and not isinstance(body.get("proposedNextBillingDate"), int):
            return _error(400, "VALIDATION_ERROR", "proposedNextBillingDate is required")
        target, sources = _TARGET[verb]
        record = self.records[sid]
        if record.get("hs_status") not in sources:
            return _error(
                400,
                "VALIDATION_ERROR",
                f"cannot {verb} a subscription that is {record.get('hs_status')}",
            )
        record["hs_status"] = target
        if verb == "pause":
            record["hs_pause_reason"] = (body or {}).get("pauseReason", "")
        self.applied[sid, verb] += 1
        return httpx.Response(200, json=self._record(sid))

    def _batch(self, action: str, body: Any) -> httpx.Response:
        if len(body["inputs"]) > 100:
            return _error(400, "VALIDATION_ERROR", "at most 100 inputs")
        results, missing = [], []
        for item in body["inputs"]:
            sid = int(item["id"])
            if sid not in self.records:
                missing.append(item["id"])
                continue
            if action == "update":
                self.records[sid].update(item["properties"])
            if action == "archive":
                del self.records[sid]
                self.archived.add(sid)
                continue
            results.append(self._record(sid))
        if action == "archive":
            return httpx.Response(204)
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if not missing:
            return httpx.Response(200, json=answer)
        answer["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND",
                             "message": "Could not get some SUBSCRIPTION objects",
                             "context": {"ids": missing}}]  # fmt: skip
        return httpx.Response(207, json=answer)


def _error(
    status: int, category: str, message: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    body = {"status": "error", "message": message, "category": category,
            "correlationId": "00000000-0000-0000-0000-000000000000"}  # fmt: skip
    return httpx.Response(status, json=body, headers=headers)


def max_in_window(times: list[float], window: float = 10.0) -> int:
    """The most requests of ``times`` (sorted) within any half-open window of that length."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best
