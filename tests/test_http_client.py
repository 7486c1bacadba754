"""``HubSpotClient`` against ``httpx.MockTransport`` handlers, on a virtual clock: pacing per
tier and for search, HubSpot's rate-limit headers, 429/Retry-After, retries only when safe,
error mapping, batches and 207, paging, and the token kept out of every message."""

from __future__ import annotations

import json
import logging
import random
import re
import traceback
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from subctl.errors import AuthError, Conflict, InDoubt, NotFound, StoreUnavailable, UsageError
from subctl.store.http.client import SAFETY, HubSpotClient
from tests.remote_cancel import max_in_window
from tests.vclock import VirtualClock

TOKEN = "pat-na1-secret-0123456789"
Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A transport that logs each request's virtual time and answers with ``handler``."""

    def __init__(self, clock: VirtualClock, handler: Handler) -> None:
        self.clock = clock
        self.handler = handler
        self.log: list[tuple[float, str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.log.append((self.clock(), request.method, request.url.path))
        return self.handler(request)


def make(handler: Handler, tier: str = "professional") -> tuple[HubSpotClient, Recorder]:
    clock = VirtualClock()
    recorder = Recorder(clock, handler)
    client = HubSpotClient(
        "https://api.example.test", TOKEN, tier=tier, transport=httpx.MockTransport(recorder),
        clock=clock, sleep=clock.sleep,
    )  # fmt: skip
    return client, recorder


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"id": "1"})


def error(status: int, **body: Any) -> Handler:
    return lambda request: httpx.Response(status, json={"status": "error", **body})


# -- pacing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("tier", "budget"), [("professional", 190), ("enterprise", 190),
                                               ("starter", 100), ("free", 100)])  # fmt: skip
def test_pacing_keeps_every_ten_second_window_within_the_tier_budget(
    tier: str, budget: int
) -> None:
    client, recorder = make(ok, tier)
    for _ in range(3 * budget + 7):
        client.get("/crm/v3/objects/subscriptions/1")
    times = [t for t, _, _ in recorder.log]
    assert max_in_window(times, 10.0) == budget
    # ...and uses it: the budget's worth of requests goes out each ten seconds (and the
    # safety margin for latency jitter), no slower
    assert times[-1] == pytest.approx(3 * (10.0 + SAFETY))


def test_search_has_its_own_budget_of_five_per_second_and_counts_in_the_account_budget() -> None:
    client, recorder = make(lambda r: httpx.Response(200, json={"results": []}))
    for _ in range(23):
        client.post("/crm/v3/objects/subscriptions/search", {"limit": 1}, idempotent=True,
                    search=True)  # fmt: skip
    times = [t for t, _, _ in recorder.log]
    assert max_in_window(times, 1.0) == 5
    assert times[-1] == pytest.approx(4 * (1.0 + SAFETY / 10))  # 23 searches: 5 a second
    assert len(client.pacer._sent) == 23


def test_a_low_remaining_header_slows_the_pacer_down() -> None:
    """Another client spends the same account budget: HubSpot says 3 are left, so the pacer
    waits for the window to pass instead of running into 429s."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={}, headers={"X-HubSpot-RateLimit-Remaining": "3",
                                                     "X-HubSpot-RateLimit-Max": "190"})  # fmt: skip

    client, recorder = make(handler)
    for _ in range(5):
        client.get("/x")
    times = [t for t, _, _ in recorder.log]
    assert times[:4] == [0.0, 0.0, 0.0, 0.0]  # up to the three HubSpot said were left
    assert times[4] == pytest.approx(10.0 + SAFETY)


# -- 429, 5xx, timeouts ----------------------------------------------------------------------


def sequence(*answers: Handler) -> Handler:
    """Answer with each handler in turn, then ``ok``."""
    queue = list(answers)
    return lambda request: (queue.pop(0) if queue else ok)(request)


def test_429_waits_for_retry_after_then_succeeds_for_any_request() -> None:
    def limited(request: httpx.Request) -> httpx.Response:
        body = {"category": "RATE_LIMITS", "message": "slow down"}
        return httpx.Response(429, headers={"Retry-After": "3"}, json=body)

    client, recorder = make(sequence(limited, limited))
    # not idempotent: a 429 means HubSpot did nothing, so it is safe to send again
    assert client.post("/payments-subscriptions/v1/subscriptions/crm/1/cancel", None,
                       idempotent=False) == {"id": "1"}  # fmt: skip
    assert [t for t, _, _ in recorder.log] == [0.0, 3.0, 6.0]


def test_a_429_with_no_budget_left_slows_every_request_down() -> None:
    """HubSpot's own 429 (the account's budget spent elsewhere) says 0 left: the pacer waits
    for the window, for every request, not just the one retried."""

    def spent(request: httpx.Request) -> httpx.Response:
        headers = {"Retry-After": "1", "X-HubSpot-RateLimit-Remaining": "0"}
        return httpx.Response(429, headers=headers, json={"category": "RATE_LIMITS"})

    client, recorder = make(sequence(ok, spent))
    client.get("/a")
    client.get("/b")
    client.get("/c")
    assert [t for t, _, _ in recorder.log] == [0.0, 0.0, 10.0 + SAFETY, 10.0 + SAFETY]


def test_5xx_of_an_idempotent_call_is_retried_with_growing_backoff() -> None:
    client, recorder = make(sequence(error(503), error(502), error(500)))
    assert client.get("/crm/v3/objects/subscriptions/1") == {"id": "1"}
    times = [t for t, _, _ in recorder.log]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(times) == 4
    # exponential with equal jitter: each wait in [half, whole] of 0.5, 1, 2 seconds
    for gap, base in zip(gaps, (0.5, 1.0, 2.0), strict=True):
        assert base / 2 <= gap <= base


def test_5xx_that_persists_ends_as_store_unavailable_exit_6() -> None:
    client, recorder = make(error(503, message="down"))
    with pytest.raises(StoreUnavailable) as caught:
        client.get("/crm/v3/objects/subscriptions/1")
    assert type(caught.value) is StoreUnavailable
    assert caught.value.exit_code == 6
    assert len(recorder.log) == HubSpotClient.FAULT_ATTEMPTS


@pytest.mark.parametrize("fault", ["503", "timeout", "broken"])
def test_a_lost_answer_to_a_non_idempotent_call_is_in_doubt_never_resent(fault: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if fault == "timeout":
            raise httpx.ReadTimeout("read timed out", request=request)
        if fault == "broken":
            raise httpx.RemoteProtocolError("server disconnected", request=request)
        return httpx.Response(503)

    client, recorder = make(handler)
    with pytest.raises(InDoubt) as caught:
        client.post("/payments-subscriptions/v1/subscriptions/crm/7/cancel", None,
                    idempotent=False)  # fmt: skip
    assert len(recorder.log) == 1
    assert caught.value.exit_code == 6
    assert "may have been applied" in caught.value.message


def test_a_timeout_of_an_idempotent_call_is_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ReadTimeout("read timed out", request=request)
        return ok(request)

    client, _ = make(handler)
    assert client.patch("/crm/v3/objects/subscriptions/1", {"properties": {"a": "b"}}) == {
        "id": "1"
    }
    assert len(calls) == 3


def test_a_request_never_sent_is_retried_even_when_not_idempotent() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused", request=request)
        return ok(request)

    client, _ = make(handler)
    client.post("/payments-subscriptions/v1/subscriptions/crm/1/pause", {}, idempotent=False)
    assert len(calls) == 2


def test_unreachable_is_exit_6_with_a_hint() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Name or service not known", request=request)

    client, recorder = make(handler)
    with pytest.raises(StoreUnavailable) as caught:
        client.get("/x")
    assert caught.value.message == "HubSpot is unreachable (ConnectError)"
    assert caught.value.hint == (
        "check the network, or the profile's base URL https://api.example.test"
        " (subctl profile show)"
    )
    # fails fast: two quick retries, under a second of waiting in all (not 12 over minutes)
    times = [t for t, _, _ in recorder.log]
    assert len(times) == HubSpotClient.CONNECT_ATTEMPTS == 3
    assert times[-1] - times[0] == pytest.approx(0.75)


def client_saying(handler: Handler) -> tuple[HubSpotClient, list[str]]:
    clock = VirtualClock()
    said: list[str] = []
    client = HubSpotClient(
        "https://api.example.test", TOKEN, transport=httpx.MockTransport(handler),
        clock=clock, sleep=clock.sleep, jitter=random.Random(7), notice=said.append,
    )  # fmt: skip
    return client, said


def test_a_long_retry_wait_is_said_once_a_short_one_never() -> None:
    answers = iter([503, 503, 503, 503, 200, 503, 503, 503, 503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(answers)
        return ok(request) if status == 200 else httpx.Response(status)

    client, said = client_saying(handler)
    client.get("/x")  # backoffs: ~0.4, ~0.8, ~1.6 (silent), then >2 s: said
    assert len(said) == 1
    assert re.fullmatch(r"HubSpot answered 503; retrying in [34] s\.\.\.", said[0]), said
    client.get("/x")  # the same waits again: said once per client, not per request
    assert len(said) == 1


def test_a_long_retry_after_is_said_and_a_short_one_is_not() -> None:
    waits = iter(["1", "9"])

    def handler(request: httpx.Request) -> httpx.Response:
        wait = next(waits, None)
        if wait is None:
            return ok(request)
        return httpx.Response(429, headers={"Retry-After": wait})

    client, said = client_saying(handler)
    client.get("/x")
    assert said == ["HubSpot answered 429 (rate limit); retrying in 9 s..."]


def test_a_refused_connection_says_nothing_and_fails_fast() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client, said = client_saying(handler)
    with pytest.raises(StoreUnavailable):
        client.get("/x")
    assert said == []


# -- errors --------------------------------------------------------------------------------


def test_401_is_exit_4_token_rejected() -> None:
    client, recorder = make(error(401, category="INVALID_AUTHENTICATION", message="bad token"))
    with pytest.raises(AuthError) as caught:
        client.get("/x")
    assert (caught.value.exit_code, caught.value.message) == (4, "HubSpot rejected the token")
    assert len(recorder.log) == 1


def test_403_names_the_missing_scopes() -> None:
    client, _ = make(error(403, category="MISSING_SCOPES", message="This app hasn't been granted "
                           "all required scopes", context={"missingScopes": [
                               "crm.objects.subscriptions.write"]}))  # fmt: skip
    with pytest.raises(AuthError) as caught:
        client.post("/payments-subscriptions/v1/subscriptions/crm/1/cancel", None,
                    idempotent=False)  # fmt: skip
    assert caught.value.exit_code == 4
    assert caught.value.message == (
        "the HubSpot token lacks the scope crm.objects.subscriptions.write"
    )


@pytest.mark.parametrize(
    ("status", "body", "kind", "message"),
    [
        (404, {"category": "OBJECT_NOT_FOUND", "message": "Object not found. objectId are "
               "usually numeric."}, NotFound, "Object not found. objectId are usually numeric."),
        (409, {"category": "CONFLICT", "message": "already canceled"}, Conflict,
         "HubSpot: already canceled"),
        (400, {"category": "VALIDATION_ERROR", "message": "Property values were not valid"},
         UsageError, "HubSpot: Property values were not valid"),
    ],
)  # fmt: skip
def test_error_mapping(status: int, body: dict[str, Any], kind: type, message: str) -> None:
    client, recorder = make(error(status, **body))
    with pytest.raises(kind) as caught:
        client.get("/crm/v3/objects/subscriptions/1")
    assert caught.value.message == message
    assert len(recorder.log) == 1  # never retried


def test_the_token_appears_in_no_message_repr_traceback_or_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        raise httpx.ReadTimeout("read timed out", request=request)

    client, _ = make(handler)
    texts = [repr(client), repr(client._http.auth), repr(client._http.headers)]
    for call in (lambda: client.post("/c", None, idempotent=False), lambda: client.get("/g")):
        with pytest.raises(StoreUnavailable) as caught:
            call()
        texts.append("".join(traceback.format_exception(caught.value)))
        texts.extend([caught.value.message, str(caught.value.hint)])
    texts.append(caplog.text)
    assert seen[0] == f"Bearer {TOKEN}"  # it was sent...
    assert not [t for t in texts if TOKEN in t]  # ...and shown nowhere


# -- batches and paging ----------------------------------------------------------------------


def test_batch_sends_100_inputs_per_request_and_keeps_207_errors_per_item() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        ids = [i["id"] for i in body["inputs"]]
        missing = [i for i in ids if int(i) % 50 == 0]
        results = [{"id": i, "properties": {}} for i in ids if i not in missing]
        if not missing:
            return httpx.Response(200, json={"status": "COMPLETE", "results": results})
        errors = [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "not found",
                   "context": {"ids": missing}}]  # fmt: skip
        return httpx.Response(207, json={"status": "COMPLETE", "results": results,
                                         "errors": errors, "numErrors": 1})  # fmt: skip

    client, recorder = make(handler)
    inputs = [{"id": str(i)} for i in range(1, 251)]
    result = client.batch("/crm/v3/objects/subscriptions/batch/read", inputs, idempotent=True,
                          extra={"properties": ["hs_status"]})  # fmt: skip
    assert [len(b["inputs"]) for b in bodies] == [100, 100, 50]
    assert all(b["properties"] == ["hs_status"] for b in bodies)
    assert result.failed_ids() == {"50", "100", "150", "200", "250"}
    assert len(result.results) == 245


def test_pages_follow_after_and_send_it_only_when_given() -> None:
    queries: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        queries.append(str(request.url.query, "ascii"))
        after = request.url.params.get("after")
        if after is None:
            return httpx.Response(200, json={"results": [{"id": "1"}],
                                             "paging": {"next": {"after": "2"}}})  # fmt: skip
        return httpx.Response(200, json={"results": [{"id": after}]})

    client, _ = make(handler)
    pages = list(client.pages("/crm/v3/objects/subscriptions", {"limit": 100}))
    assert pages == [[{"id": "1"}], [{"id": "2"}]]
    assert queries == ["limit=100", "limit=100&after=2"]


def test_search_pages_put_after_in_the_body() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        if "after" not in body:
            return httpx.Response(200, json={"total": 2, "results": [{"id": "1"}],
                                             "paging": {"next": {"after": "1"}}})  # fmt: skip
        return httpx.Response(200, json={"total": 2, "results": [{"id": "2"}]})

    client, _ = make(handler)
    pages = list(client.search_pages("/crm/v3/objects/subscriptions/search", {"limit": 1}))
    assert pages == [[{"id": "1"}], [{"id": "2"}]]
    assert bodies == [{"limit": 1}, {"limit": 1, "after": "1"}]


def test_unknown_tier_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        HubSpotClient("https://api.example.test", TOKEN, tier="gold")
    assert caught.value.message == (
        "unknown HubSpot tier 'gold': one of free, starter, professional, enterprise"
    )


# -- over a real socket ------------------------------------------------------------------------


@pytest.fixture
def server() -> Any:
    """A local HTTP server: ``/slow`` answers after 1 s, ``/down`` 503, others 200."""
    import http.server
    import threading
    import time

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            if self.path.startswith("/slow"):
                time.sleep(1.0)
            status = 503 if self.path.startswith("/down") else 200
            body = b'{"id": "1"}'
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up waiting

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_over_a_socket_a_read_timeout_of_a_cancel_is_in_doubt_and_the_token_never_logged(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx's and httpcore's own debug logging included
    client = HubSpotClient(server, TOKEN, timeout=0.2, sleep=lambda s: None)
    try:
        assert client.get("/ok") == {"id": "1"}
        with pytest.raises(InDoubt) as doubt:
            client.post("/slow/cancel", None, idempotent=False)
        with pytest.raises(StoreUnavailable) as down:
            client.get("/down")
    finally:
        client.close()
    assert type(down.value) is StoreUnavailable
    assert "httpcore" in caplog.text or "httpx" in caplog.text  # the logging did run
    texts = [caplog.text, *("".join(traceback.format_exception(e.value)) for e in (doubt, down))]
    assert not [t for t in texts if TOKEN in t]


def test_a_refused_connection_is_store_unavailable() -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = HubSpotClient(f"http://127.0.0.1:{port}", TOKEN, sleep=lambda s: None)
    with pytest.raises(StoreUnavailable) as caught:
        client.post("/payments-subscriptions/v1/subscriptions/crm/1/cancel", None,
                    idempotent=False)  # fmt: skip
    assert type(caught.value) is StoreUnavailable  # never sent: not in doubt
    assert caught.value.message == "HubSpot is unreachable (ConnectError)"


@pytest.mark.parametrize("token", ["", "pat na1 secret", "pat-na1-sécret"])
def test_a_malformed_token_is_refused_without_being_shown(token: str) -> None:
    with pytest.raises(AuthError) as caught:
        HubSpotClient("https://api.example.test", token)
    assert caught.value.message == "the HubSpot token is malformed (empty, spaces or non-ASCII)"
