"""``quicklook``: a map rendered with its class colours and a legend."""

from __future__ import annotations

from . import options
from ._base import command, say

__all__ = ["quicklook"]


@command()
@options.map_arg()
@options.output_opt("Figure: .png, .pdf or .svg.")
@options.overwrite_opt
def quicklook(map_path: str, output: str, overwrite: bool) -> None:
    """Render MAP.tif with its class colours and a legend."""
    from rasterclass import jobs

    say(f"wrote {jobs.quicklook_map(map_path, output, overwrite=overwrite)}")
