"""The public front door: what ``import rasterclass as rc`` exports, and how it is documented."""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

import rasterclass

#: Exports that raise nothing of their own (no Raises section): a figure function, and a
#: container whose fields are not checked (the functions that use it raise).
NO_RAISES = {"plot_map", "Samples"}


def _sections(doc: str) -> set[str]:
    return set(re.findall(r"^(\w[\w ]*)\n-{3,}$", doc, flags=re.MULTILINE))


def test_all_is_the_exported_names():
    assert sorted(rasterclass.__all__) == sorted([*rasterclass._EXPORTS, "__version__"])
    assert len(rasterclass.__all__) == len(set(rasterclass.__all__))


@pytest.mark.parametrize("name", sorted(rasterclass._EXPORTS))
def test_export_is_defined_where_the_table_says(name):
    module = importlib.import_module(rasterclass._EXPORTS[name])
    obj = getattr(module, name)
    assert getattr(rasterclass, name) is obj
    assert obj.__module__.startswith(rasterclass._EXPORTS[name])


@pytest.mark.parametrize("name", sorted(rasterclass._EXPORTS))
def test_export_has_a_numpydoc_docstring_with_an_example(name):
    obj = getattr(rasterclass, name)
    doc = inspect.getdoc(obj) or ""
    sections = _sections(doc)
    assert "Examples" in sections, name
    examples = doc.split("Examples\n--------", 1)[1]
    assert ">>> " in examples and "+SKIP" not in examples, name
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        return
    if inspect.isfunction(obj):
        assert "Parameters" in sections, (name, sections)
        assert "Raises" in sections or name in NO_RAISES, (name, sections)
        assert sections & {"Returns", "Yields"}, (name, sections)
    else:  # a class: its constructor's parameters
        params = [p for p in inspect.signature(obj).parameters if p not in ("self",)]
        if params:
            assert "Parameters" in sections, (name, sections)
        assert "Raises" in sections or name in NO_RAISES, (name, sections)


def test_no_export_is_shadowed_by_a_submodule():
    """Importing a submodule sets it as an attribute of its package: a module named like
    a name the package exports (``jobs/classify.py`` and ``jobs.classify``) would replace
    the function with the module once anything imported it. Checked in a fresh process,
    after importing every module of the package."""
    import subprocess
    import sys

    code = (
        "import importlib, pkgutil, types, rasterclass\n"
        "for m in pkgutil.walk_packages(rasterclass.__path__, 'rasterclass.'):\n"
        "    if not m.name.startswith('rasterclass.__main__'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = []\n"
        "for pkg in ('rasterclass', 'rasterclass.jobs', 'rasterclass.objects', "
        "'rasterclass.apply', 'rasterclass.io', 'rasterclass.accuracy'):\n"
        "    mod = importlib.import_module(pkg)\n"
        "    for name in getattr(mod, '__all__', []):\n"
        "        if isinstance(getattr(mod, name), types.ModuleType):\n"
        "            bad.append(f'{pkg}.{name}')\n"
        "print(bad)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
