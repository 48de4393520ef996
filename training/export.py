"""A client's conversion models, handed over as MLflow model directories (one per registered version)."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow

from core.errors import NotFound
from core.settings import Settings
from models.registry import configure_mlflow, conversion_model_name
from privacy.export import Exported
from training.catalog import list_versions

VERSIONS_FILE = "versions.json"


class ModelsExporter:
    """Every registered version of the client's conversion model, loadable with ``mlflow.pyfunc.load_model``."""

    name = "models"
    description = (
        "every registered version of the conversion model as an MLflow model directory (version-<n>/), "
        "with versions.json (aliases, training set, test metrics)"
    )

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def export(self, client_id: str, folder: Path) -> Exported:
        """Download each version into ``folder/version-<n>/`` and list them in ``versions.json``."""
        try:
            versions = list_versions(self.settings, client_id)  # configures MLflow
        except NotFound:
            return Exported(files=0, records=0, unit="model versions")
        configure_mlflow(self.settings)
        name = conversion_model_name(client_id)
        for version in versions:
            target = folder / f"version-{version.version}"
            target.mkdir()
            mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{name}/{version.version}", dst_path=str(target))
        listing = [{**v.to_dict(), "path": f"version-{v.version}"} for v in versions]
        (folder / VERSIONS_FILE).write_text(json.dumps({"model": name, "versions": listing}, indent=2) + "\n")
        files = sum(1 for p in folder.rglob("*") if p.is_file())
        return Exported(files=files, records=len(versions), unit="model versions")


def models_exporter(settings: Settings) -> ModelsExporter:
    """Entry point of ``xmo.privacy.exporters``: the client's models."""
    return ModelsExporter(settings)
