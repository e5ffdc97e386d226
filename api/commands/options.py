"""Command-line options that several commands take with the same meaning."""

from __future__ import annotations

from typing import Annotated

import typer

TodayOption = Annotated[
    str | None,
    typer.Option(
        "--today",
        help="The day dates are judged on, YYYY-MM-DD (default: today).",
        show_default=False,
    ),
]
SoumOption = Annotated[
    str | None,
    typer.Option("--soum", help="Only this soum (its code, e.g. MN4322).", show_default=False),
]
