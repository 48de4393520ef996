"""Choice of the media-mix model's carry-over and saturation families by time-slice cross-validation.

Every pair is scored by :func:`models.mediamix_validation.time_slice_validation` on the same rolling origins; the
pair with the lowest mean MAPE wins, ties (within :data:`MAPE_TIE` of each other) going to the lower mean NRMSE.
The table also shows each pair's parameters per channel and the standard error of its mean MAPE over the folds,
so a reader sees when the pairs cannot really be told apart (a one-standard-error rule that picks the simplest
tied pair was tried and measured in bench_mmm: it did not predict better and allocated worse, so the plain rule
stays).
To stay fast the search is pruned as practitioners do by hand: first the adstock families with Hill saturation,
then the other saturations with the adstock chosen (5 pairs, not 9), and the folds' fits use fewer random starts
and a few bootstrap draws (for interval coverage) rather than the final fit's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import clone

from core.errors import InvalidInput
from models.mediamix import MediaMixModel
from models.mediamix_families import ADSTOCKS, SATURATIONS, check_families
from models.mediamix_validation import TimeSliceReport, time_slice_validation

MAPE_TIE = 0.001  # mean MAPEs closer than 0.1 point are a tie, broken by NRMSE
N_PARAMS = {"geometric": 1, "weibull": 2, "delayed": 2, "hill": 2, "logistic": 1, "michaelis_menten": 1}
CV_STARTS = 2  # random starts per fold's fit (the final fit keeps the model's own)
CV_DRAWS = 5  # bootstrap draws per fold, for the coverage of its prediction interval
PAIRED_SE = 1.0  # rule "paired": leave geometric + Hill only for a mean fold-by-fold MAPE gain above this many SEs
DEFAULT_PAIR = ("geometric", "hill")
TABLE_COLUMNS = (
    "adstock",
    "saturation",
    "n_params",
    "mape",
    "mape_se",
    "nrmse",
    "r2",
    "coverage",
    "worst_mape",
    "chosen",
)


@dataclass(frozen=True)
class FamilyChoice:
    """The pair chosen and every pair's cross-validated scores (one row each, in the order tried)."""

    adstock: str
    saturation: str
    table: pd.DataFrame
    folds: int
    horizon: int
    cadence: str
    report: TimeSliceReport | None = None  # the chosen pair's cross-validation, fold by fold

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (the table as a list of rows)."""
        rows = [
            {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}
            for row in self.table.to_dict(orient="records")
        ]
        return {
            "adstock": self.adstock,
            "saturation": self.saturation,
            "criterion": f"mean MAPE over {self.folds} rolling origins of {self.horizon} {self.cadence}s "
            f"(ties within {MAPE_TIE:.1%}: NRMSE)",
            "folds": self.folds,
            "horizon": self.horizon,
            "table": rows,
            "chosen_folds": None if self.report is None else self.report.to_dict()["folds"],
        }


def _standard_error(report: TimeSliceReport) -> float:
    """The standard error of a report's mean MAPE over its folds (0 with fewer than two)."""
    values = [f.mape for f in report.folds if f.mape is not None]
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0


def _row(adstock: str, saturation: str, report: TimeSliceReport) -> dict[str, Any]:
    def number(value: float | None) -> float:
        return float("nan") if value is None else float(value)

    return {
        "adstock": adstock,
        "saturation": saturation,
        "n_params": N_PARAMS[adstock] + N_PARAMS[saturation],
        "mape": number(report.mean["mape"]),
        "mape_se": _standard_error(report),
        "nrmse": number(report.mean["nrmse"]),
        "r2": number(report.mean["r2"]),
        "coverage": number(report.mean.get("coverage")),
        "worst_mape": number(report.worst["mape"]),
        "chosen": False,
    }


def _best(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Lowest mean MAPE; among those within :data:`MAPE_TIE` of it, the lowest NRMSE."""
    scored = [r for r in rows if np.isfinite(r["mape"])] or rows
    lowest = min(r["mape"] for r in scored)
    tied = [r for r in scored if r["mape"] <= lowest + MAPE_TIE]
    return min(tied, key=lambda r: (r["nrmse"] if np.isfinite(r["nrmse"]) else np.inf, r["mape"]))


def _fold_mapes(report: TimeSliceReport) -> np.ndarray:
    return np.array([np.nan if f.mape is None else f.mape for f in report.folds], dtype=float)


def _paired_best(
    rows: list[dict[str, Any]], reports: dict[tuple[str, str], TimeSliceReport], default: tuple[str, str]
) -> dict[str, Any]:
    """The ``default`` pair unless another beats it fold by fold on the same origins: the mean of the paired MAPE
    differences above :data:`PAIRED_SE` standard errors of that mean (the best such pair by mean MAPE)."""
    home = next((r for r in rows if (r["adstock"], r["saturation"]) == default), None)
    if home is None:
        return _best(rows)
    base = _fold_mapes(reports[default])
    winners = []
    for row in rows:
        pair = (row["adstock"], row["saturation"])
        if pair == default:
            continue
        gain = base - _fold_mapes(reports[pair])
        gain = gain[np.isfinite(gain)]
        if len(gain) < 2:
            continue
        se = float(np.std(gain, ddof=1) / np.sqrt(len(gain)))
        if float(gain.mean()) > PAIRED_SE * se and float(gain.mean()) > MAPE_TIE:
            winners.append(row)
    return _best(winners) if winners else home


def choose_families(
    X: pd.DataFrame,
    y: ArrayLike,
    *,
    period_days: int,
    controls: Sequence[str] = (),
    lift_tests: pd.DataFrame | None = None,
    channels: Sequence[str] | None = None,
    model: MediaMixModel | None = None,
    folds: int = 4,
    horizon: int | None = None,
    adstocks: Sequence[str] = ADSTOCKS,
    saturations: Sequence[str] = SATURATIONS,
    n_starts: int = CV_STARTS,
    interval_draws: int = CV_DRAWS,
    rule: str = "lowest",
) -> FamilyChoice:
    """Cross-validate adstock families with Hill, then saturations with the best adstock; pick the pair.

    ``model``: the settings to compare under (its families are replaced; a default weekly or daily model with
    ``channels`` and ``controls`` when ``None``). ``lift_tests`` calibrate each fold's fit (only tests inside its
    training periods). Raises ``InvalidInput`` for unknown families or a series too short for the folds.
    """
    for name in adstocks:
        check_families(name, "hill")
    for name in saturations:
        check_families("geometric", name)
    base = (
        MediaMixModel(channels=channels, controls=controls, period_days=period_days)
        if model is None
        else clone(model).set_params(period_days=period_days)
    )
    base = base.set_params(n_starts=min(base.n_starts, n_starts))
    first_saturation = "hill" if "hill" in saturations else saturations[0]
    rows: list[dict[str, Any]] = []
    reports: dict[tuple[str, str], TimeSliceReport] = {}

    def score(adstock: str, saturation: str) -> dict[str, Any]:
        candidate = clone(base).set_params(adstock=adstock, saturation=saturation)
        report = time_slice_validation(
            candidate, X, y, folds=folds, horizon=horizon, interval_draws=interval_draws, lift_tests=lift_tests
        )
        reports[(adstock, saturation)] = report
        row = _row(adstock, saturation, report)
        rows.append(row)
        return row

    if rule not in ("lowest", "paired"):
        raise InvalidInput(f"unknown family-choice rule {rule!r}: use lowest or paired")

    def pick(candidates: list[dict[str, Any]], default: tuple[str, str]) -> dict[str, Any]:
        return _paired_best(candidates, reports, default) if rule == "paired" else _best(candidates)

    adstock = pick([score(a, first_saturation) for a in adstocks], (DEFAULT_PAIR[0], first_saturation))["adstock"]
    for saturation in saturations:
        if saturation != first_saturation:
            score(adstock, saturation)
    best = pick([r for r in rows if r["adstock"] == adstock], (adstock, first_saturation))
    best["chosen"] = True
    report = reports[(best["adstock"], best["saturation"])]
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    return FamilyChoice(best["adstock"], best["saturation"], table, folds, report.horizon, report.cadence, report)


def fit_with_family_choice(
    model: MediaMixModel,
    X: pd.DataFrame,
    y: ArrayLike,
    lift_tests: pd.DataFrame | None = None,
    **options: Any,
) -> tuple[MediaMixModel, FamilyChoice]:
    """Choose the families of ``model`` by :func:`choose_families` (``options`` passed on), then fit it with them;
    the comparison lands in ``fit_report_["cross_validation"]``."""
    choice = choose_families(X, y, period_days=model.period_days, lift_tests=lift_tests, model=model, **options)
    model.set_params(adstock=choice.adstock, saturation=choice.saturation)
    model.fit(X, y, lift_tests=lift_tests)
    model.fit_report_["cross_validation"] = choice.to_dict()
    return model, choice
