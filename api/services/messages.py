"""Refusals as the API and the commands print them: ``"Mongolian / English"`` from the
catalogue (``layers/catalogue/register.toml``)."""

from __future__ import annotations

from typing import Any

from layers.labels import messages


def both(group: str, code: str, /, **values: Any) -> str:
    """The catalogue's template ``group.code`` filled in both languages, ``"mn / en"``.

    A value named ``x_mn`` fills ``{x_mn}`` in the Mongolian template where the languages
    show it differently (a label, or a dash for nothing); the English one reads ``{x}``.

    Examples
    --------
    >>> both("allocation_message", "holder_empty").endswith(" / the holder's name is empty")
    True
    """
    mn, en = messages(group, code, **values)
    return f"{mn} / {en}"
