"""The package layout holds: dependencies run one way, and no module grows past the limit.

Every import in every module (at the top or inside a function) is read from the source with
``ast``, so a new import that breaks a rule fails here, naming the module and the import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("layers", "geo", "api", "web")
#: the most lines one module may have
MAX_LINES = 600
#: the front doors that hand out web/'s pages: the app mounting the pages' router, ``gazar
#: map`` writing a map page to one file, and ``gazar check`` writing the review document
WEB_DOORS = frozenset({"api.app", "api.commands.map", "api.commands.check"})


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            out.append((node.lineno, target))
            # "from api.routes import ogc" imports the module api.routes.ogc
            out.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
    return out


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _broken(module: str, target: str) -> str | None:
    """Why ``module`` may not import ``target``; None when it may."""
    if _within(module, "layers"):
        for above in ("geo", "api", "web"):
            if _within(target, above):
                return "layers/ imports nothing from geo/, api/ or web/"
    if _within(module, "geo"):
        for above in ("api", "web"):
            if _within(target, above):
                return "geo/ imports nothing from api/ or web/"
    if (
        _within(module, "api.routes")
        and module != "api.routes"
        and _within(target, "api.routes")
        and target not in ("api.routes", module)
    ):
        return "no route module imports another"
    if _within(module, "api") and module not in WEB_DOORS and _within(target, "web"):
        return "api/ imports nothing from web/ (only create_app mounts the pages)"
    if _within(module, "api.services") and _within(target, "api.routes"):
        return "the service layer imports no route module"
    if _within(module, "web") and _within(target, "api.routes"):
        return "web/ imports no api.routes module"
    return None


def test_dependencies_run_one_way() -> None:
    modules = _modules()
    assert {"layers.store", "geo.rules", "api.app", "web.pages"} <= set(modules)
    problems: dict[tuple[Path, int], str] = {}
    for module, path in modules.items():
        for line, target in _imports(module, path):
            why = _broken(module, target)
            if why is not None and (target in modules or target.rpartition(".")[0] in modules):
                problems.setdefault((path, line), f"imports {target}: {why}")
    assert not problems, "\n".join(
        f"{path.relative_to(ROOT)}:{line}: {what}" for (path, line), what in problems.items()
    )


@pytest.mark.parametrize(
    ("module", "target", "allowed"),
    [
        ("layers.rasters", "geo.raster", False),
        ("geo.rules", "api.settings", False),
        ("api.routes.export", "api.routes.analysis", False),
        ("api.routes", "api.routes.ogc", True),
        ("web.pages", "api.routes.ogc", False),
        ("api.services.review", "web.maps", False),
        ("api.app", "web.pages", True),
        ("web.pages", "api.services", True),
        ("api.services.review", "geo.review", True),
    ],
)
def test_the_rules_catch_what_they_forbid(module: str, target: str, allowed: bool) -> None:
    assert (_broken(module, target) is None) is allowed


def test_function_level_and_relative_imports_are_read(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from geo import rules\n    from . import labels\n")
    found = {target for _, target in _imports("layers.x", source)}
    assert {"geo", "geo.rules", "layers.labels"} <= found


def test_no_module_is_over_the_limit() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in _modules().values()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


@pytest.mark.parametrize(
    "module",
    ["web.pages", "api.routes.analysis", "api.routes.ogc", "api.services", "api.deps", "api.cli"],
)
def test_each_front_door_imports_first(module: str) -> None:
    """Imported first in a fresh interpreter, no module meets a partly initialised one (the
    pages once needed the app to import the routes before them)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
