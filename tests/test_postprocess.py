"""Post-processing of class maps: sieve (MMU), majority filter, polygons; jobs and CLI.

numpy is the oracle: every dask chunking (one not dividing the scene) gives the in-memory
result; the sieve equals GDAL's (rasterio.features.sieve) where the rules coincide.
"""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import rasterio
import xarray as xr
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.features import sieve as gdal_sieve
from skimage.measure import label

import rasterclass as rc
from rasterclass.cli.main import cli
from rasterclass.errors import CRSError, PostprocessError
from rasterclass.postprocess import merge_small_patches, patch_graph

CHUNKINGS = [(5, 7), (16, 16), (13, 40)]  # 5 x 7 and 13 x 40 do not divide 48 x 40


def as_map(a: np.ndarray, res: tuple[float, float] = (10.0, 10.0), crs="EPSG:32633"):
    h, w = a.shape
    dx, dy = res
    m = xr.DataArray(
        a,
        dims=("y", "x"),
        coords={"y": 1000 - dy * (np.arange(h) + 0.5), "x": dx * (np.arange(w) + 0.5)},
        name="classes",
    )
    if crs is not None:
        m = m.rio.write_crs(crs)
    m = m.rio.write_transform(rasterio.Affine(dx, 0, 0, 0, -dy, 1000))
    names = ["water", "forest", "crop", "urban"]
    m.attrs["class_map"] = rc.ClassMap.from_codes([1, 2, 3, 4], names).to_dict()
    return m


def noisy_map(seed: int = 0, shape=(48, 40)) -> np.ndarray:
    """Blocks of classes 1-4 with salt noise and a nodata corner."""
    rng = np.random.default_rng(seed)
    h, w = shape
    coarse = rng.integers(1, 5, size=(h // 8 + 1, w // 8 + 1))
    a = np.kron(coarse, np.ones((8, 8), dtype=np.int64))[:h, :w]
    noise = rng.random(shape) < 0.15
    a[noise] = rng.integers(1, 5, size=int(noise.sum()))
    a[:6, :9] = 0
    a[rng.random(shape) < 0.02] = 0
    return a.astype(np.uint8)


def islands_map(connectivity: int) -> np.ndarray:
    """Large patches (quadrants) with small islands, each inside one quadrant (one neighbour),
    some touching nodata or the scene edge: GDAL's rule and the longest border coincide."""
    a = np.zeros((40, 44), dtype=np.uint8)
    a[:20, :22], a[:20, 22:], a[20:, :22], a[20:, 22:] = 1, 2, 3, 4
    a[30:40, 30:44] = 0  # nodata
    rng = np.random.default_rng(1)
    step = 5
    for r in range(1, 40 - 3, step):
        for c in range(1, 44 - 3, step):
            q = a[r, c]
            if q == 0 or (r // 20 != (r + 3) // 20) or (c // 22 != (c + 3) // 22):
                continue
            size = rng.integers(1, 4)
            cls = [k for k in (1, 2, 3, 4) if k != q][rng.integers(0, 3)]
            block = a[r : r + size, c : c + rng.integers(1, 3)]
            block[block > 0] = cls
    a[0, 5] = 4  # on the scene's edge, inside class 1
    a[29, 31] = 1  # touching nodata and class 4 only
    return a


def chunked(m: xr.DataArray, chunks: tuple[int, int]) -> xr.DataArray:
    return m.chunk({"y": chunks[0], "x": chunks[1]})


class RaiseOnCompute(dask.callbacks.Callback):
    """Fail if anything computes (as xarray's raise_if_dask_computes)."""

    def _start(self, dsk):
        raise AssertionError("something computed before the writer")


# --- sieve -------------------------------------------------------------------------------


@pytest.mark.parametrize("connectivity", [4, 8])
def test_sieve_same_for_every_chunking_and_numpy(connectivity):
    m = as_map(noisy_map())
    expected = rc.sieve(m, "6px", connectivity=connectivity, keep=["urban"]).values
    assert not np.array_equal(expected, m.values)  # it did something
    for chunks in CHUNKINGS:
        out = rc.sieve(chunked(m, chunks), 6, connectivity=connectivity, keep=[4])
        assert isinstance(out.data, da.Array)
        np.testing.assert_array_equal(out.values, expected)


@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("size", [2, 3, 4])
def test_sieve_equals_gdal_where_the_rules_coincide(connectivity, size):
    a = islands_map(connectivity)
    reference = gdal_sieve(a, size, mask=a > 0, connectivity=connectivity)
    assert not np.array_equal(reference, a)
    for chunks in [*CHUNKINGS, (40, 44)]:
        out = rc.sieve(chunked(as_map(a), chunks), size, connectivity=connectivity)
        np.testing.assert_array_equal(out.values, reference)


def test_sieve_keeps_protected_classes_and_nodata():
    a = noisy_map(3)
    out = rc.sieve(chunked(as_map(a), (7, 9)), "10px", keep=["water"]).values
    np.testing.assert_array_equal(out == 1, a == 1)  # never merged, never absorbs
    np.testing.assert_array_equal(out == 0, a == 0)
    labels = label(out, background=0, connectivity=1)
    sizes = np.bincount(labels.ravel())
    small = np.flatnonzero(sizes < 10)[1:]
    for lab in small:  # every small patch left is protected or has no eligible neighbour
        mask = labels == lab
        ring = np.zeros_like(mask)
        ring[:-1] |= mask[1:]
        ring[1:] |= mask[:-1]
        ring[:, :-1] |= mask[:, 1:]
        ring[:, 1:] |= mask[:, :-1]
        around = set(np.unique(out[ring & ~mask]).tolist())
        assert out[mask][0] == 1 or around <= {0, 1}


def test_sieve_mmu_in_hectares_uses_the_pixel_area_of_non_square_pixels():
    a = np.full((12, 12), 2, dtype=np.uint8)
    a[2, 2:4] = 1  # 2 px = 400 m2 with 20 x 10 m pixels
    a[6, 6:9] = 1  # 3 px = 600 m2
    m = as_map(a, res=(20.0, 10.0))
    out = rc.sieve(chunked(m, (5, 5)), "0.05ha").values  # 500 m2 = 2.5 px
    assert (out[2, 2:4] == 2).all() and (out[6, 6:9] == 1).all()
    square = rc.sieve(as_map(a, res=(10.0, 10.0)), "0.05ha").values  # 5 px
    assert (square == 2).all()


def test_sieve_resolves_chains_smallest_first_by_longest_border():
    a = np.array(
        [
            [1, 1, 1, 1, 1, 1],
            [1, 2, 2, 3, 1, 1],
            [1, 2, 2, 3, 1, 1],
            [1, 1, 1, 1, 1, 1],
        ],
        dtype=np.uint8,
    )
    # 3 (2 px) is smallest: border with 1 = 4 edges, with 2 = 2 -> 1; then 2 (4 px) -> 1
    out = rc.sieve(as_map(a), 5).values
    assert (out == 1).all()
    graph = patch_graph(as_map(a))
    assert graph.pixels.tolist() == [0, 18, 4, 2]
    assert merge_small_patches(graph, 3).tolist() == [0, 1, 2, 1]


def sequential_merge(graph, min_pixels, protected=()):
    """The rule of merge_small_patches, one small patch at a time, with no fast path."""
    import heapq

    prot = np.isin(graph.classes, list(protected))
    prot[0] = True
    size = graph.pixels.copy()
    small = (size < min_pixels) & ~prot
    adj = {int(k): {} for k in np.flatnonzero(small)}
    for p, q, w in graph.edges.T.tolist():
        if not (prot[p] or prot[q]):
            for x, y in ((p, q), (q, p)):
                if x in adj:
                    adj[x][y] = w
    root = np.arange(len(size))
    heap = [(int(size[k]), int(graph.first[k]), k) for k in adj]
    heapq.heapify(heap)
    while heap:
        s, _, i = heapq.heappop(heap)
        if i not in adj or s != size[i] or not adj[i]:
            continue
        nb = adj.pop(i)
        j = max(nb, key=lambda k: (nb[k], graph.pixels[k], -k))
        root[i] = j
        size[j] += size[i]
        for k, w in nb.items():
            if k != j:
                if k in adj:
                    adj[k].pop(i)
                    adj[k][j] = adj[k].get(j, 0) + w
                if j in adj:
                    adj[j][k] = adj[j].get(k, 0) + w
        if j in adj:
            adj[j].pop(i, None)
            if size[j] < min_pixels:
                heapq.heappush(heap, (int(size[j]), int(graph.first[j]), j))
            else:
                del adj[j]
    while not np.array_equal(root[root], root):
        root = root[root]
    return graph.classes[root]


@pytest.mark.parametrize(("seed", "mmu", "connectivity"), [(0, 4, 4), (1, 9, 4), (2, 7, 8)])
def test_sieve_fast_path_equals_the_sequential_rule(seed, mmu, connectivity):
    graph = patch_graph(as_map(noisy_map(seed)), connectivity)
    np.testing.assert_array_equal(
        merge_small_patches(graph, mmu, [2]), sequential_merge(graph, mmu, [2])
    )


def test_sieve_small_patch_touching_only_nodata_stays():
    a = np.zeros((5, 5), dtype=np.uint8)
    a[2, 2] = 3
    a[0, :] = 1
    np.testing.assert_array_equal(rc.sieve(chunked(as_map(a), (2, 3)), 4).values, a)


def test_sieve_measures_patches_whole_across_chunks_smaller_than_them():
    a = np.full((30, 30), 1, dtype=np.uint8)
    a[3:27, 3:27] = 2  # 576 px, chunks of 4 x 4 cut it in many pieces
    out = rc.sieve(chunked(as_map(a), (4, 4)), 300).values  # the ring of 1s: 324 px
    np.testing.assert_array_equal(out, a)
    out = rc.sieve(chunked(as_map(a), (4, 4)), 500).values  # the ring is small: joins the 2s
    assert (out == 2).all()


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    cy=st.integers(2, 12),
    cx=st.integers(2, 12),
    mmu=st.integers(1, 12),
    connectivity=st.sampled_from([4, 8]),
)
def test_sieve_chunk_invariance_property(seed, cy, cx, mmu, connectivity):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 4, size=(17, 15)).astype(np.uint8)
    m = as_map(a)
    expected = rc.sieve(m, mmu, connectivity=connectivity).values
    out = rc.sieve(chunked(m, (cy, cx)), mmu, connectivity=connectivity).values
    np.testing.assert_array_equal(out, expected)


def test_sieve_reads_every_chunk_once_and_paints_lazily():
    calls = []

    def source(block):
        if block.size:  # not dask's probe of the output type
            calls.append(1)
        return block

    m = chunked(as_map(noisy_map()), (16, 16))
    m = m.copy(data=m.data.map_blocks(source, dtype=m.dtype))
    out = rc.sieve(m, 6)
    assert len(calls) == m.data.npartitions  # the patch graph: one streamed pass
    assert isinstance(out.data, da.Array)
    with RaiseOnCompute():
        rc.majority_filter(out, 3)  # and what comes after stays lazy


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"mmu": "25"}, PostprocessError, "25px"),
        ({"mmu": "-1ha"}, PostprocessError, "0.5ha"),
        ({"mmu": -3}, PostprocessError, "0 or more"),
        ({"mmu": 3, "keep": ["snow"]}, PostprocessError, "water (1), forest (2)"),
        ({"mmu": 3, "connectivity": 6}, PostprocessError, "connectivity="),
    ],
)
def test_sieve_errors_name_the_fix(kwargs, error, text):
    with pytest.raises(error, match=text.replace("(", r"\(").replace(")", r"\)")):
        rc.sieve(as_map(noisy_map()), **kwargs)


def test_sieve_in_hectares_needs_a_crs():
    with pytest.raises(CRSError, match="in pixels"):
        rc.sieve(as_map(noisy_map(), crs=None), "0.5ha")


# --- majority filter ---------------------------------------------------------------------


def brute_majority(a: np.ndarray, size: int) -> np.ndarray:
    r = size // 2
    out = a.copy()
    h, w = a.shape
    for i in range(h):
        for j in range(w):
            if a[i, j] == 0:
                continue
            win = a[max(0, i - r) : i + r + 1, max(0, j - r) : j + r + 1]
            counts = np.bincount(win[win > 0].ravel(), minlength=5)
            best = counts.max()
            out[i, j] = a[i, j] if counts[a[i, j]] == best else np.argmax(counts)
    return out


@pytest.mark.parametrize("size", [3, 5])
def test_majority_filter_is_the_mode_for_every_chunking(size):
    a = noisy_map(2)
    expected = brute_majority(a, size)
    np.testing.assert_array_equal(rc.majority_filter(as_map(a), size).values, expected)
    for chunks in CHUNKINGS:
        out = rc.majority_filter(chunked(as_map(a), chunks), size)
        np.testing.assert_array_equal(out.values, expected)
    assert ((expected == 0) == (a == 0)).all()


def test_majority_filter_is_lazy_and_checks_the_size():
    m = chunked(as_map(noisy_map()), (16, 16))
    with RaiseOnCompute():
        out = rc.majority_filter(m, 5)
    assert out.attrs == m.attrs and out.rio.crs == m.rio.crs
    for bad in (2, 1, 4.0, True):
        with pytest.raises(PostprocessError, match="odd number"):
            rc.majority_filter(m, bad)


# --- polygons ----------------------------------------------------------------------------


@pytest.mark.parametrize("connectivity", [4, 8])
def test_polygon_areas_equal_raster_areas_and_patches_are_whole(connectivity):
    a = noisy_map(5)
    m = as_map(a, res=(20.0, 10.0))
    n_patches = label(a, background=0, connectivity=connectivity // 4).max()
    px_ha = 200 / 1e4
    for chunks in [(6, 5), (48, 40)]:  # 6 x 5 chunks are smaller than the 8 x 8 patches
        poly = rc.polygonize(chunked(m, chunks), connectivity=connectivity)
        assert len(poly) == n_patches and poly["patch"].is_unique
        assert poly.geometry.is_valid.all() and poly.crs == m.rio.crs
        by_class = (poly.geometry.area / 1e4).groupby(poly["code"]).sum()
        for code, area in by_class.items():
            assert area == pytest.approx((a == code).sum() * px_ha, abs=1e-6)
        np.testing.assert_allclose(poly.geometry.area / 1e4, poly["area_ha"], atol=1e-9)
    names = dict(zip(poly["code"], poly["class"], strict=True))
    assert names[1] == "water"
    dissolved = rc.polygonize(chunked(m, (13, 40)), dissolve=True)
    assert dissolved["code"].tolist() == [1, 2, 3, 4] and dissolved.geometry.is_valid.all()
    np.testing.assert_allclose(
        dissolved.geometry.area / 1e4, [(a == c).sum() * px_ha for c in (1, 2, 3, 4)]
    )


# --- jobs and command line ---------------------------------------------------------------


@pytest.fixture
def map_file(tmp_path):
    m = as_map(noisy_map())
    return rc.write_map(m, tmp_path / "map.tif")


def test_cli_sieve_majority_polygonize(tmp_path, map_file):
    import geopandas as gpd

    runner = CliRunner()
    out = tmp_path / "sieved.tif"
    res = runner.invoke(
        cli, ["sieve", map_file, "--mmu", "0.06ha", "--keep", "urban", "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "6 pixels" in res.output
    assert rc.read_class_map(out) == rc.read_class_map(map_file)
    assert out.with_suffix(".qml").exists() and (tmp_path / "sieved.tif.aux.xml").exists()
    expected = rc.sieve(as_map(noisy_map()), 6, keep=[4]).values
    with rasterio.open(out) as src:
        np.testing.assert_array_equal(src.read(1), expected)
        assert src.colormap(1)[1] == rc.read_class_map(map_file).colors[0]
    res = runner.invoke(cli, ["majority", str(out), "--size", "3", "-o", str(tmp_path / "m.tif")])
    assert res.exit_code == 0, res.output
    gpkg = tmp_path / "map.gpkg"
    res = runner.invoke(cli, ["polygonize", str(out), "-o", str(gpkg), "--dissolve"])
    assert res.exit_code == 0, res.output
    assert gpd.read_file(gpkg)["class"].tolist() == ["water", "forest", "crop", "urban"]


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["sieve", "--mmu", "25"], "--mmu '25' is a size with its unit"),
        (["sieve", "--mmu", "-2px"], "--mmu '-2px'"),
        (["sieve", "--mmu", "3px", "--keep", "snow"], "--keep names unknown class 'snow'"),
        (["majority", "--size", "4"], "--size is the window side"),
        (["polygonize", "--dissolve"], ".gpkg"),
    ],
)
def test_cli_errors_name_the_option(tmp_path, map_file, args, text):
    suffix = ".csv" if args[0] == "polygonize" else ".tif"
    res = CliRunner().invoke(
        cli, [args[0], map_file, *args[1:], "-o", str(tmp_path / f"o{suffix}")]
    )
    assert res.exit_code == 1
    assert text in res.output
    assert not (tmp_path / f"o{suffix}").exists()


def blobby_map(seed: int) -> np.ndarray:
    """Patches of many sizes (noise blown up by random factors) and some nodata: chains of
    small patches that grow as they absorb each other."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 5, size=(rng.integers(4, 14), rng.integers(4, 14))).astype(np.uint8)
    return np.repeat(np.repeat(a, rng.integers(1, 4), 0), rng.integers(1, 4), 1)


@pytest.mark.parametrize(("rounds", "compiled_from"), [(64, 10**9), (2, 10**9), (0, 10**9), (2, 0)])
def test_sieve_every_merge_pass_equals_the_sequential_rule(monkeypatch, rounds, compiled_from):
    # the numpy rounds, cut short (the rest through the queue) or skipped; the queue in Python
    # or compiled (numba, when installed)
    if compiled_from == 0:
        pytest.importorskip("numba")
    monkeypatch.setattr("rasterclass.postprocess._crowded.ROUNDS", rounds)
    monkeypatch.setattr("rasterclass.postprocess._crowded.COMPILED_FROM", compiled_from)
    for seed in range(40):
        a = noisy_map(seed) if seed % 2 else blobby_map(seed)
        graph = patch_graph(as_map(a), 4 if seed % 3 else 8)
        mmu, keep = 2 + seed % 17, [1] if seed % 5 == 0 else []
        np.testing.assert_array_equal(
            merge_small_patches(graph, mmu, keep), sequential_merge(graph, mmu, keep)
        )
