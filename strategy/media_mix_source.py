"""Where the budget's media-mix mode gets its model: the registered champion, or a fit made for one request.

The product path is :func:`registered_media_mix`: the client's champion from the MLflow registry
(``models.mmm_registry.load_media_mix``) with the client's data as it is now (``features.media_mix_data``), so a
plan costs no refit. When no model is registered, the loader calls the ``fit`` it was given (the serving and
``xmo`` layers pass one that fits and registers through ``training.mmm.fit_mmm``: strategy never imports
training). :func:`fitted_for_request` fits in memory without registering anything: the strategy tests' path, and
the fallback for a KPI the champion does not explain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.errors import NotReady
from core.settings import Settings
from core.tenants import Client
from features.media_mix_data import MediaMixInputs, media_mix_inputs
from models.mediamix import MediaMixModel
from strategy.media_mix import RECENT_DAYS, fit_media_mix


@dataclass(frozen=True)
class MediaMixSource:
    """A fitted media-mix model, the client's data it plans from, and which model it is."""

    model: MediaMixModel
    inputs: MediaMixInputs  # the data as it is now (X, y at the KPI's grain)
    fit_report: dict[str, Any]
    version: str | None = None  # the registered version; None for a fit made for this request
    run_id: str | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def kpi(self) -> str:
        """The KPI the model explains."""
        return self.inputs.kpi

    def current_daily_spend(self) -> dict[str, float]:
        """Today's daily spend per channel of the model: the mean of the last :data:`RECENT_DAYS` days of data."""
        k = self.inputs.period_days
        recent = self.inputs.X.tail(max(RECENT_DAYS // k, 1))
        return {name: float(recent[name].mean()) / k for name in self.model.channels_}


MediaMixLoader = Callable[[Settings, Client, str | None], MediaMixSource]
"""Settings, the client and the KPI asked for (None: the model's) in; the model to plan with out."""
MediaMixFitter = Callable[[Settings, str, str | None], object]
"""Settings, a client id and a KPI (None: the default pick) in: fits a media-mix model and registers it."""


def fitted_for_request(settings: Settings, client: Client, kpi: str | None, *, n_draws: int = 100) -> MediaMixSource:
    """A media-mix model fitted in memory on the client's data now (nothing registered)."""
    result = fit_media_mix(settings, client, kpi=kpi, n_draws=n_draws)
    inputs = media_mix_inputs(settings, client.id, kpi=result.kpi)
    return MediaMixSource(result.model, inputs, dict(result.fit_report), warnings=result.warnings)


def _checked_inputs(settings: Settings, client: Client, model: MediaMixModel, kpi: str, version: str) -> MediaMixInputs:
    inputs = media_mix_inputs(settings, client.id, kpi=kpi)
    absent = [c for c in (*model.channels_, *model.controls_) if c not in inputs.X.columns]
    if absent:
        raise NotReady(
            f"the registered media-mix model (version {version}) uses {', '.join(map(repr, absent))}, which the "
            f"client's data no longer has; refit it with `xmo mmm fit {client.id}`"
        )
    return inputs


def registered_media_mix(fit: MediaMixFitter | None = None) -> MediaMixLoader:
    """A loader of the client's champion; without one it calls ``fit`` (fit and register) and loads that, or
    raises ``NotReady`` (with the command that fits one) when no ``fit`` is given. A KPI other than the
    champion's is fitted for the request instead, with a warning."""

    def load(settings: Settings, client: Client, kpi: str | None) -> MediaMixSource:
        from models.mmm_registry import load_media_mix

        notes: list[str] = []
        try:
            loaded = load_media_mix(settings, client.id)
        except NotReady:
            if fit is None:
                raise
            fit(settings, client.id, kpi)
            loaded = load_media_mix(settings, client.id)
            notes.append(
                f"no media-mix model was registered: version {loaded.version} was fitted, registered and planned "
                "with (`xmo mmm show` describes it)"
            )
        if kpi is not None and kpi != loaded.kpi:
            own = fitted_for_request(settings, client, kpi)
            note = (
                f"the registered media-mix model (version {loaded.version}) explains {loaded.kpi!r}, not {kpi!r}: "
                "this plan comes from a model fitted for this request only (not registered)"
            )
            return MediaMixSource(own.model, own.inputs, own.fit_report, warnings=(note, *own.warnings))
        inputs = _checked_inputs(settings, client, loaded.model, loaded.kpi, loaded.version)
        if inputs.digest != loaded.digest:
            last = str(inputs.dates[-1].date())
            notes.append(
                f"the client's data changed since version {loaded.version} was fitted (its last period began "
                f"{loaded.fit_report.get('last_day', '?')}, the data's last now {last}): the plan uses that version "
                f"with today's data; refit with `xmo mmm fit {client.id}` to learn from the new periods"
            )
        model_warnings = [str(w) for w in loaded.fit_report.get("warnings", [])]
        return MediaMixSource(
            loaded.model,
            inputs,
            dict(loaded.fit_report) | {"kpi": loaded.kpi},
            version=str(loaded.version),
            run_id=loaded.run_id,
            warnings=(*notes, *model_warnings),
        )

    return load
