"""``subctl import FILE``: subscriptions from a CSV, XLSX, NDJSON or JSON export or backup
(``subctl.services.imports`` holds the rules); ``jobs resume`` continues an interrupted import
through ``resume_import``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from subctl.codec import plural
from subctl.commands._options import DryRunOpt, FormatOpt
from subctl.context import AppContext
from subctl.export import Column
from subctl.output import Format

if TYPE_CHECKING:
    from collections.abc import Iterator

    from subctl.services.imports import Layout, RowResult
    from subctl.store.base import Job


FileFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--file-format",
        metavar="csv|xlsx|ndjson|json",
        help="The file's format (default: from its suffix).",
        show_default=False,
    ),
]
StrictOpt = Annotated[
    bool,
    typer.Option("--strict", help="Check every row first; write nothing if any row is bad."),
]


def _columns() -> list[Column]:
    from subctl.services.imports import RESULT_COLUMNS

    return [Column(key, header) for key, header in RESULT_COLUMNS]


def _say_ignored(app: AppContext, lay: Layout) -> None:
    for headers, why in lay.ignored:
        app.out.message(f"Note: {headers}: {why}")


def import_file(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="A CSV, XLSX, NDJSON or JSON export or delete --backup (subctl's), or a CSV or "
            "XLSX export of HubSpot's.",
        ),
    ],
    file_format: FileFormatOpt = None,
    dry_run: DryRunOpt = False,
    strict: StrictOpt = False,
    fmt: FormatOpt = Format.AUTO,
) -> None:
    """Import subscriptions from a CSV, XLSX, NDJSON or JSON export or delete --backup: update
    by Record ID, create the others (with their Record ID when given), restore associations
    from the Associated … IDs columns. Journaled: an interrupted import continues with `subctl
    jobs resume JOB`.

    Exit codes: 0 every row applied or unchanged, 2 a bad file or header, 5 a row failed.

    Example: subctl import exports/subs-2026-11-30.csv --dry-run
    """
    from subctl.services import imports as svc

    app = AppContext.from_typer(ctx)
    records = app.records()
    source = svc.Source.of(file, file_format)
    if dry_run or strict:
        now = app.clock()
        if dry_run:
            tally: dict[str, int] = {}

            def previewed() -> Iterator[dict[str, Any]]:
                for chunk in svc.preview(records, source, now, lambda lay: _say_ignored(app, lay)):
                    for r in chunk:
                        tally[r.outcome] = tally.get(r.outcome, 0) + 1
                        yield r.row()

            app.out.rows(previewed(), _columns(), fmt, empty="No rows in the file.")
            _finish(app, tally, dry=True)
            return
        bad: list[RowResult] = []
        total = 0
        for chunk in svc.preview(records, source, now, lambda lay: _say_ignored(app, lay)):
            total += len(chunk)
            bad.extend(r for r in chunk if r.outcome == "error")
        if bad:
            from subctl.errors import InvalidState

            app.out.rows((r.row() for r in bad), _columns(), fmt, empty="")
            first = bad[0]
            raise InvalidState(
                f"--strict: {len(bad):,} of {plural(total, 'row')} are bad; nothing was written "
                f"(first, line {first.line}: {first.note})"
            )
    workspace = app.workspace()
    job, resumed, lay = svc.start(workspace, records.properties(), source, app.clock())
    if not strict:  # --strict said it while checking
        _say_ignored(app, lay)
    if resumed:
        app.out.message(f"Resuming job {job.id}: the same file is being imported")
    _run(app, job, fmt)


def resume_import(app: AppContext, job: Job, fmt: Format) -> None:
    """``jobs resume`` of an import job."""
    _run(app, job, fmt)


def _run(app: AppContext, job: Job, fmt: Format) -> None:
    from subctl.commands._batch import interrupt_between_chunks
    from subctl.errors import Aborted
    from subctl.services import imports as svc

    tally: dict[str, int] = {}
    records, workspace = app.records(), app.workspace()

    def applied(pressed: Any) -> Iterator[dict[str, Any]]:
        for chunk in svc.run(records, workspace, app.unit_of_work(), job, app.clock,
                             stop=pressed):  # fmt: skip
            advance(len(chunk))
            for r in chunk:
                tally[r.outcome] = tally.get(r.outcome, 0) + 1
                yield r.row()

    with (
        app.out.progress(f"Importing {job.action.get('file')}", job.unprocessed) as advance,
        interrupt_between_chunks() as pressed,
    ):
        try:
            app.out.rows(applied(pressed), _columns(), fmt, empty="No rows left to import.")
        except KeyboardInterrupt:
            raise Aborted(
                f"import interrupted ({_summary(tally) or 'no row applied'})",
                hint=f"continue it: subctl jobs resume {job.id}",
            ) from None
    _finish(app, tally, dry=False, job=job)


def _summary(tally: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {what}" for what, n in tally.items())


def _finish(app: AppContext, tally: dict[str, int], *, dry: bool, job: Job | None = None) -> None:
    from subctl.errors import InvalidState

    total = sum(tally.values())
    failed = tally.get("error" if dry else "failed", 0)
    summary = _summary(tally)
    if failed:
        where = f"; see `subctl jobs results {job.id} --outcome failed`" if job else ""
        verb = "would fail" if dry else "failed"
        raise InvalidState(f"{failed:,} of {plural(total, 'row')} {verb} ({summary}){where}")
    if total:
        app.out.success(f"{plural(total, 'row')}{' (dry run)' if dry else ''}: {summary}")


def register(app: typer.Typer) -> None:
    app.command("import")(import_file)
