"""The one settings tree: ``api/settings.py`` reads the ``GAZAR_*`` environment and nothing else
in ``api/``, ``web/``, ``layers/`` or ``geo/`` reads or writes it (the values are passed down)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "web", "layers", "geo")
#: the one module that reads the environment (through pydantic-settings)
ALLOWED = {"api/settings.py"}
_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def _touches_environment(node: ast.Attribute | ast.ImportFrom) -> bool:
    if isinstance(node, ast.Attribute):  # os.environ, os.getenv, ...
        return node.attr in _NAMES and isinstance(node.value, ast.Name) and node.value.id == "os"
    # from os import environ
    return node.module == "os" and any(alias.name in _NAMES for alias in node.names)


def environment_uses(source: str) -> list[int]:
    """The lines of ``source`` that touch the process environment: ``os.environ``,
    ``os.getenv`` and the like, or importing them from ``os``."""
    return sorted(
        n.lineno
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Attribute | ast.ImportFrom) and _touches_environment(n)
    )


def test_only_the_settings_tree_reads_the_environment() -> None:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name in ALLOWED:
                continue
            found += [f"{name}:{line}" for line in environment_uses(path.read_text("utf-8"))]
    assert found == [], "read GAZAR_* in api/settings.py and pass the value down"


def test_the_check_sees_every_way_of_reaching_the_environment() -> None:
    source = (
        "import os\n"
        "from os import environ\n"
        "a = os.environ.get('X')\n"
        "b = os.getenv('X')\n"
        "os.environ['X'] = '1'\n"
        "c = os.path.join('a', 'b')\n"
    )
    assert environment_uses(source) == [2, 3, 4, 5]
