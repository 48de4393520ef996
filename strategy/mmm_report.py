"""What a client's registered media-mix model says: summary, predictions, decomposition and response curves.

Reads a registered version (the champion by default) through :mod:`models.mmm_registry` and the client's KPI and
spend through :func:`features.media_mix_data.media_mix_inputs`, with the KPI, controls and channels the version was
fitted on; the tables come from :mod:`models.mmm_tables`, as the training run logged them. Periods imported after
the fit are predicted too (``split="after"``). The CLI (``xmo mmm``), the API (``/v1/mmm``) and the dashboard
call these.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException

from core.errors import InvalidInput
from core.settings import Settings
from features.media_mix_data import MediaMixInputs, media_mix_inputs
from models.mmm_registry import ALIASES, LoadedMediaMix, load_media_mix, mmm_model_name
from models.mmm_tables import curves_dict, cv_means, decomposition_frames, predictions_frame
from models.registry import CHAMPION, configure_mlflow

DateLike = date | str | None
SUMMARY_METRICS = ("in_sample_r2", "in_sample_mape", "holdout_mape", "holdout_r2", "holdout_nrmse", "cv_mean_mape")


def parse_day(value: DateLike, name: str) -> pd.Timestamp | None:
    """``value`` as a day; ``InvalidInput`` naming ``name`` when it is not a YYYY-MM-DD date."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return pd.Timestamp(value)
    try:
        return pd.Timestamp(date.fromisoformat(str(value)))
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a date as YYYY-MM-DD, not {value!r}") from exc


def _window(frame_dates: pd.Series, since: DateLike, until: DateLike) -> pd.Series:
    first, last = parse_day(since, "since"), parse_day(until, "until")
    if first is not None and last is not None and first > last:
        raise InvalidInput(f"since ({first.date()}) is after until ({last.date()})")
    keep = pd.Series(True, index=frame_dates.index)
    if first is not None:
        keep &= frame_dates >= first
    if last is not None:
        keep &= frame_dates <= last
    return keep


def client_inputs(settings: Settings, client_id: str, loaded: LoadedMediaMix) -> MediaMixInputs:
    """The client's data as the version was fitted on it: its KPI, controls and channels."""
    return media_mix_inputs(
        settings, client_id, kpi=loaded.kpi or None, controls=loaded.controls, channels=loaded.requested_channels
    )


def _loaded(settings: Settings, client_id: str, alias: str, version: str | None) -> LoadedMediaMix:
    return load_media_mix(settings, client_id, alias, version=version)


def mmm_predictions(
    settings: Settings,
    client_id: str,
    since: DateLike = None,
    until: DateLike = None,
    *,
    alias: str = CHAMPION,
    version: str | None = None,
) -> pd.DataFrame:
    """``date, actual, predicted, lower, upper, split`` per period (``split``: fit, holdout or after)."""
    loaded = _loaded(settings, client_id, alias, version)
    inputs = client_inputs(settings, client_id, loaded)
    frame = predictions_frame(loaded.model, inputs.X, inputs.y)
    return frame[_window(frame["date"], since, until).to_numpy()].reset_index(drop=True)


def mmm_decomposition(
    settings: Settings,
    client_id: str,
    since: DateLike = None,
    until: DateLike = None,
    *,
    alias: str = CHAMPION,
    version: str | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per period: ``date, baseline``, one column per control, one per channel, ``predicted``; and the totals of
    each part over the periods with intervals (see :func:`models.mmm_tables.decomposition_frames`)."""
    loaded = _loaded(settings, client_id, alias, version)
    inputs = client_inputs(settings, client_id, loaded)
    rows = _window(pd.Series(pd.DatetimeIndex(inputs.X["date"])), since, until).to_numpy()
    if not rows.any():
        raise InvalidInput("no period of the model's data lies between since and until")
    frame, totals = decomposition_frames(loaded.model, inputs.X, rows)
    totals |= {"kpi": inputs.kpi, "version": loaded.version, "channels": list(loaded.model.channels_)}
    totals["controls"] = list(loaded.model.controls_)
    return frame, totals


def mmm_curves(
    settings: Settings, client_id: str, points: int = 40, *, alias: str = CHAMPION, version: str | None = None
) -> dict[str, Any]:
    """Per channel: spend grid per period, effect, lower, upper, the observed periods and today's spend."""
    if not 2 <= points <= 500:
        raise InvalidInput("points must lie between 2 and 500")
    loaded = _loaded(settings, client_id, alias, version)
    inputs = client_inputs(settings, client_id, loaded)
    return curves_dict(loaded.model, inputs.X, points) | {"kpi": inputs.kpi, "version": loaded.version}


def _versions(settings: Settings, client_id: str) -> list[dict[str, Any]]:
    """Every registered version, newest first: aliases, creation time, KPI, families, key metrics, gate."""
    client = configure_mlflow(settings)
    name = mmm_model_name(client_id)
    try:
        entries = client.search_model_versions(f"name='{name}'")
    except MlflowException:
        return []
    aliases: dict[str, list[str]] = {}
    try:
        for alias, number in client.get_registered_model(name).aliases.items():
            aliases.setdefault(str(number), []).append(alias)
    except MlflowException:
        pass
    rows = []
    for entry in sorted(entries, key=lambda e: int(e.version), reverse=True):
        tags = entry.tags or {}
        metrics = client.get_run(entry.run_id).data.metrics if entry.run_id else {}
        rows.append(
            {
                "version": str(entry.version),
                "aliases": sorted(aliases.get(str(entry.version), []), key=_alias_order),
                "created": pd.Timestamp(entry.creation_timestamp, unit="ms", tz="UTC").isoformat(timespec="seconds"),
                "kpi": tags.get("xmo.mmm.kpi"),
                "families": tags.get("xmo.mmm.families"),
                "data_sha256": tags.get("xmo.mmm.data_sha256"),
                "metrics": {k: metrics[k] for k in SUMMARY_METRICS if k in metrics},
                "promotion": tags.get("xmo.promotion.decision"),
                "promotion_reasons": tags.get("xmo.promotion.reasons"),
            }
        )
    return rows


def _alias_order(alias: str) -> int:
    return ALIASES.index(alias) if alias in ALIASES else len(ALIASES)


def mmm_summary(
    settings: Settings, client_id: str, *, alias: str = CHAMPION, version: str | None = None
) -> dict[str, Any]:
    """The version behind ``alias`` (or ``version``: fit figures, families, lift tests, channels, warnings) and every
    version with its aliases.

    ``data_changed`` says whether the client's data differ from what the version was fitted on (new weeks or
    re-imported rows: time to refit).
    """
    loaded = load_media_mix(settings, client_id, alias, version=version)
    report = loaded.fit_report
    try:
        current = client_inputs(settings, client_id, loaded).digest
        data_changed: bool | None = bool(loaded.digest) and current != loaded.digest
    except InvalidInput:
        data_changed = None
    decomposition = report.get("decomposition") or {}
    return {
        "client_id": client_id,
        "model_name": mmm_model_name(client_id),
        "alias": loaded.alias,
        "version": loaded.version,
        "run_id": loaded.run_id,
        "aliases": list(loaded.aliases),
        "kpi": loaded.kpi,
        "cadence": report.get("cadence"),
        "period_days": report.get("period_days"),
        "n_periods": report.get("n_periods"),
        "first_day": report.get("first_day"),
        "last_day": report.get("last_day"),
        "families": {"adstock": report.get("adstock", "geometric"), "saturation": report.get("saturation", "hill")},
        "in_sample": report.get("in_sample"),
        "holdout": report.get("holdout"),
        "cross_validation": report.get("cross_validation"),
        "cross_validation_mean": cv_means(report),
        "calibration": report.get("calibration"),
        "channels": decomposition.get("channels", []),
        "media_share_of_kpi": decomposition.get("media_share_of_kpi"),
        "controls": report.get("controls", []),
        "interval_level": report.get("interval_level"),
        "data_sha256": loaded.digest,
        "data_changed": data_changed,
        "warnings": report.get("warnings", []),
        "versions": _versions(settings, client_id),
    }
