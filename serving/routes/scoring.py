"""Scoring sessions with the caller's champion model.

A body comes as rows (``{"sessions": [...]}``), as columns (``{"columns": {...}}``) or as an Arrow IPC
stream; each is read column by column (``serving.scoring_input``) and scored through the model's own
feature preparation and booster (``ConversionScorer.feature_matrix``): no DataFrame and no pydantic object
per session, so one session costs a fraction of a millisecond. Columns and Arrow skip the object per
session that parsing rows costs, the bulk of a large batch. Small bodies are scored on the event loop (a
thread hop would cost more); larger ones in a worker thread.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import numpy as np
import pydantic_core
from fastapi import APIRouter, Query, Request, Response

from serving.deps import RuntimeDep, TenantDep, require_model
from serving.errors import error_responses
from serving.model_store import LoadedModel
from serving.runtime import ServiceRuntime
from serving.schemas import MAX_TOP_CONTRIBUTIONS, ScoreColumnsRequest, ScoreRequest, ScoreResponse
from serving.scoring_input import ARROW_STREAM, SessionColumns, read_score_body

router = APIRouter(prefix="/v1", tags=["scoring"])
TOP_CONTRIBUTIONS = 5
INLINE_MAX_BYTES = 16 * 1024  # about 40 sessions: scored on the event loop in well under a millisecond


def _request_body() -> dict[str, Any]:
    """The OpenAPI request body: rows, columns or Arrow (the route reads the body itself, so FastAPI cannot see
    it)."""
    rows = ScoreRequest.model_json_schema(ref_template="#/$defs/{model}")
    definitions = rows.pop("$defs")
    rows["properties"]["sessions"]["items"] = definitions["SessionToScore"]  # inline: no $ref to resolve
    columns = ScoreColumnsRequest.model_json_schema()
    arrow = {"type": "string", "format": "binary"}
    description = (
        'JSON rows `{"sessions": [session, ...]}`, JSON columns `{"columns": {field: [value, ...]}}` (faster for '
        f"large batches), or an Arrow IPC stream (`Content-Type: {ARROW_STREAM}`, the fastest): uncompressed "
        "record batches whose columns are session fields — strings (or dictionaries of strings) for text, "
        "integers or floats for numbers, timestamps (zone-less read as UTC) or ISO 8601 strings for "
        "`started_at`; nulls are missing values. Every form takes 1 to 10,000 sessions and the same rules. "
        "Each form may carry `row_id`, your own id per session (a string of 1 to 200 characters or a 64-bit "
        "integer; in Arrow a string or integer column): it is not a model feature, is never logged or stored, "
        "and comes back unchanged beside the session's score."
    )
    content = {"application/json": {"schema": {"anyOf": [rows, columns]}}, ARROW_STREAM: {"schema": arrow}}
    return {"requestBody": {"required": True, "description": description, "content": content}}


def _top_contributions(
    names: np.ndarray, contributions: np.ndarray, top: int
) -> tuple[list[dict[str, float]], list[float], list[float]]:
    """Per session: the ``top`` largest contributions by absolute value (largest first), bias, raw log-odds."""
    features = contributions[:, :-1]
    order = np.argsort(-np.abs(features), axis=1, kind="stable")[:, :top]
    values = np.take_along_axis(features, order, axis=1).tolist()
    top_names = names[order].tolist()
    tops = [dict(zip(n, v, strict=True)) for n, v in zip(top_names, values, strict=True)]
    return tops, contributions[:, -1].tolist(), contributions.sum(axis=1).tolist()


def _probabilities_json(probabilities: np.ndarray) -> bytes:
    """``[{"probability": p}, ...]`` as JSON, written as one list of numbers (no dict per session)."""
    if not len(probabilities):
        return b"[]"
    numbers = pydantic_core.to_json(probabilities.tolist())  # b"[0.1,0.2]": a float's JSON has no comma
    return b'[{"probability":' + numbers[1:-1].replace(b",", b'},{"probability":') + b"}]"


def scores_json(model: LoadedModel, sessions: SessionColumns, *, explain: bool, top: int) -> bytes:
    """The ``ScoreResponse`` JSON of validated sessions (with each session's ``row_id`` when any was sent)."""
    scorer = model.scorer
    matrix = scorer.feature_matrix(sessions.columns, sessions.n_rows)
    probabilities = scorer.predict_matrix(matrix)
    if not explain and sessions.row_ids is not None:
        pairs = zip(sessions.row_ids, probabilities.tolist(), strict=True)
        scored = [{"row_id": row_id, "probability": p} for row_id, p in pairs]
        return pydantic_core.to_json({"model": model.info(), "scores": scored})
    if not explain:
        return (
            b'{"model":'
            + pydantic_core.to_json(model.info())
            + b',"scores":'
            + _probabilities_json(probabilities)
            + b"}"
        )
    names = np.asarray(scorer.feature_names, dtype=object)
    tops, bias, raw = _top_contributions(names, scorer.contributions_matrix(matrix), top)
    scores = [
        {"probability": p, "contributions": c, "bias": b, "raw_log_odds": r}
        for p, c, b, r in zip(probabilities.tolist(), tops, bias, raw, strict=True)
    ]
    if sessions.row_ids is not None:
        scores = [{"row_id": row_id, **score} for row_id, score in zip(sessions.row_ids, scores, strict=True)]
    return pydantic_core.to_json({"model": model.info(), "scores": scores})


def score_body(
    runtime: ServiceRuntime, client_id: str, body: bytes, content_type: str | None, *, explain: bool, top: int
) -> bytes:
    """Validate a request body, then score it with the client's champion (a bad body is reported first)."""
    sessions = read_score_body(body, content_type)
    return scores_json(require_model(runtime, client_id), sessions, explain=explain, top=top)


@router.post(
    "/score",
    response_model=ScoreResponse,
    openapi_extra=_request_body(),
    responses=error_responses(
        400,
        409,
        422,
        e400="A session start that cannot be read in the client's time zone",
        e409="The client has no champion model yet (train one with `xmo train`)",
        e422="A body that is not JSON (or not an uncompressed Arrow stream), a session with a bad or unknown "
        "field, columns of unequal length, or over 10,000 sessions; details lists the invalid fields",
    ),
)
async def score(
    request: Request,
    runtime: RuntimeDep,
    client_id: TenantDep,
    explain: Annotated[bool, Query(description="Add the top feature contributions (log-odds) per session")] = False,
    top: Annotated[
        int, Query(ge=1, le=MAX_TOP_CONTRIBUTIONS, description="Contributions per session with explain")
    ] = TOP_CONTRIBUTIONS,
) -> Response:
    """Conversion probabilities of raw sessions (one, or a batch of up to 10,000) from the client's champion.

    Sessions carry the fields of the feature pipeline (all optional; unknown fields are refused), as JSON
    rows, JSON columns or an Arrow IPC stream, and optionally ``row_id``, the caller's id per session, which
    comes back beside its score. The answer names the model version that scored, and with ``explain=true``
    the features that moved each score.
    """
    body = await request.body()
    content_type = request.headers.get("content-type")
    if len(body) <= INLINE_MAX_BYTES:
        content = score_body(runtime, client_id, body, content_type, explain=explain, top=top)
    else:
        content = await asyncio.to_thread(score_body, runtime, client_id, body, content_type, explain=explain, top=top)
    return Response(content, media_type="application/json")
