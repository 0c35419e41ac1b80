"""Where the training pixels were: a compact record kept with models and maps.

A model remembers the positions of the pixels under its training geometries (every valid
pixel, before any cap per class), and every map it writes carries them, so that
:func:`rasterclass.accuracy.assess.assess` can tell how many reference pixels were training
pixels, whatever file the reference comes from: a reprojected copy of the training file, a
subset of its polygons, or polygons shifted by a pixel are recognised as well as the
training file itself.

The record is the sorted set of *flat pixel indices* (``row * width + col``) on the grid of
the training scene, together with that grid (CRS, transform, shape). It is stored as the
differences between consecutive indices (``uint32``, or ``uint64`` when two training pixels
are more than 2**32 pixels apart), deflated with zlib:

- its size follows the number of training pixels, not the size of the scene (a bit mask of
  a 100,000 x 100,000 pixel grid is 1.25 GB before compression, whatever the training);
- inside a polygon the differences are 1 along a row and nearly constant from row to row,
  which zlib packs to about 2 bits per pixel (the 3,711 training pixels of the sample data
  take 1,015 bytes; a run-length form saved only 7 % more, for more code).

A map keeps the record in its GeoTIFF metadata (tag ``RASTERCLASS_TRAINING_PIXELS``, base64)
when it is at most :data:`MAX_TAG_CHARS` characters; a larger one goes to a sidecar
``MAP.tif.training.npz`` written (temporary file, then rename) with the map, and the tag
keeps the grid and the count. A map on another grid than the training scene (a model
applied to another scene) maps the training pixels onto its own grid when assessed.
"""

from __future__ import annotations

import base64
import io as _io
import json
import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from rasterclass.stack import Grid

#: GeoTIFF tag of the record in a map.
RECORD_TAG = "RASTERCLASS_TRAINING_PIXELS"
#: GeoTIFF tag of the training file's SHA-256 (maps written before the record existed).
SHA256_TAG = "RASTERCLASS_TRAINING_SHA256"
#: Suffix of the sidecar that holds a record too large for the GeoTIFF tag.
SIDECAR_SUFFIX = ".training.npz"
#: Largest base64 record kept in the GeoTIFF tag (about 200,000 training pixels in polygons).
MAX_TAG_CHARS = 65_536
#: Share of reference pixels that were training pixels from which a report is labelled a
#: fit diagnostic; below it (and above 0) the assessment warns.
FIT_DIAGNOSTIC_SHARE = 0.5
#: Pixels mapped onto another grid per batch (bounds the memory of the reprojection).
_BATCH = 1_000_000
_FORMAT = 1


@dataclass(frozen=True, eq=False)
class TrainingPixels:
    """The pixels under the training geometries, on the grid of the training scene.

    Attributes
    ----------
    indices : ndarray of uint64
        Sorted, unique flat indices ``row * width + col``.
    crs : str
        WKT of the grid's CRS.
    transform : tuple of float
        The grid's affine transform (``a, b, c, d, e, f``).
    height, width : int
        The grid's shape in pixels.
    """

    indices: np.ndarray
    crs: str
    transform: tuple[float, ...]
    height: int
    width: int

    def __len__(self) -> int:
        return len(self.indices)

    def __repr__(self) -> str:
        return f"TrainingPixels({len(self)} pixels on a {self.width} x {self.height} grid)"

    @classmethod
    def from_positions(cls, rows: np.ndarray, cols: np.ndarray, grid: Grid) -> TrainingPixels:
        """The record of pixels at ``rows``, ``cols`` of ``grid`` (duplicates removed)."""
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        flat = np.unique(rows * grid.width + cols).astype(np.uint64)
        t = grid.transform
        return cls(
            flat,
            grid.crs.to_wkt() if grid.crs is not None else "",
            (t.a, t.b, t.c, t.d, t.e, t.f),
            int(grid.height),
            int(grid.width),
        )

    @property
    def grid(self) -> Grid:
        """The grid the indices refer to."""
        crs = CRS.from_wkt(self.crs) if self.crs else None
        return Grid(crs, Affine(*self.transform), self.width, self.height)  # type: ignore[arg-type]

    # -- encoding -----------------------------------------------------------------------
    def _deltas(self) -> np.ndarray:
        deltas = np.diff(self.indices, prepend=np.uint64(0))
        small = len(deltas) == 0 or int(deltas.max()) < 2**32
        return deltas.astype("<u4" if small else "<u8")

    def _header(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "count": len(self),
            "crs": self.crs,
            "transform": list(self.transform),
            "height": self.height,
            "width": self.width,
        }

    def encode(self) -> dict[str, Any]:
        """A JSON-serialisable dict (deltas, zlib, base64) for a model file or a tag."""
        deltas = self._deltas()
        data = base64.b64encode(zlib.compress(deltas.tobytes(), 9)).decode("ascii")
        return {**self._header(), "dtype": deltas.dtype.str, "deltas_zlib_base64": data}

    @classmethod
    def decode(cls, record: Mapping[str, Any], deltas: np.ndarray | None = None) -> TrainingPixels:
        """The record from :meth:`encode` (or a header plus the sidecar's ``deltas``)."""
        if deltas is None:
            raw = zlib.decompress(base64.b64decode(record["deltas_zlib_base64"]))
            deltas = np.frombuffer(raw, dtype=np.dtype(record["dtype"]))
        indices = np.cumsum(deltas.astype(np.uint64), dtype=np.uint64)
        if len(indices) != int(record["count"]):
            raise ValueError(
                f"training-pixel record holds {len(indices)} pixels, its header says "
                f"{record['count']}"
            )
        return cls(
            indices,
            str(record["crs"]),
            tuple(float(v) for v in record["transform"]),
            int(record["height"]),
            int(record["width"]),
        )

    def map_tags(self) -> tuple[dict[str, str], dict[str, bytes]]:
        """GeoTIFF tags and sidecars (suffix -> content) that carry the record with a map."""
        encoded = self.encode()
        if len(encoded["deltas_zlib_base64"]) <= MAX_TAG_CHARS:
            return {RECORD_TAG: json.dumps(encoded)}, {}
        buf = _io.BytesIO()
        np.savez_compressed(buf, deltas=self._deltas())
        header = {**self._header(), "sidecar": SIDECAR_SUFFIX}
        return {RECORD_TAG: json.dumps(header)}, {SIDECAR_SUFFIX: buf.getvalue()}

    # -- positions on a map's grid ------------------------------------------------------
    def on_grid(self, grid: Grid) -> np.ndarray:
        """Sorted unique flat indices of ``grid``'s pixels that hold a training pixel.

        On the training grid these are the record's indices. On another grid, each
        training pixel is sampled at k x k points (k = how many pixels of ``grid`` one
        training pixel spans, at least 1, at most 16), the points are reprojected and the
        pixels of ``grid`` they fall in are kept.
        """
        own = self.grid
        if own.same_as(grid):
            return self.indices.astype(np.int64)
        inv = ~grid.transform
        t = own.transform
        # how many target pixels one training pixel spans
        (x0, y0), (x1, y1), (x2, y2) = (t @ (0.5, 0.5), t @ (1.5, 0.5), t @ (0.5, 1.5))
        xs, ys = _reproject(own.crs, grid.crs, np.array([x0, x1, x2]), np.array([y0, y1, y2]))
        cs, rs = inv @ (xs, ys)
        span = max(
            math.hypot(cs[1] - cs[0], rs[1] - rs[0]), math.hypot(cs[2] - cs[0], rs[2] - rs[0])
        )
        k = int(min(16, max(1, math.ceil(span - 1e-9)))) if math.isfinite(span) else 1
        offsets = (np.arange(k) + 0.5) / k
        oc, orow = (a.ravel() for a in np.meshgrid(offsets, offsets))
        out = []
        for start in range(0, len(self.indices), _BATCH):
            flat = self.indices[start : start + _BATCH].astype(np.int64)
            rows, cols = np.divmod(flat, self.width)
            pc = (cols[:, None] + oc[None, :]).ravel()
            pr = (rows[:, None] + orow[None, :]).ravel()
            px, py = t @ (pc, pr)  # type: ignore[operator]  # affine maps arrays too
            qx, qy = _reproject(own.crs, grid.crs, np.asarray(px), np.asarray(py))
            qc, qr = inv @ (qx, qy)
            qc, qr = np.floor(qc), np.floor(qr)
            ok = np.isfinite(qc) & np.isfinite(qr)
            ok &= (qc >= 0) & (qc < grid.width) & (qr >= 0) & (qr < grid.height)
            out.append(qr[ok].astype(np.int64) * grid.width + qc[ok].astype(np.int64))
        return np.unique(np.concatenate(out)) if out else np.empty(0, dtype=np.int64)

    def contains(self, rows: np.ndarray, cols: np.ndarray, grid: Grid) -> np.ndarray:
        """Boolean: which pixels (``rows``, ``cols`` of ``grid``) were training pixels."""
        known = self.on_grid(grid)
        flat = np.asarray(rows, dtype=np.int64) * grid.width + np.asarray(cols, dtype=np.int64)
        if len(known) == 0:
            return np.zeros(len(flat), dtype=bool)
        pos = np.minimum(np.searchsorted(known, flat), len(known) - 1)
        return known[pos] == flat


def _reproject(src: Any, dst: Any, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, ...]:
    if src is None or dst is None or src == dst:
        return np.asarray(xs, dtype=np.float64), np.asarray(ys, dtype=np.float64)
    from rasterio.warp import transform

    qx, qy = transform(src, dst, xs, ys)
    return np.asarray(qx, dtype=np.float64), np.asarray(qy, dtype=np.float64)


def read_sidecar_deltas(content: bytes) -> np.ndarray:
    """The deltas array of a sidecar's bytes (no pickle)."""
    with np.load(_io.BytesIO(content), allow_pickle=False) as npz:
        return np.asarray(npz["deltas"])


def provenance_tags(
    summary: Mapping[str, Any], record: TrainingPixels | None
) -> tuple[dict[str, str], dict[str, bytes]]:
    """Tags and sidecars by which :func:`~rasterclass.accuracy.assess.assess` knows training data.

    The training file's SHA-256 (kept for readers of older maps) and, when the model has
    one, the record of its training pixels.
    """
    tags = {SHA256_TAG: str(summary.get("training_sha256", ""))}
    sidecars: dict[str, bytes] = {}
    if record is not None:
        more, sidecars = record.map_tags()
        tags.update(more)
    return tags, sidecars
