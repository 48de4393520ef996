"""A client's experiments handed over as stored (right of access and portability): ``experiments.json``.

Every test the client designed and started, with its design, its groups (regions, holdout share), its status and
its last read — aggregates only, no visitor id. The folder export copies the file byte for byte; a client without
experiments exports nothing for them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from core.layout import StorageLayout
from core.settings import Settings
from privacy.export import Exported
from tracking.experiments import FILE_NAME, experiments_dir, read_experiments

UNIT = "experiments"


class ExperimentsExporter:
    """Exports the client's ``experiments.json``."""

    name = "experiments"
    description = "every experiment (geo, on/off and holdout tests) with its design and last read: experiments.json"

    def __init__(self, settings: Settings) -> None:
        self.layout = StorageLayout.from_settings(settings)

    def export(self, client_id: str, folder: Path) -> Exported:
        """Copy the client's experiments file into ``folder`` (nothing when it has none)."""
        count = len(read_experiments(self.layout, client_id))
        if not count:
            return Exported(files=0, records=0, unit=UNIT)
        try:
            shutil.copyfile(experiments_dir(self.layout, client_id) / FILE_NAME, folder / FILE_NAME)
        except FileNotFoundError:  # deleted meanwhile
            return Exported(files=0, records=0, unit=UNIT)
        return Exported(files=1, records=count, unit=UNIT)


def experiments_exporter(settings: Settings) -> ExperimentsExporter:
    """Entry point of ``xmo.privacy.exporters``: the client's experiments."""
    return ExperimentsExporter(settings)
