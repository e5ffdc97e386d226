"""The one catalogue of labels: both languages everywhere, each label written once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from layers import labels
from layers.labels import CatalogueError, load_catalogue


def test_every_label_has_both_languages() -> None:
    groups = labels.catalogue()
    assert {"contract_status", "land_conclusion_status", "layer", "text"} <= set(groups)
    for group, entries in groups.items():
        assert entries, group
        for code, (mn, en) in entries.items():
            assert mn.strip() and en.strip(), (group, code)


def test_lookups() -> None:
    assert labels.label("contract_status", "active", "en") == "Active"
    assert labels.label("contract_status", "active") == "Хүчинтэй"
    assert labels.label("contract_status", "bogus", "en") == "bogus"
    assert labels.bilingual("contract_status", "active") == "Хүчинтэй / Active"
    assert labels.text("nav_map", "en") == "Map"
    assert labels.LABELS["layer"]["soums"] == ("Сум", "Soums")
    with pytest.raises(KeyError, match=r"text\.no_such_key"):
        labels.text("no_such_key")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ('[g]\na = { mn = "А" }\n', "must be"),
        ('[g]\na = { mn = "А", en = "" }\n', "no en label"),
        ('[g]\na = { mn = " ", en = "A" }\n', "no mn label"),
        ('[g]\na = "A"\n', "must be"),
        ("g = 1\n", "not a table"),
        ("[g\n", "not valid TOML"),
    ],
)
def test_malformed_catalogue_is_refused(tmp_path: Path, body: str, reason: str) -> None:
    (tmp_path / "x.toml").write_text(body, encoding="utf-8")
    with pytest.raises(CatalogueError, match=reason) as info:
        load_catalogue(tmp_path)
    assert "x.toml" in str(info.value)


def test_a_label_written_twice_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('[g]\nx = { mn = "Х", en = "X" }\n', encoding="utf-8")
    (tmp_path / "b.toml").write_text('[g]\nx = { mn = "Х", en = "X" }\n', encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"b.toml: g.x is already in a.toml"):
        load_catalogue(tmp_path)


# ------------------------------------------------------------------ no labels outside the catalogue

ROOT = Path(__file__).resolve().parents[1]
CYRILLIC = re.compile(r"[\u0400-\u04ff]+")

#: Files whose Cyrillic is data, not a label a person reads, and why.
DATA_FILES: dict[str, str] = {
    "layers/demo/": "demo data: the soum, place and holder names of the generated store",
    "layers/dms.py": "parsing input: the Mongolian hemisphere words and the Cyrillic letters "
    "(С, Ю, В, З) that DMS coordinates are read with or refused for",
    "layers/corners.py": "parsing input: the Cyrillic column names a corner list may be "
    "imported with (дугаар, цэг, уртраг, өргөрөг, ...)",
    "layers/labels.py": "the catalogue's loader: its doctest examples print catalogue entries",
    "layers/translit.py": "the Cyrillic alphabet written in Latin letters (MNS 5217), and its "
    "doctest examples (place names)",
}

#: Cyrillic words that are data wherever they stand, and why.
DATA_WORDS: dict[str, str] = {
    "ГТБХГ": "the prefix of the cadastre's parcel numbers (geo/area.py explains them)",
}


def _sources() -> list[Path]:
    files = [p for top in ("api", "geo", "layers", "web") for p in (ROOT / top).rglob("*.py")]
    templates = [p for p in (ROOT / "web" / "templates").rglob("*") if p.is_file()]
    return sorted(files + templates)


def _is_data(path: Path) -> bool:
    """An allowed file, or a file in an allowed folder (an entry ending with "/")."""
    name = path.relative_to(ROOT).as_posix()
    return any(name == d or (d.endswith("/") and name.startswith(d)) for d in DATA_FILES)


def _cyrillic_lines(path: Path) -> list[str]:
    found = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        words = [w for w in CYRILLIC.findall(line) if w not in DATA_WORDS]
        if words:
            found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:90]}")
    return found


def test_no_cyrillic_outside_the_catalogue() -> None:
    """Every label a person reads is in layers/catalogue/*.toml: Cyrillic in a module or a
    template is a label written inline, unless the module is listed as data above."""
    found = [line for path in _sources() if not _is_data(path) for line in _cyrillic_lines(path)]
    assert not found, "labels outside the catalogue:\n" + "\n".join(found)


def test_the_data_allow_list_is_current() -> None:
    """Each allowed file exists and still holds Cyrillic (else its entry is to be removed)."""
    for name in DATA_FILES:
        path = ROOT / name
        files = sorted(path.glob("*.py")) if name.endswith("/") else [path]
        assert files and all(f.is_file() for f in files), name
        assert any(CYRILLIC.search(f.read_text(encoding="utf-8")) for f in files), name


def test_every_catalogue_entry_the_commands_name_exists() -> None:
    """The commands name catalogue entries as "group.code" strings: each one is written."""
    groups = labels.catalogue()
    named = set()
    for path in (ROOT / "api" / "commands").glob("*.py"):
        named |= set(re.findall(r"\"(cli_column|cli_text|text)\.(\w+)\"", path.read_text()))
    assert named, "no catalogue entry named in api/commands"
    missing = sorted(f"{g}.{c}" for g, c in named if c not in groups.get(g, {}))
    assert not missing, missing
