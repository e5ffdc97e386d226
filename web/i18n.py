"""Page and map strings in Mongolian (Cyrillic) and English.

Statuses, stages, kinds and layer names come from :mod:`layers.labels`; rule titles and
severities from :mod:`geo.rules`; verdicts from :mod:`geo.review`. This table holds only the
words of the pages and map controls themselves.
"""

from __future__ import annotations

from typing import Final

from layers.labels import Lang

LANGS: Final[tuple[Lang, ...]] = ("mn", "en")

# key -> (Mongolian, English)
TEXT: Final[dict[str, tuple[str, str]]] = {
    "app": ("Газар", "Gazar"),
    "tagline": (
        "Бичил уурхайн газрын төлөвлөлт",
        "Land-access planning for artisanal and small-scale gold mining",
    ),
    "nav_map": ("Газрын зураг", "Map"),
    "nav_check": ("Хянах", "Check"),
    "nav_availability": ("Чөлөөт газар", "Available land"),
    "nav_register": ("Бүртгэл", "Register"),
    "language": ("Хэл", "Language"),
    "switch_to": ("English", "Монгол"),
    # map titles
    "title_overview": ("Бүх сум", "All soums"),
    "title_soum": ("Сум", "Soum"),
    "title_land_conclusion": ("Газрын дүгнэлт", "Land Conclusion"),
    "title_review": ("Хяналтын үр дүн", "Review"),
    "title_availability": ("Чөлөөт газар", "Available land"),
    # extra map layers
    "layer_overlaps": ("Давхцал", "Overlaps"),
    "layer_available": ("Чөлөөт газар", "Available land"),
    "layer_proposal": ("Санал болгож буй талбай", "Proposal"),
    "layer_basemap": ("Онлайн суурь зураг (интернэт)", "Online basemap (internet)"),
    "layer_background": ("Суурь", "Background"),
    "layer_recovery": ("Нөхөн сэргээлтийн явц", "Rehabilitation recovery"),
    # popup fields
    "field_id": ("Дугаар", "ID"),
    "field_name": ("Нэр", "Name"),
    "field_status": ("Төлөв", "Status"),
    "field_stage": ("Үе шат", "Stage"),
    "field_kind": ("Төрөл", "Kind"),
    "field_holder": ("Эзэмшигч", "Holder"),
    "field_holder_type": ("Эзэмшигчийн төрөл", "Holder type"),
    "field_members": ("Гишүүд (эм/эр)", "Members (women/men)"),
    "field_contract_no": ("Гэрээний дугаар", "Contract no."),
    "field_land_conclusion_id": ("Газрын дүгнэлт", "Land Conclusion"),
    "field_parcel_id": ("Талбай", "Parcel"),
    "field_soum_code": ("Сум", "Soum"),
    "field_aimag_code": ("Аймаг", "Aimag"),
    "field_requested_by": ("Хүсэлт гаргагч", "Requested by"),
    "field_mineral": ("Ашигт малтмал", "Mineral"),
    "field_decision_ref": ("Шийдвэрийн дугаар", "Decision"),
    "field_official_ha": ("Албан талбай, га", "Official area, ha"),
    "field_available_ha": ("Чөлөөт, га", "Available, ha"),
    "field_overlap_ha": ("Давхцал, га", "Overlap, ha"),
    "field_reported_ha": ("Мэдээлсэн талбай, га", "Reported area, ha"),
    "field_geodesic_ha": ("Жинхэнэ талбай, га", "True area, ha"),
    "field_area_ha": ("Нийт, га", "Total, ha"),
    "field_allocated_ha": ("Олгосон, га", "Allocated, ha"),
    "field_rehab_blocked_ha": ("Нөхөн сэргээлтэд, га", "Under rehabilitation, ha"),
    "field_excluded_ha": ("Хориглосон, га", "Excluded, ha"),
    "field_a_id": ("Объект", "Feature"),
    "field_b_id": ("Давхцсан объект", "Overlapping feature"),
    "field_verdict": ("Дүгнэлт", "Verdict"),
    "field_rules": ("Зөрчсөн дүрэм", "Rules broken"),
    "field_rule": ("Дүрэм", "Rule"),
    "field_severity": ("Ноцтой байдал", "Severity"),
    "field_message": ("Тайлбар", "Message"),
    "field_layer": ("Давхарга", "Layer"),
    "field_dates": ("Огноо", "Dates"),
    "field_proposed_on": ("Санал болгосон", "Proposed"),
    "field_khural_approved_on": ("Хурлаар баталсан", "Khural approved"),
    "field_submitted_on": ("Илгээсэн", "Submitted"),
    "field_decided_on": ("Шийдвэрлэсэн", "Decided"),
    "field_valid_until": ("Хүчинтэй хугацаа", "Valid until"),
    "field_signed_on": ("Гэрээ байгуулсан", "Signed"),
    "field_starts_on": ("Эхлэх", "Starts"),
    "field_expires_on": ("Дуусах", "Expires"),
    "field_due_on": ("Дуусгах хугацаа", "Due"),
    "field_accepted_on": ("Хүлээн авсан", "Accepted"),
    "field_given_on": ("Олгосон", "Given"),
    "field_before_mean": ("NDVI дундаж, өмнө", "Mean NDVI before"),
    "field_after_mean": ("NDVI дундаж, дараа", "Mean NDVI after"),
    "field_change": ("Өөрчлөлт", "Change"),
    "field_before_valid_pct": ("Хүчинтэй пиксел, өмнө, %", "Valid pixels before, %"),
    "field_after_valid_pct": ("Хүчинтэй пиксел, дараа, %", "Valid pixels after, %"),
    # controls
    "legend": ("Тайлбар", "Legend"),
    "search": ("Хайх: дугаар эсвэл эзэмшигч", "Search: id or holder"),
    "search_none": ("Олдсонгүй", "Nothing found"),
    "fullscreen": ("Бүтэн дэлгэц", "Full screen"),
    "fullscreen_exit": ("Бүтэн дэлгэцээс гарах", "Exit full screen"),
    "measure_line": ("Зай хэмжих", "Measure a distance"),
    "measure_area": ("Талбай хэмжих", "Measure an area"),
    "measure_clear": ("Хэмжилт арилгах", "Clear measurements"),
    "measure_length": ("Урт", "Length"),
    "measure_area_value": ("Талбай", "Area"),
    "measure_perimeter": ("Периметр", "Perimeter"),
    "zoom_in_to_load": ("Харахын тулд ойртуулна уу", "Zoom in to see them"),
    "loading": ("Ачаалж байна…", "Loading…"),
    "load_failed": ("Ачаалж чадсангүй", "Could not load"),
    "shown_first": ("Эхний {n} харуулав", "First {n} shown"),
    "no_rules_broken": ("Зөрчилгүй", "None"),
    # check page
    "check_title": ("Санал болгож буй талбайг хянах", "Check a proposed area"),
    "check_intro": (
        "Файл оруулах (GeoJSON, KML, zip-лэсэн Shapefile, булангийн цэгийн CSV) эсвэл "
        "газрын зураг дээр олон өнцөгт зурна уу.",
        "Upload a file (GeoJSON, KML, zipped Shapefile, a CSV list of corners) or draw a "
        "polygon on the map.",
    ),
    "check_file": ("Файл", "File"),
    "check_kind": ("Юуг санал болгож байна", "What is proposed"),
    "kind_parcel": ("Гэрээт талбай", "Contract parcel"),
    "kind_land_conclusion": ("Газрын дүгнэлт", "Land Conclusion"),
    "check_soum": ("Санал гаргасан сум (заавал биш)", "Proposing soum (optional)"),
    "check_submit": ("Хянах", "Check"),
    "check_drawn": ("Зурсан олон өнцөгт", "Drawn polygon"),
    "check_draw_hint": (
        "Зурах: газрын зургийн зүүн талын олон өнцөгтийн товч.",
        "To draw: the polygon button on the left of the map.",
    ),
    "check_nothing": (
        "Файл оруулаагүй, олон өнцөгт зураагүй байна.",
        "No file was uploaded and no polygon was drawn.",
    ),
    "check_error": ("Файлыг уншиж чадсангүй", "The file could not be read"),
    "verdict": ("Дүгнэлт", "Verdict"),
    "findings": ("Илэрсэн зөрчил", "Findings"),
    "no_findings": ("Зөрчил илрээгүй.", "No findings."),
    "area": ("Талбай", "Area"),
    "official_ha": ("Албан ёсны талбай, га", "Official area, ha"),
    "geodesic_ha": ("Жинхэнэ талбай, га", "True area, ha"),
    "soums_touched": ("Хамаарах сумууд", "Soums"),
    "share": ("Хувь", "Share"),
    "outside_soum": ("Санал гаргасан сумаас гадуур", "Outside the proposing soum"),
    "repairs": ("Зассан геометр", "Repaired geometry"),
    "problems": ("Ашиглах боломжгүй объект", "Features that cannot be used"),
    "terrain": ("Газрын налуу", "Terrain"),
    "terrain_dem": ("Өндрийн загвар (DEM)", "Elevation model (DEM)"),
    "mean_slope_deg": ("Дундаж налуу, °", "Mean slope, °"),
    "steep_share": ("Эгц хэсэг", "Steep share"),
    "steep_ha": ("Эгц талбай, га", "Steep area, ha"),
    "slope_over": ("Хязгаараас хэтэрсэн", "Over the limit"),
    "yes": ("Тийм", "Yes"),
    "no": ("Үгүй", "No"),
    "report_html": ("Хэвлэх хувилбар", "Printable report"),
    "report_pdf": ("PDF тайлан", "PDF report"),
    "report_title": ("Хяналтын тайлан", "Review report"),
    "report_date": ("Огноо", "Date"),
    "report_kind": ("Төрөл", "Kind"),
    "report_features": ("Объект", "Features"),
    "report_print": ("Хэвлэх", "Print"),
    "report_missing": (
        "Тайлан гаргах санал алга: эхлээд Хянах хуудсаар хянуулна уу.",
        "No proposal to report on: check one on the Check page first.",
    ),
    # availability page
    "availability_title": ("Чөлөөт газар", "Available land"),
    "availability_intro": (
        "Хүчин төгөлдөр газрын дүгнэлт бүрийн чөлөөт газар (га, албан ёсны талбай).",
        "Free land in each Land Conclusion in force (official hectares).",
    ),
    "by_soum": ("Сумаар", "By soum"),
    "by_land_conclusion": ("Газрын дүгнэлтээр", "By Land Conclusion"),
    "area_ha": ("Нийт, га", "Total, ha"),
    "allocated_ha": ("Олгосон, га", "Allocated, ha"),
    "rehab_blocked_ha": ("Нөхөн сэргээлтэд, га", "Under rehabilitation, ha"),
    "excluded_ha": ("Хориглосон, га", "Excluded, ha"),
    "available_ha": ("Чөлөөт, га", "Available, ha"),
    "count_land_conclusions": ("Дүгнэлтийн тоо", "Land Conclusions"),
    "total": ("Нийт", "Total"),
    "none_in_force": (
        "Хүчин төгөлдөр газрын дүгнэлт алга.",
        "No Land Conclusion is in force.",
    ),
    # register page
    "register_title": ("Нийтийн бүртгэл", "Public register"),
    "register_intro": (
        "Газрын дүгнэлт, бичил уурхайн гэрээ, тэдгээрийн төлөв ба огноо; газар олгох өргөдлийн "
        "дараалал, шийдвэр, гомдол, сугалаа, хугацаа нь дуусах гэрээ, үйл явдлын бүртгэлийн хэш.",
        "Land Conclusions and ASM contracts with their statuses and dates; the allocation queue, "
        "decisions, objections, draws, contracts about to expire and the hash of the log.",
    ),
    "register_lcs": ("Газрын дүгнэлт", "Land Conclusions"),
    "register_contracts": ("Гэрээ", "Contracts"),
    "register_soum_filter": ("Сум", "Soum"),
    "all": ("Бүгд", "All"),
    "filter": ("Шүүх", "Filter"),
    "open_map": ("Зураг", "Map"),
    "empty": ("Бүртгэл хоосон.", "Nothing registered."),
    # register page: the allocation record
    "register_queue": ("Өргөдлийн дараалал", "Application queue"),
    "register_queue_hint": (
        "Цагийг сервер UTC-ээр тэмдэглэв. «Ирсэн дараалал» нь өргөдөл ирэх үеийн байр, "
        "«Одоогийн байр» нь хүлээгдэж буй өргөдлүүдийн дундах өнөөгийн байр.",
        "Times are stamped by the server, in UTC. «Place» is the place when filed; «Position "
        "now» the place among the pending applications today.",
    ),
    "register_decisions": ("Шийдвэр", "Decisions"),
    "register_objections": ("Гомдол", "Objections"),
    "register_draws": ("Сугалаа", "Draws"),
    "register_draws_hint": (
        "Үр (seed) нь нийтэлсэн оролтын SHA-256. Хэн ч дахин тооцоолж шалгаж болно:",
        "The seed is the SHA-256 of the published input. Anyone can recompute it:",
    ),
    "register_expiring": (
        "{days} хоногийн дотор хугацаа нь дуусах гэрээ",
        "Contracts expiring within {days} days",
    ),
    "register_log": ("Үйл явдлын бүртгэл (лог)", "The log"),
    "register_log_hint": (
        "Энэ хэшийг өдөр бүр нийтэлнэ үү: өмнөх үйл явдлыг өөрчилбөл гинж тасарна "
        "(gazar audit verify). Бүх сумын бүртгэлийг хамарна.",
        "Publish this hash daily: changing any earlier event breaks the chain "
        "(gazar audit verify). It covers every soum.",
    ),
    "register_feeds": ("Нийтлэх өгөгдөл", "Feeds to publish"),
    "register_as_of": ("Бүрдүүлсэн цаг (UTC)", "Generated at (UTC)"),
    "register_unavailable": (
        "Энэ мэдээллийн сангаас газар олгох бүртгэлийг унших боломжгүй: хэсгүүд хоосон.",
        "The allocation records cannot be read from this store: the sections are empty.",
    ),
    "field_number": ("Нийтийн дугаар", "Public number"),
    "field_filed_at": ("Ирсэн цаг", "Filed at"),
    "field_place": ("Ирсэн дараалал", "Place"),
    "field_position": ("Одоогийн байр", "Position now"),
    "field_eligibility": ("Шаардлага хангасан эсэх", "Eligibility"),
    "eligible": ("Шаардлага хангасан", "Eligible"),
    "competing_now": (
        "Одоо өрсөлдөж буй өргөдөл (сугалаагаар шийдвэрлэнэ)",
        "Competing now with (a draw decides)",
    ),
    "field_objection_until": ("Гомдол гаргах эцсийн өдөр", "Objections until"),
    "field_objection_count": ("Гомдлын тоо", "Objections"),
    "window_open": ("нээлттэй", "open"),
    "window_closed": ("хаагдсан", "closed"),
    "field_application": ("Өргөдөл", "Application"),
    "field_outcome": ("Шийдвэр", "Decision"),
    "field_reason": ("Үндэслэл", "Reason"),
    "field_actor": ("Хэн", "By"),
    "field_decided_at": ("Шийдвэрлэсэн цаг", "Decided at"),
    "field_contract": ("Гэрээ", "Contract"),
    "field_objector": ("Гомдол гаргагч", "Objector"),
    "field_draw_date": ("Сугалааны өдөр", "Draw date"),
    "field_public_value": ("Нийтийн утга", "Public value"),
    "field_announced": ("Зарласан", "Announced"),
    "field_draw_input": ("Оролт", "Input"),
    "field_seed": ("Үр (seed)", "Seed"),
    "field_order": ("Дараалал, ялагч эхэнд", "Order, winner first"),
    "field_winner": ("Ялагч", "Winner"),
    "field_run": ("Явуулсан", "Held"),
    "field_verify": ("Шалгах", "Verify"),
    "draw_announced": ("Зарласан", "Announced"),
    "draw_run": ("Явуулсан", "Held"),
    "field_days_left": ("Үлдсэн хоног", "Days left"),
    "field_renewal": ("Сунгах боломж", "Renewal"),
    "renewal_yes": ("Сунгаж болно", "May be renewed"),
    "renewal_no": ("Сунгах боломжгүй", "Renewal refused"),
    "log_events": ("Үйл явдлын тоо", "Events"),
    "log_head": ("Сүүлийн үйл явдал", "Head event"),
    "log_hash": ("Хэш (SHA-256)", "Hash (SHA-256)"),
    "log_chain": ("Гинж", "Chain"),
    "log_ok": ("Бүрэн бүтэн", "Intact"),
    "log_broken": ("Тасарсан, үйл явдал", "Broken at event"),
    "log_pending": ("Гинжид ороогүй өөрчлөлт", "Changes not yet sealed"),
    "not_found": ("Олдсонгүй", "Not found"),
    "offline_note": (
        "Суурь зураг: мэдээллийн сан дахь сумын хил. Зам, нуур мэдээллийн санд алга.",
        "Background: soum outlines from the store. Roads and lakes are not in the store.",
    ),
}


def text(key: str, lang: Lang = "mn") -> str:
    """The page string ``key`` in ``lang``.

    Examples
    --------
    >>> text("nav_map", "en")
    'Map'
    """
    mn, en = TEXT[key]
    return mn if lang == "mn" else en


def pick(pair: tuple[str, str], lang: Lang) -> str:
    """One side of a ``(Mongolian, English)`` pair."""
    return pair[0] if lang == "mn" else pair[1]


def parse_lang(value: str | None) -> Lang:
    """``"en"`` when asked for, else Mongolian (the default); unknown values fall back too."""
    return "en" if (value or "").strip().lower() == "en" else "mn"


#: Leaflet.draw's strings in Mongolian (``L.drawLocal``), for measuring and drawing.
DRAW_LOCAL_MN: Final[dict[str, object]] = {
    "draw": {
        "toolbar": {
            "actions": {"title": "Зурахаа цуцлах", "text": "Цуцлах"},
            "finish": {"title": "Зурж дуусгах", "text": "Дуусгах"},
            "undo": {"title": "Сүүлийн цэгийг устгах", "text": "Сүүлийн цэгийг устгах"},
            "buttons": {"polygon": "Олон өнцөгт зурах", "polyline": "Шугам зурах"},
        },
        "handlers": {
            "polygon": {
                "tooltip": {
                    "start": "Зурж эхлэхийн тулд дарна уу.",
                    "cont": "Үргэлжлүүлэн зурахын тулд дарна уу.",
                    "end": "Хаахын тулд эхний цэг дээр дарна уу.",
                }
            },
            "polyline": {
                "error": "<strong>Алдаа:</strong> хүрээ огтлолцож болохгүй!",
                "tooltip": {
                    "start": "Шугам зурж эхлэхийн тулд дарна уу.",
                    "cont": "Үргэлжлүүлэхийн тулд дарна уу.",
                    "end": "Дуусгахын тулд сүүлийн цэг дээр дарна уу.",
                },
            },
        },
    },
    "edit": {
        "toolbar": {
            "actions": {
                "save": {"title": "Өөрчлөлтийг хадгалах", "text": "Хадгалах"},
                "cancel": {"title": "Засварыг цуцлах", "text": "Цуцлах"},
                "clearAll": {"title": "Бүгдийг устгах", "text": "Бүгдийг устгах"},
            },
            "buttons": {
                "edit": "Засах",
                "editDisabled": "Засах зүйл алга",
                "remove": "Устгах",
                "removeDisabled": "Устгах зүйл алга",
            },
        },
        "handlers": {
            "edit": {
                "tooltip": {
                    "text": "Цэгийг чирж засна уу.",
                    "subtext": "Цуцлавал өөрчлөлт буцна.",
                }
            },
            "remove": {"tooltip": {"text": "Устгах объект дээр дарна уу."}},
        },
    },
}
