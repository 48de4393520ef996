"""The demo's part of forgetting a client: the simulator's ground truth and the demo summary under XMO_HOME.

Both describe simulated traffic, not people, but they name the client and its simulated visitors, so a purge
of the demo client takes them too. Registered in the entry-point group ``xmo.privacy.stores``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.files import remove_tree
from core.layout import StorageLayout
from core.settings import Settings
from privacy.stores import Trace


def _names(path: Path, client_id: str) -> bool:
    try:
        return json.loads(path.read_text()).get("client_id") == client_id
    except (OSError, ValueError, AttributeError):
        return False


@dataclass(frozen=True)
class DemoFilesStore:
    """``demo/truth/`` (when its world is the client's) and ``run/demo-summary.json`` (when it is about it)."""

    settings: Settings
    name: str = "demo truth and summary"
    order: int = 70

    def _held(self, client_id: str) -> list[Path]:
        from xmo.demo import SUMMARY_FILE  # the demo imports every room: only when a purge runs
        from xmo.simulator.truth import WORLD_FILE

        layout = StorageLayout.from_settings(self.settings)
        truth = layout.home / "demo" / "truth"
        summary = layout.runtime_dir / SUMMARY_FILE
        return [p for p, doc in ((truth, truth / WORLD_FILE), (summary, summary)) if _names(doc, client_id)]

    def forget_client(self, client_id: str) -> int:
        held = self._held(client_id)
        for path in held:
            if path.is_dir():
                remove_tree(path)
            else:
                path.unlink(missing_ok=True)
        return len(held)

    def client_traces(self, client_id: str) -> list[Trace]:
        return [Trace(self.name, str(path)) for path in self._held(client_id)]


def demo_files_store(settings: Settings) -> DemoFilesStore:
    """Entry point ``demo-files`` of ``xmo.privacy.stores``."""
    return DemoFilesStore(settings)
