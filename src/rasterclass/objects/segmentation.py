"""segment(): methods, parameters and the per-chunk methods (slic, felzenszwalb).

Owns the segmentation entry point :func:`segment`, the methods and their default parameters
(:data:`SEGMENT_METHODS`, :data:`DEFAULT_PARAMS`), the validation of parameters before any
work (``check_segment_params``), scikit-image's ``slic`` and ``felzenszwalb`` run per chunk with
globally unique ids (``_tiled``) and :func:`seam_statistics`, the diagnostic of how much a
segmentation's boundaries follow a chunk grid. The Shepherd method lives in
:mod:`rasterclass.objects.shepherd`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr

from rasterclass.errors import SegmentationError, param
from rasterclass.methods import SEGMENT_DEFAULTS, SEGMENT_METHODS
from rasterclass.objects._blocks import block_layout, dask_scene, grid_like
from rasterclass.objects.seeds import standardise
from rasterclass.objects.shepherd import shepherd_segments
from rasterclass.sampling.pixels import sample_pixels

logger = logging.getLogger(__name__)


#: Segmentation methods and their default parameters (``-p NAME=VALUE``): see
#: :mod:`rasterclass.methods`.
DEFAULT_PARAMS = SEGMENT_DEFAULTS


def _given(name: str, value: Any) -> str:
    """A segmentation parameter as given, in a message (``--segment-param NAME=VALUE`` or
    ``-p NAME=VALUE`` on the command line)."""
    return param(name, str(value).replace("{", "(").replace("}", ")"))


def check_segment_params(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    if method not in SEGMENT_METHODS:
        raise SegmentationError(
            f"unknown segmentation method {method!r}; choose one of {', '.join(SEGMENT_METHODS)}"
        )
    defaults = DEFAULT_PARAMS[method]
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise SegmentationError(
            f"unknown parameter(s) {unknown} for {method}; valid ones: {', '.join(defaults)}"
        )
    out = {**defaults, **params}
    for name, value in out.items():
        default = defaults[name]
        if isinstance(default, int) and not isinstance(default, bool):
            if not isinstance(value, int | np.integer) or isinstance(value, bool):
                raise SegmentationError(f"{method}: {_given(name, value)} must be an integer")
        elif isinstance(default, float) and (
            isinstance(value, bool)
            or not isinstance(value, int | float | np.number)
            or not np.isfinite(value)
        ):
            raise SegmentationError(f"{method}: {_given(name, value)} must be a finite number")
    positive = {
        "n_clusters", "min_size", "sample_size", "max_iter", "region_size", "max_num_iter", "tile"
    }  # fmt: skip
    for name in positive & set(out):
        if out[name] < 1:
            raise SegmentationError(f"{method}: {_given(name, out[name])} must be >= 1")
    if not 0 <= out["seed"] < 2**32:
        raise SegmentationError(
            f"{method}: {_given('seed', out['seed'])} must be an integer in [0, 2**32 - 1]"
        )
    for name, low, closed in (("compactness", 0, False), ("scale", 0, False), ("sigma", 0, True)):
        if name in out and not (out[name] >= low if closed else out[name] > low):
            sign = ">=" if closed else ">"
            raise SegmentationError(f"{method}: {_given(name, out[name])} must be {sign} {low}")
    if method == "shepherd" and out["connectivity"] not in (4, 8):
        raise SegmentationError(
            f"{method}: {_given('connectivity', out['connectivity'])} must be 4 or 8"
        )
    if method == "shepherd" and out["n_clusters"] > 254:
        raise SegmentationError(
            f"{method}: {_given('n_clusters', out['n_clusters'])} must be <= 254"
        )
    return out


def segment(scene: xr.DataArray, method: str = "shepherd", **params: Any) -> xr.DataArray:
    """Segment a scene into spectrally homogeneous, spatially connected objects.

    Parameters
    ----------
    scene
        ``(band, y, x)`` scene from :func:`rasterclass.open_scene` (lazy or in memory);
        NaN marks nodata.
    method
        ``"shepherd"`` (default; chunk-invariant, any scene size), ``"slic"`` or
        ``"felzenszwalb"`` (per chunk; see the module notes on seams).
    **params
        Method parameters (see :data:`DEFAULT_PARAMS`):

        - shepherd: ``n_clusters`` (30) k-means seeds, ``min_size`` (50) pixels,
          ``connectivity`` (4 or 8), ``sample_size`` (30000) pixels for k-means,
          ``max_iter`` (200) k-means iterations, ``seed``, ``tile`` (1024) pixels: the
          side of the fixed tiles that bound the memory (part of the result; not the
          chunks).
        - slic: ``region_size`` (10: segments of about 10 x 10 pixels), ``compactness``
          (0.1, in standardised band units), ``sigma``, ``max_num_iter``, ``sample_size``,
          ``seed``.
        - felzenszwalb: ``scale`` (5.0), ``sigma`` (0.5), ``min_size`` (20), ``sample_size``,
          ``seed``.

    Returns
    -------
    xarray.DataArray
        ``(y, x)`` uint32 segment ids, 0 at nodata, on the scene's grid and chunks. The
        tables (shepherd) or the band standardisation (slic/felzenszwalb) are computed at
        call time (one or two passes over the scene); the raster itself is lazy and painted
        block by block when written or computed. Attributes: ``segmentation`` (method),
        ``params`` and, for shepherd, ``n_segments``.

    Raises
    ------
    SegmentationError
        Unknown method or parameter, no valid pixel, or ``min_size`` larger than the scene.

    References
    ----------
    Shepherd, J. D., Bunting, P. & Dymond, J. R. (2019). Operational large-scale
    segmentation of imagery based on iterative elimination. *Remote Sensing*, 11(6), 658.

    Achanta, R. et al. (2012). SLIC superpixels compared to state-of-the-art superpixel
    methods. *IEEE Transactions on Pattern Analysis and Machine Intelligence*, 34(11).

    Felzenszwalb, P. F. & Huttenlocher, D. P. (2004). Efficient graph-based image
    segmentation. *International Journal of Computer Vision*, 59(2), 167-181.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> data = np.zeros((2, 20, 20), dtype="f4"); data[:, :, 10:] = 1
    >>> scene = xr.DataArray(data, dims=("band", "y", "x"), coords={"band": ["a", "b"]})
    >>> segs = segment(scene, n_clusters=2, min_size=5)
    >>> np.unique(segs.values).tolist()
    [1, 2]
    """
    opts = check_segment_params(method, params)
    scene = dask_scene(scene)
    _, height, width = scene.shape
    if method == "shepherd" and opts["min_size"] > height * width:
        raise SegmentationError(
            f"min_size {opts['min_size']} is larger than the scene ({height} x {width} = "
            f"{height * width} pixels); use a smaller {param('min_size')}"
        )
    t0 = time.perf_counter()
    drawn = sample_pixels(scene, opts["sample_size"], opts["seed"], replace=True)
    sample = drawn.X.astype(np.float64)
    if len(sample) == 0:
        raise SegmentationError(
            "the scene has no valid pixel in the sample (all nodata?); check the scene's nodata"
        )
    if method == "shepherd":
        out = shepherd_segments(scene, sample, opts)
    else:
        out = _tiled(scene, sample, method, opts)
    logger.info("%s segmentation tables in %.1f s", method, time.perf_counter() - t0)
    return out


def _tiled_block(
    block: np.ndarray,
    method: str,
    params: Mapping[str, Any],
    mean: np.ndarray,
    scale: np.ndarray,
    offset: int,
) -> np.ndarray:
    """slic / felzenszwalb on one block (standardised bands); ids offset to be unique."""
    from skimage.measure import label
    from skimage.segmentation import felzenszwalb, slic

    valid = np.isfinite(block).all(axis=0)
    out = np.zeros(block.shape[1:], dtype=np.uint32)
    if not valid.any():
        return out
    image = (block.astype(np.float64) - mean[:, None, None]) / scale[:, None, None]
    image[:, ~valid] = 0.0
    image = np.moveaxis(image, 0, -1)
    if method == "slic":
        # no mask=: skimage seeds masked SLIC with a k-means over the mask's pixel positions,
        # O(pixels x segments); nodata is filled with the mean and its segments dropped.
        n_segments = max(1, round(valid.size / params["region_size"] ** 2))
        labels = slic(
            image,
            n_segments=n_segments,
            compactness=float(params["compactness"]),
            sigma=float(params["sigma"]),
            max_num_iter=int(params["max_num_iter"]),
            convert2lab=False,
            enforce_connectivity=True,
            start_label=1,
            channel_axis=-1,
        )
    else:
        # (no warnings.catch_warnings here: it is not thread-safe and this runs per chunk)
        labels = felzenszwalb(
            image,
            scale=float(params["scale"]),
            sigma=float(params["sigma"]),
            min_size=int(params["min_size"]),
            channel_axis=-1,
        )
        labels = labels.astype(np.int64) + 1
    labels = np.where(valid, labels, 0)
    labels = label(labels, background=0, connectivity=1)  # split parts cut by nodata
    out[labels > 0] = labels[labels > 0] + offset
    return out


def _tiled(
    scene: xr.DataArray, sample: np.ndarray, method: str, opts: Mapping[str, Any]
) -> xr.DataArray:
    mean, scale = standardise(sample)
    data = scene.data
    _, height, width = scene.shape
    if height * width >= 2**32:
        raise SegmentationError(f"{method}: scenes of 2**32 pixels or more are not supported")
    layout = block_layout(data.chunks[1], data.chunks[2])
    blocks = data.to_delayed()
    if len(layout) > 1:
        logger.info(
            "%s runs per chunk (%d chunks): chunk edges are segment boundaries; open the "
            "scene as one chunk to segment it without seams",
            method,
            len(layout),
        )
    parts = []
    offset = 0
    params = dict(opts)
    for i in range(len(data.chunks[1])):
        row = []
        for j in range(len(data.chunks[2])):
            blk = layout[i * len(data.chunks[2]) + j]
            row.append(
                da.from_delayed(
                    dask.delayed(_tiled_block, pure=True)(
                        blocks[0, i, j], method, params, mean, scale, offset
                    ),
                    shape=(blk.h, blk.w),
                    dtype=np.uint32,
                    meta=np.array((), dtype=np.uint32),
                )
            )
            offset += blk.h * blk.w
        parts.append(row)
    out = grid_like(da.block(parts), scene, "segments", {"segmentation": method, "params": params})
    return out


def seam_statistics(segments: Any, chunk: int) -> dict[str, float]:
    """How much a segmentation's boundaries follow a chunk grid (a diagnostic of seams).

    Parameters
    ----------
    segments
        ``(y, x)`` segment ids (computed into memory).
    chunk
        Side of the square chunk grid to test (lines every ``chunk`` rows and columns).

    Returns
    -------
    dict
        ``face_boundary_share``: share of neighbouring valid pixel pairs across the chunk
        lines that lie in different segments (1.0 = every chunk line is a segment boundary, a
        full seam); ``boundary_share``: the same share over all neighbouring pairs (what a
        seam-free segmentation shows on chunk lines too); ``cut_segments``: number of
        segments that cross a chunk line.
    """
    s = np.asarray(segments)
    rows = np.arange(chunk, s.shape[0], chunk)
    cols = np.arange(chunk, s.shape[1], chunk)
    a = np.concatenate([s[rows - 1, :].ravel(), s[:, cols - 1].ravel()])
    b = np.concatenate([s[rows, :].ravel(), s[:, cols].ravel()])
    m = (a > 0) & (b > 0)
    same = a[m][a[m] == b[m]]
    aa = np.concatenate([s[:, :-1].ravel(), s[:-1, :].ravel()])
    bb = np.concatenate([s[:, 1:].ravel(), s[1:, :].ravel()])
    mm = (aa > 0) & (bb > 0)
    return {
        "face_boundary_share": float((a[m] != b[m]).mean()) if m.any() else float("nan"),
        "boundary_share": float((aa[mm] != bb[mm]).mean()) if mm.any() else float("nan"),
        "cut_segments": float(len(np.unique(same))),
    }
