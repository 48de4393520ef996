"""Scoring sessions with the caller's champion model."""

from __future__ import annotations

import asyncio
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query

from features.definitions import SCORING_COLUMNS
from serving.deps import RuntimeDep, TenantDep, require_model
from serving.model_store import LoadedModel
from serving.schemas import ModelInfo, ScoreRequest, ScoreResponse, SessionRecord, SessionScore

router = APIRouter(prefix="/v1", tags=["scoring"])
TOP_CONTRIBUTIONS = 5


def _score(model: LoadedModel, request: ScoreRequest, explain: bool) -> list[SessionScore]:
    frame = pd.DataFrame([s.model_dump() for s in request.sessions], columns=list(SCORING_COLUMNS))
    # MLflow signatures take zone-less datetimes (read as UTC) and doubles for every number
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True).dt.tz_localize(None)
    numeric = [
        c
        for c in SCORING_COLUMNS
        if c in SessionRecord.model_fields
        and c != "started_at"
        and SessionRecord.model_fields[c].annotation in (int | None, float | None)
    ]
    frame[numeric] = frame[numeric].astype("float64")
    result = model.model.predict(frame, params={"explain": True} if explain else None)
    if not explain:
        return [SessionScore(probability=float(p)) for p in result["probability"].to_numpy()]
    scores = []
    contrib_columns = [c for c in result.columns if c.startswith("contrib_") and c != "contrib_bias"]
    for _, row in result.iterrows():
        top = row[contrib_columns].astype(float).abs().sort_values(ascending=False).index[:TOP_CONTRIBUTIONS]
        contributions = {name.removeprefix("contrib_"): float(row[name]) for name in top}
        scores.append(SessionScore(probability=float(row["probability"]), contributions=contributions))
    return scores


@router.post("/score", response_model=ScoreResponse)
async def score(
    request: ScoreRequest,
    runtime: RuntimeDep,
    client_id: TenantDep,
    explain: Annotated[bool, Query(description="Add the top feature contributions (log-odds) per session")] = False,
) -> ScoreResponse:
    """Conversion probabilities of raw sessions from the client's champion model."""
    model = require_model(runtime, client_id)
    scores = await asyncio.to_thread(_score, model, request, explain)
    return ScoreResponse(model=ModelInfo(name=model.name, version=model.version, alias=model.alias), scores=scores)
