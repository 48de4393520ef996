"""Sessions per client, rebuilt only when the client's lake files change."""

from __future__ import annotations

import threading

import pandas as pd

from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Client
from strategy.sessions import client_sessions
from tracking.lake import event_files


class SessionCache:
    """Keeps the last sessions frame of each client with the lake state it was built from."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.layout = StorageLayout.from_settings(settings)
        self._entries: dict[str, tuple[tuple[tuple[str, int, int], ...], pd.DataFrame]] = {}
        self._lock = threading.Lock()

    def _signature(self, client_id: str) -> tuple[tuple[str, int, int], ...]:
        files = event_files(self.layout, client_id)
        return tuple((str(f), (st := f.stat()).st_mtime_ns, st.st_size) for f in files)

    def sessions(self, client: Client) -> pd.DataFrame:
        """The client's sessions (``NotReady`` when the lake has none)."""
        signature = self._signature(client.id)
        with self._lock:
            entry = self._entries.get(client.id)
        if entry is not None and entry[0] == signature:
            return entry[1]
        frame = client_sessions(self.settings, client)
        with self._lock:
            self._entries[client.id] = (signature, frame)
        return frame

    def forget(self, client_id: str) -> None:
        """Drop a client's cached sessions (after erasure or purge)."""
        with self._lock:
            self._entries.pop(client_id, None)
