"""``python -m rasterclass``: the command line."""

from rasterclass.cli.main import cli

if __name__ == "__main__":
    cli()
