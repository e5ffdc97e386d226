"""How each layer is drawn: the looks (style by a property, popup fields, search), the extra
layers' looks, the drawing order and remote loading."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from layers.qgis_styles import LABEL_ZOOM, PAINTS, Paint

Bounds = tuple[float, float, float, float]
Style = dict[str, Any]

#: Coordinates are rounded to this grid (degrees): six decimals, ~0.1 m.
PRECISION_DEG: Final = 1e-6

#: The online basemap (an image tile address, not a script); off unless the user turns it on.
BASEMAP_TILES: Final = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
BASEMAP_ATTRIBUTION: Final = "© OpenStreetMap contributors"


@dataclass(frozen=True)
class Look:
    """How one layer is drawn, labelled and searched."""

    #: the column the colour depends on, and the ``layers.labels`` group of its values
    key: str | None
    group: str | None
    style: Style
    styles: dict[str, Style] = field(default_factory=dict)
    #: popup rows: (property, labels group or None)
    fields: tuple[tuple[str, str | None], ...] = ()
    search: tuple[str, ...] = ()
    #: simplification tolerance in degrees (topology preserved)
    simplify_deg: float = 2e-6
    #: whether popups list the rules the feature breaks
    rules: bool = True
    #: names shown on the map (the background layers): the zoom from which a feature's name
    #: shows, by the value of ``label_key`` (``"*"``: any other value); empty: no names shown
    label_zoom: dict[str, int] = field(default_factory=dict)
    label_key: str | None = None


def _fields(*specs: str) -> tuple[tuple[str, str | None], ...]:
    """Popup fields written ``"column"`` or ``"column:label_group"`` (a coded column).

    Examples
    --------
    >>> _fields("name", "status:contract_status")
    (('name', None), ('status', 'contract_status'))
    """
    return tuple((c, g or None) for c, _, g in (spec.partition(":") for spec in specs))


def _fill(color: str, opacity: float, *, weight: float = 1.5, line: str | None = None) -> Style:
    return {"color": line or color, "fillColor": color, "fillOpacity": opacity, "weight": weight}


def _leaflet(p: Paint) -> Style:
    """A palette symbol (:data:`layers.qgis_styles.PAINTS`) as Leaflet's path options."""
    style: Style = (
        {"color": p.line, "weight": p.width, "fillOpacity": 0, "fill": False}
        if p.fill is None
        else {"color": p.line, "fillColor": p.fill, "fillOpacity": p.opacity, "weight": p.width}
    )
    if p.dash:
        style["dashArray"] = " ".join(f"{d:g}" for d in p.dash)
    if p.size:  # a point layer: a circle marker of that diameter
        style["radius"] = p.size / 2
        style["fillOpacity"] = p.opacity
    return style


def _painted(layer: str) -> tuple[Style, dict[str, Style]]:
    """A store layer's default style and its style per value, from the one palette the web map
    and the store's QGIS styles share."""
    paint = PAINTS[layer]
    return _leaflet(paint.default), {v: _leaflet(p) for v, p in paint.values.items()}


#: Layers from bottom to top, and how each is drawn.
LOOKS: Final[dict[str, Look]] = {
    "aimags": Look(
        None,
        None,
        *_painted("aimags"),
        fields=_fields("name"),
        simplify_deg=1e-3,
        rules=False,
    ),
    "soums": Look(
        None,
        None,
        *_painted("soums"),
        fields=_fields("name", "aimag_code"),
        search=("id", "name"),
        simplify_deg=3e-4,
        rules=False,
    ),
    # the background, beneath the ASM layers: lakes, roads, then the settlements' markers
    "water": Look(
        None,
        None,
        *_painted("water"),
        fields=_fields("name", "name_latin", "kind:water_kind"),
        search=("name", "name_latin"),
        simplify_deg=2e-4,
        rules=False,
        label_zoom=LABEL_ZOOM["water"][1],
    ),
    "roads": Look(
        None,
        None,
        *_painted("roads"),
        fields=_fields("name", "name_latin", "kind:road_kind", "class_code"),
        simplify_deg=5e-4,
        rules=False,
        label_zoom=LABEL_ZOOM["roads"][1],
    ),
    "settlements": Look(
        "kind",
        "settlement_kind",
        *_painted("settlements"),
        fields=_fields("name", "name_latin", "kind:settlement_kind", "soum_code", "aimag_code"),
        search=("name", "name_latin"),
        simplify_deg=0,
        rules=False,
        label_zoom=LABEL_ZOOM["settlements"][1],
        label_key=LABEL_ZOOM["settlements"][0],
    ),
    "land_conclusions": Look(
        "status",
        "land_conclusion_status",
        *_painted("land_conclusions"),
        fields=_fields(
            "name",
            "status:land_conclusion_status",
            "soum_code",
            "requested_by:requested_by",
            "decision_ref",
            "official_ha",
            "proposed_on",
            "khural_approved_on",
            "submitted_on",
            "decided_on",
            "valid_until",
        ),
        search=("id", "name", "decision_ref"),
    ),
    "exclusions": Look(
        "kind",
        "exclusion_kind",
        *_painted("exclusions"),
        fields=_fields("name", "kind:exclusion_kind", "official_ha"),
        search=("id", "name"),
    ),
    "licences": Look(
        "kind",
        "licence_kind",
        *_painted("licences"),
        fields=_fields(
            "holder",
            "kind:licence_kind",
            "mineral",
            "official_ha",
            "reported_ha",
            "given_on",
            "expires_on",
        ),
        search=("id", "holder"),
    ),
    "rehab_zones": Look(
        "stage",
        "rehab_stage",
        *_painted("rehab_zones"),
        fields=_fields(
            "holder", "stage:rehab_stage", "parcel_id", "official_ha", "due_on", "accepted_on"
        ),
        search=("id", "holder", "parcel_id"),
    ),
    "contract_parcels": Look(
        "status",
        "contract_status",
        *_painted("contract_parcels"),
        fields=_fields(
            "holder",
            "holder_type:holder_type",
            "members",
            "contract_no",
            "status:contract_status",
            "land_conclusion_id",
            "official_ha",
            "signed_on",
            "starts_on",
            "expires_on",
        ),
        search=("id", "holder", "contract_no"),
    ),
}

#: Extra layers drawn above the store's layers.
AVAILABLE_LOOK: Final = Look(
    None,
    None,
    _fill("#1a9850", 0.45, weight=1, line="#006837"),
    fields=_fields(
        "name",
        "soum_code",
        "available_ha",
        "area_ha",
        "allocated_ha",
        "rehab_blocked_ha",
        "excluded_ha",
    ),
    rules=False,
)
OVERLAP_LOOK: Final = Look(
    "severity",
    "severity",
    _fill("#e31a1c", 0.65, weight=1.5, line="#99000d"),
    {
        "warn": _fill("#fd8d3c", 0.6, weight=1.5, line="#bd0026"),
        "info": _fill("#4393c3", 0.35, weight=1, line="#2166ac"),
    },
    fields=_fields("rule:rule", "severity:severity", "a_id", "b_id", "overlap_ha", "message"),
    rules=False,
)
#: Rehabilitation zones by their vegetation recovery (``geo.raster.recovery_table`` statuses).
RECOVERY_LOOK: Final = Look(
    "status",
    "recovery",
    _fill("#969696", 0.5),
    {
        "recovering": _fill("#01665e", 0.6, line="#003c30"),
        "below_min": _fill("#f46d43", 0.65, line="#a50026"),
        "no_data": _fill("#bdbdbd", 0.5, line="#636363") | {"dashArray": "3 3"},
    },
    fields=_fields(
        "holder",
        "stage:rehab_stage",
        "status:recovery",
        "before_mean",
        "after_mean",
        "change",
        "before_valid_pct",
        "after_valid_pct",
        "official_ha",
    ),
    search=(),
    rules=False,
)
#: Pending applications (the public register's queue): dashed, above the parcels.
APPLICATION_LOOK: Final = Look(
    None,
    None,
    {"color": "#6a3d9a", "weight": 2, "dashArray": "6 4", "fillColor": "#cab2d6",
     "fillOpacity": 0.35},
    fields=_fields("holder", "holder_type:holder_type", "land_conclusion_id", "soum_code",
                   "position", "filed_at", "objection_until", "official_ha"),
    search=("id", "holder"),
    rules=False,
)  # fmt: skip
PROPOSAL_LOOK: Final = Look(
    "verdict",
    "verdict",
    {"color": "#000000", "weight": 3, "fillColor": "#ffff33", "fillOpacity": 0.25},
    fields=_fields("verdict:verdict", "official_ha", "geodesic_ha"),
    rules=True,
)

#: Store layers in drawing order.
LAYER_ORDER: Final = tuple(LOOKS)
#: The background layers: always inlined (drawn at every zoom), named on the map.
BACKGROUND_LAYERS: Final = ("water", "roads", "settlements")
#: Layers whose features the conflict rules talk about.
CORE_LAYERS: Final = (
    "land_conclusions",
    "exclusions",
    "licences",
    "rehab_zones",
    "contract_parcels",
)


@dataclass(frozen=True)
class RemoteLoading:
    """Serve large layers by bounding box instead of inlining them (pages served by the API).

    A layer with more than ``inline_limit`` features, or more than ``inline_coordinates``
    coordinates (the available land of a large store: few features, each with a hole per
    parcel), is left out of the page; the page asks
    ``items_url`` (``{layer}`` is replaced by the layer name) for the features in view, at
    zoom ``min_zoom`` and closer, at most ``page_limit`` at a time; below ``min_zoom`` the
    layer is drawn from the collection's vector tiles (``tiles_url``, ``{layer}`` replaced as
    in ``items_url``; None: nothing below ``min_zoom``), coloured as the features are. The
    recovery layer (no OGC collection, no tiles) is asked from ``recovery_url``, which answers
    the same way. The derived
    collections (``overlaps``, ``available_land``) answer for today: ``derived=False`` (a map
    of another day) keeps those layers inlined.
    """

    items_url: str = "/collections/{layer}/items"
    tiles_url: str | None = "/collections/{layer}/tiles/WebMercatorQuad/{z}/{y}/{x}"
    recovery_url: str = "/map/rehab-recovery/items"
    inline_limit: int = 3000
    min_zoom: int = 11
    page_limit: int = 5000
    inline_coordinates: int = 200_000
    derived: bool = True


__all__ = [
    "AVAILABLE_LOOK",
    "BACKGROUND_LAYERS",
    "BASEMAP_ATTRIBUTION",
    "BASEMAP_TILES",
    "CORE_LAYERS",
    "LAYER_ORDER",
    "LOOKS",
    "OVERLAP_LOOK",
    "PRECISION_DEG",
    "PROPOSAL_LOOK",
    "RECOVERY_LOOK",
    "Bounds",
    "Look",
    "RemoteLoading",
    "Style",
]
