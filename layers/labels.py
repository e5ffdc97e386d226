"""Every status, stage and kind a person reads, in Mongolian (Cyrillic) and English.

One place for all of them: map legends, popups, pages and command output look labels up here.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["mn", "en"]

# value -> (Mongolian, English)
LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "land_conclusion_status": {
        "proposed": ("Санал болгосон", "Proposed"),
        "khural_approved": ("Хурлаар баталсан", "Approved by the Khural"),
        "submitted": ("АМГТГ-т илгээсэн", "Submitted to MRPAM"),
        "under_review": ("Хянагдаж буй", "Under review"),
        "issued": ("Олгосон", "Issued"),
        "rejected": ("Татгалзсан", "Rejected"),
        "revoked": ("Хүчингүй болгосон", "Revoked"),
        "expired": ("Хугацаа дууссан", "Expired"),
    },
    "requested_by": {
        "soum": ("Сум", "Soum"),
        "aimag": ("Аймаг", "Aimag"),
    },
    "contract_status": {
        "applied": ("Өргөдөл гаргасан", "Applied"),
        "active": ("Хүчинтэй", "Active"),
        "suspended": ("Түдгэлзүүлсэн", "Suspended"),
        "expired": ("Хугацаа дууссан", "Expired"),
        "terminated": ("Цуцалсан", "Terminated"),
    },
    "holder_type": {
        "partnership": ("Нөхөрлөл", "Partnership"),
        "cooperative": ("Хоршоо", "Cooperative"),
        "individual": ("Иргэн", "Individual"),
    },
    "rehab_stage": {
        "required": ("Нөхөн сэргээлт шаардлагатай", "Rehabilitation required"),
        "technical_done": ("Техникийн нөхөн сэргээлт хийсэн", "Technical rehabilitation done"),
        "biological_done": ("Биологийн нөхөн сэргээлт хийсэн", "Biological rehabilitation done"),
        "accepted": ("Комисс хүлээн авсан", "Accepted by the commission"),
    },
    "exclusion_kind": {
        "protected_area": ("Тусгай хамгаалалттай газар", "Protected area"),
        "water_protection": ("Усны хамгаалалтын бүс", "Water protection zone"),
        "settlement": ("Суурин газар", "Settlement"),
        "other": ("Бусад", "Other"),
    },
    "licence_kind": {
        "MV": ("Ашиглалтын тусгай зөвшөөрөл", "Mining licence (MV)"),
        "XV": ("Хайгуулын тусгай зөвшөөрөл", "Exploration licence (XV)"),
        "other": ("Бусад тусгай зөвшөөрөл", "Other licence"),
    },
    "layer": {
        "land_conclusions": ("Газрын дүгнэлт", "Land Conclusions"),
        "contract_parcels": ("Гэрээт талбай", "ASM contract parcels"),
        "rehab_zones": ("Нөхөн сэргээлтийн бүс", "Rehabilitation zones"),
        "aimags": ("Аймаг", "Aimags"),
        "soums": ("Сум", "Soums"),
        "exclusions": ("Хориглосон газар", "Excluded land"),
        "licences": ("Ашигт малтмалын тусгай зөвшөөрөл", "Mining licences"),
    },
}


def label(group: str, value: str, lang: Lang = "mn") -> str:
    """Label of ``value`` in ``group`` for a language; the raw value if none is known.

    Examples
    --------
    >>> label("contract_status", "active", "en")
    'Active'
    """
    pair = LABELS.get(group, {}).get(value)
    if pair is None:
        return value
    return pair[0] if lang == "mn" else pair[1]


def bilingual(group: str, value: str) -> str:
    """``"Монгол / English"`` for a value, as shown where both languages are printed."""
    pair = LABELS.get(group, {}).get(value)
    return value if pair is None else f"{pair[0]} / {pair[1]}"
