"""Attribution of conversions and value to channels or campaigns, by any model, with one output shape.

Models (``MODELS``): the rules of :mod:`models.attribution_rules` (``last``, ``first``, ``linear``,
``position``, ``time-decay``) and the data-driven :mod:`models.markov` (removal effect) and
:mod:`models.shapley`. Input: a :func:`features.paths.touchpoint_paths` frame; ``level`` picks channels or
campaigns (a campaign-less session counts as its channel in angle brackets, e.g. ``<direct>``).

Every model credits exactly the converting journeys' conversions and value: the credited columns sum to
them. Outputs are aggregates over journeys; no visitor appears in them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from core.errors import InvalidInput
from models.attribution_rules import (
    DEFAULT_HALF_LIFE_DAYS,
    DEFAULT_POSITION_WEIGHTS,
    RULES,
    PathKind,
    RuleAttribution,
    Touches,
    distinct_key_shares,
    flatten,
    require_conversions,
    touch_pairs,
)
from models.markov import MarkovAttribution
from models.shapley import ShapleyAttribution

MODELS: tuple[str, ...] = (*RULES, "markov", "shapley")
LEVELS: tuple[str, ...] = ("channel", "campaign")
KEY_COLUMNS: dict[str, str] = {"channel": "channel", "campaign": "campaign_id"}
PATH_KINDS_BY_LEVEL: dict[str, PathKind] = {"channel": "channels", "campaign": "campaigns"}
FEW_CONVERSIONS = 100  # below this many converting journeys, credits get a warning


@dataclass(frozen=True)
class ModelOptions:
    """Parameters of the models (each model reads its own)."""

    position_weights: tuple[float, float, float] = DEFAULT_POSITION_WEIGHTS
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS
    markov_value_method: str = "removal"
    shapley_max_exact_players: int = 15
    shapley_permutations: int = 2000
    random_state: int = 0


@dataclass(frozen=True)
class AttributionResult:
    """Conversions and value credited per channel or campaign by one model.

    ``credits`` columns: the key (``channel`` or ``campaign_id``), ``journeys`` and ``converting_journeys``
    that touched it, ``conversions`` and ``value`` credited, ``conversion_share`` and ``value_share`` of the
    totals; ``removal_effect`` for ``markov``; ``conversions_std_error`` and ``value_std_error`` for
    ``shapley`` (0 when exact). Sorted by credited conversions, largest first.
    """

    model: str
    level: str
    method: str
    credits: pd.DataFrame
    journeys: int
    converting_journeys: int
    value: float
    notes: tuple[str, ...] = field(default=())

    @property
    def key_column(self) -> str:
        """``channel`` or ``campaign_id``."""
        return KEY_COLUMNS[self.level]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "model": self.model,
            "level": self.level,
            "method": self.method,
            "journeys": self.journeys,
            "converting_journeys": self.converting_journeys,
            "conversions": float(self.converting_journeys),
            "value": self.value,
            "notes": list(self.notes),
            "credits": [
                {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
                for row in self.credits.to_dict("records")
            ],
        }


def check_model(model: str) -> str:
    """``model`` if known, else :class:`InvalidInput` listing the choices."""
    if model not in MODELS:
        raise InvalidInput(f"unknown attribution model {model!r}; choose one of {', '.join(MODELS)}")
    return model


def check_level(level: str) -> str:
    """``level`` if known, else :class:`InvalidInput` listing the choices."""
    if level not in LEVELS:
        raise InvalidInput(f"unknown attribution level {level!r}; choose one of {', '.join(LEVELS)}")
    return level


def make_model(
    model: str, level: str, options: ModelOptions | None = None
) -> RuleAttribution | MarkovAttribution | ShapleyAttribution:
    """An unfitted estimator for ``model`` at ``level``."""
    o = options or ModelOptions()
    by = PATH_KINDS_BY_LEVEL[check_level(level)]
    if check_model(model) == "markov":
        return MarkovAttribution(by=by, value_method=o.markov_value_method)  # type: ignore[arg-type]
    if model == "shapley":
        return ShapleyAttribution(
            by=by,
            max_exact_players=o.shapley_max_exact_players,
            n_permutations=o.shapley_permutations,
            random_state=o.random_state,
        )
    return RuleAttribution(
        rule=model,  # type: ignore[arg-type]
        by=by,
        position_weights=o.position_weights,
        half_life_days=o.half_life_days,
    )


def _reach(touches: Touches) -> pd.DataFrame:
    """Journeys and converting journeys that touched each key (a journey counts once per key)."""
    size = max(len(touches.keys), 1)
    pairs, _ = touch_pairs(touches)
    codes, journeys = pairs % size, pairs // size
    return pd.DataFrame(
        {
            "journeys": np.bincount(codes, minlength=len(touches.keys)).astype(np.int64),
            "converting_journeys": np.bincount(
                codes, weights=touches.converted[journeys], minlength=len(touches.keys)
            ).astype(np.int64),
        },
        index=pd.Index(touches.keys, name="touchpoint", dtype=object),
    )


def _share(part: pd.Series, total: float) -> pd.Series:
    return part / total if total > 0 else part * 0.0


def _method(model: str, estimator: Any) -> tuple[str, tuple[str, ...]]:
    """How the credits were computed, and notes a reader needs."""
    if isinstance(estimator, MarkovAttribution):
        return "markov removal effect (linear solve)", (
            f"the chain converts {estimator.conversion_probability_:.2%} of journeys from start",
        )
    if isinstance(estimator, ShapleyAttribution):
        if estimator.method_ == "sampled":
            return "shapley (sampled)", (
                f"{len(estimator.players_)} touchpoints are more than {estimator.max_exact_players} for exact "
                f"enumeration: Shapley values estimated from {estimator.n_permutations} random orders "
                f"(seed {estimator.random_state}); see the std_error columns",
            )
        return "shapley (exact)", ()
    return f"rule: {model}", ()


def attribute(
    paths: pd.DataFrame, model: str = "markov", level: str = "channel", options: ModelOptions | None = None
) -> AttributionResult:
    """Conversions and value of ``paths`` credited per channel or campaign by ``model``.

    :class:`InvalidInput` for an unknown model or level, :class:`core.errors.NotReady` when no journey converted.
    """
    estimator = make_model(model, level, options)
    touches = flatten(paths, PATH_KINDS_BY_LEVEL[level])
    converting = int(touches.converted.sum())
    require_conversions(converting)
    estimator.fit(paths)
    value_total = float(touches.value[touches.converted].sum())
    frame = _reach(touches).join(estimator.credits_[["conversions", "value"]], how="left").fillna(0.0)
    frame["conversion_share"] = _share(frame["conversions"], float(converting))
    frame["value_share"] = _share(frame["value"], value_total)
    if isinstance(estimator, MarkovAttribution):
        frame["removal_effect"] = estimator.removal_effects_.reindex(frame.index).fillna(0.0)
    if isinstance(estimator, ShapleyAttribution):
        errors = estimator.std_errors_.reindex(frame.index).fillna(0.0)
        frame["conversions_std_error"] = errors["conversions"]
        frame["value_std_error"] = errors["value"]
    key = KEY_COLUMNS[level]
    frame = frame.rename_axis(key).reset_index()
    frame[key] = frame[key].astype(object)
    frame = frame.sort_values(["conversions", key], ascending=[False, True], kind="stable", ignore_index=True)
    method, notes = _method(model, estimator)
    if converting < FEW_CONVERSIONS:
        notes = (*notes, f"only {converting} converting journeys: credits are noisy, treat them as a first look")
    return AttributionResult(model, level, method, frame, len(paths), converting, value_total, notes)


def compare_models(
    paths: pd.DataFrame,
    level: str = "channel",
    models: tuple[str, ...] = MODELS,
    options: ModelOptions | None = None,
) -> dict[str, AttributionResult]:
    """Every model in ``models`` over the same paths, by name (for side-by-side views)."""
    for model in models:
        check_model(model)
    return {model: attribute(paths, model, level, options) for model in models}


def comparison_table(results: dict[str, AttributionResult], metric: str = "conversions") -> pd.DataFrame:
    """One row per key and one ``metric`` column per model (``conversions`` or ``value``), with journeys."""
    if metric not in ("conversions", "value"):
        raise InvalidInput(f"metric must be conversions or value, not {metric!r}")
    if not results:
        raise InvalidInput("no attribution results to compare")
    first = next(iter(results.values()))
    key = first.key_column
    table = first.credits[[key, "journeys", "converting_journeys"]].set_index(key)
    for model, result in results.items():
        table[model] = result.credits.set_index(key)[metric].reindex(table.index).fillna(0.0)
    return table.sort_values(list(results)[-1], ascending=False, kind="stable").reset_index()


def journey_shares(
    paths: pd.DataFrame, model: str, level: str, options: ModelOptions | None = None
) -> tuple[Touches, npt.NDArray[np.float64]]:
    """The touchpoints of ``paths`` and each one's share of its journey under ``model`` (a journey's sum to 1).

    Rules give their own shares. ``markov`` splits a journey over its distinct touchpoints in proportion to
    their removal effects; ``shapley`` splits it equally over them, which is the exact Shapley value of the
    Zhao et al. game per journey (see :mod:`models.shapley`). Summed per key, the Shapley shares equal the
    exact Shapley credits; the Markov ones are close to, not equal to, the global removal-effect credits.
    """
    estimator = make_model(model, level, options)
    if isinstance(estimator, RuleAttribution):
        touches, shares = estimator.touch_shares(paths)
        require_conversions(int(touches.converted.sum()))
        return touches, shares
    touches = flatten(paths, PATH_KINDS_BY_LEVEL[level])
    require_conversions(int(touches.converted.sum()))
    if isinstance(estimator, MarkovAttribution):
        effects = estimator.fit(paths).removal_effects_.reindex(touches.keys).fillna(0.0).to_numpy(dtype=float)
        return touches, distinct_key_shares(touches, effects)
    return touches, distinct_key_shares(touches, np.ones(len(touches.keys)))


def daily_attributed_outcomes(
    paths: pd.DataFrame,
    model: str = "linear",
    level: str = "campaign",
    *,
    timezone: str = "UTC",
    options: ModelOptions | None = None,
) -> pd.DataFrame:
    """Attributed conversions and value per (conversion date, campaign or channel): daily series.

    Columns: ``date`` (``datetime.date`` of the converting session's start in ``timezone``), the key
    (``campaign_id`` or ``channel``), ``conversions`` and ``value`` (floats); one row per date and key with
    credit, sorted by date then key. Totals equal the converting journeys and their value.
    """
    key = KEY_COLUMNS[check_level(level)]
    touches, shares = journey_shares(paths, check_model(model), level, options)
    converting = touches.converted[touches.journey]
    if "conversion_at" not in paths.columns:
        raise InvalidInput("the path frame lacks the column conversion_at")
    try:
        local = pd.to_datetime(paths["conversion_at"], utc=True).dt.tz_convert(timezone)
    except Exception as exc:  # unknown zone names raise several types
        raise InvalidInput(f"unknown timezone {timezone!r}") from exc
    dates = local.dt.date.to_numpy(dtype=object)
    rows = touches.journey[converting]
    credit = shares[converting]
    flat = pd.DataFrame(
        {
            "date": dates[rows],
            key: touches.keys[touches.code[converting]],
            "conversions": credit,
            "value": credit * touches.value[rows],
        }
    )
    daily = flat.groupby(["date", key], sort=True, as_index=False)[["conversions", "value"]].sum()
    return daily.astype({key: object}).reset_index(drop=True)
