"""Leaflet and its plugins from local npm packages, never a CDN.

The pages load every script and stylesheet from ``/static/...``: ``/static/vendor/<package>/``
serves the files of the npm packages pinned in ``package.json`` (installed into
``node_modules`` by ``scripts/setup``), ``/static/gazar/`` Gazar's own map code in
``web/static``. A standalone map file (``gazar map``) has the same files inlined, the images
their stylesheets refer to included as ``data:`` addresses, so it opens from a USB stick with no
network at all.
"""

from __future__ import annotations

import base64
import mimetypes
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

from layers.errors import GazarError

ROOT: Final = Path(__file__).resolve().parents[1]
#: the checkout's ``node_modules`` (``GAZAR_NODE_MODULES``, read by ``api.settings``, may name
#: another, e.g. a packaged install)
NODE_MODULES: Final = ROOT / "node_modules"
GAZAR_STATIC: Final = Path(__file__).resolve().parent / "static"

#: URL prefix of every asset the pages load
STATIC_URL: Final = "/static"


def static_roots(node_modules: Path | None = None) -> dict[str, Path]:
    """``/static/<prefix>/...`` -> the folder it is served from."""
    modules = node_modules or NODE_MODULES
    return {
        "vendor/leaflet": modules / "leaflet" / "dist",
        "vendor/leaflet-draw": modules / "leaflet-draw" / "dist",
        "vendor/leaflet.fullscreen": modules / "leaflet.fullscreen",
        "vendor/leaflet.vectorgrid": modules / "leaflet.vectorgrid" / "dist",
        "vendor/swagger-ui": modules / "swagger-ui-dist",
        "gazar": GAZAR_STATIC,
    }


Asset = tuple[str, str]

LEAFLET_JS: Final[Asset] = ("leaflet", f"{STATIC_URL}/vendor/leaflet/leaflet.js")
LEAFLET_CSS: Final[Asset] = ("leaflet_css", f"{STATIC_URL}/vendor/leaflet/leaflet.css")
DRAW_JS: Final[Asset] = ("leaflet_draw_js", f"{STATIC_URL}/vendor/leaflet-draw/leaflet.draw.js")
DRAW_CSS: Final[Asset] = (
    "leaflet_draw_css",
    f"{STATIC_URL}/vendor/leaflet-draw/leaflet.draw.css",
)
FULLSCREEN_JS: Final[Asset] = (
    "Control.Fullscreen.js",
    f"{STATIC_URL}/vendor/leaflet.fullscreen/Control.FullScreen.js",
)
FULLSCREEN_CSS: Final[Asset] = (
    "Control.FullScreen.css",
    f"{STATIC_URL}/vendor/leaflet.fullscreen/Control.FullScreen.css",
)
#: Leaflet.VectorGrid (with its protobuf reader bundled): large layers drawn from the API's
#: vector tiles at low zooms
VECTORGRID_JS: Final[Asset] = (
    "leaflet_vectorgrid",
    f"{STATIC_URL}/vendor/leaflet.vectorgrid/Leaflet.VectorGrid.bundled.min.js",
)
GAZAR_JS: Final[Asset] = ("gazar_js", f"{STATIC_URL}/gazar/gazar.js")
GAZAR_CSS: Final[Asset] = ("gazar_css", f"{STATIC_URL}/gazar/gazar.css")


class AssetMissing(GazarError):
    """A static file the maps need is not installed (``npm ci`` has not run)."""

    def __init__(self, path: str, file: Path) -> None:
        # the message names the address asked for, never the folder it is served from
        super().__init__(
            f"static file '{path}' is not installed; run scripts/setup, which installs "
            "Leaflet and its plugins with npm ci"
        )
        self.path = path
        #: where it was looked for, for the operator's log only
        self.file = file


def static_file(path: str, node_modules: Path | None = None) -> Path:
    """The file behind a static address (``/static/vendor/leaflet/leaflet.js`` or without the
    ``/static/`` prefix), Leaflet's from ``node_modules`` (default: the checkout's).

    Raises
    ------
    AssetMissing
        For an address outside the served folders, a path leaving its folder (``..``), or a
        file that does not exist.
    """
    rel = path.removeprefix(STATIC_URL + "/").lstrip("/")
    if not rel.isprintable() or "\\" in rel:  # a null byte, a control or undecodable byte
        raise AssetMissing(path.encode("unicode_escape").decode("ascii"), Path())
    for prefix, folder in static_roots(node_modules).items():
        if rel.startswith(prefix + "/"):
            base = folder.resolve()
            file = (base / rel[len(prefix) + 1 :]).resolve()
            if file.is_relative_to(base) and file.is_file():
                return file
            raise AssetMissing(path, file)
    raise AssetMissing(path, Path(rel))


def localize(element: Any, js: Iterable[Asset] = (), css: Iterable[Asset] = ()) -> Any:
    """Make a folium element load ``js`` and ``css`` (local addresses) instead of its defaults.

    Set on the instance, so folium's own classes keep their CDN defaults for other users.
    """
    element.default_js = list(js)
    element.default_css = list(css)
    return element


_SCRIPT = re.compile(r'<script src="(/static/[^"]+)"></script>')
_STYLESHEET = re.compile(r'<link rel="stylesheet" href="(/static/[^"]+)"/?>')
_CSS_URL = re.compile(r"url\((['\"]?)(?!data:|#|https?:)([^'\")]+)\1\)")
#: any script or stylesheet address that would need the network
_EXTERNAL = re.compile(
    r"<script[^>]+src=\"(?:https?:)?//[^\"]+\"|<link[^>]+href=\"(?:https?:)?//[^\"]+\""
    r"|@import\s+url\((['\"]?)(?:https?:)?//",
    re.IGNORECASE,
)


def external_refs(html: str) -> list[str]:
    """Every ``<script src>``, ``<link href>`` or CSS ``@import`` that leaves the machine."""
    return [m.group(0) for m in _EXTERNAL.finditer(html)]


def _data_uri(file: Path) -> str:
    mime = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    if file.suffix == ".svg":
        mime = "image/svg+xml"
    return f"data:{mime};base64,{base64.b64encode(file.read_bytes()).decode('ascii')}"


def inline_css(file: Path) -> str:
    """A stylesheet's text with the images it refers to (``url(images/x.png)``) inlined."""
    text = file.read_text(encoding="utf-8")

    def repl(m: re.Match[str]) -> str:
        target = (file.parent / m.group(2)).resolve()
        if not target.is_file():  # e.g. IE's ``url(#default#VML)`` is skipped above
            return m.group(0)
        return f'url("{_data_uri(target)}")'

    return _CSS_URL.sub(repl, text)


def _script_text(file: Path) -> str:
    # a literal "</script>" inside the code would end the element early
    return file.read_text(encoding="utf-8").replace("</script", "<\\/script")


def inline_assets(html: str, node_modules: Path | None = None) -> str:
    """Replace every ``/static/...`` script and stylesheet link by the file's contents.

    The result needs neither the server nor the network.

    Raises
    ------
    AssetMissing
        When a referenced file is not installed.
    """

    def script(m: re.Match[str]) -> str:
        return f"<script>{_script_text(static_file(m.group(1), node_modules))}</script>"

    def style(m: re.Match[str]) -> str:
        return f"<style>{inline_css(static_file(m.group(1), node_modules))}</style>"

    return _STYLESHEET.sub(style, _SCRIPT.sub(script, html))
