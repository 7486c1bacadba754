"""What HubSpot says a token may do: its scopes, from HubSpot's token-information endpoints.

- a private-app token (``pat-``: HubSpot's prefix for them):
  ``POST /oauth/v2/private-apps/get/access-token-info`` with ``{"tokenKey": TOKEN}`` answers
  ``{"userId", "hubId", "appId", "scopes": [...]}``;
- any other token (an OAuth access token): ``GET /oauth/v1/access-tokens/TOKEN`` answers
  ``{"scopes": [...], "hub_id", "user", ...}``.

One request, chosen by the token's prefix. A 404 or 400 (a token of a kind the endpoint does
not know, or an endpoint a proxy does not serve) answers None: HubSpot did not say, and the
caller keeps every permission (HubSpot enforces the scopes itself). A 401 is the token
rejected, and is raised as for any call.

The OAuth path holds the token: the client's errors name the path with ``{token}`` in its
place (``HubSpotClient.request(shown=...)``), and httpx's own log line ("HTTP Request: GET
URL") is rewritten while the call runs (``_Redacted``), so the token reaches no output and no
log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from subctl.errors import NotFound, UsageError
from subctl.store.http.client import HubSpotClient

PRIVATE_APP_INFO = "/oauth/v2/private-apps/get/access-token-info"
OAUTH_INFO = "/oauth/v1/access-tokens/"
PRIVATE_APP_PREFIX = "pat-"
_LOGGERS = ("httpx", "httpcore")


def token_scopes(client: HubSpotClient, token: str) -> frozenset[str] | None:
    """The token's scopes, or None when HubSpot's endpoint does not say them."""
    try:
        with _redacted(token):
            if token.startswith(PRIVATE_APP_PREFIX):
                answer = client.request(
                    "POST", PRIVATE_APP_INFO, body={"tokenKey": token}, idempotent=True
                )
            else:
                answer = client.request(
                    "GET", OAUTH_INFO + token, idempotent=True, shown=OAUTH_INFO + "{token}"
                )
    except (NotFound, UsageError):  # 404, 400: not a token this endpoint knows
        return None
    return _scopes(answer)


def _scopes(answer: Any) -> frozenset[str] | None:
    scopes = answer.get("scopes") if isinstance(answer, dict) else None
    if isinstance(scopes, str):  # a space-separated list, as OAuth's ``scope`` often is
        scopes = scopes.split()
    if not isinstance(scopes, list):
        return None
    return frozenset(str(s) for s in scopes)


class _Redacted(logging.Filter):
    """Rewrites a log record holding the token (its message formatted first)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self._token = token

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record that does not format: left as it is
            return True
        if self._token in message:
            record.msg, record.args = message.replace(self._token, "{token}"), None
        return True


@contextmanager
def _redacted(token: str) -> Iterator[None]:
    redact = _Redacted(token)
    loggers = [logging.getLogger(name) for name in _LOGGERS]
    for logger in loggers:
        logger.addFilter(redact)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(redact)
