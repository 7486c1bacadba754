"""Server-side exports through HubSpot's CRM exports API (DOMAIN.md §5): HubSpot builds the
file; subctl starts the export, polls it, and downloads the file before its link expires.

- Start: ``POST /crm/v3/exports/export/async`` (not idempotent: a lost answer is not retried,
  it would start a second export of the 30 a day HubSpot allows).
- Poll: ``GET /crm/v3/exports/export/async/tasks/{id}/status`` every ``POLL_FIRST`` seconds,
  doubling up to ``POLL_MAX``, until ``COMPLETE`` (``CANCELED`` or a failure: ``StoreUnavailable``;
  no answer within ``deadline`` seconds: the same, naming the task so HubSpot's UI finds it).
- Download at once: the ``result`` URL expires five minutes after the poll that issued it; an
  expired link (403) is replaced by polling again (each poll issues a new URL), at most
  ``RENEWALS`` times. The URL is pre-signed (S3): it is fetched by a separate HTTP client with
  no credentials, never the API client, so the token never leaves for the file's host.
- HubSpot zips a CSV over 2 MB (or 1,000,000 rows): for a CSV target, the one CSV inside is
  written out (the zip archive is spooled to a temporary file first; the file is streamed, never
  held whole in memory).
"""

from __future__ import annotations

import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, Protocol

from subctl.errors import StoreUnavailable, SubctlError

if TYPE_CHECKING:
    import httpx

START = "/crm/v3/exports/export/async"
STATUS = "/crm/v3/exports/export/async/tasks/{id}/status"
DETAILS = "/crm/v3/exports/export/{id}"
POLL_FIRST = 1.0
POLL_MAX = 10.0
RENEWALS = 3
DEADLINE = 3600.0  # seconds an export may take before subctl gives up waiting
FORMATS = ("CSV", "XLSX", "XLS")
CHUNK = 1 << 16
ZIP_MAGIC = b"PK\x03\x04"


class Api(Protocol):
    """What an export needs of ``HubSpotClient``."""

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any: ...

    def post(self, path: str, body: Any, *, idempotent: bool, search: bool = False) -> Any: ...


# ``fetch(url)``: the download's status and its body, chunk by chunk.
Fetch = Callable[[str], AbstractContextManager[tuple[int, Iterator[bytes]]]]


@dataclass(frozen=True)
class ExportRequest:
    """An export of subscriptions (object ``0-69``) as HubSpot builds it."""

    name: str
    format: str  # CSV, XLSX, XLS
    properties: Sequence[str]  # internal names, in order
    filter_groups: Sequence[Mapping[str, Any]] = ()  # CRM search filterGroups (none: all)
    language: str = "EN"
    associated: Sequence[str] = ()  # object type names (CONTACT, COMPANY, ...), at most 4
    internal_names: bool = False  # NAMES: internal names in the header row
    internal_values: bool = False  # VALUES: internal values in cells
    object_type: str = "0-69"

    def body(self) -> dict[str, Any]:
        options = [o for o, on in (("NAMES", self.internal_names),
                                   ("VALUES", self.internal_values)) if on]  # fmt: skip
        body: dict[str, Any] = {
            "exportType": "VIEW",
            "exportName": self.name,
            "format": self.format,
            "language": self.language,
            "objectType": self.object_type,
            "objectProperties": list(self.properties),
            "associatedObjectType": list(self.associated),
            "publicCrmSearchRequest": {
                "filterGroups": [dict(g) for g in self.filter_groups],
                "sorts": [],
                "filters": [],
            },
        }
        if options:
            body["exportInternalValuesOptions"] = options
        return body


@dataclass
class ExportOutcome:
    task_id: str
    polls: int = 0
    renewals: int = 0  # expired links replaced
    bytes: int = 0  # written to the target
    zipped: bool = False  # HubSpot delivered a zip archive (unpacked for a CSV target)
    states: list[str] = field(default_factory=list)
    records: int | None = None  # HubSpot's recordCount, when it gives one


# The export API's language codes (DOMAIN.md §5: the guide's codes; Danish only in the spec's
# wider enum, as DA_DK) by subctl's header language codes (``export.headers.LANGUAGES``).
LANGUAGES = {"da": "DA_DK"}


def language(code: str) -> str:
    return LANGUAGES.get(code.lower(), code.upper())


def plain_fetch(transport: httpx.BaseTransport | None = None, timeout: float = 60.0) -> Fetch:
    """Downloads with no credentials (a pre-signed URL), streamed."""

    @contextmanager
    def fetch(url: str) -> Iterator[tuple[int, Iterator[bytes]]]:
        import httpx

        with httpx.Client(transport=transport, timeout=timeout, follow_redirects=True) as http:
            try:
                with http.stream("GET", url) as response:
                    yield response.status_code, response.iter_bytes(CHUNK)
            except httpx.HTTPError as exc:
                raise StoreUnavailable(
                    f"could not download HubSpot's export file ({type(exc).__name__})"
                ) from None

    return fetch


def run(
    api: Api,
    request: ExportRequest,
    out: IO[bytes],
    *,
    fetch: Fetch | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    deadline: float = DEADLINE,
    progress: Callable[[str], None] | None = None,
) -> ExportOutcome:
    """Start the export, wait for it, and write HubSpot's file to ``out``."""
    if request.format not in FORMATS:
        raise ValueError(f"format: one of {', '.join(FORMATS)}")
    fetch = fetch or plain_fetch()
    started = api.post(START, request.body(), idempotent=False) or {}
    task = str(started.get("id") or "")
    if not task:
        raise StoreUnavailable("HubSpot did not say which export it started")
    outcome = ExportOutcome(task)
    give_up = clock() + deadline
    interval = POLL_FIRST
    while True:
        status = api.get(STATUS.format(id=task)) or {}
        outcome.polls += 1
        state = str(status.get("status") or "")
        outcome.states.append(state)
        if progress is not None:
            progress(state)
        if state == "COMPLETE" and status.get("result"):
            if _download(str(status["result"]), request, out, fetch, outcome):
                outcome.records = _record_count(api, task)
                return outcome
            outcome.renewals += 1
            if outcome.renewals > RENEWALS:
                raise StoreUnavailable(
                    f"HubSpot's export {task} is ready, but its download link kept expiring",
                    hint="try again; a slow connection may need HubSpot's UI download",
                )
            continue  # a new poll issues a new link
        if state in ("CANCELED", "FAILED") or status.get("numErrors"):
            raise StoreUnavailable(f"HubSpot's export {task} ended {state or 'with errors'}")
        if clock() + interval > give_up:
            raise StoreUnavailable(
                f"HubSpot's export {task} was not ready after {deadline:,.0f} s",
                hint="it may still finish: HubSpot's exports page lists it",
            )
        sleep(interval)
        interval = min(POLL_MAX, interval * 2)


def _record_count(api: Api, task: str) -> int | None:
    """``recordCount`` of the finished export (None when HubSpot does not say)."""
    try:
        details = api.get(DETAILS.format(id=task)) or {}
    except SubctlError:
        return None
    count = details.get("recordCount")
    return count if isinstance(count, int) else None


def _download(
    url: str, request: ExportRequest, out: IO[bytes], fetch: Fetch, outcome: ExportOutcome
) -> bool:
    """Write the file at ``url`` to ``out``; False when the link has expired (403)."""
    with fetch(url) as (status, chunks):
        if status == 403:
            return False
        if status != 200:
            raise StoreUnavailable(f"HubSpot's export file answered {status}")
        with tempfile.TemporaryFile() as spool:
            first = b""
            for chunk in chunks:
                if not first:
                    first = chunk[:4]
                spool.write(chunk)
            spool.seek(0)
            if request.format == "CSV" and first == ZIP_MAGIC:
                outcome.zipped = True
                with zipfile.ZipFile(spool) as archive:
                    members = [m for m in archive.infolist() if not m.is_dir()]
                    if len(members) != 1:
                        raise StoreUnavailable(
                            f"HubSpot's export archive holds {len(members)} files, not one CSV"
                        )
                    with archive.open(members[0]) as member:
                        outcome.bytes = _copy(member, out)
            else:
                outcome.bytes = _copy(spool, out)
    return True


def _copy(source: IO[bytes], target: IO[bytes]) -> int:
    written = 0
    while chunk := source.read(CHUNK):
        target.write(chunk)
        written += len(chunk)
    return written
