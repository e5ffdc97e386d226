"""Mongolian Cyrillic written in Latin letters, after the national standard MNS 5217:2012
(ө ö, ү ü, х kh, ц ts, ч ch, ш sh, ж j, е ye/e, ё yo, ю yu, я ya, и/й i, ы y, ъ/ь i).

Used to give a settlement or a lake its Latin name when the source has only the Cyrillic one
(ALAGaC's soum and aimag centres); the import says so in its notes.

Examples
--------
>>> latin("Даланзадгад"), latin("Баруун-Урт"), latin("Өндөрхаан"), latin("Сүхбаатар")
('Dalanzadgad', 'Baruun-Urt', 'Öndörkhaan', 'Sükhbaatar')
>>> latin("Цэцэрлэг"), latin("Есөнбулаг"), latin("Хөвсгөл  далай")
('Tsetserleg', 'Yesönbulag', 'Khövsgöl dalai')
"""

from __future__ import annotations

from typing import Final

_LETTERS: Final = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "ye", "ё": "yo", "ж": "j",
    "з": "z", "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "ө": "ö", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ү": "ü", "ф": "f",
    "х": "kh", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "i", "ы": "y", "ь": "i",
    "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip
_VOWELS: Final = frozenset("аэиоуөүеёюяыaeiouöü")


def latin(text: str) -> str:
    """``text`` in Latin letters (other characters kept; runs of white space made one).

    ``е`` is ``ye`` at the start of a word or after a vowel, else ``e``."""
    out: list[str] = []
    prev = ""
    for ch in " ".join(text.split()):
        low = ch.lower()
        rom = _LETTERS.get(low)
        if rom is None:
            out.append(ch)
        else:
            if low == "е" and prev and prev.isalpha() and prev not in _VOWELS:
                rom = "e"
            out.append(rom.capitalize() if ch != low else rom)
        prev = low
    return "".join(out)
