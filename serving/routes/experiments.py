"""A client's experiments (geo tests, on/off tests, visitor holdouts), the same jobs as ``xmo experiment``: design,
start, list, show, read, stop, and a holdout's audience, with the client's API key.

Designs and reads run on the client's sessions from the server's session cache, in a worker thread.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from core.errors import InvalidInput
from core.layout import StorageLayout
from serving.answers import (
    ExperimentAnalysisOut,
    ExperimentDesignOut,
    ExperimentOut,
    ExperimentsOut,
    ExperimentStoppedOut,
)
from serving.deps import ActorDep, RuntimeDep, TenantDep
from serving.errors import error_responses
from serving.query_params import DayParam
from serving.routes.mmm import finite
from serving.runtime import ServiceRuntime
from strategy.experiments.results import DEFAULT_LEVEL, MAX_WEEKS, DesignRequest
from strategy.experiments.service import (
    analyze_experiment,
    design_experiment,
    list_experiments,
    start_experiment,
    stop_experiment,
)
from tracking.experiments import Experiment, get_experiment

router = APIRouter(prefix="/v1/experiments", tags=["experiments"])

MAX_REGIONS = 500
ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,99}$"
_DESIGN_ERRORS = error_responses(
    400,
    404,
    409,
    e400="A bad field (the message names it), a KPI the client does not have, or too few regions for a geo test",
    e409="Not enough history yet to design the test on (the message says what is missing)",
)
_START_ERRORS = error_responses(
    400,
    404,
    409,
    e400="As for a design, or a test too weak to start, or one overlapping a stored test of the same channel "
    "(nothing is stored)",
    e409="Not enough history yet to design the test on",
)
_NO_SUCH = "No experiment of this id for the caller's client (the message lists its ids)"
_READ_ERRORS = error_responses(404, e404=_NO_SUCH)
_ANALYSIS_ERRORS = error_responses(
    400, 404, 409, e400="The stored test cannot be read", e404=_NO_SUCH, e409="The test has no full day to read yet"
)
_STOP_ERRORS = error_responses(
    400,
    404,
    409,
    e400="The stored test cannot be read",
    e404=_NO_SUCH,
    e409="Already stopped, or no full day of the test to read yet",
)
_AUDIENCE_ERRORS = error_responses(400, 404, 409, e400="Not a visitor holdout", e409="No sessions yet")

ExperimentId = Annotated[
    str, Path(pattern=ID_PATTERN, description="The experiment's id (GET /v1/experiments), e.g. geo-search-20270104")
]


class ExperimentDesignIn(BaseModel):
    """What test to plan: its kind and channel; every other field has a default."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"type": "geo", "channel": "search", "lift": 0.1, "weeks": 4, "action": "raise", "spend_change": 5000},
                {"type": "time", "channel": "tv", "weeks": 3, "action": "pause", "spend_change": -12000},
                {"type": "holdout", "channel": "email", "kpi": "conversions", "holdout_share": 0.1, "weeks": 4},
            ]
        },
    )

    type: Literal["geo", "time", "holdout"] = Field(
        description="geo: treatment and control regions; time: the channel paused or raised for some weeks; "
        "holdout: a share of visitors withheld from the channel"
    )
    channel: str = Field(min_length=1, max_length=100, pattern=r"\S", description="The channel the test changes")
    campaign_id: str | None = Field(default=None, min_length=1, max_length=200, description="Only this campaign")
    kpi: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="conversions or revenue (tracked), or for a time test a stored KPI column; default: revenue "
        "when conversions carry value, else conversions",
    )
    lift: float = Field(
        default=0.1, ge=-5, le=5, allow_inf_nan=False, description="The relative lift to detect (0.1: +10 %)"
    )
    weeks: int = Field(default=4, ge=1, le=MAX_WEEKS, description="The test's length in weeks")
    start: DayParam = Field(default=None, description="First day of the test (default: chosen by the design)")
    holdout_share: float = Field(
        default=0.1, allow_inf_nan=False, description="Holdout only: the share of visitors held out, 0.01 to 0.5"
    )
    action: Literal["raise", "pause"] | None = Field(
        default=None, description="What changes in the treated group (default: raise for geo, else pause)"
    )
    spend_change: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="The planned change of the channel's spend over the test (for the ROI)",
    )
    exclude_regions: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=MAX_REGIONS, description="Geo only: regions (time zones) kept out of the test"
    )
    level: float = Field(default=DEFAULT_LEVEL, ge=0.5, le=0.99, description="Level of the intervals (0.9: 90 %)")

    def request(self, note: str | None = None) -> DesignRequest:
        """The service's request."""
        return DesignRequest(
            type=self.type,
            channel=self.channel,
            campaign_id=self.campaign_id,
            kpi=self.kpi,
            lift=self.lift,
            weeks=self.weeks,
            start=self.start,
            holdout_share=self.holdout_share,
            action=self.action,
            spend_change=self.spend_change,
            exclude_regions=tuple(self.exclude_regions),
            level=self.level,
            note=note,
        )


class ExperimentStartIn(ExperimentDesignIn):
    """The test to design and start, with an optional note kept beside it."""

    note: str | None = Field(default=None, max_length=500, description="Why the test runs, for whoever reads it")


def _running_first(experiments: list[Experiment]) -> list[Experiment]:
    """Running tests, then finished ones; newest start first within each."""
    newest = sorted(experiments, key=lambda e: (e.start_date, e.created_at), reverse=True)
    return sorted(newest, key=lambda e: e.status != "running")


def _experiment(runtime: ServiceRuntime, client_id: str, experiment_id: str) -> Experiment:
    return get_experiment(StorageLayout.from_settings(runtime.settings), client_id, experiment_id)


@router.post("/design", response_model=ExperimentDesignOut, responses=_DESIGN_ERRORS)
async def design(body: ExperimentDesignIn, runtime: RuntimeDep, client_id: TenantDep) -> dict[str, Any]:
    """Plan a test on the client's own history: groups, dates, power for ``lift`` and the smallest lift it
    detects (by simulation on the real series). Nothing is stored."""
    client = runtime.tenants.get_client(client_id)
    request = body.request()
    found = await asyncio.to_thread(
        lambda: design_experiment(runtime.settings, client, request, loader=runtime.sessions.sessions)
    )
    return finite(found.to_dict())


@router.post(
    "", response_model=ExperimentOut, status_code=201, response_model_exclude_unset=True, responses=_START_ERRORS
)
async def start(body: ExperimentStartIn, runtime: RuntimeDep, client_id: TenantDep, actor: ActorDep) -> dict[str, Any]:
    """Design the test and store it as running (audited); the marketer then changes the spend as planned, or the
    client's systems read the holdout flag."""
    client = runtime.tenants.get_client(client_id)
    request = body.request(body.note)
    stored = await asyncio.to_thread(
        lambda: start_experiment(
            runtime.settings, runtime.tenants.engine, client, request, actor=actor, loader=runtime.sessions.sessions
        )
    )
    runtime.holdouts.forget(client_id)  # a new holdout flags visitors at once, not at the index's next look
    return finite(stored.to_dict())


@router.get("", response_model=ExperimentsOut, response_model_exclude_unset=True, responses=error_responses())
async def experiments(runtime: RuntimeDep, client_id: TenantDep) -> dict[str, Any]:
    """The client's experiments: running ones first, then finished ones, newest first; a finished one carries
    its result."""
    client = runtime.tenants.get_client(client_id)
    found = await asyncio.to_thread(list_experiments, runtime.settings, client)
    return {"experiments": [finite(e.to_dict()) for e in _running_first(found)]}


@router.get("/{experiment_id}", response_model=ExperimentOut, responses=_READ_ERRORS, response_model_exclude_unset=True)
async def experiment(experiment_id: ExperimentId, runtime: RuntimeDep, client_id: TenantDep) -> dict[str, Any]:
    """One experiment: its plan (the design at start), status and, once stopped, its result and lift test."""
    found = await asyncio.to_thread(_experiment, runtime, client_id, experiment_id)
    return finite(found.to_dict())


@router.get(
    "/{experiment_id}/analysis",
    response_model=ExperimentAnalysisOut,
    response_model_exclude_unset=True,
    responses=_ANALYSIS_ERRORS,
)
async def analysis(experiment_id: ExperimentId, runtime: RuntimeDep, client_id: TenantDep) -> dict[str, Any]:
    """Read the test up to yesterday (or its last day): incremental conversions and revenue with intervals, ROI,
    placebo or sample-ratio checks; ``interim`` when read before the planned end."""
    client = runtime.tenants.get_client(client_id)
    read = await asyncio.to_thread(
        lambda: analyze_experiment(runtime.settings, client, experiment_id, loader=runtime.sessions.sessions)
    )
    return finite(read.to_dict())


@router.post(
    "/{experiment_id}/stop",
    response_model=ExperimentStoppedOut,
    response_model_exclude_unset=True,
    responses=_STOP_ERRORS,
)
async def stop(
    experiment_id: ExperimentId, runtime: RuntimeDep, client_id: TenantDep, actor: ActorDep
) -> dict[str, Any]:
    """Stop a running test (audited): read it up to its last day, store the result and hand it to the media-mix
    model as a lift test (``experiment.result.handoff`` says which, or why not)."""
    client = runtime.tenants.get_client(client_id)
    stopped, read = await asyncio.to_thread(
        lambda: stop_experiment(
            runtime.settings,
            runtime.tenants.engine,
            client,
            experiment_id,
            actor=actor,
            loader=runtime.sessions.sessions,
        )
    )
    runtime.holdouts.forget(client_id)  # a stopped holdout flags no one from now on
    return {"experiment": finite(stopped.to_dict()), "analysis": finite(read.to_dict())}


def _audience_csv(runtime: ServiceRuntime, client_id: str, experiment_id: str) -> str:
    from strategy.experiments.holdout import HOLDOUT_KEY_PURPOSE, holdout_audience

    found = _experiment(runtime, client_id, experiment_id)
    if found.type != "holdout":
        raise InvalidInput(
            f"experiment {experiment_id!r} is a {found.type} test: only a holdout has an audience to exclude"
        )
    client = runtime.tenants.get_client(client_id)
    key = runtime.vault.derived_key(client_id, HOLDOUT_KEY_PURPOSE)
    visitors = holdout_audience(found, runtime.sessions.sessions(client), key)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["visitor_id"])
    writer.writerows([v] for v in visitors)
    return buffer.getvalue()


@router.get(
    "/{experiment_id}/audience",
    response_class=Response,
    responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **_AUDIENCE_ERRORS},
)
async def audience(experiment_id: ExperimentId, runtime: RuntimeDep, client_id: TenantDep) -> Response:
    """A holdout's visitors seen so far (CSV, one column ``visitor_id``): exclude them from the channel
    (retargeting, email); the pixel's ``X-Xmo-Holdout`` header and ``/v1/holdout`` say the same per visit."""
    text = await asyncio.to_thread(_audience_csv, runtime, client_id, experiment_id)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", experiment_id)
    return Response(
        content=text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="xmo-holdout-{name}.csv"', "Cache-Control": "no-store"},
    )
