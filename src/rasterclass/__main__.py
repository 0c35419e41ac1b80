"""``python -m rasterclass``: the command line."""

from rasterclass.cli.main import main

if __name__ == "__main__":
    main()
