"""Lifecycle commands: contracts about to expire, and the Land Conclusion pipeline."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import orjson
import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from api.cli import DbOption, analysis_settings, app, guarded, out, parse_today, store_at
from api.views import expiring_json, expiring_view
from geo.lifecycle import pipeline, pipeline_summary
from layers.labels import label

OutputFormat = Literal["table", "json", "csv"]
_FORMATS: tuple[OutputFormat, ...] = ("table", "json", "csv")

TodayOption = Annotated[
    str | None, typer.Option("--today", help="The day to count from, YYYY-MM-DD (default: today).")
]
FormatOption = Annotated[str, typer.Option("--format", help="table (bilingual), json or csv.")]


def _format(value: str) -> OutputFormat:
    for fmt in _FORMATS:
        if value == fmt:
            return fmt
    raise typer.BadParameter(f"choose one of {', '.join(_FORMATS)}", param_hint="--format")


def _plain(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as plain Python values: missing values become ``None`` (JSON ``null``)."""
    cleaned = frame.astype(object).where(frame.notna(), None)
    return cleaned.to_dict("records")  # type: ignore[return-value]


def _dumps(payload: object) -> str:
    return orjson.dumps(
        payload, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
    ).decode()


def _csv(frame: pd.DataFrame) -> str:
    """CSV with lists joined by ``;`` and dates as ISO strings."""
    flat = frame.copy()
    for column in flat.columns:
        if flat[column].map(lambda v: isinstance(v, list)).any():
            flat[column] = flat[column].map(
                lambda v: ";".join(map(str, v)) if isinstance(v, list) else ""
            )
    return flat.to_csv(index=False, lineterminator="\n")


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
    output = _format(fmt)
    with store_at(db, create=False) as store:
        parcels = guarded(lambda: store.read("contract_parcels"))
        zones = guarded(lambda: store.read("rehab_zones"))
    result = expiring_view(parcels, zones, today=day, days=window)
    soon, late = result.soon, result.overdue

    if output == "json":
        typer.echo(_dumps(expiring_json(result)))
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


def _print_expiring(soon: pd.DataFrame, *, day: dt.date, window: int) -> None:
    table = Table(
        "Гэрээ\nContract",
        "Эзэмшигч\nHolder",
        "Газрын дүгнэлт\nLand Conclusion",
        "Төлөв\nStatus",
        "Дуусах\nExpires",
        "Үлдсэн хоног\nDays left",
        "Сунгалт\nRenewal",
        "Шалтгаан\nReason",
        title=(
            f"{window} хоногт дуусах гэрээ / Contracts ending within {window} days "
            f"({day} – {day + dt.timedelta(days=window)})"
        ),
    )
    for _, row in soon.iterrows():
        table.add_row(
            _contract_name(row),
            _text(row["holder"]),
            _text(row["land_conclusion_id"]),
            _both("contract_status", row["status"]),
            _text(row["expires_on"]),
            str(row["days_left"]),
            "[green]Сунгаж болно / Eligible[/]"
            if row["renewal_eligible"]
            else "[red]Татгалзана / Refused[/]",
            _text(f"{row['reason_mn']}\n{row['reason_en']}"),
        )
    out.print(table)
    refused = int((~soon["renewal_eligible"]).sum())
    out.print(
        f"{len(soon)} гэрээ, {refused} нь сунгах боломжгүй / "
        f"{len(soon)} contract(s), {refused} cannot be renewed"
    )


def _print_overdue(late: pd.DataFrame, *, day: dt.date) -> None:
    if late.empty:
        out.print("Хугацаа нь дууссан хүчинтэй гэрээ алга / No open contract is past its end date")
        return
    table = Table(
        "Гэрээ\nContract",
        "Эзэмшигч\nHolder",
        "Газрын дүгнэлт\nLand Conclusion",
        "Төлөв\nStatus",
        "Дууссан\nEnded",
        "Хэтэрсэн хоног\nDays over",
        title=f"Хугацаа нь дууссан ч нээлттэй гэрээ / Open contracts past their end date ({day})",
    )
    for _, row in late.iterrows():
        table.add_row(
            _contract_name(row),
            _text(row["holder"]),
            _text(row["land_conclusion_id"]),
            _both("contract_status", row["status"]),
            _text(row["expires_on"]),
            f"[red]{row['days_overdue']}[/]",
        )
    out.print(table)


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
    output = _format(fmt)
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
            "land_conclusions": _plain(frame),
            "summary": _plain(summary),
        }
        typer.echo(_dumps(payload))
        return
    if output == "csv":
        typer.echo(_csv(frame), nl=False)
        return
    _print_pipeline(frame, day=day)
    _print_summary(summary)


def _days(value: object) -> str:
    return "—" if value is None or value is pd.NA else str(value)


def _print_pipeline(frame: pd.DataFrame, *, day: dt.date) -> None:
    table = Table(
        "Газрын дүгнэлт\nLand Conclusion",
        "Сум\nSoum",
        "Хүсэлт\nRequested by",
        "Төлөв\nStatus",
        "Санал → Хурал\nProposal → Khural",
        "Хурал → Илгээсэн\nKhural → Submitted",
        "АМГТГ-т\nAt MRPAM",
        "Нийт\nTotal",
        "Хүлээж буй / Хязгаар\nWaiting / limit",
        "Асуудал\nProblems",
        title=f"Газрын дүгнэлтийн явц, хоногоор / Land Conclusion pipeline, in days ({day})",
    )
    for _, row in frame.iterrows():
        waiting = "—"
        if row["current_step"] is not None:
            limit = _days(row["limit_days"])
            waiting = f"{_days(row['days_in_step'])} / {limit}"
            if row["delayed"]:
                waiting = f"[red]{waiting}\nХоцорсон / Delayed[/]"
        problems = "—"
        if row["data_problems"]:
            problems = f"[yellow]{_text(row['problems_mn'])}\n{_text(row['problems_en'])}[/]"
        table.add_row(
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
    out.print(table)


def _print_summary(summary: pd.DataFrame) -> None:
    table = Table(
        "Алхам\nStep",
        "Тоо\nCount",
        "Медиан хоног\nMedian days",
        "Хамгийн урт\nLongest",
        "Одоо хүлээж буй\nWaiting now",
        "Хоцорсон\nDelayed",
        title="Алхам бүрийн хугацаа / Time per step",
    )
    for _, row in summary.iterrows():
        median = row["median_days"]
        table.add_row(
            f"{row['label_mn']}\n{row['label_en']}",
            str(row["count"]),
            "—" if pd.isna(median) else f"{median:g}",
            _days(row["max_days"]),
            str(row["waiting"]),
            f"[red]{row['delayed']}[/]" if row["delayed"] else "0",
            end_section=row["step"] == "submitted",
        )
    out.print(table)
