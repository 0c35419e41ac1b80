"""Issue 11, items 11, 14 and 15: no output replaces an input or another output; library
errors in Python terms, CLI errors in option names; global options anywhere, ``python -m``,
a light ``--help``."""

from __future__ import annotations

import ast
import hashlib
import logging
import os
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import click
import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

import rasterclass
from rasterclass import jobs, objects
from rasterclass.classes import ClassMap
from rasterclass.cli import _base as cli_base
from rasterclass.cli import main as cli_main
from rasterclass.cli.main import cli
from rasterclass.errors import (
    EstimatorError,
    OutputCollisionError,
    OutputExistsError,
    RasterclassError,
    param,
)
from rasterclass.io import check_writable, open_scene, open_segments
from tests.conftest import synthetic_arrays, write_raster

SRC = Path(rasterclass.__file__).parent
CHUNKS = [16, 32]


def invoke(*args: object, **kwargs: object):
    return CliRunner().invoke(cli, [str(a) for a in args], **kwargs)


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def listing(folder: Path) -> dict[str, str]:
    """Every file under folder (hidden temporaries included) with its hash."""
    return {str(p.relative_to(folder)): sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def one_error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code != 0, result.output
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: "), result.output
    return lines[0]


# ------------------------------------------------------------------------------------------
# Item 11: no output is an input or another output
# ------------------------------------------------------------------------------------------
@pytest.fixture
def files(tmp_path, scene_path, training_path):
    """Every kind of input a command takes, in one folder (contents only need to exist:
    the check comes before anything is read)."""
    _, truth = synthetic_arrays()
    map_path = write_raster(tmp_path / "map.tif", truth, nodata=0)
    strata = write_raster(tmp_path / "strata.tif", truth, nodata=0)
    (tmp_path / "legend.csv").write_text("code,name\n1,water\n2,forest\n3,urban\n")
    (tmp_path / "labels.csv").write_text("cluster,class\n1,water\n2,forest\n3,urban\n")
    (tmp_path / "stats.csv").write_text("code,name,mean_blue\n1,cluster 1,0.1\n")
    (tmp_path / "model.skops").write_bytes(b"not read before the check")
    segments = write_raster(tmp_path / "segments.tif", truth.astype(np.uint32), nodata=0)
    return {
        "scene": scene_path,
        "training": training_path,
        "map": map_path,
        "strata": strata,
        "legend": tmp_path / "legend.csv",
        "labels": tmp_path / "labels.csv",
        "stats": tmp_path / "stats.csv",
        "model": tmp_path / "model.skops",
        "segments": segments,
    }


# (command line with {placeholders} for the files above, the input whose bytes must survive)
COLLISIONS = [
    # classify: the scene, with --overwrite; the model over the scene; map and probabilities
    ("classify {scene} -t {training} -c class -o {scene} --overwrite", "scene"),
    ("classify {scene} -t {training} -c class -o {out}/m.tif --save-model {scene}", "scene"),
    ("classify {scene} -t {training} -c class -o {out}/o.tif --probabilities {out}/o.tif", None),
    (
        "classify {scene} -t {training} -c class -o {out}/o.tif --report {training} --overwrite",
        "training",
    ),
    (
        "classify {scene} -t {training} -c class --legend {legend} -o {out}/o.tif "
        "--save-model {legend} --overwrite",
        "legend",
    ),
    ("classify {scene} -t {training} -c class -o {scene}link.tif --overwrite", "scene"),
    (
        "classify {scene} -t {training} -c class --object-based --segments {segments} "
        "-o {segments} --overwrite",
        "segments",
    ),
    ("classify {scene} -t {training} -c class --grid-like {map} -o {map} --overwrite", "map"),
    # train
    ("train {scene} -t {training} -c class -o {scene} --overwrite", "scene"),
    ("train {scene} -t {training} -c class -o {training} --overwrite", "training"),
    ("train {scene} -t {training} -c class -o {out}/m.skops --report {out}/m.skops", None),
    # predict: over the model, the scene; map and probabilities
    ("predict {scene} --model {model} -o {model} --overwrite", "model"),
    ("predict {scene} --model {model} -o {out}/o.tif --probabilities {scene} --overwrite", "scene"),
    ("predict {scene} --model {model} -o {out}/o.tif --probabilities {out}/o.tif", None),
    # unsupervised
    ("cluster {scene} -o {scene} --overwrite", "scene"),
    ("cluster {scene} -o {out}/c.tif --save-model {out}/c.tif", None),
    ("relabel {map} --table {labels} -o {map} --overwrite", "map"),
    ("relabel {map} --table {labels} -o {labels} --overwrite", "labels"),
    (
        "suggest-labels {scene} --model {stats} -t {training} -c class -o {stats} --overwrite",
        "stats",
    ),
    (
        "suggest-labels {scene} --model {stats} -t {training} -c class -o {training} --overwrite",
        "training",
    ),
    # objects
    ("segment {scene} -o {scene} --overwrite", "scene"),
    ("segment {scene} -o {out}/s.tif --features {out}/s.tif", None),
    # accuracy
    ("assess {map} -r {training} -c class -o {map} --overwrite", "map"),
    ("assess {map} -r {training} -c class -o {training} --overwrite", "training"),
    ("assess {map} -r {training} -c class --strata {strata} -o {strata} --overwrite", "strata"),
    ("sample {map} -n 30 -o {map} --overwrite", "map"),
    ("sample {map} -n 30 -t {training} -o {training} --overwrite", "training"),
    ("quicklook {map} -o {map} --overwrite", "map"),
]


@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize(("line", "kept"), COLLISIONS)
def test_cli_refuses_an_output_that_is_an_input_or_another_output(
    tmp_path, files, line, kept, chunks
):
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(files["scene"], f"{files['scene']}link.tif")
    args = line.format(out=out, **files).split()
    command = args[0]
    if command in ("classify", "train", "predict", "cluster", "segment", "suggest-labels"):
        args += ["--chunks", str(chunks)]
    before = listing(tmp_path)
    result = invoke(*args)
    message = one_error_line(result)
    assert listing(tmp_path) == before  # the input unchanged, nothing written, no folder
    if kept is not None:
        assert sha(files[kept]) == before[files[kept].name]
        assert "would replace" in message and "never replaces an input" in message
        assert "overwrite=" not in message and "--overwrite" in message
    else:
        assert "both write" in message
    assert not re.search(r"\b[a-z_]+=\s", message)  # no Python keyword in a CLI message


def test_cli_refuses_sidecars_of_inputs_and_shared_sidecars(tmp_path, files):
    """A map named scene.tiff would write scene.qml, the style of scene.tif; a report named
    after the scene's PAM file would replace it; map.tif and map.tiff share map.qml."""
    scene = files["scene"]
    style = scene.with_suffix(".qml")
    style.write_text("<qgis/>")
    pam = Path(f"{scene}.aux.xml")
    pam.write_text("<PAMDataset/>")
    common = [scene, "-t", files["training"], "-c", "class"]
    before = listing(tmp_path)
    message = one_error_line(invoke("classify", *common, "-o", scene.with_suffix(".tiff")))
    assert "scene.qml of the scene file" in message and "--output" in message
    message = one_error_line(invoke("train", *common, "-o", tmp_path / "m.skops", "--report", pam))
    assert "scene.tif.aux.xml of the scene file" in message and "--report" in message
    message = one_error_line(
        invoke(
            "classify",
            *common,
            "-o",
            tmp_path / "x.tif",
            "--probabilities",
            tmp_path / "x.tiff",
        )
    )
    assert "--output and --probabilities both write" in message and "x.qml" in message
    assert listing(tmp_path) == before


@pytest.mark.parametrize("suffix", [".ovr", ".msk", ".aux.xml"])
def test_cli_refuses_sidecar_names_of_inputs_that_do_not_exist_yet(tmp_path, files, suffix):
    """A map named scene.tif.ovr would become the scene's overviews in GDAL and QGIS (and
    .msk its mask, .aux.xml its metadata), whether or not that file exists yet."""
    scene = files["scene"]
    before = listing(tmp_path)
    message = one_error_line(
        invoke("predict", scene, "--model", files["model"], "-o", f"{scene}{suffix}")
    )
    assert f"scene.tif{suffix} of the scene file" in message
    assert listing(tmp_path) == before


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("segment {scene} -o {out}/s.tif --features {out}/f.txt", "--features"),
        ("sample {map} -n 30 -o {out}/points.csv", "a vector file"),
        ("sample {map} -n 30 -o {out}/points.tif", "a vector file"),
        ("quicklook {map} -o {out}/map.xyz", "a figure file"),
        ("assess {map} -r {training} -c class -o {out}/report.txt", "a report file"),
        ("classify {scene} -t {training} -c class -o {out}/m.tif --scheduler nosuch", "nosuch"),
    ],
)
def test_cli_refuses_output_formats_and_addresses_before_any_work(tmp_path, files, line, what):
    """An output name that says no format of its kind (and a malformed scheduler address)
    is one line before anything is computed; nothing is written."""
    before = listing(tmp_path)
    args = line.format(out=tmp_path, **files).split()
    message = one_error_line(invoke(*args))
    assert what in message
    assert listing(tmp_path) == before


def test_cli_refuses_a_hard_link_to_an_input(tmp_path, files):
    twin = tmp_path / "twin.skops"
    os.link(files["model"], twin)
    before = listing(tmp_path)
    message = one_error_line(
        invoke("predict", files["scene"], "--model", files["model"], "-o", twin, "--overwrite")
    )
    assert "model file" in message
    assert listing(tmp_path) == before


@pytest.mark.parametrize("chunks", CHUNKS)
def test_overwrite_replaces_an_earlier_output(tmp_path, files, chunks):
    """--overwrite still replaces what an earlier run wrote (the same map again)."""
    args = [files["scene"], "-t", files["training"], "-c", "class", "-p", "n_estimators=10"]
    args += ["--cv", "0", "--chunks", chunks, "-o", tmp_path / "map2.tif"]
    assert invoke("classify", *args).exit_code == 0
    with rasterio.open(tmp_path / "map2.tif") as src:
        first = src.read(1)
    result = invoke("classify", *args)
    assert result.exit_code != 0 and "--overwrite" in result.output
    assert invoke("classify", *args, "--overwrite").exit_code == 0
    with rasterio.open(tmp_path / "map2.tif") as src:
        assert np.array_equal(src.read(1), first)
    assert np.array_equal(first == 0, synthetic_arrays()[1] == 0)


@pytest.mark.parametrize("option", ["-o", "--uncertainty"])
def test_a_users_qgis_style_beside_a_new_raster_is_kept(tmp_path, files, option):
    """QGIS applies STEM.qml to STEM.tif: the writer replaces (class map) or removes
    (uncertainty) a style there, so an existing one is the user's and needs --overwrite."""
    out = tmp_path / "new.tif"
    style = out.with_suffix(".qml")
    style.write_text("<qgis>my style</qgis>")
    args = [files["scene"], "-t", files["training"], "-c", "class", "-p", "n_estimators=5"]
    args += ["--cv", "0", "-o", tmp_path / "map_a.tif" if option != "-o" else out]
    if option != "-o":
        args += [option, out]
    result = invoke("classify", *args)
    assert result.exit_code != 0
    assert f"{style} already exists" in result.output and "--overwrite" in result.output
    assert style.read_text() == "<qgis>my style</qgis>" and not out.exists()
    assert invoke("classify", *args, "--overwrite").exit_code == 0
    assert out.exists()
    assert not style.exists() or style.read_text() != "<qgis>my style</qgis>"


@pytest.mark.parametrize("chunks", CHUNKS)
def test_library_jobs_refuse_collisions_in_python_terms(tmp_path, files, chunks):
    scene, training = files["scene"], files["training"]
    before = listing(tmp_path)
    sopts = jobs.SceneOptions(chunks=chunks)
    opened = open_scene(scene, chunks=chunks)
    cases = [
        (jobs.classify, (scene, training, "class", scene), {"overwrite": True}, "output="),
        # an opened scene still knows its files
        (jobs.classify, (opened, training, "class", scene), {"overwrite": True}, "output="),
        (
            jobs.classify,
            (scene, training, "class", tmp_path / "o.tif"),
            {"model_output": scene, "scene_options": sopts},
            "model_output=",
        ),
        (
            jobs.predict,
            (scene, files["model"], files["model"]),
            {"overwrite": True},
            "output=",
        ),
        (
            jobs.predict,
            (scene, files["model"], tmp_path / "o.tif"),
            {"probabilities": tmp_path / "o.tif"},
            "output= and probabilities=",
        ),
        (jobs.train, (scene, training, "class"), {"model_output": training}, "model_output="),
        (jobs.cluster, (opened, scene), {"overwrite": True}, "output="),
        (
            jobs.relabel_map,
            (files["map"], files["labels"], files["labels"]),
            {"overwrite": True},
            "output=",
        ),
        (
            jobs.classify,
            (scene, training, "class", tmp_path / "o.tif"),
            {
                "objects": jobs.ObjectOptions(segments=open_segments(files["segments"])),
                "segments_output": files["segments"],
                "overwrite": True,
            },
            "segments_output=",
        ),
        (jobs.run_segmentation, (opened, scene), {"overwrite": True}, "output="),
        (
            jobs.assess_map,
            (files["map"], training, "class"),
            {"output": training, "overwrite": True},
            "output=",
        ),
        (jobs.quicklook_map, (files["map"], files["map"]), {"overwrite": True}, "output="),
    ]
    for job, args, kwargs, named in cases:
        with pytest.raises(OutputCollisionError) as info:
            job(*args, **kwargs)
        message = str(info.value)
        assert named in message and "--" not in message, (job.__name__, message)
        assert "\n" not in message
    assert listing(tmp_path) == before


def test_check_writable_unit(tmp_path):
    a = tmp_path / "a.tif"
    a.write_bytes(b"x")
    link = tmp_path / "link.tif"
    link.symlink_to(a)
    new_folder = tmp_path / "new" / "map.tif"
    with pytest.raises(OutputCollisionError, match="would replace the scene file"):
        check_writable({"output": link}, True, inputs={"scene file": [str(a)]})
    with pytest.raises(OutputCollisionError, match="output= and probabilities= both write"):
        check_writable(
            {"output": new_folder, "probabilities": tmp_path / "new" / "map.tif"},
            inputs={"scene file": a},
        )
    assert not new_folder.parent.exists()  # nothing created on refusal
    with pytest.raises(OutputExistsError, match=r"overwrite=True"):
        check_writable({"output": a}, inputs={"scene file": tmp_path / "b.tif"})
    check_writable({"output": a}, True, inputs={"scene file": tmp_path / "b.tif"})
    check_writable({"output": new_folder}, inputs={"scene file": a})
    assert new_folder.parent.is_dir()


# ------------------------------------------------------------------------------------------
# Item 14: the library speaks Python, the CLI speaks options
# ------------------------------------------------------------------------------------------
CLI_OPTION = re.compile(r"(?:^|[\s(`'/])(?:--[a-z][a-z-]*|-[a-zA-Z])(?=[\s)=/`']|$)")


def _message_strings(tree: ast.AST):
    """String constants of raise statements and warnings.warn calls."""
    for node in ast.walk(tree):
        target = None
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc
        elif isinstance(node, ast.Call) and ast.unparse(node.func).endswith("warn"):
            target = node
        if target is not None:
            for sub in ast.walk(target):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    yield sub.lineno, sub.value


def test_no_library_message_names_a_cli_option():
    offenders = []
    for path in SRC.rglob("*.py"):
        if "cli" in path.relative_to(SRC).parts:
            continue
        for line, text in _message_strings(ast.parse(path.read_text(encoding="utf-8"))):
            if CLI_OPTION.search(text):
                offenders.append(f"{path.relative_to(SRC)}:{line}: {text!r}")
    assert not offenders, "\n".join(offenders)


def test_param_placeholders_render_for_python_and_for_the_cli():
    exc = RasterclassError(f"set {param('cv_folds', 5)} or leave out {param('report_output')}")
    assert str(exc) == "set cv_folds=5 or leave out report_output="
    assert exc.params == ["cv_folds", "report_output"]
    train = cli.get_command(click.Context(cli), "train")
    assert exc.render(cli_main.option_renderer(train)) == "set --cv 5 or leave out --report"
    classify = cli.get_command(click.Context(cli), "classify")
    render = cli_main.option_renderer(classify)
    assert render("model_output", None) == "--save-model"
    assert render("overwrite", "True") == "--overwrite"
    assert render("min_size", "...") == "--segment-param min_size=..."
    assert render("n_estimators", "0") == "-p n_estimators=0"
    segment = cli.get_command(click.Context(cli), "segment")
    assert cli_main.option_renderer(segment)("min_size", None) == "-p min_size="
    import pickle

    again = pickle.loads(pickle.dumps(exc))
    assert again.template == exc.template and str(again) == str(exc)


def test_warnings_speak_the_commands_options(capsys):
    from rasterclass.errors import ValidationWarning

    warning = ValidationWarning(f"few polygons; lower {param('cv_folds')}")
    assert str(warning) == "few polygons; lower cv_folds="
    show = cli_base._warning_printer(cli.get_command(click.Context(cli), "classify"))
    show(warning, ValidationWarning, "x.py", 1)
    assert capsys.readouterr().err == "Warning: few polygons; lower --cv\n"


@pytest.mark.parametrize("chunks", CHUNKS)
def test_same_mistake_python_names_vs_cli_options(tmp_path, files, chunks):
    """Each pair: the library call names the Python parameter, the CLI the option."""
    scene, training = files["scene"], files["training"]
    common = [scene, "-t", training, "-c", "class", "-p", "n_estimators=5", "--chunks", chunks]

    # 1. a report without cross-validation
    with pytest.raises(RasterclassError) as info:
        jobs.train(
            scene,
            training,
            "class",
            jobs.TrainingOptions(cv_folds=0, params={"n_estimators": 5}),
            report_output=tmp_path / "r.json",
        )
    assert "cv_folds=5" in str(info.value) and "report_output=" in str(info.value)
    line = one_error_line(
        invoke(
            "train",
            *common,
            "--cv",
            "0",
            "--report",
            tmp_path / "r.json",
            "-o",
            tmp_path / "m.skops",
        )
    )
    assert "--cv 5" in line and "--report" in line and "cv_folds" not in line
    assert not (tmp_path / "m.skops").exists()  # refused before any work

    # 2. probabilities from a model without predict_proba
    model = jobs.train(
        scene, training, "class", jobs.TrainingOptions(method="mindist", cv_folds=0)
    ).model
    with pytest.raises(EstimatorError) as info:
        rasterclass.predict_raster(open_scene(scene, chunks=chunks), model, probabilities=True)
    assert "leave out probabilities=" in str(info.value) and "--" not in str(info.value)
    line = one_error_line(
        invoke(
            "classify",
            *common[:5],
            "-m",
            "mindist",
            "--cv",
            "0",
            "-o",
            tmp_path / "a.tif",
            "--probabilities",
            tmp_path / "p.tif",
        )
    )
    assert "leave out --probabilities" in line

    # 3. a segmentation minimum size larger than the scene: -p (segment) or --segment-param
    with pytest.raises(RasterclassError) as info:
        objects.segment(open_scene(scene, chunks=chunks), "shepherd", min_size=10**6)
    assert "smaller min_size=" in str(info.value) and "-p" not in str(info.value)
    line = one_error_line(
        invoke("segment", scene, "-p", "min_size=1000000", "-o", tmp_path / "s.tif")
    )
    assert "smaller -p min_size=" in line
    line = one_error_line(
        invoke(
            "classify",
            *common,
            "--object-based",
            "--segment-param",
            "min_size=1000000",
            "-o",
            tmp_path / "b.tif",
        )
    )
    assert "smaller --segment-param min_size=" in line

    # 4. the class column
    with pytest.raises(RasterclassError) as info:
        jobs.train(scene, training, "nosuch")
    assert "class_column=" in str(info.value)
    line = one_error_line(invoke("train", *common[:3], "-c", "nosuch", "-o", tmp_path / "n.skops"))
    assert "--class-column" in line and "class_column" not in line

    # 5. a sample size
    with pytest.raises(RasterclassError) as info:
        jobs.sample_map(files["map"])
    assert "(n=)" in str(info.value) and "(target_se=)" in str(info.value)
    line = one_error_line(invoke("sample", files["map"], "-o", tmp_path / "pts.gpkg"))
    assert "(-n)" in line and "(--target-se)" in line

    # 6. clusters missing from a label table; the number of clusters
    (tmp_path / "short.csv").write_text("cluster,class\n1,water\n")
    clusters = tmp_path / "clusters.tif"
    codes = open_scene(files["map"], chunks=chunks).isel(band=0, drop=True).fillna(0)
    names = ["cluster 1", "cluster 2", "cluster 3"]
    rasterclass.write_map(codes.astype("uint8"), clusters, ClassMap.from_codes([1, 2, 3], names))
    with pytest.raises(RasterclassError) as info:
        jobs.relabel_map(clusters, tmp_path / "short.csv", tmp_path / "r.tif")
    assert "keep_unlisted=True" in str(info.value)
    line = one_error_line(
        invoke("relabel", clusters, "--table", tmp_path / "short.csv", "-o", tmp_path / "r.tif")
    )
    assert "with --keep-unlisted" in line and "keep_unlisted" not in line
    with pytest.raises(RasterclassError, match=r"\(n_clusters=\)"):
        jobs.cluster(scene, tmp_path / "c.tif", n_clusters=1)
    line = one_error_line(invoke("cluster", scene, "-k", "1", "-o", tmp_path / "c.tif"))
    assert "(--clusters)" in line

    # 7. an existing output
    with pytest.raises(OutputExistsError, match=r"pass overwrite=True"):
        jobs.quicklook_map(files["map"], files["legend"])
    line = one_error_line(invoke("quicklook", files["map"], "-o", files["legend"]))
    assert "pass --overwrite or" in line


# ------------------------------------------------------------------------------------------
# Item 15: global options anywhere, python -m, a light --help
# ------------------------------------------------------------------------------------------
@contextmanager
def _recording(calls):
    @contextmanager
    def fake(scheduler, workers):
        calls.append((scheduler, workers))
        yield None

    yield fake


@pytest.mark.parametrize("chunks", CHUNKS)
def test_global_options_after_the_command(tmp_path, files, monkeypatch, chunks):
    calls: list = []
    with _recording(calls) as fake:
        monkeypatch.setattr(jobs, "compute_on", fake)
        result = invoke("plan", files["scene"], "--chunks", chunks, "--workers", "3", "--json")
        assert result.exit_code == 0, result.output
        assert calls == [(None, 3)]
        assert '"workers": 3' in result.output
        # before and after: the one after the command wins
        result = invoke("--workers", "2", "plan", files["scene"], "--workers", "3", "--json")
        assert result.exit_code == 0 and calls[-1] == (None, 3)
        result = invoke("--workers", "2", "plan", files["scene"], "--json")
        assert result.exit_code == 0 and calls[-1] == (None, 2)
        result = invoke("plan", files["scene"], "--scheduler", "tcp://x:1")
        assert calls[-1] == ("tcp://x:1", None)

    # -v counts add up wherever they are; -q after the command silences the summary
    invoke("-v", "plan", files["scene"], "-v")
    assert logging.getLogger("rasterclass").level == logging.DEBUG
    invoke("plan", files["scene"], "-v")
    assert logging.getLogger("rasterclass").level == logging.INFO
    args = [files["scene"], "-t", files["training"], "-c", "class", "-p", "n_estimators=5"]
    args += ["--cv", "0", "--chunks", chunks, "-o", tmp_path / "q.tif"]
    quiet = invoke("classify", *args, "-q")
    assert quiet.exit_code == 0 and quiet.output == ""
    assert (tmp_path / "q.tif").exists()

    # -v after the command: the traceback instead of one line
    result = invoke("quicklook", files["map"], "-o", files["map"], "-v")
    assert isinstance(result.exception, OutputCollisionError)


def _run_python(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC.parent), *sys.path])}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )


HEAVY = ("numpy", "dask", "sklearn", "rasterio", "xarray", "geopandas", "pandas", "distributed")


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["--version"], *([name, "--help"] for name in sorted(cli_main.COMMANDS))],
)
def test_help_and_version_import_no_heavy_module(argv):
    code = (
        "import sys\n"
        "from rasterclass.cli.main import cli\n"
        "try:\n"
        f"    cli({argv!r}, prog_name='rasterclass')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = _run_python(code)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout, done.stdout[-500:]
    if argv == ["--help"]:
        for name in cli_main.COMMANDS:
            assert name in done.stdout
    if argv == ["--version"]:
        assert f"version {rasterclass.__version__}" in done.stdout


def test_python_dash_m():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC.parent), *sys.path])}
    done = subprocess.run(
        [sys.executable, "-m", "rasterclass", "--version"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(rasterclass.__version__)
    done = subprocess.run(
        [sys.executable, "-m", "rasterclass", "plan", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0 and "--workers" in done.stdout and "-v, --verbose" in done.stdout


def test_lazy_command_list_matches_the_commands():
    """The help listed without importing a command is the command's own first line, and
    every command takes the global options."""
    ctx = click.Context(cli)
    for name, (_, _, short) in cli_main.COMMANDS.items():
        cmd = cli.get_command(ctx, name)
        assert cmd is not None and cmd.name == name
        assert (cmd.help or "").strip().splitlines()[0] == short
        names = {p.name for p in cmd.params}
        assert set(cli_main.GLOBAL_NAMES) <= names, name
    assert sorted(cli.list_commands(ctx)) == sorted(cli_main.COMMANDS)


def test_import_rasterclass_is_lazy_but_complete():
    done = _run_python(
        "import sys, rasterclass\n"
        f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
        "print(rasterclass.open_scene.__module__, rasterclass.classify.__module__)\n"
        "print(rasterclass.io.open_segments.__name__, rasterclass.estimators.presets.__name__)\n"
        "print(all(hasattr(rasterclass, n) for n in rasterclass.__all__))\n"
    )
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stdout
    assert "rasterclass.io.scene rasterclass.jobs.classification" in done.stdout
    assert "open_segments rasterclass.estimators.presets" in done.stdout  # submodules too
    assert done.stdout.strip().endswith("True")


@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_prints_nothing_on_success(tmp_path, scene_path, training_path, where):
    """-q means errors only, for every command, before or after the command name."""

    def quiet(*args: object) -> None:
        argv = ["-q", *args] if where == "before" else [*args, "-q"]
        result = invoke(*argv)
        assert result.exit_code == 0, result.output
        assert result.output == "", result.output

    out = tmp_path / "out"
    m = out / "m.tif"
    common = ["-t", training_path, "-c", "class"]
    quiet("classify", scene_path, *common, "-p", "n_estimators=5", "--cv", "0", "-o", m)
    quiet("assess", m, "-r", training_path, "-c", "class", "-o", out / "a.json")
    quiet("sample", m, "-n", "20", "-o", out / "p.gpkg")
    quiet("quicklook", m, "-o", out / "m.png")
    quiet("cluster", scene_path, "-k", "3", "-o", out / "c.tif", "--stats", out / "c.csv")
    labels = tmp_path / "labels.csv"
    labels.write_text("cluster,class\n1,a\n2,b\n3,c\n")
    quiet("relabel", out / "c.tif", "--table", labels, "-o", out / "r.tif")
    quiet("suggest-labels", scene_path, "--model", out / "c.csv", *common, "-o", out / "s.csv")
    quiet("segment", scene_path, "-o", out / "seg.tif", "-p", "tile=20")
    assert {p.name for p in out.iterdir()} >= {"m.tif", "a.json", "p.gpkg", "m.png", "r.tif"}


# ------------------------------------------------------------------------------------------
# Raster outputs are GeoTIFFs: a name that says another format is refused before any work
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "option"),
    [
        ("predict {scene} --model {model} -o {out}/map.gpkg", "--output"),
        (
            "predict {scene} --model {model} -o {out}/m.tif --uncertainty {out}/u.gpkg",
            "--uncertainty",
        ),
        ("predict {scene} --model {model} -o {out}/m.tif --aoa {out}/aoa", "--aoa"),
        (
            "classify {scene} -t {training} -c class -o {out}/m.tif --probabilities {out}/p.png",
            "--probabilities",
        ),
        ("sieve {map} --mmu 4px -o {out}/clean.shp", "--output"),
        ("majority {map} -o {out}/smooth.jpg", "--output"),
        ("segment {scene} -o {out}/segments.gpkg", "--output"),
    ],
)
def test_raster_outputs_must_be_named_as_geotiffs(tmp_path, files, line, option):
    """`--uncertainty u.gpkg` used to write a GeoTIFF named .gpkg: a user who wanted
    polygons got a raster QGIS shows under a vector's name."""
    out = tmp_path / "out"
    out.mkdir()
    args = line.format(out=out, **files).split()
    message = one_error_line(invoke(*args))
    assert f"{option} " in message and "written as .tif or .tiff" in message
    assert list(out.iterdir()) == []


def test_the_writer_refuses_a_raster_named_otherwise(tmp_path):
    import xarray as xr

    from rasterclass.errors import RasterclassIOError
    from rasterclass.io import RasterOutput, write_rasters

    _, truth = synthetic_arrays()
    scene = open_scene(write_raster(tmp_path / "t.tif", truth, nodata=0))
    arr = xr.DataArray(scene.values[0], dims=("y", "x"), coords={"y": scene.y, "x": scene.x})
    arr = arr.rio.write_crs(scene.rio.crs).rio.write_transform(scene.rio.transform())
    with pytest.raises(RasterclassIOError, match=r"output=.*map\.png.*\.tif or \.tiff"):
        write_rasters([RasterOutput(arr, tmp_path / "map.png", nodata=0)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.tif"]
