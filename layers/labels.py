"""The one catalogue of every label a person reads, in Mongolian (Cyrillic) and English.

The labels themselves are data: the TOML files in ``layers/catalogue/`` (one per topic: the
codes stored in layers, the pages' words, rule messages, ...). Each file holds tables (groups)
of entries ``code = { mn = "...", en = "..." }``; together they form one catalogue, loaded once,
in which a group and code may be written only once and every entry has both languages
(:func:`catalogue` refuses anything else, naming the file, the group and the code).

Message templates name their values in braces (``"{holder}"``) and are filled by
:func:`message`; the Mongolian ones are written so that no case suffix follows a value.

Examples
--------
>>> label("contract_status", "active", "en")
'Active'
>>> text("nav_map", "mn")
'Газрын зураг'
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, Literal

Lang = Literal["mn", "en"]
LANGS: Final[tuple[Lang, ...]] = ("mn", "en")
CATALOGUE_DIR: Final = Path(__file__).with_name("catalogue")

Pair = tuple[str, str]


class CatalogueError(ValueError):
    """A catalogue file is malformed: a label missing in a language, or written twice."""


@functools.cache
def catalogue() -> Mapping[str, Mapping[str, Pair]]:
    """Every group of the catalogue: ``group -> code -> (Mongolian, English)``."""
    return load_catalogue(CATALOGUE_DIR)


def load_catalogue(folder: Path) -> dict[str, dict[str, Pair]]:
    """Read every ``*.toml`` file of ``folder`` into one catalogue (CatalogueError if any
    entry lacks a language, is not a pair, or is written twice)."""
    groups: dict[str, dict[str, Pair]] = {}
    where: dict[tuple[str, str], str] = {}
    for path in sorted(folder.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise CatalogueError(f"{path.name}: not valid TOML ({exc})") from None
        for group, entries in data.items():
            if not isinstance(entries, dict):
                raise CatalogueError(f"{path.name}: {group} is not a table of labels")
            target = groups.setdefault(group, {})
            for code, entry in entries.items():
                target[code] = _pair(path.name, group, code, entry)
                first = where.setdefault((group, code), path.name)
                if first != path.name:
                    raise CatalogueError(
                        f"{path.name}: {group}.{code} is already in {first}; write it once"
                    )
    return groups


def _pair(file: str, group: str, code: str, entry: Any) -> Pair:
    if not isinstance(entry, dict) or set(entry) != {"mn", "en"}:
        raise CatalogueError(f"{file}: {group}.{code} must be {{ mn = ..., en = ... }}")
    mn, en = entry["mn"], entry["en"]
    for lang, value in (("mn", mn), ("en", en)):
        if not isinstance(value, str) or not value.strip():
            raise CatalogueError(f"{file}: {group}.{code} has no {lang} label")
    return mn, en


class _Labels(Mapping[str, Mapping[str, Pair]]):
    """``LABELS[group][code] -> (mn, en)``: the catalogue, loaded on first use."""

    def __getitem__(self, group: str) -> Mapping[str, Pair]:
        return catalogue()[group]

    def __iter__(self) -> Any:
        return iter(catalogue())

    def __len__(self) -> int:
        return len(catalogue())


LABELS: Final[Mapping[str, Mapping[str, Pair]]] = _Labels()


def pick(pair: Pair, lang: Lang) -> str:
    """One side of a ``(Mongolian, English)`` pair."""
    return pair[0] if lang == "mn" else pair[1]


def pair(group: str, code: str) -> Pair:
    """``(Mongolian, English)`` of ``code`` in ``group``; KeyError naming both if it is missing."""
    try:
        return catalogue()[group][code]
    except KeyError:
        raise KeyError(f"no label {group}.{code} in the catalogue") from None


def label(group: str, value: str, lang: Lang = "mn") -> str:
    """Label of ``value`` in ``group`` for a language; the raw value if none is known (a code
    read from data that the catalogue does not know is shown as it is).

    Examples
    --------
    >>> label("contract_status", "active", "en")
    'Active'
    >>> label("contract_status", "bogus", "en")
    'bogus'
    """
    found = catalogue().get(group, {}).get(value)
    return value if found is None else pick(found, lang)


def bilingual(group: str, value: str) -> str:
    """``"Монгол / English"`` for a value, as shown where both languages are printed."""
    found = catalogue().get(group, {}).get(value)
    return value if found is None else f"{found[0]} / {found[1]}"


def text(key: str, lang: Lang = "mn") -> str:
    """The page or interface string ``key`` (group ``text``) in ``lang``; KeyError if missing.

    Examples
    --------
    >>> text("nav_map", "en")
    'Map'
    """
    return pick(pair("text", key), lang)


def message(group: str, code: str, lang: Lang = "mn", /, **values: Any) -> str:
    """The template ``group.code`` in ``lang`` with ``{name}`` filled from ``values``."""
    return pick(pair(group, code), lang).format_map(values)


def messages(group: str, code: str, /, **values: Any) -> Pair:
    """The template ``group.code`` filled in both languages: ``(Mongolian, English)``."""
    mn, en = pair(group, code)
    return mn.format_map(values), en.format_map(values)


def parse_lang(value: str | None) -> Lang:
    """``"en"`` when asked for, else Mongolian (the default); unknown values fall back too."""
    return "en" if (value or "").strip().lower() == "en" else "mn"
