"""Page and map words: the ``text`` group of the one catalogue (``layers/catalogue/``).

Statuses, stages, kinds and layer names are other groups of the same catalogue; this module
only re-exports the lookups the pages use and holds Leaflet.draw's own Mongolian strings.
"""

from __future__ import annotations

from typing import Final

from layers.labels import LANGS, Lang, parse_lang, pick, text

__all__ = ["DRAW_LOCAL_MN", "LANGS", "Lang", "parse_lang", "pick", "text"]


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
