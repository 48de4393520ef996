"""The registered media-mix models of a client: ``xmo-mmm-<client>`` in the MLflow registry, and loading them.

Each version is a fitted :class:`models.mediamix.MediaMixModel` logged with MLflow's scikit-learn flavor (a
pickle with a signature and an input example, so ``mlflow.pyfunc.load_model`` predicts the KPI from a frame of
dates, spend and controls); its run holds ``fit_report.json``. Version tags name the KPI and the data's digest,
so a reader knows what the model explains and on which data. A loaded version is cached per (store, model,
version, run): versions never change once registered, only the aliases that point at them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from core.errors import NotFound, NotReady
from core.layout import check_client_id
from core.settings import Settings
from models.mediamix import MediaMixModel
from models.registry import CHALLENGER, CHAMPION, PREVIOUS_CHAMPION, configure_mlflow

ALIASES = (CHAMPION, CHALLENGER, PREVIOUS_CHAMPION)
KPI_TAG = "xmo.mmm.kpi"
DIGEST_TAG = "xmo.mmm.data_sha256"
FINGERPRINT_TAG = "xmo.mmm.fingerprint"
FIT_REPORT_ARTIFACT = "fit_report.json"
_CACHE_SIZE = 16


def mmm_model_name(client_id: str) -> str:
    """The registered model of a client's media-mix models."""
    return f"xmo-mmm-{check_client_id(client_id)}"


@dataclass
class LoadedMediaMix:
    """One registered version of a client's media-mix model, loaded."""

    model: MediaMixModel
    version: str
    run_id: str
    alias: str  # the alias it was loaded by ("" when loaded by version)
    kpi: str
    digest: str  # sha256 hex of the data it was fitted on (features.media_mix_data.data_digest)
    fit_report: dict[str, Any] = field(repr=False)
    aliases: tuple[str, ...] = ()  # every alias that points at it

    @property
    def channels(self) -> list[str]:
        """The channels the model has curves of."""
        return list(self.model.channels_)

    @property
    def requested_channels(self) -> list[str]:
        """The channels the fit was asked for (those without spend left out by the model included).

        Read from the attribute, not ``get_params()``: a version pickled by an older xmo lacks parameters added
        since, and scikit-learn's ``get_params`` reads the current class's signature.
        """
        asked = getattr(self.model, "channels", None)
        return list(asked) if asked else self.channels

    @property
    def controls(self) -> list[str]:
        """The control columns it was fitted with."""
        return list(self.model.controls_)


_cache: dict[tuple[str, str, str, str], tuple[MediaMixModel, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget the loaded versions (tests; a store that was wiped)."""
    with _cache_lock:
        _cache.clear()


def _no_model(client_id: str) -> NotReady:
    return NotReady(f"client {client_id!r} has no media-mix model yet; fit one with `xmo mmm fit {client_id}`")


def model_version(client: MlflowClient, client_id: str, alias: str | None = None, version: str | None = None) -> Any:
    """The registry's version entry by ``version`` or ``alias`` (champion when neither); NotReady/NotFound."""
    name = mmm_model_name(client_id)
    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        raise _no_model(client_id) from exc
    if version is not None:
        try:
            return client.get_model_version(name, str(version))
        except MlflowException as exc:
            raise NotFound(f"{name} has no version {version!r} (see `xmo mmm show {client_id}`)") from exc
    alias = alias or CHAMPION
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if alias == CHAMPION:
            raise _no_model(client_id) from exc
        raise NotFound(f"{name} has no {alias} (see `xmo mmm show {client_id}`)") from exc


def _check_readable(model: MediaMixModel, name: str, version: str) -> None:
    """``NotReady`` when this xmo cannot predict with the unpickled model (saved by an older model class)."""
    report = getattr(model, "fit_report_", {}) or {}
    period_days = int(report.get("period_days", 1))
    dates = pd.date_range(report.get("first_day", "2024-01-01"), periods=2, freq=f"{period_days}D")
    probe = pd.DataFrame({getattr(model, "date_column", "date"): dates})
    for column in [*getattr(model, "channels_", []), *getattr(model, "controls_", [])]:
        probe[column] = 0.0
    try:
        model.predict(probe)
    except (AttributeError, TypeError, KeyError, ValueError) as exc:
        client_id = name.removeprefix("xmo-mmm-")
        raise NotReady(
            f"{name} version {version} was saved by an older xmo whose media-mix model this one cannot read "
            f"({type(exc).__name__}: {exc}); refit with `xmo mmm fit {client_id}`"
        ) from exc


def _load(uri: str, name: str, version: str, run_id: str) -> tuple[MediaMixModel, dict[str, Any]]:
    key = (uri, name, version, run_id)  # a purged and refitted client numbers its versions from 1 again
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None:
        return hit
    try:
        model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
        report = mlflow.artifacts.load_dict(f"runs:/{run_id}/{FIT_REPORT_ARTIFACT}") if run_id else {}
    except Exception as exc:  # a missing or corrupt artifact surfaces as many exception types
        raise NotReady(f"{name} version {version} cannot be loaded ({type(exc).__name__}: {exc})") from exc
    if not isinstance(model, MediaMixModel):
        raise NotReady(f"{name} version {version} is not a media-mix model")
    _check_readable(model, name, version)
    with _cache_lock:
        if len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = (model, report)
    return model, report


def load_media_mix(
    settings: Settings, client_id: str, alias: str = CHAMPION, *, version: str | None = None
) -> LoadedMediaMix:
    """The client's media-mix model by ``alias`` (default champion) or ``version``.

    ``NotReady`` (with the ``xmo mmm fit`` hint) when none is registered; ``NotFound`` for an unknown version or
    an alias that points nowhere.
    """
    client = configure_mlflow(settings)
    entry = model_version(client, client_id, None if version is not None else alias, version)
    name = mmm_model_name(client_id)
    number, run_id = str(entry.version), entry.run_id or ""
    model, report = _load(settings.effective_mlflow_tracking_uri, name, number, run_id)
    tags = entry.tags or {}
    return LoadedMediaMix(
        model=model,
        version=number,
        run_id=run_id,
        alias="" if version is not None else alias,
        kpi=tags.get(KPI_TAG, str(report.get("kpi", ""))),
        digest=tags.get(DIGEST_TAG, ""),
        fit_report=report,
        aliases=tuple(getattr(entry, "aliases", ()) or ()),
    )
