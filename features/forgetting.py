"""Features' part of forgetting a client: its training sets (``datasets/<client>/``).

Registered in the entry-point group ``xmo.privacy.stores`` (see ``privacy.stores``).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.files import remove_tree
from core.layout import StorageLayout
from core.settings import Settings
from privacy.stores import Trace, folder_client_ids, tree_traces


@dataclass(frozen=True)
class DatasetsClientStore:
    """The client's training sets: data files, manifests and privacy reports."""

    settings: Settings
    name: str = "training sets"
    order: int = 40

    def forget_client(self, client_id: str) -> int:
        folder = StorageLayout.from_settings(self.settings).client_datasets_dir(client_id)
        datasets = sum(1 for path in folder.iterdir() if path.is_dir()) if folder.exists() else 0
        remove_tree(folder)
        return datasets

    def client_traces(self, client_id: str) -> list[Trace]:
        return tree_traces(self.name, StorageLayout.from_settings(self.settings).client_datasets_dir(client_id))

    def held_client_ids(self) -> set[str]:
        return folder_client_ids(StorageLayout.from_settings(self.settings).datasets_dir)


def datasets_store(settings: Settings) -> DatasetsClientStore:
    """Entry point ``datasets`` of ``xmo.privacy.stores``."""
    return DatasetsClientStore(settings)
