"""Industry benchmarks: conversion rate and CPA pooled across the clients that opted in (privacy P8).

Any client's API key may read them, whether or not the client contributes: the numbers identify neither
clients nor users by construction (≥ k visitors and ≥ m clients per cell, no dominant pair of clients), and a
reader that does not contribute has less to subtract than one that does. The noise is the operator's
choice (``XMO_BENCHMARK_EPSILON``), not the caller's: letting callers pick epsilon would let them ask at many
values and combine the answers, spending far more privacy than the stated epsilon. The same question about the
same data always gets the same noise. Each read is audited (counts only).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from serving.deps import ActorDep, RuntimeDep, TenantDep
from serving.errors import error_responses
from strategy.industry import industry_benchmarks, record_publication

router = APIRouter(prefix="/v1/benchmarks", tags=["benchmarks"])


class BenchmarkThresholds(BaseModel):
    """What a cell needs to be published."""

    min_visitors: int
    min_clients: int
    max_two_client_share: float = Field(description="Largest share of a cell's visitors two clients may hold")


class BenchmarkCell(BaseModel):
    """One published cell: pooled counts and rates, no client id."""

    model_config = ConfigDict(extra="allow")

    visitors: int
    converted_visitors: int
    sessions: int
    conversions: int
    conversion_rate: float | None = Field(description="Visitors who converted / visitors")
    conversion_rate_interval: list[float] | None = Field(description="95% Wilson interval, from the published counts")
    cpa: float | None = Field(default=None, description="by=channel: spend / conversions of the clients with spend")
    cpa_interval: list[float | None] | None = Field(default=None, description="95% interval; null upper: unbounded")


class IndustryBenchmarksOut(BaseModel):
    """Published cells (the grouping's value is under the key named by ``by``), how many were suppressed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "by": "channel",
                    "cells": [
                        {
                            "channel": "search",
                            "visitors": 244,
                            "converted_visitors": 15,
                            "sessions": 329,
                            "conversions": 16,
                            "conversion_rate": 0.0615,
                            "conversion_rate_interval": [0.0376, 0.0989],
                            "cpa": 12.2,
                            "cpa_interval": [7.5, 21.4],
                        }
                    ],
                    "suppressed_cells": 2,
                    "thresholds": {"min_visitors": 10, "min_clients": 3, "max_two_client_share": 0.9},
                    "epsilon": None,
                    "noise_scales": {},
                    "session_cap": 20,
                    "confidence": 0.95,
                    "method": "Each visitor counts once, in the channel of their first session; …",
                }
            ]
        }
    )

    by: Literal["channel", "device"]
    cells: list[BenchmarkCell]
    suppressed_cells: int = Field(description="Cells withheld by the thresholds (not which)")
    thresholds: BenchmarkThresholds
    epsilon: float | None = Field(description="Differential-privacy epsilon of the noise on the counts; null: none")
    noise_scales: dict[str, float] = Field(description="Laplace scale per noised count")
    session_cap: int = Field(description="Sessions counted per visitor at most")
    confidence: float
    method: str


@router.get(
    "/industry",
    response_model=IndustryBenchmarksOut,
    responses=error_responses(400, e400="A threshold below the configured one"),
)
async def industry(
    runtime: RuntimeDep,
    client_id: TenantDep,
    actor: ActorDep,
    by: Annotated[
        Literal["channel", "device"],
        Query(
            description="Cells: each visitor's first-session channel or device class",
            openapi_examples={"channels": {"value": "channel"}, "devices": {"value": "device"}},
        ),
    ] = "channel",
    min_visitors: Annotated[
        int | None, Query(ge=2, le=1_000_000, description="Raise the visitors a cell needs (never lower)")
    ] = None,
    min_clients: Annotated[
        int | None, Query(ge=3, le=10_000, description="Raise the clients a cell needs (never lower)")
    ] = None,
) -> dict[str, Any]:
    """Conversion rate and CPA pooled across opted-in clients; small or dominated cells are suppressed."""

    def job() -> dict[str, Any]:
        result = industry_benchmarks(
            runtime.settings,
            by=by,
            epsilon=runtime.settings.benchmark_epsilon,
            min_visitors=min_visitors,
            min_clients=min_clients,
            tenants=runtime.tenants,
            load_sessions=runtime.sessions.sessions,
        )
        record_publication(runtime.tenants.engine, result, actor=actor, client_id=client_id)
        return result.to_dict()

    return await asyncio.to_thread(job)
