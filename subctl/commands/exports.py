"""``subctl export``: subscriptions to a file (csv, json, ndjson; spreadsheets when their
writers are installed), written whole or not at all."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from subctl.commands._options import SegmentOpt, ShowSensitiveOpt, ViewOpt, WhereOpt
from subctl.context import AppContext

if TYPE_CHECKING:
    from pathlib import Path

    from subctl.services.exports import ExportRequest

OutputOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="File to write (required; {date}, {time} and {view} are expanded); - writes csv, "
        "json or ndjson to stdout.",
    ),
]


def subscription_export(
    ctx: typer.Context,
    output: OutputOpt = None,
    view: ViewOpt = None,
    where: WhereOpt = None,
    segment: SegmentOpt = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Every subscription.")] = False,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="csv, json, ndjson, xlsx or xls (default: from the file's suffix). XLSX is "
            "written by rustpy-xlsxwriter with the fast-xlsx extra, else by XlsxWriter; the "
            "message at the end names the one that ran.",
        ),
    ] = None,
    properties: Annotated[
        str,
        typer.Option(
            "--properties",
            metavar="WHICH",
            help="view: the view's columns; all: every property (Record ID first, then "
            "alphabetical); all+associations: and the associated records.",
        ),
    ] = "view",
    internal_names: Annotated[
        bool,
        typer.Option(
            "--internal-names", help="Internal names in the header, option values in cells."
        ),
    ] = False,
    language: Annotated[
        str | None,
        typer.Option(
            "--language",
            metavar="LANG",
            help="Language of the headers (default: the config's language, else en).",
        ),
    ] = None,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            help="Write cells as they are (no ' before text a spreadsheet reads as a formula).",
        ),
    ] = False,
    all_associations: Annotated[
        bool,
        typer.Option(
            "--all-associations",
            help="Every associated record (default: at most 1,000 per cell); not for xlsx/xls.",
        ),
    ] = False,
    all_emails: Annotated[
        bool, typer.Option("--all-emails", help="Every e-mail of contacts with several.")
    ] = False,
    all_domains: Annotated[
        bool, typer.Option("--all-domains", help="Every domain of companies with several.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    show_sensitive: ShowSensitiveOpt = False,
    server_side: Annotated[
        bool,
        typer.Option(
            "--server-side",
            help="HubSpot profiles: HubSpot's CRM exports build the file (csv, xlsx, xls; "
            "HubSpot's headers and order), subctl downloads it.",
        ),
    ] = False,
) -> None:
    """Export subscriptions to a file.

    The file appears only when it is complete (written to a hidden temporary name in the same
    directory, then renamed); an existing file is kept unless --force.

    Example: subctl export --view unpaid -o 'exports/unpaid-{date}.csv'
    """
    from subctl.services import exports as svc

    if output is None:  # checked here, after the option values (an empty one is named first)
        from subctl.errors import UsageError

        raise UsageError("say where to write the export", hint="add -o FILE (-o - for stdout)")
    app = AppContext.from_typer(ctx)
    request = svc.ExportRequest(
        view=view,
        where=where,
        segment=segment,
        all=all_,
        properties=properties,
        internal_names=internal_names,
        language=language,
        all_associations=all_associations,
        all_emails=all_emails,
        all_domains=all_domains,
        show_sensitive=show_sensitive,
    )
    if server_side:
        _server_side(app, request, output, fmt=fmt, force=force)
        return
    _write(app, request, output, fmt=fmt, raw=raw, force=force)


def _server_side(
    app: AppContext, request: ExportRequest, output: str, *, fmt: str | None, force: bool
) -> None:
    from pathlib import Path

    from subctl.errors import UsageError
    from subctl.export import writers
    from subctl.files import atomic_output, expand_template
    from subctl.services import exports as svc

    if output == "-":
        raise UsageError(
            "--server-side writes HubSpot's file to a file, not stdout",
            hint="give a file name with -o FILE",
        )
    path = Path(expand_template(output, view=request.view, now=app.clock()))
    spec = writers.for_format(fmt) if fmt is not None else writers.for_path(str(path))
    seen: list[str] = []

    def progress(state: str) -> None:
        if app.out.is_tty and state not in seen:
            seen.append(state)
            app.out.message(f"HubSpot's export: {state.lower()}")

    records = app.records()
    _make_parent(path)
    with atomic_output(path, binary=True, force=force) as handle:
        count = svc.export_by_store(
            records, app.workspace(), request, spec.name, handle, app.today(), app.clock(), progress
        )
    what = "" if count is None else f"{count:,} subscription{'' if count == 1 else 's'} "
    app.out.success(f"Exported {what}to {path} (built by HubSpot's CRM exports)")


def _write(
    app: AppContext, request: ExportRequest, output: str, *, fmt: str | None, raw: bool, force: bool
) -> None:
    from pathlib import Path

    from subctl.errors import UsageError
    from subctl.export import writers
    from subctl.files import atomic_output, expand_template
    from subctl.services import exports as svc

    to_stdout = output == "-"
    target = None if to_stdout else expand_template(output, view=request.view, now=app.clock())
    if fmt is not None:
        spec = writers.for_format(fmt)
    elif target is None:
        spec = writers.for_format("csv")
    else:
        spec = writers.for_path(target)
    if to_stdout and not spec.stdout:
        raise UsageError(
            f"{spec.name} cannot be written to stdout", hint="give a file name with -o FILE"
        )
    if request.all_associations and spec.name in ("xlsx", "xls"):
        raise UsageError(
            f"--all-associations is for csv, json and ndjson, not {spec.name}",
            hint="leave it out (at most 1,000 associated records per cell) or export to csv",
        )
    records = app.records()
    plan = svc.plan_export(records, app.workspace(), request, app.today(), app.clock())
    total = svc.total(records, plan)
    ignored = [flag for flag, given in (("--all-associations", request.all_associations),
               ("--all-emails", request.all_emails), ("--all-domains", request.all_domains))
               if given]  # fmt: skip
    if ignored and not plan.associations:
        app.out.warn(
            f"{', '.join(ignored)} applies to association columns, and this export has none "
            "(--properties all+associations adds them)"
        )
    if spec.max_rows is not None and total > spec.max_rows:
        raise UsageError(
            f"{spec.name} holds at most {spec.max_rows:,} rows; {total:,} subscriptions match",
            hint="export to xlsx or csv, or select fewer subscriptions",
        )
    cut = svc.Cut()
    rows = svc.rows(records, plan, cut)
    if spec.name == "xls":  # no xlwt, too many columns: refused before a file is made
        from subctl.export import xls

        xls.check(plan.columns, total)
    decimals = svc.money_decimals(records, plan, total) if spec.name == "xlsx" else None
    options = writers.WriteOptions(raw=raw, terminal=to_stdout and spec.name == "csv"
                                   and app.out.is_tty, total=total,
                                   money_decimals=decimals)  # fmt: skip
    if target is None:
        count = spec.write(rows, plan.columns, app.out.stdout, options)
        where = "stdout"
    else:
        path = Path(target)
        _make_parent(path)
        with (
            atomic_output(path, binary=spec.binary, force=force) as handle,
            app.out.progress("Exporting", total, unit="subscriptions") as advance,
        ):
            rows.advance = advance
            count = spec.write(rows, plan.columns, handle, options)
        where = str(path)
    if cut.cells:
        app.out.warn(
            f"{cut.cells:,} association cells held more than {svc.ASSOCIATION_CAP:,} records "
            "and were cut; --all-associations writes them all (csv, json, ndjson)"
        )
    noun = "subscription" if count == 1 else "subscriptions"
    by = ""
    if spec.name == "xlsx":
        from subctl.export.xlsx import engine

        by = f" (written by {engine(columns=plan.columns, opts=options)})"
    app.out.success(f"Exported {count:,} {noun} to {where}{by}")


def _make_parent(path: Path) -> None:
    """The target's directory, made when missing; a typed error when it cannot be."""
    if path.parent.is_dir():
        return
    from subctl.errors import UsageError
    from subctl.files import file_error

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file where a directory should be, no permission
        error = file_error(path.parent, exc)
        if isinstance(error, UsageError):
            error = UsageError(f"cannot create directory {path.parent}: {exc.strerror or exc}")
        raise error from exc


def register(app: typer.Typer) -> None:
    app.command("export")(subscription_export)
