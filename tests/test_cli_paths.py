"""Every ``gazar`` command given bad paths (issue 14, finding 7): a missing store or folder, a
folder where a file belongs, a 0-byte file, a file that is not a store. Each exits non-zero
with a message naming the path, and none prints a traceback.

The commands are enumerated from the typer app, so a new command is covered without being
listed here; its required values come from :data:`VALUES` (a new required parameter without a
value there fails :func:`test_every_required_parameter_has_a_value`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import typer.main
from typer.testing import CliRunner

from api.cli import app
from layers.readers import read_features
from layers.store import Store
from tests import factories as f

runner = CliRunner()

#: A value for each required parameter (by its Python name).
VALUES: dict[str, str] = {
    "layer": "land_conclusions",
    "land_conclusion_id": "LC-1",
    "number": "LC-1/A1",
    "parcel_id": "P-1",
    "where": "feeds",  # gazar verify: a folder of downloaded feeds
    "outcome": "approve",
    "status": "issued",
    "draw_id": "D-1",
    "name": "someone",
    "what": "available",
    "ha": "1",
    "holder": "Bat",
    "women": "1",
    "men": "1",
    "reason": "why",
    "role": "public",
    "date": "2030-01-01",
    "value": "1",
}
#: Commands that create a store that does not exist yet (and say so).
CREATING = {"demo", "migrate", "import"}
#: Parameters naming the file a command writes.
OUT_PARAMS = {"out_file", "out_path"}


def _commands() -> dict[str, Any]:
    """Every leaf command, by its words (``"users add"``)."""
    found: dict[str, Any] = {}

    def walk(command: Any, words: tuple[str, ...]) -> None:
        subs = getattr(command, "commands", None)
        if subs:
            for name, sub in subs.items():
                walk(sub, (*words, name))
        else:
            found[" ".join(words)] = command

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = _commands()


def _opts(command: Any) -> dict[str, Any]:
    return {p.name: p for p in command.params}


def _is_input(p: Any) -> bool:
    """A parameter naming a file the command reads (a ``Path`` that is not ``--out``)."""
    return p.type_descriptor.annotation is Path and p.name not in OUT_PARAMS


def _argv(words: str, proposal: Path, out: Path, **given: str) -> list[str]:
    """The command's words and its required values; ``given`` sets a parameter (by name)."""
    command = COMMANDS[words]
    argv = words.split()
    for p in command.params:
        value = given.get(p.name)
        if value is None and p.required:
            if _is_input(p):
                value = str(proposal)
            elif p.name in OUT_PARAMS:
                value = str(out)
            elif p.name in ("source", "dest"):
                value = given.get("db", str(out))
            else:
                value = VALUES[p.name]
        if value is None:
            continue
        if p.param_type_name == "argument":
            argv.append(value)
        else:
            argv += [p.opts[0], value]
    return argv


def _run(argv: list[str]) -> tuple[int, str, BaseException | None]:
    result = runner.invoke(app, argv)
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    return result.exit_code, text, result.exception


def _refused(argv: list[str], path: Path | str) -> str:
    code, text, exc = _run(argv)
    assert code != 0, (argv, text)
    assert exc is None or isinstance(exc, SystemExit), (argv, repr(exc))
    assert "Traceback" not in text, (argv, text)
    assert str(path) in text, (argv, text)
    return text


@pytest.fixture(autouse=True)
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """``gazar serve`` given a store it accepts would listen forever: fail instead."""
    import uvicorn

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("gazar serve started a server on a bad store")

    monkeypatch.setattr(uvicorn, "run", refuse)


@pytest.fixture
def proposal(tmp_path: Path) -> Path:
    frame = gpd.GeoDataFrame(
        {"id": ["NEW"]}, geometry=[f.utm_box(500, 300, 200, 200)], crs="EPSG:4326"
    )
    path = tmp_path / "proposal.geojson"
    frame.to_file(path, driver="GeoJSON")
    return path


@pytest.fixture
def bad(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """The bad paths: a missing folder, a folder, a 0-byte file, a text file."""
    folder = tmp_path / "a_folder"
    folder.mkdir()
    empty = tmp_path / "empty.gpkg"
    empty.touch()
    text = tmp_path / "notes.gpkg"
    text.write_text("not a store\n")
    yield {
        "missing_folder": tmp_path / "missing_dir" / "x.gpkg",
        "missing_file": tmp_path / "none.gpkg",
        "folder": folder,
        "empty": empty,
        "not_a_store": text,
    }
    assert not (tmp_path / "missing_dir").exists(), "a command created the missing folder"


def test_every_required_parameter_has_a_value() -> None:
    for words, command in COMMANDS.items():
        for p in command.params:
            named = _is_input(p) or p.name in {*OUT_PARAMS, "source", "dest"}
            if p.required and not named:
                assert p.name in VALUES, (words, p.name)


DB_COMMANDS = [w for w, c in COMMANDS.items() if "db" in _opts(c) or "source" in _opts(c)]


@pytest.mark.parametrize(
    "case", ["missing_folder", "missing_file", "folder", "empty", "not_a_store"]
)
@pytest.mark.parametrize("words", DB_COMMANDS)
def test_a_bad_store_is_named(
    words: str, case: str, bad: dict[str, Path], proposal: Path, tmp_path: Path
) -> None:
    if words in CREATING and case in ("missing_folder", "missing_file"):
        pytest.skip("this command creates a store (tested below)")
    path = bad[case]
    name = "source" if words == "copy" else "db"
    argv = _argv(words, proposal, tmp_path / "out.txt", **{name: str(path)})
    if words == "copy":
        argv += ["--to", str(tmp_path / "copy.gpkg")]
    _refused(argv, path)
    if case == "empty":
        assert path.stat().st_size == 0, "the 0-byte file became a store"
    if case == "missing_file":
        assert not path.exists(), "a command created a store"


@pytest.mark.parametrize("words", ["layers", "analyze", "register", "users list", "audit verify"])
def test_a_missing_store_is_not_created(words: str, tmp_path: Path) -> None:
    path = tmp_path / "missing_dir" / "x.gpkg"
    text = _refused([*words.split(), "--db", str(path)], tmp_path / "missing_dir")
    assert "no such folder" in text
    assert not path.parent.exists()


def test_migrate_and_import_create_a_store_and_say_so(tmp_path: Path, proposal: Path) -> None:
    path = tmp_path / "new.gpkg"
    code, text, _ = _run(["migrate", "--db", str(path)])
    assert code == 0, text
    assert f"Created a new, empty store: {path}" in text
    code, text, _ = _run(["migrate", "--db", str(path)])
    assert code == 0 and "Created" not in text
    other = tmp_path / "other.gpkg"
    code, text, _ = _run(["import", "exclusions", str(proposal), "--db", str(other)])
    assert f"Created a new, empty store: {other}" in text


OUT_COMMANDS = [w for w, c in COMMANDS.items() if "out_file" in _opts(c) or "out_path" in _opts(c)]


@pytest.fixture
def good_store(seeded: Store) -> str:
    return seeded.location


@pytest.mark.gpkg_only
@pytest.mark.parametrize("case", ["missing_folder", "folder"])
@pytest.mark.parametrize("words", OUT_COMMANDS)
def test_a_bad_out_is_named(
    words: str, case: str, bad: dict[str, Path], good_store: str, proposal: Path, tmp_path: Path
) -> None:
    out = bad[case]
    if case == "missing_folder":
        out = out.with_suffix(".txt")
    name = "out_file" if "out_file" in _opts(COMMANDS[words]) else "out_path"
    given = {name: str(out)}
    if "db" in _opts(COMMANDS[words]):
        given["db"] = good_store
    text = _refused(_argv(words, proposal, out, **given), out.parent if case != "folder" else out)
    assert ("no such folder" if case == "missing_folder" else "is a folder") in text


INPUT_COMMANDS = [(w, p.name) for w, c in COMMANDS.items() for p in c.params if _is_input(p)]


@pytest.mark.gpkg_only
@pytest.mark.parametrize("case", ["missing", "folder", "empty"])
@pytest.mark.parametrize(("words", "param"), INPUT_COMMANDS)
def test_a_bad_input_file_is_named(
    words: str, param: str, case: str, good_store: str, proposal: Path, tmp_path: Path
) -> None:
    suffix = ".tif" if param in ("dem", "before", "after") else ".geojson"
    path = {
        "missing": tmp_path / f"none{suffix}",
        "folder": tmp_path / f"folder{suffix}",
        "empty": tmp_path / f"empty{suffix}",
    }[case]
    if case == "folder":
        path.mkdir()
    elif case == "empty":
        path.touch()
    given = {param: str(path)}
    if "db" in _opts(COMMANDS[words]):
        given["db"] = good_store
    if param == "before":
        given["after"] = str(path)
    if param == "after":
        given["before"] = str(path)
    _refused(_argv(words, proposal, tmp_path / "out.txt", **given), path)


@pytest.mark.parametrize(
    "suffix", [".geojson", ".json", ".shp", ".gpkg", ".fgb", ".kml", ".kmz", ".zip", ".csv"]
)
def test_an_empty_file_says_so(suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"empty{suffix}"
    path.touch()
    with pytest.raises(Exception, match="the file is empty") as exc:
        read_features(path)
    assert str(path) in str(exc.value)
    assert "CSV:" not in str(exc.value) and "parsing kml" not in str(exc.value)
