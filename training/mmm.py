"""The media-mix job: fit a client's media-mix model, validate it, log it to MLflow and register a version.

Order of work: check MLflow is reachable and read the client's KPI and spend (``features.media_mix_data``), so bad
input fails before any fitting; skip the fit when the champion or challenger was fitted on the same data with the
same settings (the fingerprint below); choose the adstock and saturation families by time-slice cross-validation
(when the model offers it and ``select_families``); fit with the client's lift tests (when the model accepts
them and ``lift``); compare with the champion (effect shares, ROI per channel, the allocation at today's total,
held-out accuracy: :mod:`training.mmm_compare`); then log and register ``xmo-mmm-<client>``: the first version
becomes champion, later ones challenger (:func:`training.mmm_promotion.promote_mmm` moves champion).
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from mlflow.tracking import MlflowClient

from core.errors import InvalidInput, NotFound, NotReady
from core.layout import StorageLayout
from core.settings import Settings
from features.media_mix_data import MediaMixInputs, media_mix_inputs
from models.mediamix import MIN_HOLDOUT, MediaMixModel
from models.mediamix_design import period_name
from models.mmm_registry import FINGERPRINT_TAG, load_media_mix, mmm_model_name, model_version
from models.registry import CHALLENGER, CHAMPION
from tracking.lift import read_lift
from training.mmm_compare import VersionComparison, compare_versions
from training.mmm_logging import MmmRunContent, fit_metrics, log_and_register
from training.mmm_promotion import MmmPromotion, promote_mmm
from training.run_logging import preflight, quiet_mlflow

__all__ = ["MmmFitResult", "MmmPromotion", "fit_mmm", "promote_mmm"]

Progress = Callable[[str], None]
RANDOM_STATE = 0


@dataclass
class MmmFitResult:
    """What a media-mix fit produced. ``registered`` is False when the champion or challenger already is this fit
    (same data and settings): then ``version`` and ``run_id`` are that version's and ``identical_to`` its alias."""

    client_id: str
    model_name: str
    version: str
    run_id: str
    aliases: list[str]
    kpi: str
    period_days: int
    digest: str
    families: dict[str, str]
    metrics: dict[str, float]
    fit_report: dict[str, Any] = field(repr=False)
    warnings: list[str]
    comparison: dict[str, Any] | None = None
    lift_tests_used: int = 0
    registered: bool = True
    identical_to: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "client_id": self.client_id,
            "model_name": self.model_name,
            "version": self.version,
            "run_id": self.run_id,
            "aliases": self.aliases,
            "kpi": self.kpi,
            "period_days": self.period_days,
            "data_sha256": self.digest,
            "families": self.families,
            "metrics": self.metrics,
            "fit_report": self.fit_report,
            "warnings": self.warnings,
            "comparison": self.comparison,
            "lift_tests_used": self.lift_tests_used,
            "registered": self.registered,
            "identical_to": self.identical_to,
        }


def _holdout_share(holdout_periods: int | None, inputs: MediaMixInputs) -> float:
    """The model's ``holdout_share`` for ``holdout_periods`` final periods (its default when ``None``)."""
    default = MediaMixModel().holdout_share
    if holdout_periods is None:
        return float(default)
    n, unit = len(inputs.y), period_name(inputs.period_days)
    least = MIN_HOLDOUT[inputs.period_days]
    if holdout_periods < 0 or (0 < holdout_periods < least):
        raise InvalidInput(f"hold out 0 {unit}s (none) or at least {least} {unit}s, not {holdout_periods}")
    if holdout_periods >= n:
        raise InvalidInput(f"cannot hold out {holdout_periods} {unit}s of {n}")
    return holdout_periods / n


def _lift_tests(settings: Settings, client_id: str, inputs: MediaMixInputs) -> pd.DataFrame:
    """The client's lift tests of the fitted KPI and channels (a test without a KPI counts as this KPI's)."""
    tests = read_lift(StorageLayout.from_settings(settings), client_id)
    if tests.empty:
        return tests
    kpi = tests["kpi"].fillna(inputs.kpi).astype(str) if "kpi" in tests.columns else inputs.kpi
    return tests[(kpi == inputs.kpi) & tests["channel"].isin(inputs.channels)].reset_index(drop=True)


def _accepts(function: Callable[..., Any], name: str) -> bool:
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _choose_families(
    inputs: MediaMixInputs, lift_tests: pd.DataFrame | None, progress: Progress, warnings: list[str]
) -> tuple[dict[str, str], dict[str, Any] | None]:
    """The adstock and saturation families chosen by cross-validation (``models.mediamix_selection``), or none
    (the model's defaults) when the model cannot choose or the series is too short for the folds (warned)."""
    try:
        from models.mediamix_selection import choose_families
    except ImportError:
        return {}, None
    progress("choosing adstock and saturation families by time-slice cross-validation")
    try:
        choice = choose_families(
            inputs.X,
            inputs.y,
            period_days=inputs.period_days,
            controls=list(inputs.controls),
            lift_tests=lift_tests,
        )
    except InvalidInput as exc:
        warnings.append(f"adstock and saturation not chosen by cross-validation ({exc}): geometric and Hill")
        return {}, None
    return {"adstock": choice.adstock, "saturation": choice.saturation}, choice.to_dict()


def model_code_digest() -> str:
    """SHA-256 of the media-mix model's source: a fit by changed model code is a different fit."""
    from models import mediamix

    digest = hashlib.sha256()
    for path in sorted(Path(mediamix.__file__).parent.glob("mediamix*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def fingerprint(inputs: MediaMixInputs, settings: dict[str, Any], lift_tests: pd.DataFrame | None) -> str:
    """SHA-256 of what determines a fit before it runs: the data's digest, the job's settings, the lift tests and
    the versions of xmo, its model code and scikit-learn."""
    lift = "" if lift_tests is None or lift_tests.empty else lift_tests.to_json(orient="records", date_format="iso")
    identity = {
        "data_sha256": inputs.digest,
        "settings": settings,
        "lift_sha256": hashlib.sha256(lift.encode()).hexdigest(),
        "xmo": metadata.version("xmo"),
        "model_code": model_code_digest(),
        "scikit-learn": metadata.version("scikit-learn"),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def _identical(client: MlflowClient, client_id: str, fingerprint_value: str) -> tuple[str, Any] | None:
    for alias in (CHAMPION, CHALLENGER):
        try:
            entry = model_version(client, client_id, alias)
        except (NotReady, NotFound):
            continue
        if (entry.tags or {}).get(FINGERPRINT_TAG) == fingerprint_value:
            return alias, entry
    return None


def fit_mmm(
    settings: Settings,
    client_id: str,
    *,
    kpi: str | None = None,
    holdout_periods: int | None = None,
    select_families: bool = True,
    lift: bool = True,
    n_draws: int = 100,
    register_anyway: bool = False,
    progress: Progress = lambda _msg: None,
) -> MmmFitResult:
    """Fit, validate, log and register the media-mix model of ``client_id`` (see the module docstring).

    ``kpi``: the KPI column (revenue, else conversions, when ``None``); ``holdout_periods``: the final periods
    (days or weeks, the KPI's grain) held out for validation (the model's default share when ``None``, 0 for
    none); ``select_families``: choose adstock/saturation by cross-validation; ``lift``: calibrate with the
    client's lift tests. ``NotReady`` without KPI or spend or MLflow; ``InvalidInput`` for bad input.
    """
    if n_draws < 0:
        raise InvalidInput("n_draws must be 0 or more")
    with quiet_mlflow():
        return _fit(
            settings, client_id, kpi, holdout_periods, select_families, lift, n_draws, register_anyway, progress
        )


def _fit(
    settings: Settings,
    client_id: str,
    kpi: str | None,
    holdout_periods: int | None,
    select_families: bool,
    lift: bool,
    n_draws: int,
    register_anyway: bool,
    progress: Progress,
) -> MmmFitResult:
    progress("checking the MLflow tracking store")
    client = preflight(settings)
    progress("reading the KPI and spend")
    inputs = media_mix_inputs(settings, client_id, kpi=kpi)
    share = _holdout_share(holdout_periods, inputs)
    fit_accepts_lift = _accepts(MediaMixModel.fit, "lift_tests")
    tests = _lift_tests(settings, client_id, inputs) if lift else pd.DataFrame()
    lift_tests = tests if fit_accepts_lift and not tests.empty else None
    warnings = list(inputs.warnings)
    if lift and not tests.empty and not fit_accepts_lift:
        warnings.append(f"{len(tests)} lift test(s) not used: this model version cannot take lift tests yet")
    job = {
        "holdout_share": share,
        "n_draws": n_draws,
        "select_families": select_families,
        "random_state": RANDOM_STATE,
        "channels": list(inputs.channels),
        "controls": list(inputs.controls),
    }
    print_ = fingerprint(inputs, job, lift_tests)
    name = mmm_model_name(client_id)
    same = _identical(client, client_id, print_)
    if same is not None and not register_anyway:
        return _unregistered(settings, client_id, same[0], same[1], inputs, warnings)

    families, cv = _choose_families(inputs, lift_tests, progress, warnings) if select_families else ({}, None)
    params: dict[str, Any] = {
        "channels": list(inputs.channels),
        "controls": list(inputs.controls),
        "holdout_share": share,
        "n_draws": n_draws,
        "random_state": RANDOM_STATE,
        "period_days": inputs.period_days,
    }
    accepted = MediaMixModel().get_params()
    params |= {k: v for k, v in families.items() if k in accepted}
    model = MediaMixModel(**params)
    unit = period_name(inputs.period_days)
    progress(f"fitting the media-mix model on {len(inputs.y)} {unit}s of {inputs.kpi}")
    extra: dict[str, Any] = {} if lift_tests is None else {"lift_tests": lift_tests}
    model.fit(inputs.X, inputs.y, **extra)
    warnings += [w for w in model.warnings_ if w not in warnings]
    report = dict(model.fit_report_) | {"kpi": inputs.kpi, "data_sha256": inputs.digest, "warnings": warnings}
    if cv is not None and report.get("cross_validation") is None:
        report["cross_validation"] = cv
    used = len(lift_tests) if lift_tests is not None else 0

    comparison = _compare_with_champion(settings, client_id, model, inputs, progress)
    progress("logging the run to MLflow")
    content = MmmRunContent(inputs, model, report, families, print_, comparison, used)
    registered = log_and_register(settings, client_id, content, progress)
    return MmmFitResult(
        client_id=client_id,
        model_name=name,
        version=registered.version,
        run_id=registered.run_id,
        aliases=registered.aliases,
        kpi=inputs.kpi,
        period_days=inputs.period_days,
        digest=inputs.digest,
        families={
            "adstock": str(report.get("adstock", families.get("adstock", "geometric"))),
            "saturation": str(report.get("saturation", families.get("saturation", "hill"))),
        },
        metrics=fit_metrics(report),
        fit_report=report,
        warnings=warnings,
        comparison=comparison,
        lift_tests_used=used,
    )


def _compare_with_champion(
    settings: Settings, client_id: str, model: MediaMixModel, inputs: MediaMixInputs, progress: Progress
) -> dict[str, Any] | None:
    """The comparison with the champion (``None`` when there is none, or it explains another KPI)."""
    try:
        champion = load_media_mix(settings, client_id)
    except NotReady:
        return None
    if champion.kpi and champion.kpi != inputs.kpi:
        return {"champion_version": champion.version, "note": f"the champion explains {champion.kpi}, not {inputs.kpi}"}
    progress(f"comparing with the champion (version {champion.version})")
    result: VersionComparison = compare_versions(
        champion.model, model, inputs.X, champion_version=champion.version, challenger_version="new"
    )
    return result.to_dict()


def _unregistered(
    settings: Settings, client_id: str, alias: str, entry: Any, inputs: MediaMixInputs, warnings: list[str]
) -> MmmFitResult:
    loaded = load_media_mix(settings, client_id, alias)
    report = loaded.fit_report
    return MmmFitResult(
        client_id=client_id,
        model_name=mmm_model_name(client_id),
        version=loaded.version,
        run_id=loaded.run_id,
        aliases=[alias],
        kpi=inputs.kpi,
        period_days=inputs.period_days,
        digest=inputs.digest,
        families={
            "adstock": str(report.get("adstock", "geometric")),
            "saturation": str(report.get("saturation", "hill")),
        },
        metrics=fit_metrics(report),
        fit_report=report,
        warnings=list(report.get("warnings", warnings)),
        registered=False,
        identical_to=alias,
    )
