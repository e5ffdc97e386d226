"""The one catalogue of labels: both languages everywhere, each label written once."""

from __future__ import annotations

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
