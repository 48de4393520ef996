"""Scoring sessions with the caller's champion model."""

from __future__ import annotations

import asyncio
from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Query

from serving.deps import ModelDep
from serving.schemas import ModelInfo, ScoreRequest, ScoreResponse, SessionScore

router = APIRouter(prefix="/v1", tags=["scoring"])
TOP_CONTRIBUTIONS = 5


def _score(model: ModelDep, request: ScoreRequest, explain: bool) -> list[SessionScore]:
    frame = pd.DataFrame([s.model_dump() for s in request.sessions])
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
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
    model: ModelDep,
    explain: Annotated[bool, Query(description="Add the top feature contributions (log-odds) per session")] = False,
) -> ScoreResponse:
    """Conversion probabilities of raw sessions from the client's champion model."""
    scores = await asyncio.to_thread(_score, model, request, explain)
    return ScoreResponse(model=ModelInfo(name=model.name, version=model.version, alias=model.alias), scores=scores)
