"""Exact sums of floats per zone, the same whatever the grouping (chunking) of the values.

Owns :func:`significand_sums` (one chunk's exact integer sums per (zone, binary exponent))
and :class:`ExactSums` (those of all chunks added as Python integers, then each zone's mean
rounded once). Zonal means (:mod:`rasterclass.accuracy.zonal`) use them so that a summary
does not change in its last bits with the chunk size, as float64 running sums would.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

__all__ = ["ExactSums", "significand_sums"]

#: Bits of the low part of a float64 significand (the high part holds the other 26 and the sign).
_LOW_BITS = 27
#: Exponents of float64 (frexp) shifted to be >= 0 in a (zone, exponent) key.
_EXP_OFFSET = 1100
_EXP_SPAN = 2200


def significand_sums(values: np.ndarray, zone: np.ndarray) -> tuple[np.ndarray, ...]:
    """Exact per-(zone, exponent) integer sums of the significands of finite ``values``.

    Each value is ``sig * 2**(exp - 53)`` with ``sig`` an integer of at most 53 bits
    (:func:`numpy.frexp`); ``sig`` is split into a high and a low part of at most 27 bits, and
    the parts are summed per (zone, exponent) with :func:`numpy.bincount`, exact in float64
    for up to 2**26 values of one chunk. Returns (zones, exponents, high sums, low sums) as
    int64 arrays; :class:`ExactSums` adds them across chunks.

    Examples
    --------
    >>> z, e, hi, lo = significand_sums(np.array([0.5, 0.25, 0.5]), np.array([0, 0, 1]))
    >>> z.tolist(), e.tolist()
    ([0, 0, 1], [-1, 0, 0])
    """
    if len(values) > 2**26:
        raise ValueError("too many values for exact float64 sums in one chunk (2**26 at most)")
    mantissa, exponent = np.frexp(values.astype(np.float64))
    sig = np.ldexp(mantissa, 53).astype(np.int64)
    high = sig >> _LOW_BITS
    low = sig - (high << _LOW_BITS)
    key = zone.astype(np.int64) * _EXP_SPAN + (exponent.astype(np.int64) + _EXP_OFFSET)
    uniq, inverse = np.unique(key, return_inverse=True)
    high_sum = np.bincount(inverse, high.astype(np.float64), len(uniq)).astype(np.int64)
    low_sum = np.bincount(inverse, low.astype(np.float64), len(uniq)).astype(np.int64)
    return uniq // _EXP_SPAN, uniq % _EXP_SPAN - _EXP_OFFSET, high_sum, low_sum


class ExactSums:
    """Per-zone sums of floats, exact (Python integers per exponent) whatever the grouping.

    Examples
    --------
    >>> values = np.array([0.1, 0.2, 0.3])
    >>> one, two = ExactSums(), ExactSums()
    >>> one.add(np.array([4]), significand_sums(values, np.zeros(3, int)))
    >>> two.add(np.array([4]), significand_sums(values[:1], np.zeros(1, int)))
    >>> two.add(np.array([4]), significand_sums(values[1:], np.zeros(2, int)))
    >>> counts = np.array([0, 0, 0, 0, 3])
    >>> bool(one.means(counts)[4] == two.means(counts)[4] == float(sum(map(Fraction, values)) / 3))
    True
    """

    def __init__(self) -> None:
        self._parts: dict[tuple[int, int], int] = {}

    def add(self, zones: np.ndarray, part: tuple[np.ndarray, ...]) -> None:
        """Add one chunk's :func:`significand_sums`; its zone numbers index ``zones``."""
        local, exponent, high, low = part
        for z, e, h, lo in zip(
            zones[local].tolist(), exponent.tolist(), high.tolist(), low.tolist(), strict=True
        ):
            key = (int(z), int(e))
            self._parts[key] = self._parts.get(key, 0) + (h << _LOW_BITS) + lo

    def means(self, counts: np.ndarray) -> np.ndarray:
        """The mean per zone (NaN where the count is 0), the exact sum divided and rounded once."""
        totals: dict[int, Fraction] = {}
        for (z, e), sig in self._parts.items():
            totals[z] = totals.get(z, Fraction(0)) + Fraction(sig) * Fraction(2) ** (e - 53)
        out = np.full(len(counts), np.nan)
        for z, total in totals.items():
            if counts[z] > 0:
                out[z] = float(total / int(counts[z]))
        return out
