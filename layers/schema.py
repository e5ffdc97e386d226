"""Layer kinds: one registry entry per layer, with its fields, types and allowed values.

Every layer has a unique string ``id`` and geometry of one declared type in EPSG:4326: the
Gazar layers and most reference layers are MultiPolygons; ``roads`` are MultiLineStrings and
``settlements`` Points (reference layers for the maps' background). Validation
(``layers.validate``), the store (``layers.store``) and the analyses (``geo``) read these
definitions; adding a layer kind is adding an entry to ``REGISTRY``. The analyses (overlaps,
availability, review, areas) read only ``AREA_LAYERS``, the polygonal layers that take part in
them: lines and points never reach area code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from layers.labels import LABELS

FieldType = Literal["str", "int", "float", "date", "enum"]
GeometryType = Literal["MultiPolygon", "MultiLineString", "Point"]

STORE_CRS = "EPSG:4326"

#: Mongolia's extent with a margin (lon 87.76-119.94 E, lat 41.58-52.15 N).
MONGOLIA_BOUNDS = (87.0, 41.0, 120.5, 52.5)


@dataclass(frozen=True)
class Field:
    """One attribute column of a layer."""

    name: str
    type: FieldType
    required: bool = False
    #: for ``enum``: the group in ``layers.labels.LABELS`` whose keys are the allowed values
    enum: str | None = None
    default: str | int | float | None = None
    #: ``"layer"``: the value must be an ``id`` of that layer (dangling references are refused)
    references: str | None = None
    #: for ``int``/``float``: the smallest allowed value
    minimum: float | None = None

    @property
    def choices(self) -> tuple[str, ...]:
        if self.enum is None:
            return ()
        return tuple(LABELS[self.enum])


@dataclass(frozen=True)
class LayerKind:
    """A layer's definition."""

    name: str
    fields: tuple[Field, ...]
    #: the date that places a feature in time (the API's ``datetime`` filter)
    main_date: str | None = None
    #: ``"reference"`` layers describe the surroundings; ``"core"`` layers are Gazar's own
    role: Literal["core", "reference"] = "core"
    #: well-known source column names matched automatically (lower-case source -> field)
    aliases: dict[str, str] = field(default_factory=dict)
    #: the geometry type every feature is stored as (a Polygon is stored as a one-part
    #: MultiPolygon, a LineString as a one-part MultiLineString); the OGC API declares it and
    #: serves features as this type
    geometry: GeometryType = "MultiPolygon"
    #: whether the analyses (overlaps, availability, review, areas) read this layer
    analysed: bool = True

    @property
    def polygonal(self) -> bool:
        """Whether the layer holds (Multi)Polygons."""
        return self.geometry == "MultiPolygon"

    @property
    def columns(self) -> list[str]:
        """Attribute columns in table order (``id`` first, geometry not included)."""
        return ["id", *(f.name for f in self.fields)]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def fields_of_type(self, *types: FieldType) -> list[Field]:
        return [f for f in self.fields if f.type in types]

    def only(self, columns: Iterable[str] | None) -> LayerKind:
        """The kind with only the fields named in ``columns``, in table order (``id`` is
        always kept; None: all fields): what a read of some columns decodes.

        Raises
        ------
        KeyError
            Naming a column the layer does not have.

        Examples
        --------
        >>> CONTRACT_PARCELS.only(["status", "holder"]).columns
        ['id', 'holder', 'status']
        """
        if columns is None:
            return self
        wanted = set(columns) - {"id"}
        unknown = wanted - {f.name for f in self.fields}
        if unknown:
            raise KeyError(
                f"layer '{self.name}' has no column {', '.join(sorted(unknown))}; "
                f"its columns: {', '.join(self.columns)}"
            )
        return replace(self, fields=tuple(f for f in self.fields if f.name in wanted))


def _date(name: str, *, required: bool = False) -> Field:
    return Field(name, "date", required=required)


LAND_CONCLUSIONS = LayerKind(
    "land_conclusions",
    (
        Field("name", "str", required=True),
        Field("aimag_code", "str", required=True),
        Field("soum_code", "str", required=True),
        Field("requested_by", "enum", required=True, enum="requested_by", default="soum"),
        Field("status", "enum", required=True, enum="land_conclusion_status"),
        Field("mineral", "str", default="gold"),
        _date("proposed_on"),
        _date("khural_approved_on"),
        _date("submitted_on"),
        _date("decided_on"),
        _date("valid_until"),
        Field("decision_ref", "str"),
    ),
    main_date="proposed_on",
)

CONTRACT_PARCELS = LayerKind(
    "contract_parcels",
    (
        Field("land_conclusion_id", "str", required=True, references="land_conclusions"),
        Field("holder", "str", required=True),
        Field("holder_type", "enum", required=True, enum="holder_type"),
        Field("members_women", "int", minimum=0),
        Field("members_men", "int", minimum=0),
        Field("contract_no", "str"),
        Field("status", "enum", required=True, enum="contract_status"),
        _date("signed_on"),
        _date("starts_on"),
        _date("expires_on"),
    ),
    main_date="signed_on",
)

REHAB_ZONES = LayerKind(
    "rehab_zones",
    (
        Field("parcel_id", "str", references="contract_parcels"),
        Field("holder", "str", required=True),
        Field("stage", "enum", required=True, enum="rehab_stage"),
        _date("due_on"),
        _date("accepted_on"),
    ),
    main_date="due_on",
)

AIMAGS = LayerKind(
    "aimags",
    (Field("name_mn", "str"), Field("name_en", "str", required=True)),
    role="reference",
)

SOUMS = LayerKind(
    "soums",
    (
        Field("aimag_code", "str", required=True),
        Field("name_mn", "str"),
        Field("name_en", "str", required=True),
    ),
    role="reference",
)

EXCLUSIONS = LayerKind(
    "exclusions",
    (Field("kind", "enum", required=True, enum="exclusion_kind"), Field("name", "str")),
    role="reference",
)

LICENCES = LayerKind(
    "licences",
    (
        Field("holder", "str"),
        Field("kind", "enum", required=True, enum="licence_kind"),
        Field("mineral", "str"),
        _date("given_on"),
        _date("expires_on"),
        Field("soum_code", "str"),
        Field("reported_ha", "float", minimum=0),
    ),
    main_date="given_on",
    role="reference",
    aliases={
        "company_name": "holder",
        "mineral_name_en": "mineral",
        "given_date": "given_on",
        "expired_date": "expires_on",
        "area_ha_reported": "reported_ha",
    },
)

ROADS = LayerKind(
    "roads",
    (
        Field("name", "str"),
        Field("name_latin", "str"),
        Field("kind", "enum", enum="road_kind"),
        #: the source's own road class (ALAGaC ``CODE`` 1-4), kept as it is published
        Field("class_code", "int", minimum=0),
    ),
    role="reference",
    aliases={"code": "class_code", "name_cyr": "name"},
    geometry="MultiLineString",
    analysed=False,
)

WATER = LayerKind(
    "water",
    (
        Field("name", "str"),
        Field("name_latin", "str"),
        Field("kind", "enum", required=True, enum="water_kind", default="lake"),
    ),
    role="reference",
    aliases={"name_mon_cyr": "name", "name_cyr": "name"},
    analysed=False,
)

SETTLEMENTS = LayerKind(
    "settlements",
    (
        Field("name", "str", required=True),
        Field("name_latin", "str"),
        Field("kind", "enum", required=True, enum="settlement_kind"),
        Field("soum_code", "str"),
        Field("aimag_code", "str"),
    ),
    role="reference",
    aliases={"name_cyr": "name"},
    geometry="Point",
    analysed=False,
)

REGISTRY: dict[str, LayerKind] = {
    k.name: k
    for k in (
        LAND_CONCLUSIONS,
        CONTRACT_PARCELS,
        REHAB_ZONES,
        AIMAGS,
        SOUMS,
        EXCLUSIONS,
        LICENCES,
        WATER,
        ROADS,
        SETTLEMENTS,
    )
}

#: The layers the analyses read (overlaps, availability, review, areas, the rules): polygonal
#: layers with ``analysed``; the background layers (water, roads, settlements) are not among them.
AREA_LAYERS: tuple[str, ...] = tuple(n for n, k in REGISTRY.items() if k.polygonal and k.analysed)

#: The order layers are written in so that references resolve (referenced layers first).
LAYER_ORDER: tuple[str, ...] = tuple(REGISTRY)


def layer_kind(name: str) -> LayerKind:
    """The registered layer kind called ``name``.

    Raises
    ------
    LayerNotFound
        naming the known layers.
    """
    from layers.errors import LayerNotFound

    try:
        return REGISTRY[name]
    except KeyError:
        raise LayerNotFound(name, list(REGISTRY)) from None


def licence_kind_from_number(number: str) -> str:
    """``MV``/``XV`` from a licence number's prefix (``MV-00021252`` -> ``MV``), else ``other``."""
    head = number.strip().upper()[:2]
    return head if head in ("MV", "XV") else "other"
