"""The client's media-mix model (the same jobs as `xmo mmm`): fit and promote it, and read its predictions,
decomposition and response curves, with the client's API key."""

from __future__ import annotations

import asyncio
import csv
import io
import math
import re
from datetime import date
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from core.csv_cells import safe_text
from core.errors import Conflict, InvalidInput
from models.mmm_registry import load_media_mix
from serving.answers import (
    MmmCurvesOut,
    MmmDecompositionOut,
    MmmFitOut,
    MmmPredictionsOut,
    MmmPromoteOut,
    MmmSummaryOut,
)
from serving.deps import ActorDep, RuntimeDep, TenantDep
from serving.errors import error_responses
from serving.query_params import DayParam, day_query
from strategy.mmm_report import mmm_curves, mmm_decomposition, mmm_predictions, mmm_summary
from training.mmm import fit_mmm, promote_mmm

router = APIRouter(prefix="/v1/mmm", tags=["media mix"])

NOT_READY = "No media-mix model yet (or no KPI and spend to fit one): the message names the command that makes it"
_READ_ERRORS = error_responses(409, e409=NOT_READY)
_RANGE_ERRORS = error_responses(400, 409, e400="since after until, or no period in the window", e409=NOT_READY)
MAX_HOLDOUT_PERIODS = 520
MAX_CURVE_POINTS = 200
MAX_DRAWS = 500
_fitting: set[str] = set()  # clients whose fit runs in this process (read and changed on the event loop only)


class MmmFitRequest(BaseModel):
    """What to fit: every field may be left out."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"kpi": "revenue", "holdout_periods": 8, "select_families": True}]},
    )

    kpi: str | None = Field(
        default=None, min_length=1, max_length=64, description="KPI column (default: revenue, sales… then counts)"
    )
    holdout_periods: int | None = Field(
        default=None,
        ge=0,
        le=MAX_HOLDOUT_PERIODS,
        description="Final days or weeks held out to validate the fit (default: the model's share; 0: none)",
    )
    select_families: bool = Field(
        default=True, description="Choose the carry-over and saturation families by time-slice cross-validation"
    )
    lift: bool = Field(default=True, description="Calibrate with the client's stored lift tests")
    n_draws: int = Field(
        default=100, ge=10, le=MAX_DRAWS, description="Bootstrap refits behind the intervals (more: slower, steadier)"
    )


class MmmPromoteRequest(BaseModel):
    """Which version to make the champion."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"force": False}, {"version": "2"}]})

    version: str | None = Field(
        default=None, pattern=r"^[1-9][0-9]{0,8}$", description="Registered version (default: the challenger)"
    )
    force: bool = Field(default=False, description="Promote even when the gate refuses (the reasons are recorded)")


def _day(value: Any) -> str:
    return pd.Timestamp(value).date().isoformat()


def _number(value: Any) -> float | None:
    """A float, or None for a missing or non-finite value (JSON has no NaN)."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, ±inf: not JSON) as None, in nested dicts and lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def _check_range(since: date | None, until: date | None) -> None:
    if since is not None and until is not None and since > until:
        raise InvalidInput(f"since ({since}) is after until ({until})")


def _prediction_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "date": _day(row.date),
            "actual": _number(row.actual),
            "predicted": _number(row.predicted),
            "lower": _number(row.lower),
            "upper": _number(row.upper),
            "split": str(row.split),
        }
        for row in frame.itertuples(index=False)
    ]


@router.get("", response_model=MmmSummaryOut, response_model_exclude_unset=True, responses=_READ_ERRORS)
async def summary(runtime: RuntimeDep, client_id: TenantDep) -> dict[str, Any]:
    """The champion media-mix model: version, KPI, fit and held-out metrics, families, channels, warnings."""
    return finite(await asyncio.to_thread(mmm_summary, runtime.settings, client_id))


@router.post(
    "/fit",
    response_model=MmmFitOut,
    response_model_exclude_unset=True,
    responses=error_responses(
        400,
        409,
        e400="A KPI the client has not imported, or data the model cannot fit (the message says which)",
        e409="No KPI series or spend yet (the message names the import to run), or a fit of the client's model "
        "already running",
    ),
)
async def fit(
    runtime: RuntimeDep,
    client_id: TenantDep,
    request: Annotated[MmmFitRequest | None, Body(description="Options; an empty body fits with the defaults")] = None,
) -> dict[str, Any]:
    """Fit, validate, log and register a media-mix model on the client's KPI and spend (a job of seconds to a
    minute); the first version becomes the champion, later ones the challenger."""
    options = request or MmmFitRequest()
    if client_id in _fitting:
        raise Conflict("a fit of this client's media-mix model is already running; wait for it to finish")
    _fitting.add(client_id)
    try:
        result = await asyncio.to_thread(
            lambda: fit_mmm(
                runtime.settings,
                client_id,
                kpi=options.kpi,
                holdout_periods=options.holdout_periods,
                select_families=options.select_families,
                lift=options.lift,
                n_draws=options.n_draws,
            )
        )
    finally:
        _fitting.discard(client_id)
    return finite(result.to_dict())


@router.post(
    "/promote",
    response_model=MmmPromoteOut,
    response_model_exclude_unset=True,
    responses=error_responses(
        400,
        404,
        409,
        e400="The version is the champion already",
        e404="No such registered version",
        e409=NOT_READY + ", or no challenger to promote",
    ),
)
async def promote(
    runtime: RuntimeDep,
    client_id: TenantDep,
    actor: ActorDep,
    request: Annotated[MmmPromoteRequest | None, Body(description="Version and force; empty: the challenger")] = None,
) -> dict[str, Any]:
    """Consider a version (default: the challenger) for champion through the same gate as `xmo mmm promote`: the
    answer says whether it was promoted and why (a refusal is a 200 with ``promoted: false``; force overrides
    it); audited."""
    options = request or MmmPromoteRequest()
    result = await asyncio.to_thread(
        lambda: promote_mmm(runtime.settings, client_id, version=options.version, force=options.force, actor=actor)
    )
    return finite(result.to_dict())


SinceParam = Annotated[DayParam, day_query("First period, inclusive (a period starting on or after this day)")]
UntilParam = Annotated[DayParam, day_query("Last period, inclusive (a period starting on or before this day)")]


async def _predictions(runtime: Any, client_id: str, since: date | None, until: date | None) -> dict[str, Any]:
    _check_range(since, until)

    def job() -> dict[str, Any]:
        frame = mmm_predictions(runtime.settings, client_id, since, until)
        loaded = load_media_mix(runtime.settings, client_id)  # cached: the version mmm_predictions read
        report = loaded.fit_report
        return {
            "client_id": client_id,
            "kpi": loaded.kpi,
            "version": loaded.version,
            "period_days": report.get("period_days"),
            "interval_level": report.get("interval_level"),
            "rows": _prediction_rows(frame),
        }

    return await asyncio.to_thread(job)


@router.get("/predictions", response_model=MmmPredictionsOut, responses=_RANGE_ERRORS)
async def predictions(
    runtime: RuntimeDep, client_id: TenantDep, since: SinceParam = None, until: UntilParam = None
) -> dict[str, Any]:
    """Fitted and held-out predictions per period with their intervals, the actual KPI beside them."""
    return await _predictions(runtime, client_id, since, until)


@router.get(
    "/predictions.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}, **_RANGE_ERRORS}
)
async def predictions_csv(
    runtime: RuntimeDep, client_id: TenantDep, since: SinceParam = None, until: UntilParam = None
) -> Response:
    """The predictions as a CSV file: date, actual, predicted, lower, upper, split."""
    answer = await _predictions(runtime, client_id, since, until)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["date", "actual", "predicted", "lower", "upper", "split"])
    for row in answer["rows"]:
        writer.writerow(["" if v is None else safe_text(v) if isinstance(v, str) else v for v in row.values()])
    name = re.sub(r"[^A-Za-z0-9._-]", "_", client_id)
    return Response(
        content=buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="xmo-mmm-predictions-{name}.csv"'},
    )


@router.get("/decomposition", response_model=MmmDecompositionOut, responses=_RANGE_ERRORS)
async def decomposition(
    runtime: RuntimeDep, client_id: TenantDep, since: SinceParam = None, until: UntilParam = None
) -> dict[str, Any]:
    """The KPI per period split into the baseline and each channel's contribution, and totals with intervals."""
    _check_range(since, until)
    frame, totals = await asyncio.to_thread(mmm_decomposition, runtime.settings, client_id, since, until)
    channels, controls = list(totals["channels"]), list(totals["controls"])
    rows = [
        {
            "date": _day(record["date"]),
            "baseline": _number(record["baseline"]),
            "controls": {c: _number(record[c]) for c in controls},
            "contributions": {c: _number(record[c]) for c in channels},
            "predicted": _number(record["predicted"]),
        }
        for record in frame.to_dict("records")
    ]
    return {"client_id": client_id, **totals, "rows": rows}


@router.get("/curves", response_model=MmmCurvesOut, responses=_READ_ERRORS)
async def curves(
    runtime: RuntimeDep,
    client_id: TenantDep,
    points: Annotated[int, Query(ge=2, le=MAX_CURVE_POINTS, description="Spend levels per curve")] = 40,
) -> dict[str, Any]:
    """Each channel's response curve per period (effect and interval on a spend grid), the effect the model gives
    each fitted period's spend, and today's spend."""
    answer = await asyncio.to_thread(mmm_curves, runtime.settings, client_id, points)
    return {"client_id": client_id, **answer}
