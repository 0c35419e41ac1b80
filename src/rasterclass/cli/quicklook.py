"""``quicklook``: a map rendered with its class colours and a legend."""

from __future__ import annotations

from ._base import command, say
from .options import map_arg, output_opt, overwrite_opt

__all__ = ["quicklook"]


@command()
@map_arg()
@output_opt("Figure: .png, .pdf or .svg.")
@overwrite_opt
def quicklook(map_path: str, output: str, overwrite: bool) -> None:
    """Render MAP.tif with its class colours and a legend."""
    from rasterclass import jobs

    say(f"wrote {jobs.quicklook_map(map_path, output, overwrite=overwrite)}")
