"""Rehabilitation monitoring: each zone's vegetation change between two index rasters."""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
import pandas as pd

from layers.labels import LABELS

# ------------------------------------------------------------------------------- recovery

RecoveryStatus = Literal["recovering", "below_min", "no_data"]

#: Recovery statuses as a person reads them (Mongolian, English): the catalogue's
#: ``recovery_status`` group.
RECOVERY_LABELS: Final = LABELS["recovery_status"]

#: Columns of :func:`recovery_table`.
RECOVERY_COLUMNS: Final = (
    "before_mean",
    "after_mean",
    "before_median",
    "after_median",
    "before_valid_share",
    "after_valid_share",
    "change",
    "status",
)


def recovery_table(
    before: pd.DataFrame, after: pd.DataFrame, *, min_recovery: float
) -> pd.DataFrame:
    """Vegetation recovery per zone from the zonal statistics of two index rasters.

    Parameters
    ----------
    before, after : DataFrame
        :func:`zonal_stats` of the same zones (same order) on the earlier and later raster
        (e.g. NDVI).
    min_recovery : float
        The smallest acceptable ``change`` (after minus before, of the weighted means).

    Returns
    -------
    DataFrame
        ``RECOVERY_COLUMNS``: the means, medians and valid shares of both, ``change`` and a
        ``status`` — ``no_data`` when either raster has no valid pixel over the zone,
        ``below_min`` when ``change < min_recovery``, else ``recovering``.

    Examples
    --------
    >>> b = pd.DataFrame({"mean": [0.1, 0.2, np.nan], "median": [0.1, 0.2, np.nan],
    ...                   "valid_share": [1.0, 1.0, 0.0]})
    >>> a = b.assign(mean=[0.35, 0.22, 0.3])
    >>> recovery_table(b, a, min_recovery=0.1)["status"].tolist()
    ['recovering', 'below_min', 'no_data']
    """
    if len(before) != len(after):
        raise ValueError(f"{len(before)} zones before but {len(after)} after")
    change = after["mean"].to_numpy(dtype=np.float64) - before["mean"].to_numpy(np.float64)
    status = np.where(
        np.isnan(change), "no_data", np.where(change < min_recovery, "below_min", "recovering")
    ).astype(object)
    return pd.DataFrame(
        {
            "before_mean": before["mean"].to_numpy(np.float64),
            "after_mean": after["mean"].to_numpy(np.float64),
            "before_median": before["median"].to_numpy(np.float64),
            "after_median": after["median"].to_numpy(np.float64),
            "before_valid_share": before["valid_share"].to_numpy(np.float64),
            "after_valid_share": after["valid_share"].to_numpy(np.float64),
            "change": change,
            "status": status,
        },
        index=before.index,
    )
