"""Terminal output of the CLI: rich on stderr for progress, plain stdout for results."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

# Results go to stdout (pipeable); progress and tables meant for people go to stderr.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


def emit_json(data: Any) -> None:
    """Write one JSON document to stdout."""
    out.print_json(json.dumps(data, default=str))
