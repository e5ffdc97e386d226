"""Lifecycle commands: contracts about to expire, and the Land Conclusion pipeline."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import pandas as pd
import typer
from rich.markup import escape

from api.cli import DbOption, analysis_settings, app, guarded, out, parse_today, store_at
from api.commands.options import TodayOption
from api.commands.output import choose, dumps, slashed, table
from api.commands.output import csv as plain_csv
from api.services.views import expiring_json, expiring_view, plain_records
from geo.lifecycle import pipeline, pipeline_summary
from layers.labels import label

OutputFormat = Literal["table", "json", "csv"]
_FORMATS: tuple[OutputFormat, ...] = ("table", "json", "csv")

FormatOption = Annotated[str, typer.Option("--format", help="table (bilingual), json or csv.")]

#: The columns the expiring and the overdue contracts share.
_CONTRACT_COLUMNS = (
    "text.field_contract",
    "text.field_holder",
    "text.field_land_conclusion_id",
    "text.field_status",
)


def _csv(frame: pd.DataFrame) -> str:
    """CSV with lists joined by ``;`` and dates as ISO strings."""
    flat = frame.copy()
    for column in flat.columns:
        if flat[column].map(lambda v: isinstance(v, list)).any():
            flat[column] = flat[column].map(
                lambda v: ";".join(map(str, v)) if isinstance(v, list) else ""
            )
    return plain_csv(flat)


def _both(group: str, value: object) -> str:
    """A status in Mongolian over English, as the column headers are."""
    if not isinstance(value, str) or not value:
        return "—"
    return escape(f"{label(group, value, 'mn')}\n{label(group, value, 'en')}")


def _text(value: object) -> str:
    """A data value for a table cell: markup in names is shown, not interpreted."""
    return "—" if value is None or value is pd.NA or value == "" else escape(str(value))


# ------------------------------------------------------------------------------------ expiring


@app.command("expiring")
def expiring_cmd(
    days: Annotated[
        int | None,
        typer.Option(
            "--days",
            min=0,
            help="Window in days (default 60, or GAZAR_EXPIRING_DAYS).",
            show_default=False,
        ),
    ] = None,
    today: TodayOption = None,
    fmt: FormatOption = "table",
    db: DbOption = None,
) -> None:
    """Active and suspended contracts ending soon, whether each may be renewed, and why.

    Renewal is refused while a rehabilitation zone of the contract (or a legacy zone of its
    holder) is not accepted by the commission. Contracts still open after their end date are
    listed too: in CSV output they are the rows whose `list` is `overdue`.
    """
    settings = analysis_settings()
    window = settings.expiring_days if days is None else days
    day = parse_today(today)
    output = choose(fmt, _FORMATS, "--format")
    with store_at(db, create=False) as store:
        parcels = guarded(lambda: store.read("contract_parcels"))
        zones = guarded(lambda: store.read("rehab_zones"))
    result = expiring_view(parcels, zones, today=day, days=window)
    soon, late = result.soon, result.overdue

    if output == "json":
        typer.echo(dumps(expiring_json(result)))
        return
    if output == "csv":
        rows = pd.concat(
            [soon.assign(list="expiring"), late.assign(list="overdue")], ignore_index=True
        )
        rows["days_left"] = rows["days_left"].fillna(-rows["days_overdue"]).astype("Int64")
        rows = rows.drop(columns="days_overdue")
        typer.echo(_csv(rows[["list", *soon.columns]]), nl=False)
        return
    _print_expiring(soon, day=day, window=window)
    _print_overdue(late, day=day)


def _contract_name(row: pd.Series) -> str:
    no = row["contract_no"]
    name = f"{row['id']}\n{no}" if isinstance(no, str) and no else str(row["id"])
    return escape(name)


def _contract_cells(row: pd.Series) -> tuple[str, ...]:
    """The cells of :data:`_CONTRACT_COLUMNS`, then the contract's end date."""
    return (
        _contract_name(row),
        _text(row["holder"]),
        _text(row["land_conclusion_id"]),
        _both("contract_status", row["status"]),
        _text(row["expires_on"]),
    )


def _print_expiring(soon: pd.DataFrame, *, day: dt.date, window: int) -> None:
    grid = table(
        *_CONTRACT_COLUMNS,
        "text.field_expires_on",
        "text.field_days_left",
        "cli_column.renewal",
        "cli_column.reason",
        title=slashed(
            "cli_text.expiring_title", days=window, start=day, end=day + dt.timedelta(days=window)
        ),
    )
    for _, row in soon.iterrows():
        grid.add_row(
            *_contract_cells(row),
            str(row["days_left"]),
            f"[green]{slashed('cli_text.eligible')}[/]"
            if row["renewal_eligible"]
            else f"[red]{slashed('cli_text.refused')}[/]",
            _text(f"{row['reason_mn']}\n{row['reason_en']}"),
        )
    out.print(grid)
    refused = int((~soon["renewal_eligible"]).sum())
    out.print(slashed("cli_text.expiring_count", count=len(soon), refused=refused))


def _print_overdue(late: pd.DataFrame, *, day: dt.date) -> None:
    if late.empty:
        out.print(slashed("cli_text.none_overdue"))
        return
    grid = table(
        *_CONTRACT_COLUMNS,
        "cli_column.ended",
        "cli_column.days_over",
        title=slashed("cli_text.overdue_title", day=day),
    )
    for _, row in late.iterrows():
        grid.add_row(
            *_contract_cells(row),
            f"[red]{row['days_overdue']}[/]",
        )
    out.print(grid)


# ------------------------------------------------------------------------------------ pipeline


@app.command("pipeline")
def pipeline_cmd(
    today: TodayOption = None,
    fmt: FormatOption = "table",
    db: DbOption = None,
) -> None:
    """Days each Land Conclusion spent in each step, the delayed ones, and data problems.

    Limits per status come from GAZAR_PIPELINE_LIMIT_DAYS, the allowed requesters from
    GAZAR_ALLOWED_REQUESTERS (both JSON). CSV output has one row per Land Conclusion; the
    per-step summary is in the table and JSON outputs.
    """
    settings = analysis_settings()
    day = parse_today(today)
    output = choose(fmt, _FORMATS, "--format")
    with store_at(db, create=False) as store:
        lcs = guarded(lambda: store.read("land_conclusions"))
    frame = pipeline(
        lcs,
        today=day,
        limits=settings.pipeline_limit_days,
        allowed_requesters=settings.allowed_requesters,
    )
    summary = pipeline_summary(frame)

    if output == "json":
        payload = {
            "today": day,
            "limits": settings.pipeline_limit_days,
            "allowed_requesters": list(settings.allowed_requesters),
            "land_conclusions": plain_records(frame),
            "summary": plain_records(summary),
        }
        typer.echo(dumps(payload))
        return
    if output == "csv":
        typer.echo(_csv(frame), nl=False)
        return
    _print_pipeline(frame, day=day)
    _print_summary(summary)


def _days(value: object) -> str:
    return "—" if value is None or value is pd.NA else str(value)


def _print_pipeline(frame: pd.DataFrame, *, day: dt.date) -> None:
    grid = table(
        "text.field_land_conclusion_id",
        "text.field_soum_code",
        "cli_column.requested_by",
        "text.field_status",
        "cli_column.proposal_to_khural",
        "cli_column.khural_to_submitted",
        "cli_column.at_mrpam",
        "text.total",
        "cli_column.waiting_limit",
        "cli_column.problems",
        title=slashed("cli_text.pipeline_title", day=day),
    )
    for _, row in frame.iterrows():
        waiting = "—"
        if row["current_step"] is not None:
            limit = _days(row["limit_days"])
            waiting = f"{_days(row['days_in_step'])} / {limit}"
            if row["delayed"]:
                waiting = f"[red]{waiting}\n{slashed('cli_text.delayed')}[/]"
        problems = "—"
        if row["data_problems"]:
            problems = f"[yellow]{_text(row['problems_mn'])}\n{_text(row['problems_en'])}[/]"
        grid.add_row(
            f"{_text(row['id'])}\n{_text(row['name'])}",
            _text(row["soum_code"]),
            _both("requested_by", row["requested_by"]),
            _both("land_conclusion_status", row["status"]),
            _days(row["days_proposed"]),
            _days(row["days_khural_approved"]),
            _days(row["days_submitted"]),
            _days(row["total_days"]),
            waiting,
            problems,
        )
    out.print(grid)


def _print_summary(summary: pd.DataFrame) -> None:
    grid = table(
        "cli_column.step",
        "cli_column.count",
        "cli_column.median_days",
        "cli_column.longest",
        "cli_column.waiting_now",
        "cli_column.delayed",
        title=slashed("cli_text.step_times"),
    )
    for _, row in summary.iterrows():
        median = row["median_days"]
        grid.add_row(
            f"{row['label_mn']}\n{row['label_en']}",
            str(row["count"]),
            "—" if pd.isna(median) else f"{median:g}",
            _days(row["max_days"]),
            str(row["waiting"]),
            f"[red]{row['delayed']}[/]" if row["delayed"] else "0",
            end_section=row["step"] == "submitted",
        )
    out.print(grid)
