"""The font of the PDF documents: DejaVu Sans (Cyrillic), which Debian ships in
``fonts-dejavu-core`` (``scripts/test`` installs it); ``GAZAR_PDF_FONT_DIR`` may name another
folder holding ``DejaVuSans.ttf`` and ``DejaVuSans-Bold.ttf``."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from layers.errors import GazarError

FONT_DIRS: Final = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/local/share/fonts/dejavu"),
)


class FontMissing(GazarError):
    """No font with Cyrillic letters for the PDF."""


def font_files(extra: Path | None = None) -> tuple[Path, Path]:
    """DejaVu Sans regular and bold.

    Raises
    ------
    FontMissing
        Naming the folders searched and the Debian package to install.
    """
    dirs = ((extra,) if extra else ()) + FONT_DIRS
    for folder in dirs:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    raise FontMissing(
        "no DejaVu Sans font for the PDF (looked in "
        + ", ".join(str(d) for d in dirs)
        + "); install Debian's fonts-dejavu-core or set GAZAR_PDF_FONT_DIR"
    )


__all__ = ["FONT_DIRS", "FontMissing", "font_files"]
