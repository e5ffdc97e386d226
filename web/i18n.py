"""Page and map words: the ``text`` group of the one catalogue (``layers/catalogue/``).

Statuses, stages, kinds and layer names are other groups of the same catalogue; this module
only re-exports the lookups the pages use and builds Leaflet.draw's strings (group
``draw_local``).
"""

from __future__ import annotations

from typing import Final, cast

from layers.labels import LABELS, LANGS, Lang, parse_lang, pick, text

__all__ = ["DRAW_LOCAL_MN", "LANGS", "Lang", "draw_local", "parse_lang", "pick", "text"]


def draw_local(lang: Lang) -> dict[str, object]:
    """Leaflet.draw's strings (``L.drawLocal``) in ``lang``, from the catalogue group
    ``draw_local`` (codes are paths in that object: ``draw.toolbar.actions.title``)."""
    tree: dict[str, object] = {}
    for path, words in LABELS["draw_local"].items():
        *parents, leaf = path.split(".")
        node = tree
        for key in parents:
            node = cast(dict[str, object], node.setdefault(key, {}))
        node[leaf] = pick(words, lang)
    return tree


#: Leaflet.draw's strings in Mongolian (``L.drawLocal``), for measuring and drawing.
DRAW_LOCAL_MN: Final[dict[str, object]] = draw_local("mn")
