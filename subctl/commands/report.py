"""``subctl report mrr|churn|at-risk|renewals``: parse, one service call, the sink (a table and
a chart on a terminal, json/csv for scripts, ``-o FILE`` through the export writers)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from subctl.codec import plural
from subctl.commands._options import FormatOpt, SegmentOpt, ViewOpt, WhereOpt
from subctl.context import AppContext
from subctl.export import Column
from subctl.output import Format

if TYPE_CHECKING:
    from subctl.services.reports import Report, ReportRequest

report_app = typer.Typer(
    name="report",
    help="Reports: MRR and its movements, churn, revenue at risk, renewals (local workspaces; "
    "a HubSpot profile reports after `subctl sync`).\n\n"
    "MRR at a time: hs_mrr of the subscriptions active, unpaid or past due then (an unpaid or "
    "past-due one is at risk, not churned), rebuilt from the property history. Per "
    "subscription and period: 0 to more is new (it did not exist or was scheduled) or "
    "reactivation (a resume); up is expansion, down contraction, down to 0 churn (a "
    "cancellation, an expiry, a pause; a cancellation at period end when it takes effect). "
    "Start + movements = end. Currencies are never added: per currency, or converted with "
    "--currency C --rates FILE. --where, --view and --segment select on current values.\n\n"
    "On a terminal: a table and a chart (NO_COLOR respected; narrow terminals leave columns "
    "out, json and csv have them all); -o FILE.xlsx adds a native chart.\n\n"
    "Example: subctl report mrr --by month",
    no_args_is_help=True,
)

FromOpt = Annotated[
    str | None,
    typer.Option(
        "--from", metavar="DATE", help="First day (YYYY-MM-DD or -90d; default: 12 periods back)."
    ),  # fmt: skip
]
ToOpt = Annotated[
    str | None, typer.Option("--to", metavar="DATE", help="Last day (default: today).")
]
ByOpt = Annotated[
    str, typer.Option("--by", metavar="day|week|month", help="Period length (calendar, UTC).")
]
CurrencyOpt = Annotated[
    str | None,
    typer.Option(
        "--currency",
        metavar="CODE",
        help="Only this currency; with --rates, every currency converted to it.",
    ),
]
RatesOpt = Annotated[
    str | None,
    typer.Option(
        "--rates",
        metavar="FILE",
        help="CSV currency,rate: one unit of currency is rate units of --currency.",
    ),
]
OutputOpt = Annotated[
    str | None,
    typer.Option(
        "--output",
        "-o",
        metavar="FILE",
        help="Write the report to FILE (.xlsx with a chart, .csv, .json).",
    ),
]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")]

MONEY_KEYS = frozenset({
    "start_mrr", "new", "expansion", "contraction", "churn", "reactivation", "net_change", "mrr",
    "churned_mrr", "amount_due", "amount",
})  # fmt: skip
HEADERS = {
    "period": "Period", "currency": "Currency", "start_mrr": "Start MRR", "new": "New",
    "expansion": "Expansion", "contraction": "Contraction", "churn": "Churn",
    "reactivation": "Reactivation", "net_change": "Net change", "mrr": "MRR",
    "subscriptions": "Subscriptions", "start_subscriptions": "Start subscriptions",
    "churned": "Churned", "logo_churn_pct": "Logo churn %", "churned_mrr": "Churned MRR",
    "gross_revenue_churn_pct": "Gross revenue churn %",
    "net_revenue_churn_pct": "Net revenue churn %", "id": "ID", "name": "Name",
    "status": "Status", "amount_due": "Amount due", "due_date": "Due date",
    "days_overdue": "Days overdue", "retries": "Retries", "retry_state": "Retry state",
    "date": "Date", "amount": "Amount",
}  # fmt: skip
KEYS = {
    "mrr": ("period", "currency", "start_mrr", "new", "expansion", "contraction", "churn",
            "reactivation", "net_change", "mrr", "subscriptions"),
    "churn": ("period", "currency", "start_subscriptions", "churned", "logo_churn_pct",
              "start_mrr", "churned_mrr", "contraction", "gross_revenue_churn_pct",
              "net_revenue_churn_pct"),
    "at-risk": ("id", "name", "status", "currency", "amount_due", "mrr", "due_date",
                "days_overdue", "retries", "retry_state"),
    "renewals": ("date", "currency", "subscriptions", "amount"),
}  # fmt: skip
TOTAL_KEYS = {
    "at-risk": ("currency", "subscriptions", "amount_due", "mrr"),
    "renewals": ("currency", "subscriptions", "amount"),
}
TITLES = {
    "mrr": "MRR and its movements",
    "churn": "Churn",
    "at-risk": "Revenue at risk: unpaid and past due",
    "renewals": "Renewals",
}
CHARTS = {  # the native spreadsheet chart: (value column, kind)
    "mrr": ("mrr", "line", "period"),
    "churn": ("gross_revenue_churn_pct", "column", "period"),
    "at-risk": ("amount_due", "column", "id"),
    "renewals": ("amount", "column", "date"),
}


def _kind(key: str) -> str:
    if key in MONEY_KEYS:
        return "money"
    if key in ("due_date", "date"):
        return "date"
    if key in ("id", "subscriptions", "start_subscriptions", "churned", "days_overdue",
               "retries") or key.endswith("_pct"):  # fmt: skip
        return "number"
    return "text"


# What a narrow terminal keeps, per report; the other columns are left out to fit, from the
# right (json, csv and files have every column).
ESSENTIAL = {
    "mrr": frozenset({"period", "currency", "new", "expansion", "churn", "mrr"}),
    "churn": frozenset({"period", "currency", "churned", "logo_churn_pct",
                        "gross_revenue_churn_pct"}),
    "at-risk": frozenset({"id", "status", "currency", "amount_due", "days_overdue"}),
    "renewals": frozenset({"date", "currency", "subscriptions", "amount"}),
}  # fmt: skip


def columns(keys: tuple[str, ...], essential: frozenset[str] = frozenset()) -> list[Column]:
    return [
        Column(k, HEADERS[k], kind=_kind(k),
               currency_key="currency" if k in MONEY_KEYS else None, required=k in essential,
               whole=_kind(k) != "text" or k in ("period", "currency", "status"))
        for k in keys
    ]  # fmt: skip


def _show(app: AppContext, report: Report, fmt: Format, output: str | None, force: bool) -> None:
    from subctl.output import Chart, Document, Heading, Records

    cols = columns(KEYS[report.name], ESSENTIAL[report.name])
    if output is not None:
        _write(app, report, cols, output, fmt, force)
        return
    total_cols = (
        columns(TOTAL_KEYS[report.name], frozenset(TOTAL_KEYS[report.name]))
        if report.name in TOTAL_KEYS
        else []
    )
    data: dict[str, Any] = {**report.meta, "rows": report.rows}
    if total_cols:
        data["totals"] = report.totals
    note = ", ".join(f"{k} {v}" for k, v in report.meta.items() if k != "report" and v)
    blocks: list[Any] = [Heading(TITLES[report.name], note)]
    if report.rows:
        blocks.append(Records("", report.rows, cols))
    else:
        blocks.append(Records("", [], cols))
    if total_cols and report.totals:
        blocks.append(Records("Totals per currency", report.totals, total_cols))
    if report.rows and any(any(v) for v in report.chart.values()):
        blocks.append(Chart(report.labels, report.chart))
    app.out.detail(Document(data, report.rows, cols, blocks), fmt)


def _write(
    app: AppContext, report: Report, cols: list[Column], output: str, fmt: Format, force: bool
) -> None:
    from pathlib import Path

    from subctl.export import writers
    from subctl.files import atomic_output

    if output == "-":
        from subctl.errors import UsageError

        raise UsageError("-o writes a file", hint="--format json or --format csv writes to stdout")
    # -o FILE: the format its suffix names, or --format's (not table: that is the terminal's).
    auto = fmt in (Format.AUTO, Format.TABLE)
    spec = writers.for_path(output) if auto else writers.for_format(fmt.value)
    value, kind, category = CHARTS[report.name]
    group = "currency" if report.name != "at-risk" else None
    chart = writers.SheetChart(TITLES[report.name], category, value, group, kind)
    options = writers.WriteOptions(sheet=report.name, chart=chart, total=len(report.rows))
    with atomic_output(Path(output), binary=spec.binary, force=force) as out:
        count = spec.write(report.rows, cols, out, options)
    app.out.success(f"Wrote {plural(count, 'row')} to {output}")


def _request(**options: Any) -> ReportRequest:
    from subctl.services.reports import ReportRequest

    return ReportRequest(**options)


@report_app.command("mrr")
def report_mrr(
    ctx: typer.Context,
    start: FromOpt = None,
    end: ToOpt = None,
    by: ByOpt = "month",
    currency: CurrencyOpt = None,
    rates: RatesOpt = None,
    where: WhereOpt = None,
    view: ViewOpt = None,
    segment: SegmentOpt = None,
    fmt: FormatOpt = Format.AUTO,
    output: OutputOpt = None,
    force: ForceOpt = False,
) -> None:
    """MRR at each period end and its movements: new, expansion, contraction, churn,
    reactivation (start + movements = end), per currency unless converted with --rates.

    Rebuilt from the property history (MRR and status changes); see `subctl report --help`
    for what counts as what.

    Example: subctl report mrr --by month --from -90d
    """
    from subctl.services import reports as svc

    app = AppContext.from_typer(ctx)
    request = _request(start=start, end=end, by=by, currency=currency, rates=rates,
                       where=where, view=view, segment=segment)  # fmt: skip
    report = svc.mrr_report(app.reports(), app.records(), app.workspace(), request, app.clock())
    _show(app, report, fmt, output, force)


@report_app.command("churn")
def report_churn(
    ctx: typer.Context,
    start: FromOpt = None,
    end: ToOpt = None,
    by: ByOpt = "month",
    currency: CurrencyOpt = None,
    rates: RatesOpt = None,
    where: WhereOpt = None,
    view: ViewOpt = None,
    segment: SegmentOpt = None,
    fmt: FormatOpt = Format.AUTO,
    output: OutputOpt = None,
    force: ForceOpt = False,
) -> None:
    """Logo churn and revenue churn (gross, net) per period.

    Logo churn: subscriptions that earned MRR at the period start and none at its end (a
    cancellation, an expiry, a pause) over those earning at the start.

    Example: subctl report churn --by month --from -90d
    """
    from subctl.services import reports as svc

    app = AppContext.from_typer(ctx)
    request = _request(start=start, end=end, by=by, currency=currency, rates=rates,
                       where=where, view=view, segment=segment)  # fmt: skip
    report = svc.churn_report(app.reports(), app.records(), app.workspace(), request, app.clock())
    _show(app, report, fmt, output, force)


@report_app.command("at-risk")
def report_at_risk(
    ctx: typer.Context,
    currency: CurrencyOpt = None,
    rates: RatesOpt = None,
    where: WhereOpt = None,
    view: ViewOpt = None,
    segment: SegmentOpt = None,
    fmt: FormatOpt = Format.AUTO,
    output: OutputOpt = None,
    force: ForceOpt = False,
) -> None:
    """Unpaid and past-due subscriptions: amount due, MRR, days overdue, retry state; totals
    per currency.

    Example: subctl report at-risk --where 'mrr > 100'
    """
    from subctl.services import reports as svc

    app = AppContext.from_typer(ctx)
    request = _request(currency=currency, rates=rates, where=where, view=view, segment=segment)
    report = svc.at_risk_report(app.records(), app.workspace(), request, app.clock())
    _show(app, report, fmt, output, force)


@report_app.command("renewals")
def report_renewals(
    ctx: typer.Context,
    within: Annotated[
        str, typer.Option("--within", metavar="DAYS", help="How far ahead: 30d, 2w.")
    ] = "30d",
    currency: CurrencyOpt = None,
    rates: RatesOpt = None,
    where: WhereOpt = None,
    view: ViewOpt = None,
    segment: SegmentOpt = None,
    fmt: FormatOpt = Format.AUTO,
    output: OutputOpt = None,
    force: ForceOpt = False,
) -> None:
    """What renews from today, per day and currency, with the amounts to be charged.

    Example: subctl report renewals --within 30d
    """
    from subctl.services import reports as svc

    app = AppContext.from_typer(ctx)
    request = _request(within=within, currency=currency, rates=rates, where=where, view=view,
                       segment=segment)  # fmt: skip
    report = svc.renewals_report(
        app.reports(), app.records(), app.workspace(), request, app.clock()
    )
    _show(app, report, fmt, output, force)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
