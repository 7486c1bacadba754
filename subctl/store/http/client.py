"""``HubSpotClient``: HubSpot's REST API over httpx (sync), paced, retried and mapped to
subctl's typed errors. The only module that speaks HTTP; the record store (``records.py``)
and the writes (``writes.py``) call it.

**Pacing.** One ``Pacer`` per budget, shared by every thread of the client: the account's
budget (190 requests per 10 s on Professional and Enterprise, 100 on Free and Starter) and
search's own (5 per second; a search takes from both). A pacer is a sliding-window log: a
request is sent only when fewer than the budget were sent in the last window, so no window of
the request log ever holds more than the budget (a token bucket refilling continuously would
allow up to twice its size in one window), over a window a little longer than HubSpot's
(``SAFETY``) for latency jitter. HubSpot's ``X-HubSpot-RateLimit-Remaining``
corrects the log when another client spends the same budget: below a reserve, the pacer
counts the requests it did not see (a 429 for the account's budget says 0 left, and every
thread slows down); the request answered 429 is sent again after its ``Retry-After``.
The clock and the sleep are injected, so the tests and the benchmark run on a virtual clock;
the pacer never sleeps holding its lock.

**Retries** (tenacity): a 429, and a request that was never sent (a connect timeout), are
retried for every call: HubSpot did nothing. A refused connection or a name that does not
resolve fails fast (``CONNECT_ATTEMPTS``, a fraction of a second in all): waiting does not
make a wrong base URL right, and a user staring at a blank screen for minutes is worse than
exit 6 naming the URL. A wait longer than ``NOTICE_AFTER`` is said once (``notice``, stderr
through ``output``: "HubSpot answered 503; retrying in 4 s..."), whether stderr is a TTY or
not: a script's log shows why a run was slow. A 5xx, a read timeout or a
broken connection *after* the request was sent are retried, with exponential backoff and
jitter, only for idempotent calls (GET, batch read, search, PATCH of values, PUT, DELETE);
for the others (create, lifecycle cancel/pause/unpause) the change may have been applied, so
``InDoubt`` is raised and the caller re-reads the record before deciding (``writes.py``).

**Errors**: 401 ``AuthError`` "HubSpot rejected the token"; 403 ``AuthError`` naming the
missing scopes; 404 ``NotFound``; 409 ``Conflict``; 400 ``UsageError`` with HubSpot's
message; unreachable or 5xx after the retries ``StoreUnavailable`` (exit 6). The token is held
by an ``httpx.Auth`` whose repr hides it, httpx masks ``Authorization`` in its own reprs, every
httpx exception is replaced (``from None``: no request object in a traceback's chain) and no
header is ever logged.

**Libraries.** tenacity for the retries: injectable ``sleep``, custom ``wait`` (exponential
backoff with equal jitter, or Retry-After) and ``retry`` predicates; actively maintained; the
library stamina wraps (stamina's own API hides the sleep behind a global testing switch).
The pacer is written here: pyrate-limiter 4 was read and fits badly (``time.sleep`` imported
at module level, so no virtual clock for blocking waits; a background leak thread; no way to
feed HubSpot's headers back), and the sliding log it would give us is thirty lines.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import tenacity

from subctl.errors import (
    AuthError,
    Conflict,
    InDoubt,
    NotFound,
    StoreUnavailable,
    SubctlError,
    UsageError,
)

DEFAULT_BASE_URL = "https://api.hubapi.com"
WINDOW = 10.0  # seconds of HubSpot's per-account budget
# Paced over a slightly longer window: two requests sent 10 s apart may reach HubSpot less
# than 10 s apart when their latencies differ. HubSpot's log stays within the budget while
# latencies differ by less than this (benchmarks/remote_cancel.py --latency: 0.4 s +-50%
# keeps it, 0.6 s +-50% has 191 in one window); it costs 5% of the budget (10/10.5).
SAFETY = 0.5
TIER_BUDGETS = {"free": 100, "starter": 100, "professional": 190, "enterprise": 190}
SEARCH_BUDGET = 5  # searches per second per account
BATCH_SIZE = 100
LATENCY = 0.4  # seconds a request is assumed to take when sizing the thread pool

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class Pacer:
    """A sliding-window log of at most ``limit`` requests per ``window`` seconds, shared by
    threads. ``acquire`` blocks (on the injected sleep, never holding the lock) until a
    request may go, and logs it."""

    def __init__(self, limit: int, window: float, clock: Clock, sleep: Sleep) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def _take(self, now: float) -> float | None:
        """Log a request sent at ``now`` (None), or how long to wait before trying again."""
        sent = self._sent
        while sent and sent[0] <= now - self.window:
            sent.popleft()
        if len(sent) < self.limit:
            sent.append(now)
            return None
        # never 0: float rounding must not let a request out unlogged
        return max(sent[len(sent) - self.limit] + self.window - now, 1e-6)

    def acquire(self) -> None:
        while True:
            with self._lock:
                wait = self._take(self.clock())
            if wait is None:
                return
            self.sleep(wait)

    def observe(self, remaining: int, reserve: int) -> None:
        """HubSpot says ``remaining`` requests are left in its window. Below ``reserve``, and
        fewer than this log allows, someone else spends the budget too: log the difference
        as sent now, so the pacer slows down instead of running into 429s."""
        with self._lock:
            now = self.clock()
            while self._sent and self._sent[0] <= now - self.window:
                self._sent.popleft()
            unseen = self.limit - len(self._sent) - remaining
            if remaining < reserve and unseen > 0:
                self._sent.extend([now] * unseen)


@dataclass
class BatchResult:
    """A batch call's results (every 100-input request's) and its per-item errors (207):
    HubSpot's ``{status, category, message, context}``."""

    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    def failed_ids(self) -> set[str]:
        """The ids the errors name (``context.ids``)."""
        found: set[str] = set()
        for error in self.errors:
            ids = (error.get("context") or {}).get("ids") or ()
            found.update(str(i) for i in ids)
        return found


class _Bearer(httpx.Auth):
    """The token, sent as ``Authorization: Bearer``; its repr never shows it."""

    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return "<token hidden>"


class _Retry(Exception):
    """An answer worth another attempt (raised inside the retry loop only)."""

    def __init__(
        self,
        error: SubctlError,
        *,
        sent: bool,
        retry_after: float | None = None,
        refused: bool = False,
        reason: str = "",
    ):
        super().__init__(error.message)
        self.error = error
        self.sent = sent  # HubSpot may have acted on it
        self.retry_after = retry_after
        self.refused = refused  # nothing listens there (refused, unknown name): fail fast
        self.reason = reason or error.message  # what the retry notice says happened


class HubSpotClient:
    """HubSpot's API for one profile: ``base_url`` (the EU data centre or a proxy need
    another), the private-app ``token``, the account ``tier`` (its rate limit)."""

    RATE_ATTEMPTS = 12  # 429s: cheap, HubSpot says when to come back
    FAULT_ATTEMPTS = 8  # 5xx and timeouts of idempotent calls
    BACKOFF_INITIAL = 0.5
    BACKOFF_MAX = 20.0
    CONNECT_ATTEMPTS = 3  # refused / unknown host: two quick retries (a restarting proxy)
    CONNECT_BACKOFF = 0.25  # seconds before the first of them, doubled for the second
    NOTICE_AFTER = 2.0  # a wait longer than this is said on stderr (once per client)

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        tier: str = "professional",
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        jitter: random.Random | None = None,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        if not token or not token.isascii() or any(c.isspace() for c in token):
            # never echoed: a malformed token is still a secret
            raise AuthError("the HubSpot token is malformed (empty, spaces or non-ASCII)")
        if tier not in TIER_BUDGETS:
            raise UsageError(f"unknown HubSpot tier {tier!r}: one of {', '.join(TIER_BUDGETS)}")
        self.tier = tier
        self.budget = TIER_BUDGETS[tier]
        self.clock = clock
        self.sleep = sleep
        self._random = jitter or random.Random()
        self.base_url = base_url.rstrip("/")
        self.notice = notice
        self._noticed = False  # said once per client: a batch's threads would repeat it
        self.pacer = Pacer(self.budget, WINDOW + SAFETY, clock, sleep)
        self.search_pacer = Pacer(SEARCH_BUDGET, 1.0 + SAFETY / 10, clock, sleep)
        self.transport = transport  # also for downloads that take no token (exports)
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=_Bearer(token),
            transport=transport,
            timeout=timeout,
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )

    @property
    def workers(self) -> int:
        """Threads of a remote batch (``store.unit.ItemByItem``): enough to keep the budget
        busy when a request takes ``LATENCY`` seconds, twice over for the time items spend
        in retries' backoff and in re-reads (``benchmarks/remote_cancel.py --latency``)."""
        return max(2, math.ceil(self.budget / WINDOW * LATENCY * 2))

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1``: exponential, with equal jitter."""
        base = min(self.BACKOFF_MAX, self.BACKOFF_INITIAL * 2.0 ** (attempt - 1))
        return base / 2 + self._random.uniform(0, base / 2)

    # -- the calls -------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params, idempotent=True)

    def post(self, path: str, body: Any, *, idempotent: bool, search: bool = False) -> Any:
        return self.request("POST", path, body=body, idempotent=idempotent, search=search)

    def patch(self, path: str, body: Any, *, idempotent: bool = True) -> Any:
        return self.request("PATCH", path, body=body, idempotent=idempotent)

    def put(self, path: str, body: Any = None) -> Any:
        return self.request("PUT", path, body=body, idempotent=True)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path, idempotent=True)

    def pages(self, path: str, params: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """A GET list, page by page (``after``, sent only when the last page gave one)."""
        query = dict(params)
        while True:
            page = self.get(path, query) or {}
            yield list(page.get("results") or [])
            after = _next_after(page)
            if after is None:
                return
            query["after"] = after

    def search_pages(self, path: str, body: Mapping[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """A search, page by page (``after`` in the body)."""
        query = dict(body)
        while True:
            page = self.post(path, query, idempotent=True, search=True) or {}
            yield list(page.get("results") or [])
            after = _next_after(page)
            if after is None:
                return
            query["after"] = after

    def batch(
        self,
        path: str,
        inputs: Sequence[Any],
        *,
        idempotent: bool,
        extra: Mapping[str, Any] | None = None,
    ) -> BatchResult:
        """``POST path`` with ``{"inputs": [...], **extra}``, 100 inputs per request; a 207
        (some inputs failed) adds its ``errors`` and keeps the others' results."""
        result = BatchResult()
        for start in range(0, len(inputs), BATCH_SIZE):
            body = {"inputs": list(inputs[start : start + BATCH_SIZE]), **(extra or {})}
            answer = self.post(path, body, idempotent=idempotent) or {}
            result.results.extend(answer.get("results") or [])
            result.errors.extend(answer.get("errors") or [])
        return result

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HubSpotClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one request, paced and retried ----------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotent: bool,
        search: bool = False,
        shown: str | None = None,
    ) -> Any:
        """One call: its JSON answer (None for an empty one). Retried as the module says.
        ``shown``: what errors name instead of ``path`` (a path holding a token)."""
        label = shown or path
        limited = faults = refused = 0

        def retriable(exc: BaseException) -> bool:
            nonlocal limited, faults, refused
            if not isinstance(exc, _Retry):
                return False
            if exc.refused:
                refused += 1
                return refused < self.CONNECT_ATTEMPTS
            if exc.retry_after is not None or not exc.sent:
                limited += 1
                return limited < self.RATE_ATTEMPTS
            faults += 1
            return idempotent and faults < self.FAULT_ATTEMPTS

        def wait(state: tenacity.RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Retry) and exc.refused:
                return self.CONNECT_BACKOFF * 2.0 ** (refused - 1)
            if isinstance(exc, _Retry) and exc.retry_after is not None:
                delay = exc.retry_after
            else:
                delay = self.backoff(state.attempt_number)
            if isinstance(exc, _Retry):
                self._say_retry(exc.reason, delay)
            return delay

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(retriable),
            wait=wait,
            sleep=self.sleep,
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._once(method, path, params, body, search, label)
        except _Retry as exc:
            if exc.sent and not idempotent:
                raise InDoubt(
                    f"HubSpot did not confirm {method} {label} ({exc.error.message}); "
                    "it may have been applied",
                    hint="the record is read again to find out",
                ) from None
            raise exc.error from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _say_retry(self, reason: str, delay: float) -> None:
        if self.notice is None or delay <= self.NOTICE_AFTER or self._noticed:
            return
        self._noticed = True
        self.notice(f"{reason}; retrying in {math.ceil(delay)} s...")

    def _once(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Any,
        search: bool,
        label: str,
    ) -> Any:
        self.pacer.acquire()
        if search:
            self.search_pacer.acquire()
        content = None if body is None else json.dumps(body, separators=(",", ":"))
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            response = self._http.request(
                method, path, params=dict(params) if params else None,
                content=content, headers=headers,
            )  # fmt: skip
        except httpx.ConnectError as exc:  # refused, unknown host, TLS handshake: fail fast
            raise _Retry(_unreachable(exc, self.base_url), sent=False, refused=True) from None
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise _Retry(
                _unreachable(exc, self.base_url), sent=False,
                reason=f"HubSpot did not accept the connection in time ({type(exc).__name__})",
            ) from None  # fmt: skip
        except httpx.TimeoutException as exc:
            error = StoreUnavailable(f"HubSpot did not answer in time ({type(exc).__name__})")
            raise _Retry(error, sent=True) from None
        except httpx.TransportError as exc:
            error = StoreUnavailable(f"the connection to HubSpot failed ({type(exc).__name__})")
            raise _Retry(error, sent=True) from None
        self._observe(response, search)
        if response.status_code < 400:
            return _json(response)
        raise self._failure(response, method, label)

    def _observe(self, response: httpx.Response, search: bool) -> None:
        remaining = response.headers.get("X-HubSpot-RateLimit-Remaining")
        if remaining is None or search:
            return
        try:
            left = int(remaining)
        except ValueError:
            return
        self.pacer.observe(left, reserve=max(1, self.budget // 10))

    def _failure(self, response: httpx.Response, method: str, path: str) -> Exception:
        status = response.status_code
        data = _json_or_none(response)
        message = str(data.get("message") or "") if isinstance(data, dict) else ""
        if status == 429:
            wait = _retry_after(response.headers.get("Retry-After"))
            return _Retry(
                StoreUnavailable("HubSpot's rate limit was hit too often; try again later"),
                sent=False, retry_after=wait, reason="HubSpot answered 429 (rate limit)",
            )  # fmt: skip
        if status >= 500:
            return _Retry(StoreUnavailable(f"HubSpot answered {status} to {method} {path}"),
                          sent=True, reason=f"HubSpot answered {status}")  # fmt: skip
        if status == 401:
            return AuthError(
                "HubSpot rejected the token",
                hint="check the profile's token (subctl profile show)",
            )
        if status == 403:
            scopes = _missing_scopes(data)
            if scopes:
                return AuthError(
                    f"the HubSpot token lacks the scope{'s' if len(scopes) > 1 else ''} "
                    + ", ".join(scopes),
                    hint="add them to the private app, then use its new token",
                )
            return AuthError(f"HubSpot refused {method} {path}: {message or 'forbidden'}")
        if status == 404:
            return NotFound(message or f"HubSpot has no {path}")
        if status == 409:
            return Conflict(f"HubSpot: {message or 'conflict'}")
        return UsageError(f"HubSpot: {message or f'{status} for {method} {path}'}")


def _next_after(page: Mapping[str, Any]) -> str | None:
    after = ((page.get("paging") or {}).get("next") or {}).get("after")
    return str(after) if after not in (None, "") else None


def _json(response: httpx.Response) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise StoreUnavailable(f"HubSpot answered {response.status_code} without JSON") from None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json() if response.content else None
    except ValueError:
        return None


def _missing_scopes(data: Any) -> list[str]:
    if not isinstance(data, dict):
        return []
    found: list[str] = []
    for context in [data.get("context") or {}] + [
        e.get("context") or {} for e in data.get("errors") or [] if isinstance(e, dict)
    ]:
        scopes = context.get("missingScopes") or context.get("requiredScopes") or []
        found.extend(str(s) for s in scopes if str(s) not in found)
    return found


def _retry_after(value: str | None) -> float:
    """``Retry-After`` in seconds (HubSpot sends seconds; an HTTP date is accepted too);
    one second when missing or unreadable."""
    if value is None:
        return 1.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    return max(0.0, when.timestamp() - time.time())


def _unreachable(exc: httpx.HTTPError, base_url: str) -> StoreUnavailable:
    return StoreUnavailable(
        f"HubSpot is unreachable ({type(exc).__name__})",
        hint=f"check the network, or the profile's base URL {base_url} (subctl profile show)",
    )
