"""The one-file HTML run report: its numbers, its page, and the page in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio

import rasterclass as rc
from rasterclass.errors import OutputExistsError, RasterclassIOError, TrainingReferenceWarning
from rasterclass.report import build_report, f1_intervals, render_html, wilson_interval
from tests.conftest import (
    CRS,
    TRAIN_BOXES,
    pixel_box,
    read_band,
    run_cli,
    synthetic_arrays,
    write_raster,
)

SECTIONS = (
    "map",
    "accuracy",
    "areas",
    "signatures",
    "cross-validation",
    "uncertainty",
    "aoa",
    "provenance",
)


def _write_layers(folder: Path, truth: np.ndarray) -> tuple[Path, Path]:
    """An uncertainty layer (margin, entropy) and an AOA layer (DI, aoa; tag AOA_THRESHOLD)
    with the layout ``predict --uncertainty/--aoa`` writes: float32, NaN nodata."""
    rng = np.random.default_rng(1)
    h, w = truth.shape
    margin = rng.uniform(0, 1, (h, w)).astype(np.float32)
    entropy = (1 - margin) * 0.8
    di = rng.uniform(0, 1, (h, w)).astype(np.float32)
    di[:, -10:] += 1.0  # the right edge is far from the training data
    aoa = (di <= 0.9).astype(np.float32)
    for band in (margin, entropy, di, aoa):
        band[truth == 0] = np.nan
    u = write_raster(
        folder / "uncertainty.tif",
        np.stack([margin, entropy]),
        nodata=float("nan"),
        descriptions=["margin", "entropy"],
    )
    a = write_raster(
        folder / "aoa.tif",
        np.stack([di, aoa]),
        nodata=float("nan"),
        descriptions=["dissimilarity_index", "aoa"],
    )
    with rasterio.open(a, "r+") as dst:
        dst.update_tags(AOA_THRESHOLD="0.9")
    return u, a


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small run: classify (cross-validated), a labelled stratified sample assessed,
    uncertainty and AOA layers, and the report with every input."""
    folder = tmp_path_factory.mktemp("run")
    scene, truth = synthetic_arrays()
    write_raster(
        folder / "scene.tif", scene, nodata=float("nan"), descriptions=["blue", "green", "red"]
    )
    training = gpd.GeoDataFrame(
        {"class": [c for c, _ in TRAIN_BOXES]},
        geometry=[pixel_box(*b) for _, b in TRAIN_BOXES],
        crs=CRS,
    )
    training.to_file(folder / "training.gpkg")
    options = rc.TrainingOptions(params={"n_estimators": 10}, cv_folds=3, seed=0)
    result = rc.classify(
        folder / "scene.tif",
        folder / "training.gpkg",
        "class",
        folder / "map.tif",
        options,
        model_output=folder / "model.skops",
        report_output=folder / "cv.json",
        html_output=folder / "classify.html",
    )
    points = rc.sample_map(folder / "map.tif", n=60, seed=0)
    names = {1: "water", 2: "forest", 3: "urban"}  # the truth's stripes, left to right
    points["reference"] = [
        names[int(truth[r, c])] for r, c in zip(points.row, points.col, strict=True)
    ]
    wrong = ["forest", "urban", "water"]
    for i in range(0, 60, 10):  # a few mislabelled points: intervals of some width
        points.loc[i, "reference"] = wrong[(wrong.index(points.loc[i, "reference"]) + 1) % 3]
    with warnings.catch_warnings():  # points on training pixels: optimistic, fine here
        warnings.simplefilter("ignore", TrainingReferenceWarning)
        rc.assess_map(
            folder / "map.tif",
            points,
            "reference",
            design="stratified",
            output=folder / "accuracy.json",
        )
    u, a = _write_layers(folder, truth)
    report = rc.report_map(
        folder / "map.tif",
        folder / "report.html",
        accuracy=folder / "accuracy.json",
        model=folder / "model.skops",
        uncertainty=u,
        aoa=a,
        json_output=folder / "report.json",
    )
    return {"folder": folder, "result": result, "report": report, "truth": truth, "u": u, "a": a}


# -- numbers ---------------------------------------------------------------------------


def test_model_keeps_spectral_signatures(run):
    model = rc.RasterModel.load(run["folder"] / "model.skops")
    signatures = model.summary["signatures"]
    assert signatures["bands"] == ["blue", "green", "red"]
    samples = run["result"].samples
    for entry in signatures["classes"]:
        values = samples.X[samples.y == entry["code"]].astype(np.float64)
        assert entry["n"] == len(values)
        np.testing.assert_allclose(entry["mean"], values.mean(axis=0), rtol=1e-8)
        np.testing.assert_allclose(entry["std"], values.std(axis=0, ddof=1), rtol=1e-8)
        np.testing.assert_allclose(entry["q95"], np.quantile(values, 0.95, axis=0), rtol=1e-8)


def test_report_numbers_equal_their_sources(run):
    sections = run["report"].sections
    classes = read_band(run["folder"] / "map.tif")
    counts = np.bincount(classes.ravel(), minlength=4)
    for c in sections["map"]["classes"]:
        assert c["pixels"] == counts[c["code"]]
        assert c["area_ha"] == pytest.approx(counts[c["code"]] * 30 * 30 / 1e4)
    assert sections["map"]["nodata_pixels"] == counts[0]
    accuracy = json.loads((run["folder"] / "accuracy.json").read_text())
    acc = sections["accuracy"]
    assert acc["overall_accuracy"]["value"] == pytest.approx(
        accuracy["confusion"]["overall_accuracy"]
    )
    for mine, theirs in zip(acc["classes"], accuracy["confusion"]["classes"], strict=True):
        assert mine["users_accuracy"]["value"] == pytest.approx(theirs["users_accuracy"])
        assert mine["producers_accuracy"]["value"] == pytest.approx(theirs["producers_accuracy"])
        assert mine["f1"]["value"] == pytest.approx(theirs["f1"])
    # adjusted areas come from the design-based estimate of the stratified sample
    design = {c["class"]: c["area_ha"] for c in accuracy["area_estimate"]["classes"]}
    assert sections["areas"]["adjusted_source"].startswith("accuracy report")
    for c in sections["areas"]["classes"]:
        assert c["adjusted_ha"]["value"] == pytest.approx(design[c["name"]]["value"])
    # the CV design comes from the model (the accuracy report is a validation)
    cv = sections["cross_validation"]
    assert (cv["grouping"], cv["folds"]) == ("polygon", 3)
    # uncertainty and AOA
    with rasterio.open(run["u"]) as src:
        margin = src.read(1)
    band = sections["uncertainty"]["bands"]["margin"]
    assert band["mean"] == pytest.approx(float(np.nanmean(margin)), rel=1e-6)
    assert band["share_below"]["0.25"] == pytest.approx(
        float((margin < 0.25).sum() / np.isfinite(margin).sum())
    )
    with rasterio.open(run["a"]) as src:
        aoa = src.read(2)
    assert sections["aoa"]["threshold"] == 0.9
    assert sections["aoa"]["inside_share"] == pytest.approx(
        float((aoa == 1).sum() / np.isfinite(aoa).sum())
    )
    # provenance: the sha256 of every input given
    roles = {f["role"] for f in sections["provenance"]["report_inputs"]}
    assert roles == {"map", "accuracy", "model", "uncertainty", "aoa"}
    # the map was written by a job: its provenance sidecar is read (seed, inputs' sha256)
    assert sections["missing"] == {}
    run_record = sections["provenance"]["map_run"]
    assert run_record["job"] == "classify"
    assert sections["provenance"]["seed"] == run_record["seed"]


def test_json_report_is_the_reports_dict(run):
    written = json.loads((run["folder"] / "report.json").read_text())
    assert written["sections"] == json.loads(json.dumps(run["report"].to_dict()))["sections"]


def test_intervals():
    low, high = wilson_interval(45, 50)
    assert (round(low, 4), round(high, 4)) == (0.7864, 0.9565)  # Agresti & Coull (1998) form
    assert all(np.isnan(wilson_interval(0, 0)))
    first = f1_intervals(np.array([[40, 10], [5, 45]]))
    assert first == f1_intervals(np.array([[40, 10], [5, 45]]))  # seeded
    assert all(0 <= lo <= hi <= 1 for lo, hi in first)


# -- the page as text ------------------------------------------------------------------


def test_page_is_self_contained_with_every_section(run):
    page = (run["folder"] / "report.html").read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    assert not re.search(r"https?://", page)
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", page)
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) == 7  # map, confusion, signatures, margin, entropy, DI, AOA
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert "Not shown" not in page


def test_design_based_accuracy_leads_for_a_stratified_sample(run):
    # the unweighted sample statistics are not the map's accuracy under a stratified
    # design: the page gives the design-based estimates first and says what the others are
    page = (run["folder"] / "report.html").read_text()
    design = page.index('data-key="accuracy.design_based.overall_accuracy"')
    assert design < page.index('data-key="accuracy.overall_accuracy"')
    assert "Unweighted, from the sample counts" in page
    cv_page = (run["folder"] / "classify.html").read_text()  # no design: no such heading
    assert "Unweighted, from the sample counts" not in cv_page


def test_missing_inputs_are_said(tmp_path, run):
    old = rc.RasterModel.load(run["folder"] / "model.skops")
    del old.summary["signatures"]
    report = build_report(run["folder"] / "map.tif", model=old)
    page = render_html(report)
    assert "trained by an older rasterclass" in page
    for key in ("accuracy", "uncertainty", "aoa", "adjusted_areas"):
        assert f"Not shown: {report.sections['missing'][key]}" in page
    assert page.count('<section id="') == len(SECTIONS)


def test_classify_html(run):
    page = (run["folder"] / "classify.html").read_text()
    assert "cross-validation" in page and "grouped by training polygon" in page
    data = _embedded(page)["sections"]
    assert data["accuracy"]["overall_accuracy"]["value"] == pytest.approx(
        run["result"].accuracy.confusion.overall_accuracy
    )


def test_errors_before_work(tmp_path, run):
    folder = run["folder"]
    with pytest.raises(RasterclassIOError, match="html"):
        rc.report_map(folder / "map.tif", tmp_path / "report.md")
    with pytest.raises(OutputExistsError):
        rc.report_map(folder / "map.tif", folder / "report.html")
    with pytest.raises(RasterclassIOError, match="no band described 'margin'"):
        rc.report_map(folder / "map.tif", tmp_path / "r.html", uncertainty=run["a"])
    result = run_cli("report", folder / "map.tif", "-o", tmp_path / "r.txt", ok=False)
    assert result.exit_code == 1
    assert "--output" in result.output and ".html" in result.output


def test_cli_report(tmp_path, run):
    folder = run["folder"]
    result = run_cli(
        "report",
        folder / "map.tif",
        "--accuracy",
        folder / "cv.json",
        "--uncertainty",
        run["u"],
        "-o",
        tmp_path / "r.html",
        "--json",
        tmp_path / "r.json",
    )
    assert "aoa: no area-of-applicability layer given (--aoa)" in result.output
    data = json.loads((tmp_path / "r.json").read_text())["sections"]
    assert data["cross_validation"]["grouping"] == "polygon"
    assert data["accuracy"]["kind"] == "cross-validation"


# -- the page in a browser -------------------------------------------------------------


def _embedded(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page)
    assert match
    return json.loads(match.group(1))


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _browse(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    chromium = _chromium()
    assert chromium is not None
    args = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
        page.resolve().as_uri(),
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def _cell(dom: str, key: str) -> str:
    match = re.search(rf'data-key="{re.escape(key)}"[^>]*>([^<]*)<', dom)
    assert match, key
    return match.group(1).strip()


NO_CHROMIUM = pytest.mark.skipif(
    _chromium() is None, reason="no Chromium found (.ci/run installs Debian's chromium)"
)
#: The report ``make demo`` writes (with ``--json out/report.json``).
DEMO = Path(__file__).resolve().parents[1] / "out"


def check_in_browser(page: Path, json_path: Path, tmp_path: Path) -> None:
    """Open ``page`` in headless Chromium: no console message, a non-blank screenshot, every
    section present, and the numbers shown equal to those of the JSON report."""
    shot = tmp_path / "shot.png"
    loaded = _browse(page, tmp_path / "p1", "--dump-dom")
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    console = [line for line in loaded.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    dom = loaded.stdout
    taken = _browse(page, tmp_path / "p2", f"--screenshot={shot}", "--window-size=1200,3000")
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert not [line for line in taken.stderr.splitlines() if ":CONSOLE" in line]
    from PIL import Image

    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size == (1200, 3000)
        pixels = np.asarray(image.convert("L"))
    assert pixels.std() > 10 and len(np.unique(pixels)) > 50  # not blank
    for section in SECTIONS:
        assert f'<section id="{section}">' in dom
    # every number shown equals the JSON report's, as printed (4 decimals)
    data = json.loads(json_path.read_text())["sections"]
    assert _embedded(dom)["sections"] == data
    acc = data["accuracy"]
    if acc is not None:
        shown = _cell(dom, "accuracy.overall_accuracy")
        assert shown == f"{acc['overall_accuracy']['value']:.4f}"
        for c in acc["classes"]:
            for metric in ("users_accuracy", "producers_accuracy", "f1"):
                value = c[metric]["value"]
                expected = "n/a" if value is None else f"{value:.4f}"
                assert _cell(dom, f"accuracy.{metric}.{c['name']}") == expected
    for c in data["areas"]["classes"]:
        assert _cell(dom, f"areas.pixels.{c['name']}") == str(c["pixels"])
        if c["area_ha"] is not None:
            assert _cell(dom, f"areas.area_ha.{c['name']}") == f"{c['area_ha']:.4f}"
        if c["adjusted_ha"] is not None:
            adjusted = c["adjusted_ha"]["value"]
            assert _cell(dom, f"areas.adjusted_ha.{c['name']}") == f"{adjusted:.4f}"
    if data["aoa"] is not None:
        assert _cell(dom, "aoa.inside_share") == f"{data['aoa']['inside_share']:.4f}"
    if data["uncertainty"] is not None:
        margin = data["uncertainty"]["bands"]["margin"]["mean"]
        assert _cell(dom, "uncertainty.margin.mean") == f"{margin:.4f}"


@NO_CHROMIUM
def test_page_in_headless_chromium(tmp_path, run):
    check_in_browser(run["folder"] / "report.html", run["folder"] / "report.json", tmp_path)
    assert run["report"].sections["accuracy"]["design_based"] is not None


@NO_CHROMIUM
def test_demo_report_in_headless_chromium(tmp_path):
    """``make demo`` (run here, as a newcomer runs it) writes a report that loads cleanly and
    shows the numbers of its JSON twin."""
    root = DEMO.parent
    if shutil.which("make") is None or not (root / "Makefile").is_file():
        pytest.skip("no make or no Makefile here: the demo report is checked from a checkout")
    done = subprocess.run(
        ["make", "-s", "demo"], cwd=root, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    check_in_browser(DEMO / "report.html", DEMO / "report.json", tmp_path)
    data = json.loads((DEMO / "report.json").read_text())["sections"]
    for section in ("accuracy", "areas", "signatures", "uncertainty", "aoa", "provenance"):
        assert data[section] is not None, section


def test_provenance_sidecar_is_shown(tmp_path, run):
    map_path = tmp_path / "map.tif"
    shutil.copy(run["folder"] / "map.tif", map_path)
    sidecar = {
        "inputs": [{"path": "scene.tif", "size": 123, "sha256": "ab" * 32}],
        "parameters": {"method": "rf", "cv_folds": 3},
        "seed": 7,
        "versions": {"rasterclass": "0.1.0"},
        "command_line": ["rasterclass", "classify", "scene.tif", "-o", "map.tif"],
    }
    (tmp_path / "map.tif.provenance.json").write_text(json.dumps(sidecar))
    report = build_report(map_path)
    assert report.sections["provenance"]["seed"] == 7
    assert "provenance" not in report.sections["missing"]
    page = render_html(report)
    assert "rasterclass classify scene.tif -o map.tif" in page
    assert "ab" * 32 in page and "cv_folds" in page
