"""Gazar's own error types. Front doors (``api/``) map them to exit codes and HTTP statuses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or repaired) in an input file, as a land officer reads it."""

    file: str
    index: int | None  # 0-based position of the feature in the file; None: the whole file
    feature_id: str | None
    field: str | None
    reason: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        where = [self.file]
        if self.index is not None:
            where.append(f"feature #{self.index}")
        if self.feature_id not in (None, ""):
            where.append(f"id={self.feature_id}")
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{': '.join([', '.join(where), self.reason])}"

    def as_dict(self) -> dict[str, object]:
        """The fields by name, in their order (``file, index, feature_id, field, reason,
        severity``)."""
        return asdict(self)


class GazarError(Exception):
    """Base class of every error Gazar reports to a person."""


class LayerNotFound(GazarError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(f"unknown layer '{name}'; the layers are: {', '.join(known)}")
        self.name = name


class FeatureNotFound(GazarError):
    def __init__(self, layer: str, feature_id: str) -> None:
        super().__init__(f"layer '{layer}' has no feature with id '{feature_id}'")
        self.layer = layer
        self.feature_id = feature_id


class InputFileError(GazarError):
    """A file that cannot be read at all (missing, unknown format, no CRS, ...)."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


class ValidationFailed(GazarError):
    """The input breaks the layer's rules; ``problems`` lists every problem found (capped)."""

    def __init__(
        self,
        problems: Sequence[Problem],
        *,
        truncated: int = 0,
        warnings: Sequence[Problem] = (),
    ) -> None:
        self.problems = list(problems)
        self.truncated = truncated
        self.warnings = list(warnings)
        more = f" (and {truncated} more)" if truncated else ""
        head = f"{len(self.problems)} problem(s){more} found; nothing was written"
        super().__init__(head + "\n" + "\n".join(f"  - {p}" for p in self.problems))


class InvalidGeometry(GazarError):
    """A geometry no analysis can use (empty, non-finite, outside Mongolia, wrong type)."""


class StoreError(GazarError):
    """The store cannot be opened or written (not a Gazar store, newer schema, locked)."""


class RecordRefused(GazarError):
    """A write the store's own rules refuse (its triggers or constraints): the message names
    the layer, the id, the field and the rule; nothing was written."""
