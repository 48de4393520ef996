"""The demo: one real run through every stage on a fresh XMO_HOME.

Hits through the HTTP pixel into the durable spool → compaction into the Parquet lake → sessions and an
anonymized training set → a LightGBM model in MLflow with alias ``champion`` → the API scoring sessions
and recommending budget and creatives. Simulated traffic has a ground truth to compare with. A reused demo
names the model that is champion now (:func:`current_champion`), not the one it trained.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from mlflow.exceptions import MlflowException

from core.apikeys import KeyKind
from core.database import dispose_engines
from core.errors import Conflict, XmoError
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from features.dataset import build_dataset, list_datasets
from features.definitions import example_session_records
from models.registry import CHAMPION, configure_mlflow, conversion_model_name
from privacy.keyvault import KeyVault
from tracking.compactor import compact_all
from tracking.lake import count_events
from tracking.spend import upsert_spend
from training.run_logging import quiet_mlflow
from training.train import train_conversion_model
from xmo.server_process import ServerProcess, free_port
from xmo.simulator.http import send_via_http
from xmo.simulator.traffic import simulate
from xmo.simulator.truth import write_truth
from xmo.simulator.world import build_world

DEMO_CLIENT_ID = "demo-shop"
DEMO_DOMAIN = "shop.example.com"
SUMMARY_FILE = "demo-summary.json"


@dataclass(frozen=True)
class DemoOptions:
    """What ``xmo demo`` was asked to do."""

    days: int = 30
    visitors_per_day: int = 400
    seed: int = 7
    port: int = 8000
    serve: bool = True
    reset: bool = False


@dataclass
class DemoSummary:
    """What the demo did and found (no secrets; saved as ``run/demo-summary.json``)."""

    client_id: str
    days: int
    seed: int
    hits_sent: int = 0
    hits_accepted: int = 0
    drops: dict[str, int] = field(default_factory=dict)
    events_in_lake: int = 0
    dataset_id: str = ""
    dataset_rows: int = 0
    model_name: str = ""
    model_version: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)
    creatives: list[dict[str, Any]] = field(default_factory=list)
    truth_best_creatives: dict[str, dict[str, str]] = field(default_factory=dict)
    sample_scores: list[float] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=dict)

    def creative_agreement(self) -> tuple[int, int]:
        """How many confident (campaign, device) picks match the simulator's truth, out of how many."""
        picks = [r for r in self.creatives if r["decision"] == "run" and r["segment"] != "all"]
        right = sum(
            1
            for r in picks
            if self.truth_best_creatives.get(r["campaign_id"], {}).get(r["segment"]) == r["best_creative_id"]
        )
        return right, len(picks)


class DemoRefused(XmoError):
    """XMO_HOME holds data that the demo will not touch."""

    code = "demo_refused"


Report = Callable[[str], None]


def _looks_like_xmo_home(home: Path) -> bool:
    known = {
        "xmo.db",
        "mlflow.db",
        "master.key",
        "keys",
        "spool",
        "lake",
        "datasets",
        "mlartifacts",
        "run",
        "optuna.db",
        "demo",
        "server.log",
    }
    return all(p.name in known or p.name.startswith(("xmo.db", "mlflow.db")) for p in home.iterdir())


def prepare_home(settings: Settings, options: DemoOptions) -> DemoSummary | None:
    """Return the saved summary when a finished demo can be reused, else make sure the home is empty."""
    home = settings.home
    if not home.exists() or not any(home.iterdir()):
        return None
    summary_path = StorageLayout(home).runtime_dir / SUMMARY_FILE
    if options.reset:
        if not _looks_like_xmo_home(home):
            raise DemoRefused(f"{home} holds files xmo did not make; not deleting it. Set XMO_HOME to another folder")
        dispose_engines()
        shutil.rmtree(home)
        return None
    if summary_path.exists():
        return DemoSummary(**json.loads(summary_path.read_text()))
    raise DemoRefused(
        f"{home} already holds xmo data from another or an unfinished run; "
        "rerun with --reset to start over, or set XMO_HOME to another folder"
    )


@contextmanager
def _stage(summary: DemoSummary, name: str, report: Report) -> Iterator[None]:
    report(name)
    started = time.perf_counter()
    yield
    summary.stage_seconds[name] = round(time.perf_counter() - started, 2)


def _api(server: ServerProcess, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=120.0)


def _checked(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise XmoError(
            f"{response.request.method} {response.request.url.path} answered {response.status_code}: "
            f"{response.text[:300]}"
        )
    return response.json()


def run_pipeline(
    settings: Settings, options: DemoOptions, server: ServerProcess, keys: dict[str, str], report: Report
) -> DemoSummary:
    """Every stage, against the running server; returns the summary."""
    summary = DemoSummary(client_id=DEMO_CLIENT_ID, days=options.days, seed=options.seed)
    layout = StorageLayout.from_settings(settings)
    with _stage(summary, "simulating traffic", report):
        world = build_world(options.seed, options.days, options.visitors_per_day)
        traffic = simulate(world, client_id=DEMO_CLIENT_ID, domain=DEMO_DOMAIN)
        write_truth(layout.home / "demo" / "truth", world, traffic)
        summary.truth_best_creatives = world.best_creatives()
    with _stage(summary, "sending hits to the pixel over HTTP", report):
        sent = send_via_http(traffic.hits, server.url, keys["site_key"], keys["api_key"])
        summary.hits_sent = sent.sent
    with _stage(summary, "importing daily spend", report):
        upsert_spend(layout, DEMO_CLIENT_ID, traffic.spend)
    with _stage(summary, "compacting the spool into the lake", report):
        compact_all(settings)  # the server compacts too, in the background: count what the lake holds
        summary.events_in_lake = count_events(layout, DEMO_CLIENT_ID)
        with _api(server, keys["admin_key"]) as admin:
            ingest = _checked(admin.get("/readyz"))["checks"]["ingest"]
        summary.hits_accepted = int(ingest["accepted"])
        summary.drops = dict(ingest["dropped"])
    with _stage(summary, "building the anonymized training set", report):
        manifest = build_dataset(settings, DEMO_CLIENT_ID)
        summary.dataset_id = manifest.dataset_id
        summary.dataset_rows = sum(manifest.row_counts.values())
    with _stage(summary, "training and registering the model", report):
        result = train_conversion_model(settings, DEMO_CLIENT_ID, manifest.dataset_id)
        summary.model_name, summary.model_version = result.model_name, result.model_version
        summary.metrics = {k: round(v, 4) for k, v in result.metrics.items()}
    with _stage(summary, "serving scores and recommendations", report), _api(server, keys["api_key"]) as api:
        _checked(api.post("/v1/models/reload"))
        records = json.loads(example_session_records().to_json(orient="records", date_format="iso"))
        scored = _checked(api.post("/v1/score", json={"sessions": records}))
        summary.sample_scores = [round(s["probability"], 4) for s in scored["scores"]]
        weekly_spend = float(traffic.spend.groupby("date")["spend"].sum().tail(7).sum())
        summary.budget = _checked(
            api.get("/v1/recommendations/budget", params={"total": round(weekly_spend, 2), "period": "week"})
        )
        summary.creatives = _checked(api.get("/v1/recommendations/creatives"))["recommendations"]
    return summary


def create_demo_client(settings: Settings) -> dict[str, str]:
    """The demo client with PII collection on (pseudonyms only), and an admin key."""
    tenants = Tenants.from_settings(settings)
    created = tenants.create_client("Demo Shop", [DEMO_DOMAIN], client_id=DEMO_CLIENT_ID, collect_pii=True)
    KeyVault.from_settings(settings).client_key(DEMO_CLIENT_ID)
    return {
        "site_key": created.site_key,
        "api_key": created.api_key,
        "admin_key": tenants.rotate_key(KeyKind.ADMIN, actor="demo"),
    }


def fresh_keys(settings: Settings) -> dict[str, str]:
    """New keys for a reused demo (the old ones were shown once and are not stored)."""
    tenants = Tenants.from_settings(settings)
    try:
        tenants.get_client(DEMO_CLIENT_ID)
    except XmoError as exc:
        raise Conflict(f"the saved demo in {settings.home} lost its client; rerun with --reset") from exc
    return {
        "site_key": tenants.rotate_key(KeyKind.SITE, DEMO_CLIENT_ID, actor="demo"),
        "api_key": tenants.rotate_key(KeyKind.API, DEMO_CLIENT_ID, actor="demo"),
        "admin_key": tenants.rotate_key(KeyKind.ADMIN, actor="demo"),
    }


def current_champion(settings: Settings, summary: DemoSummary) -> DemoSummary:
    """``summary`` with the registry's champion today: its version, test metrics and training-set size.

    A later ``xmo train``/``xmo promote`` may have moved the alias since the demo ran; with no champion at all
    the version is empty.
    """
    name = summary.model_name or conversion_model_name(summary.client_id)
    with quiet_mlflow():
        client = configure_mlflow(settings)
        try:
            version = client.get_model_version_by_alias(name, CHAMPION)
        except MlflowException:
            return replace(summary, model_name=name, model_version="", metrics={})
        if str(version.version) == summary.model_version:
            return summary
        run = client.get_run(version.run_id) if version.run_id else None
    logged = run.data.metrics if run is not None else {}
    metrics = {k.removeprefix("test_"): round(v, 4) for k, v in logged.items() if k.startswith("test_")}
    dataset_id = run.data.params.get("dataset_id", "") if run is not None else ""
    rows = {m.dataset_id: sum(m.row_counts.values()) for m in list_datasets(settings, summary.client_id)}
    return replace(
        summary,
        model_name=name,
        model_version=str(version.version),
        metrics=metrics,
        dataset_id=dataset_id,
        dataset_rows=rows.get(dataset_id, 0),
    )


def save_summary(settings: Settings, summary: DemoSummary) -> Path:
    """Write the summary next to the other runtime state."""
    path = StorageLayout.from_settings(settings).ensure().runtime_dir / SUMMARY_FILE
    path.write_text(json.dumps(asdict(summary), indent=2, default=str))
    return path


def demo_port(options: DemoOptions) -> int:
    """The port to collect on: the asked one when serving afterwards, any free one otherwise."""
    return options.port if options.serve else free_port()
