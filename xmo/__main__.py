"""``python -m xmo`` and the ``xmo`` console script."""

from __future__ import annotations

import sys


def run() -> None:
    """Entry point of the console script."""
    from xmo.cli import main

    sys.exit(main())


if __name__ == "__main__":
    run()
