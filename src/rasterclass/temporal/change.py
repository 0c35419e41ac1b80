"""Change between two dates of a multi-date stack: difference features (dNDVI, dNBR)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from rasterclass.errors import BandMismatchError, param
from rasterclass.stack import georeferenced
from rasterclass.temporal.dates import select_date


def difference(
    scene: xr.DataArray,
    before: Any,
    after: Any,
    bands: Sequence[str] | None = None,
) -> xr.DataArray:
    """Difference features between two dates: ``d<band> = band@after - band@before``.

    On a stack of NDVI or NBR layers this gives dNDVI and dNBR (change of vegetation, burn
    severity). Note the sign: here a loss is negative; Key & Benson (2006, FIREMON, USDA
    RMRS-GTR-164-CD) define dNBR = NBR(pre-fire) - NBR(post-fire), which is
    ``-difference(...)`` (or swap ``before`` and ``after``).

    Parameters
    ----------
    scene
        A multi-date stack holding both dates (compute indices per date first, e.g. with
        :func:`select_date` and :func:`stack_dates`).
    before, after
        The two dates (see :func:`parse_date`).
    bands
        The bands to difference (names without dates); default: every band present at both
        dates.

    Returns
    -------
    xarray.DataArray
        Bands ``d<band>`` (``dnir``, ``dNDVI``), float, NaN where either date is NaN; lazy
        when the scene is.

    Raises
    ------
    BandMismatchError
        A date or band missing from the stack.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> s = xr.DataArray(np.array([0.8, 0.3], "f4").reshape(2, 1, 1), dims=("band", "y", "x"),
    ...                  coords={"band": ["NDVI@2020-06-01", "NDVI@2020-08-01"]})
    >>> d = difference(s, "2020-06-01", "2020-08-01")
    >>> d.band.values.tolist(), round(float(d[0, 0, 0]), 2)
    (['dNDVI'], -0.5)
    """
    first, second = select_date(scene, before), select_date(scene, after)
    common = [str(b) for b in first.band.values if b in set(second.band.values)]
    want = list(bands) if bands is not None else common
    missing = [b for b in want if b not in common]
    if missing or not want:
        raise BandMismatchError(
            f"bands {missing or want} are not at both dates (bands at both: {common}); pass "
            f"{param('bands')} from those"
        )
    out = second.sel(band=want) - first.sel(band=want)
    return georeferenced(out.assign_coords(band=[f"d{b}" for b in want]), scene)
