"""The import layers of the package, checked on the source (every import, also those inside
functions and under ``TYPE_CHECKING``).

Layers, lowest first; a module may import its own layer and the layers below, never above:

0. ``errors``: exception and warning classes; ``_json``: JSON-ready values; ``methods``: the
   names and defaults of the methods (light, for the command line).
1. ``classes``, ``stack`` (grid, bands, masks), ``parallel`` (schedulers, streamed compute),
   ``training_pixels`` (training-pixel provenance): the vocabulary; ``temporal`` (multi-date
   stacks, gap fill and temporal features of scene arrays, beside ``stack``).
2. ``io``: the only module that opens or writes files; ``datasets``: the tiny example data
   (written through ``io``); ``features``: derived features of a scene (band roles,
   spectral indices, texture), lazily, over scene arrays.
3. ``sampling``: samples under training geometries.
4. ``estimators``: rasterclass's own scikit-learn estimators and the presets.
5. ``model``: a fitted estimator with its band schema and classes (reads and writes through
   ``io``).
6. ``apply``: the one chunked apply of a model to a scene.
7. ``objects``, ``clustering``: object-based and unsupervised computations (they apply
   through ``apply``); ``postprocess``: sieve, majority filter and polygons of class maps;
   ``uncertainty_layers`` (margin, entropy) and ``applicability`` (area of applicability).
8. ``accuracy``: statistics, designs, cross-validation and reports; ``suggestions``: where
   to label next (it draws through the accuracy sample design).
9. ``plot`` (figures of maps and reports), ``report`` (the HTML run report) and ``planning``
   (cost of a run on an opened scene): presentation and estimates over everything below.
10. ``jobs``: every end-to-end run, from files to files.
11. ``cli`` (and ``__main__``) and the package's front door ``rasterclass/__init__.py``.

The command line imports only :mod:`rasterclass.jobs` and :mod:`rasterclass.errors` (and its
own modules). No private name (a leading underscore) is imported from another rasterclass
module: private modules (``io/_read.py``) are fine, private names stay in their module.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "rasterclass"

LAYERS: list[tuple[str, ...]] = [
    ("errors", "_json", "methods"),
    ("classes", "stack", "parallel", "training_pixels", "temporal", "radiometry"),
    ("io", "datasets", "features"),
    ("sampling",),
    ("estimators",),
    ("model",),
    ("apply",),
    ("objects", "clustering", "postprocess", "uncertainty_layers", "applicability", "change"),
    ("accuracy", "suggestions"),
    ("plot", "planning", "report"),
    ("jobs",),
    ("cli", "__main__", ""),
]
LAYER = {name: rank for rank, names in enumerate(LAYERS) for name in names}
#: What the command line may import besides its own modules.
CLI_ALLOWED = ("rasterclass.jobs", "rasterclass.errors")
MAX_LINES = 600


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (SRC / rel).with_suffix(".py").is_file() or (SRC / rel / "__init__.py").is_file()


def imports(path: Path) -> list[tuple[str, str | None, int]]:
    """Every import of a rasterclass module in a file: (module, imported name, line)."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(a.name, None, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if is_module(sub):  # `from rasterclass import jobs`: the module itself
                    found.append((sub, None, node.lineno))
                else:
                    found.append((base, alias.name, node.lineno))
    return [f for f in found if f[0] == "rasterclass" or f[0].startswith("rasterclass.")]


def layer_of(module: str) -> int:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else ""
    assert key in LAYER, f"{module} has no layer: add it to LAYERS in {__file__}"
    return LAYER[key]


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    for path in SOURCES:
        layer_of(module_name(path))


def test_no_module_imports_a_higher_layer():
    upward = []
    for path in SOURCES:
        module = module_name(path)
        for target, _, line in imports(path):
            if layer_of(target) > layer_of(module):
                upward.append(f"{path.relative_to(SRC)}:{line} {module} imports {target}")
    assert not upward, "\n".join(upward)


def test_cli_imports_only_jobs_and_errors():
    wrong = []
    for path in sorted((PACKAGE / "cli").rglob("*.py")):
        for target, name, line in imports(path):
            if target == "rasterclass" and name is None:
                continue
            ok = target.startswith("rasterclass.cli") or any(
                target == a or target.startswith(a + ".") for a in CLI_ALLOWED
            )
            if not ok:
                wrong.append(f"{path.relative_to(SRC)}:{line} imports {target}.{name or ''}")
    assert not wrong, "\n".join(wrong)


def test_no_private_name_crosses_a_module_boundary():
    private = []
    for path in SOURCES:
        for target, name, line in imports(path):
            if name is not None and name.startswith("_") and not name.startswith("__"):
                private.append(f"{path.relative_to(SRC)}:{line} imports {target}.{name}")
    assert not private, "\n".join(private)


def test_no_source_file_is_too_long():
    long = {
        str(p.relative_to(SRC)): n
        for p in SOURCES
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"files over {MAX_LINES} lines: {long}"


def test_the_checker_sees_imports_inside_functions(tmp_path):
    """The checker finds imports in function bodies and under TYPE_CHECKING."""
    found = {t for t, _, _ in imports(PACKAGE / "cli" / "_base.py")}
    assert "rasterclass.jobs" in found and "rasterclass.errors" in found


#: Base-class name endings that mark an exception or warning class.
EXCEPTION_SUFFIXES = ("Error", "Warning", "Exception")


def _base_name(base: ast.expr) -> str:
    """The last name of a class base: ``errors.RasterclassError`` -> ``RasterclassError``."""
    if isinstance(base, ast.Subscript):
        base = base.value
    if isinstance(base, ast.Attribute):
        return base.attr
    return base.id if isinstance(base, ast.Name) else ""


def exception_classes(path: Path) -> list[tuple[str, int]]:
    """The classes of a file with a base named ``...Error``, ``...Warning`` or ``...Exception``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return [
        (node.name, node.lineno)
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(_base_name(b).endswith(EXCEPTION_SUFFIXES) for b in node.bases)
    ]


def test_every_exception_class_is_in_errors():
    elsewhere = [
        f"{path.relative_to(SRC)}:{line} class {name}"
        for path in SOURCES
        if path != PACKAGE / "errors.py"
        for name, line in exception_classes(path)
    ]
    assert not elsewhere, "exception and warning classes belong in errors.py:\n" + "\n".join(
        elsewhere
    )


def test_the_exception_check_sees_errors_py():
    """The check recognises the classes of errors.py (it would see them anywhere else)."""
    found = {name for name, _ in exception_classes(PACKAGE / "errors.py")}
    assert {"RasterclassError", "SchedulerError", "TrainingClassesError"} <= found
