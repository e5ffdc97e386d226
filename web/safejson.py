"""JSON that may stand inside HTML: in a ``<script>`` element, an attribute or a page.

Every value a page, a map or the standalone ``gazar map`` file embeds in a script goes through
:func:`script_json` (or :func:`escape_json` for text already serialised): ``<``, ``>`` and
``&`` become ``\\u003c``, ``\\u003e``, ``\\u0026``, and the line separators U+2028 and U+2029
``\\u2028`` and ``\\u2029``. The JSON means the same to JavaScript, but no text in it can end the
element (``</script>``), open an HTML comment that swallows the rest of the page
(``<!--<script>``) or start a tag; it is also why a nonce added to every ``<script>`` tag of a
rendered page (:mod:`web.headers`) can never land inside data.
"""

from __future__ import annotations

from typing import Final

import orjson

_ESCAPES: Final = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def escape_json(text: str) -> str:
    """Serialised JSON with the characters HTML gives a meaning escaped (same value in JS).

    Examples
    --------
    >>> escape_json('{"name":"<!--<script>&\\u2028"}')
    '{"name":"\\\\u003c!--\\\\u003cscript\\\\u003e\\\\u0026\\\\u2028"}'
    """
    return text.translate(_ESCAPES)


def script_json(value: object) -> str:
    """``value`` as JSON safe to place inside a ``<script>`` element or an HTML page.

    Examples
    --------
    >>> script_json({"holder": "</script><img src=x onerror=alert(1)>"})
    '{"holder":"\\\\u003c/script\\\\u003e\\\\u003cimg src=x onerror=alert(1)\\\\u003e"}'
    >>> import json; json.loads(script_json({"a": "<&>\\u2029"})) == {"a": "<&>\\u2029"}
    True
    """
    return escape_json(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode())


__all__ = ["escape_json", "script_json"]
