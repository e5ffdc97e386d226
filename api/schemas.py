"""The OGC API – Features documents as response models: what ``/api`` declares for the landing
page, the conformance declaration, collections, queryables and features (the routes in
``api/routes/ogc.py`` write the documents themselves, faster, with orjson)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from api import crs as crs_mod

TRS_GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"


class Link(BaseModel):
    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class LandingPage(BaseModel):
    title: str
    description: str
    links: list[Link]


class Conformance(BaseModel):
    conformsTo: list[str]


class SpatialExtent(BaseModel):
    bbox: list[list[float]] = Field(min_length=1)
    crs: str = crs_mod.CRS84


class TemporalExtent(BaseModel):
    interval: list[list[str | None]] = Field(min_length=1)
    trs: str = TRS_GREGORIAN


class Extent(BaseModel):
    spatial: SpatialExtent | None = None
    temporal: TemporalExtent | None = None


class Collection(BaseModel):
    id: str
    title: str
    description: str
    links: list[Link]
    extent: Extent | None = None
    itemType: Literal["feature"] = "feature"
    crs: list[str]
    storageCrs: str


class Collections(BaseModel):
    links: list[Link]
    collections: list[Collection]


class Queryables(BaseModel):
    type: Literal["object"] = "object"
    title: str
    properties: dict[str, dict[str, Any]]
    additionalProperties: bool = False


class Geometry(BaseModel):
    type: Literal[
        "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
        "GeometryCollection",
    ]  # fmt: skip


class Feature(BaseModel):
    type: Literal["Feature"]
    id: str | int | None = None
    geometry: Geometry | None
    properties: dict[str, Any] | None
    links: list[Link] | None = None


class FeatureCollection(BaseModel):
    type: Literal["FeatureCollection"]
    features: list[Feature]
    links: list[Link] | None = None
    numberMatched: int | None = Field(None, ge=0)
    numberReturned: int | None = Field(None, ge=0)
    timeStamp: str | None = None


__all__ = [
    "Collection",
    "Collections",
    "Conformance",
    "Extent",
    "Feature",
    "FeatureCollection",
    "Geometry",
    "LandingPage",
    "Link",
    "Queryables",
    "SpatialExtent",
    "TemporalExtent",
]
