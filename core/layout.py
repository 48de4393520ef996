"""Where each kind of data lives under ``XMO_HOME``; one place, so purge and scan can find it all."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.errors import InvalidInput
from core.settings import Settings

CLIENT_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def check_client_id(client_id: str) -> str:
    """Return ``client_id`` if it is safe to use in paths and names, else raise ``InvalidInput``."""
    if not CLIENT_ID_PATTERN.fullmatch(client_id):
        raise InvalidInput(f"invalid client id {client_id!r}: use 1-63 lowercase letters, digits and dashes")
    return client_id


@dataclass(frozen=True)
class StorageLayout:
    """Paths of every store under one home directory."""

    home: Path

    @classmethod
    def from_settings(cls, settings: Settings) -> StorageLayout:
        """The layout of ``settings.home``."""
        return cls(settings.home)

    @property
    def master_key_file(self) -> Path:
        return self.home / "master.key"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def spool_dir(self) -> Path:
        return self.home / "spool"

    @property
    def lake_dir(self) -> Path:
        return self.home / "lake"

    @property
    def events_dir(self) -> Path:
        return self.lake_dir / "events"

    @property
    def spend_dir(self) -> Path:
        return self.lake_dir / "spend"

    @property
    def kpi_dir(self) -> Path:
        return self.lake_dir / "kpi"

    @property
    def datasets_dir(self) -> Path:
        return self.home / "datasets"

    @property
    def mlartifacts_dir(self) -> Path:
        return self.home / "mlartifacts"

    @property
    def runtime_dir(self) -> Path:
        """Small state of running processes (demo keys, pid files)."""
        return self.home / "run"

    def client_events_dir(self, client_id: str) -> Path:
        """The lake partition folder of one client."""
        return self.events_dir / f"client_id={check_client_id(client_id)}"

    def client_spend_dir(self, client_id: str) -> Path:
        """The spend table folder of one client."""
        return self.spend_dir / f"client_id={check_client_id(client_id)}"

    def client_kpi_dir(self, client_id: str) -> Path:
        """The KPI table folder of one client (daily outcomes and controls for the media-mix model)."""
        return self.kpi_dir / f"client_id={check_client_id(client_id)}"

    def client_datasets_dir(self, client_id: str) -> Path:
        """The training sets of one client."""
        return self.datasets_dir / check_client_id(client_id)

    def ensure(self) -> StorageLayout:
        """Create the top-level folders (owner-only permissions) and return self."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        for folder in (
            self.keys_dir,
            self.spool_dir,
            self.lake_dir,
            self.events_dir,
            self.spend_dir,
            self.datasets_dir,
            self.mlartifacts_dir,
            self.runtime_dir,
        ):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self
