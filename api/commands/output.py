"""What the commands print through: the choice of a format, JSON, CSV and GeoJSON, files, and
the bilingual headings and lines of the labels catalogue (``layers/catalogue/``).

Catalogue entries are named ``"group.code"``; a heading prints Mongolian over English
(:func:`stacked`), a line ``"Mongolian / English"`` (:func:`slashed`), each filled with its
values.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
import typer
from rich.markup import escape
from rich.table import Table

from api.cli import err, refuse, words
from layers.errors import InputFileError
from layers.labels import messages

if TYPE_CHECKING:
    import pandas as pd

S = TypeVar("S", bound=str)

_OPTS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_REF = re.compile(r"^\w+\.\w+$")


def choose(value: str, allowed: Iterable[S], option: str) -> S:
    """``value`` if it is one of ``allowed``; else a usage error naming ``option``."""
    choices = list(allowed)
    for choice in choices:
        if value == choice:
            return choice
    raise typer.BadParameter(f"choose one of {', '.join(choices)}", param_hint=option)


def jsonable(value: object) -> object:
    """orjson's fallback: dates as ISO strings, pandas' missing values as null, numpy scalars."""
    if isinstance(value, dt.date):
        return value.isoformat()
    # pandas and numpy are imported by whoever made such a value (not by this module)
    pd, np = sys.modules.get("pandas"), sys.modules.get("numpy")
    if pd is not None and (value is pd.NA or value is pd.NaT):
        return None
    if np is not None and isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps(payload: object, *, indent: bool = True) -> str:
    """JSON text of ``payload`` (indented by two unless ``indent`` is false)."""
    option = _OPTS | orjson.OPT_INDENT_2 if indent else _OPTS
    return orjson.dumps(payload, option=option, default=jsonable).decode()


def geojson(frame: Any) -> str:
    """A FeatureCollection (RFC 7946: lon/lat) of ``frame``, properties as plain values."""
    from api.services.views import features_geojson

    return dumps(features_geojson(frame), indent=False)


def csv(frame: pd.DataFrame) -> str:
    """CSV of a table's columns (a geometry column left out), one ``\\n`` per row; text cells
    that a spreadsheet would read as a formula are made safe (:mod:`layers.cells`)."""
    import pandas as pd

    from layers.cells import frame_csv

    table = pd.DataFrame(frame.drop(columns="geometry", errors="ignore"))
    return frame_csv(table, index=False, lineterminator="\n")


def fail(exc: Exception) -> int:
    """Print an error for a person; returns the exit code 1."""
    err.print(f"[bold red]Error:[/] {escape(str(exc))}")
    return 1


def emit(text: str, target: Path | None = None, *, nl: bool = True) -> None:
    """Print ``text``, or write it to ``target`` (with a final newline) and say so."""
    if target is None:
        typer.echo(text, nl=nl)
        return
    write_out(target, text + ("" if text.endswith("\n") else "\n"))
    err.print(f"Wrote {target}", markup=False)


def out_target(path: Path | None) -> Path | None:
    """Refuse an ``--out`` that cannot be written: a folder, or a file in a missing folder
    (no command creates folders); ``path`` otherwise."""
    if path is None:
        return None
    if path.is_dir():
        refuse(InputFileError(str(path), words("file_problem", "is_folder")))
    if not path.parent.is_dir():
        refuse(InputFileError(str(path), words("file_problem", "no_folder", folder=path.parent)))
    return path


def write_out(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (UTF-8); a failure is a message naming the file, no traceback."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or str(exc)
        refuse(InputFileError(str(path), words("file_problem", "not_written", reason=reason)))


def _split(ref: str) -> tuple[str, str]:
    group, _, code = ref.partition(".")
    return group, code


def stacked(ref: str, /, **values: Any) -> str:
    """The catalogue entry ``ref`` (``"group.code"``): Mongolian over English."""
    mn, en = messages(*_split(ref), **values)
    return f"{mn}\n{en}"


def slashed(ref: str, /, **values: Any) -> str:
    """The catalogue entry ``ref`` (``"group.code"``) on one line: ``"Mongolian / English"``."""
    mn, en = messages(*_split(ref), **values)
    return f"{mn} / {en}"


def table(*columns: str, title: str | None = None, one_line: bool = False) -> Table:
    """A table whose headings are catalogue entries (Mongolian over English, or on one line
    with ``one_line``); any other heading (``"ID"``, ``"#"``) is printed as it is."""
    heading = slashed if one_line else stacked
    return Table(*(heading(c) if _REF.match(c) else c for c in columns), title=title)


def both(mn: object, en: object) -> str:
    """A value read in both languages (a reason, a message): Mongolian over English."""
    return f"{mn}\n{en}"
