"""CRM exports (DOMAIN.md §5) for the fake: ``POST /crm/v3/exports/export/async`` starts one,
``GET .../tasks/{id}/status`` polls it, and the ``result`` URL downloads the file.

Choices where HubSpot's documentation is silent or the fake simplifies:
- An export's first status poll finds it ``PROCESSING``, poll ``polls + 1`` ``COMPLETE``
  (``FakeHubSpot(export_polls=...)``); one runs at a time (a later one stays ``PENDING`` until
  the earlier ones are complete).
- Each status poll of a complete export issues a new download URL, valid five minutes on the
  fake's clock (then 403 ``Request has expired``, as S3 answers); the URL is pre-signed like
  S3's and takes no token: a request that sends an ``Authorization`` header as well is refused
  (400, as S3 refuses two authentication mechanisms). It is served by the fake itself
  (``/_fake/export-files/...``, outside the rate limit).
- The file: a header row (``Record ID`` then the properties' labels; internal names with
  ``exportInternalValuesOptions: ["NAMES"]``), one row per record matching
  ``publicCrmSearchRequest`` (every match: no 10,000 cap), values as the API returns them with
  ``VALUES`` (internal values), else enumerations by their labels; then ``Associated <Object>
  IDs`` columns (ids joined by ``;``) for ``associatedObjectType``. CSV (UTF-8), or XLSX/XLS.
  A CSV over 2 MB (``zip_bytes``) is delivered zipped, as HubSpot does.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakehub.objects import render

if TYPE_CHECKING:
    from tests.fakehub.app import FakeHubSpot, Record

URL_SECONDS = 300.0
FORMATS = ("CSV", "XLSX", "XLS")
FILE_PREFIX = "/_fake/export-files/"


@dataclass
class Task:
    id: int
    request: Mapping[str, Any]
    requested_ms: int
    polls: int = 0
    state: str = "PENDING"  # PENDING, PROCESSING, COMPLETE
    started_ms: int | None = None
    completed_ms: int | None = None
    content: bytes = b""
    filename: str = ""
    record_count: int = 0
    urls: dict[str, float] = field(default_factory=dict)  # signature -> issued at (clock)


class Exports:
    def __init__(self, fake: FakeHubSpot, *, polls: int = 1, zip_bytes: int = 2_000_000) -> None:
        self.fake = fake
        self.polls = polls
        self.zip_bytes = zip_bytes
        self.tasks: dict[int, Task] = {}
        self.downloads: list[tuple[int, int]] = []  # (task id, status answered)
        self._next = 7_000_001
        self._count = 0

    # -- start ----------------------------------------------------------------------------

    def validate(self, body: Any) -> str | None:
        """What is wrong with an export request, or None."""
        if not isinstance(body, Mapping):
            return "the body is an export request"
        for key in ("exportType", "exportName", "format", "language", "objectType",
                    "objectProperties"):  # fmt: skip
            if not body.get(key):
                return f"{key} is required"
        if body["exportType"] not in ("VIEW", "LIST"):
            return "exportType: VIEW or LIST"
        if body["exportType"] == "LIST" and not body.get("listId"):
            return "a LIST export needs listId"
        if body["format"] not in FORMATS:
            return f"format: one of {', '.join(FORMATS)}"
        props = body["objectProperties"]
        if not isinstance(props, list) or not all(isinstance(p, str) for p in props):
            return "objectProperties: an array of property names"
        associated = body.get("associatedObjectType") or []
        if not isinstance(associated, list) or len(associated) > 4:
            return "associatedObjectType: at most 4 object types"
        return None

    def start(self, body: Mapping[str, Any], now_ms: int) -> Task:
        task = Task(self._next, dict(body), now_ms)
        self._next += 1
        self.tasks[task.id] = task
        return task

    # -- poll -----------------------------------------------------------------------------

    def poll(self, task: Task, now_ms: int, base: str) -> dict[str, Any]:
        earlier = [t for t in self.tasks.values() if t.id < task.id and t.state != "COMPLETE"]
        if task.state != "COMPLETE" and not earlier:
            task.polls += 1
            if task.state == "PENDING":
                task.state, task.started_ms = "PROCESSING", now_ms
            elif task.polls > self.polls:
                task.content, task.filename = self._build(task)
                task.record_count = self._count
                task.state, task.completed_ms = "COMPLETE", now_ms
        body: dict[str, Any] = {
            "status": task.state,
            "requestedAt": _iso(task.requested_ms),
            "numErrors": 0,
            "errors": [],
            "links": {},
        }
        if task.started_ms is not None:
            body["startedAt"] = _iso(task.started_ms)
        if task.state == "COMPLETE":
            assert task.completed_ms is not None
            body["completedAt"] = _iso(task.completed_ms)
            issued = self.fake.clock()
            signature = hashlib.sha256(f"{task.id}:{issued}:{len(task.urls)}".encode()).hexdigest()
            task.urls[signature] = issued
            body["result"] = (
                f"{base}{FILE_PREFIX}{task.id}/{task.filename}?X-Amz-Expires={int(URL_SECONDS)}"
                f"&X-Amz-Signature={signature}"
            )
        return body

    # -- download -------------------------------------------------------------------------

    def download(
        self, path: str, params: Mapping[str, str], authorized: bool
    ) -> tuple[int, bytes, str]:
        """(status, body, content type) of a download URL."""
        try:
            task_id = int(path.removeprefix(FILE_PREFIX).split("/")[0])
        except ValueError:
            return 404, _s3("NoSuchKey", "The specified key does not exist."), "application/xml"
        task = self.tasks.get(task_id)
        issued = None if task is None else task.urls.get(params.get("X-Amz-Signature", ""))
        if task is None or issued is None:
            status, body = 403, _s3("AccessDenied", "Access Denied")
        elif authorized:
            status, body = (
                400,
                _s3(
                    "InvalidArgument",
                    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                    "Signature query string parameter or the Authorization header should be "
                    "specified",
                ),
            )
        elif self.fake.clock() > issued + URL_SECONDS:
            status, body = 403, _s3("AccessDenied", "Request has expired")
        else:
            self.downloads.append((task_id, 200))
            kind = {"csv": "text/csv", "zip": "application/zip"}.get(
                task.filename.rsplit(".", 1)[-1], "application/octet-stream"
            )
            return 200, task.content, kind
        self.downloads.append((task_id, status))
        return status, body, "application/xml"

    # -- the file -------------------------------------------------------------------------

    def _build(self, task: Task) -> tuple[bytes, str]:
        request = task.request
        fake = self.fake
        o = fake._type(str(request["objectType"]))
        defs = fake.props[o.name]
        options = set(request.get("exportInternalValuesOptions") or [])
        names = [p for p in request["objectProperties"] if p != "hs_object_id"]
        search = request.get("publicCrmSearchRequest") or {}
        groups = list(search.get("filterGroups") or [])
        if search.get("filters"):
            groups.append({"filters": search["filters"]})
        body = {"filterGroups": groups, "sorts": search.get("sorts") or []}
        matchers = fake._matchers(o, groups)
        records: Sequence[Record] = fake._hits(o, body, matchers)
        associated = [fake._type(str(a)) for a in request.get("associatedObjectType") or []]
        header = ["hs_object_id" if "NAMES" in options else "Record ID"]
        header += [n if "NAMES" in options else (defs[n].label if n in defs else n) for n in names]
        header += [f"Associated {a.singular.replace('_', ' ').title()} IDs" for a in associated]
        rows: list[list[str]] = [header]
        self._count = len(records)
        for rec in records:
            row = [str(rec.id)]
            for n in names:
                prop = defs.get(n)
                value = render(prop, rec.props.get(n)) or ""
                if prop is not None and prop.options and "VALUES" not in options and value:
                    labels = {o["value"]: o["label"] for o in prop.options}
                    value = ";".join(labels.get(v, v) for v in value.split(";"))
                row.append(value)
            for a in associated:
                row.append(";".join(str(i) for i in sorted(fake._linked(o.name, rec.id, a.name))))
            rows.append(row)
        name = str(request["exportName"])
        if request["format"] == "CSV":
            text = io.StringIO()
            csv.writer(text, lineterminator="\n").writerows(rows)
            data = text.getvalue().encode()
            if len(data) > self.zip_bytes:
                packed = io.BytesIO()
                with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
                    archive.writestr(f"{name}.csv", data)
                return packed.getvalue(), f"{name}.zip"
            return data, f"{name}.csv"
        if request["format"] == "XLSX":
            import xlsxwriter

            packed = io.BytesIO()
            book = xlsxwriter.Workbook(packed, {"in_memory": True})
            sheet = book.add_worksheet()
            for r, row in enumerate(rows):
                for c, cell in enumerate(row):
                    sheet.write_string(r, c, cell)
            book.close()
            return packed.getvalue(), f"{name}.xlsx"
        import xlwt

        book = xlwt.Workbook()
        sheet = book.add_sheet("Export")
        for r, row in enumerate(rows):
            for c, cell in enumerate(row):
                sheet.write(r, c, cell)
        packed = io.BytesIO()
        book.save(packed)
        return packed.getvalue(), f"{name}.xls"


def _iso(ms: int) -> str:
    import datetime as dt

    from subctl.codec import EPOCH, iso_datetime

    return iso_datetime(EPOCH + dt.timedelta(milliseconds=ms))


def _s3(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{message}</Message></Error>"
    ).encode()
