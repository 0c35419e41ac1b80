"""Small outputs and inputs: text reports, tables, figures and file checksums.

Owns :func:`write_text`, :func:`write_table` (``.parquet`` or ``.csv``) and
:func:`write_figure` (matplotlib), each atomic; :func:`read_table` and :func:`table_format`
for label and statistics tables (CSV or JSON records), :func:`read_json` for small JSON
documents; and :func:`file_sha256`, which recognises training data used again as reference.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from rasterclass.errors import RasterclassIOError
from rasterclass.io.paths import PathLike, atomic_write, check_writable

logger = logging.getLogger(__name__)


def file_sha256(path: PathLike) -> str:
    """SHA-256 of a file (to recognise training data used again as reference)."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_text(path: PathLike, text: str, *, overwrite: bool = False) -> str:
    """Write a small text output (report, table) atomically."""
    check_writable([path], overwrite)
    with atomic_write(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return str(path)


def write_table(table: Any, path: PathLike, *, overwrite: bool = False) -> str:
    """Write a pandas DataFrame (index kept) as ``.parquet`` or ``.csv``, atomically."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise RasterclassIOError(f"table {path}: use a .parquet or .csv file name")
    check_writable([path], overwrite)
    with atomic_write(path, suffix) as tmp:
        if suffix == ".parquet":
            table.to_parquet(tmp)
        else:
            table.to_csv(tmp)
    logger.info("wrote %s", path)
    return str(path)


def table_format(path: PathLike) -> str:
    """``"csv"`` or ``"json"`` from a table's file name."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".json"):
        raise RasterclassIOError(f"cannot tell the table format of {path}: name it .csv or .json")
    return suffix[1:]


def read_table(path: PathLike) -> Any:
    """Read a label or statistics table (CSV, or JSON records / ``{"clusters": [...]}``)."""
    import pandas as pd

    fmt = table_format(path)
    if not os.path.exists(path):
        raise RasterclassIOError(f"table {path} does not exist; check the path")
    try:
        if fmt == "csv":
            return pd.read_csv(path, skipinitialspace=True)
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RasterclassIOError(f"cannot read table {path}: {exc}") from None
    records = payload.get("clusters", payload) if isinstance(payload, dict) else payload
    if not isinstance(records, list):
        raise RasterclassIOError(f"{path} holds no list of records (or 'clusters')")
    return pd.DataFrame.from_records(records)


def read_json(path: PathLike, what: str = "JSON file") -> Any:
    """Read a small JSON document (an accuracy report, an area table, a provenance sidecar).

    Raises
    ------
    RasterclassIOError
        The file does not exist or is not JSON; the message calls it ``what``.
    """
    if not os.path.isfile(path):
        raise RasterclassIOError(f"{what} {path} does not exist; check the path")
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RasterclassIOError(f"cannot read {what} {path}: {exc}") from None


def write_figure(figure: Any, path: PathLike, *, overwrite: bool = False, dpi: int = 120) -> str:
    """Save a matplotlib figure atomically (format from the extension)."""
    check_writable([path], overwrite)
    with atomic_write(path, Path(path).suffix) as tmp:
        figure.savefig(tmp, dpi=dpi, bbox_inches="tight")
    return str(path)
