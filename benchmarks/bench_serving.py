"""Benchmark: scoring over HTTP, `xmo serve` against `mlflow models serve` on the same model, requests and machine.

    .venv/bin/python benchmarks/bench_serving.py [--days 14] [--visitors-per-day 300] [--seed 42] [--single 1000]
                                                 [--seconds 10] [--connections 32] [--workers 1] [--home DIR]
                                                 [--quick]

**Model.** A simulated client (``xmo.simulator``, ``--days`` × ``--visitors-per-day``, Europe/Berlin) is written to
the lake, sessionized into a training set and trained with the default hyperparameters (early stopping, no
tuning), exactly as ``xmo train`` does; the first version is registered as ``champion`` in the temporary home's
MLflow registry. The requests carry that client's own lake sessions (``build_sessions``), as JSON records of the
scoring fields: zone-less UTC times, numbers as doubles, null where missing. Both servers get the same records:
``{"sessions": [...]}`` to ``POST /v1/score`` (with the client's API key), ``{"dataframe_records": [...]}`` to
``POST /invocations``. xmo's batches are also sent in its two column forms: JSON ``{"columns": {field: [...]}}``
and an Arrow IPC stream (``pa.table`` of the same values: strings, doubles, ``started_at`` as ``timestamp[s]``).

**Servers.** ``xmo serve`` (``--workers``, rate limits off so that the load is measured rather than refused,
everything else as configured by default, JSON access logs included) and ``mlflow models serve -m
models:/<name>@champion --env-manager local`` (same ``--workers``), each on a free port of 127.0.0.1 and
measured alone (the other one is stopped). Traffic never leaves the loopback interface.

**Measures**, per server: the scores of 1,000 sessions (compared with the in-process pyfunc: both must agree);
single-session requests one after another over one keep-alive connection (``--single`` requests after a warm-up;
p50/p99 as the client sees them, stdlib ``http.client``); single-session requests/s at ``--connections``
connections for ``--seconds`` (``wrk`` with a Lua script cycling through the bodies when /usr/bin/wrk exists,
else a bounded asyncio httpx client); batches of 1,000 and 10,000 sessions, one after another (rows/s of the
median request, end to end: sending the body, parsing, features, prediction and the answer). The floor is a bare
in-process ``Booster.predict`` on the feature matrix of the same rows, with the threads the service uses (one
below 2,000 rows, every core from there on). The column forms are measured the same way (batches only) and their
scores of 1,000 sessions must equal the row form's.

Targets on 2 cores: xmo single-session p50 <= 2 ms and p99 <= 10 ms; xmo requests/s >= 5x MLflow's; xmo batch
scoring >= 200,000 rows/s on the 10,000-session batch (judged on the fastest body form, named; the row form's
figure is printed beside it). The machine's load average is printed before and after:
other work on the same cores slows both servers. Prints a table, the targets (met or missed, with the gap),
then one line of JSON with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from machine import cpu_model, load_avg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_P50_MS = 2.0
TARGET_P99_MS = 10.0
TARGET_RPS_RATIO = 5.0
TARGET_BATCH_ROWS_PER_S = 200_000
BATCH_SIZES = (1_000, 10_000)
CLIENT = "bench"
TIMEZONE = "Europe/Berlin"
WARM_UP_REQUESTS = 200
READY_TIMEOUT_S = 120.0
QUICK = {"days": 5, "visitors_per_day": 200, "single": 200, "seconds": 3}
REPO_ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# the model and the requests ----------------------------------------------------------------------------------
def prepare_model(home: Path, days: int, visitors_per_day: int, seed: int) -> tuple[Any, str, str]:
    """A home with client ``bench``, its lake and a trained champion; returns (settings, API key, model name)."""
    from core.settings import Settings
    from core.tenants import Tenants
    from features.dataset import build_dataset
    from tracking.compactor import compact_all
    from training.train import train_conversion_model
    from xmo.simulator.cli import run_simulation

    settings = Settings(home=home, compact_interval_s=0, model_reload_interval_s=0)
    tenants = Tenants.from_settings(settings)
    created = tenants.create_client("Bench", ["bench.example"], client_id=CLIENT, timezone=TIMEZONE)
    run_simulation(settings, CLIENT, days=days, visitors_per_day=visitors_per_day, seed=seed)
    compact_all(settings)
    manifest = build_dataset(settings, CLIENT)
    result = train_conversion_model(settings, CLIENT, manifest.dataset_id, baselines=False)
    assert result.aliases == ["champion"], result.aliases
    return settings, created.api_key, result.model_name


def session_records(settings: Any, count: int) -> list[dict[str, Any]]:
    """``count`` of the client's lake sessions (repeated if it has fewer) as JSON records of the scoring fields."""
    import pandas as pd

    from core.layout import StorageLayout
    from features.session_schema import SCORING_COLUMNS
    from features.sessions import build_sessions

    sessions = build_sessions(StorageLayout.from_settings(settings), CLIENT, timezone=TIMEZONE)
    frame = sessions[list(SCORING_COLUMNS)].copy()
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True).dt.tz_localize(None)
    numbers = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    frame[numbers] = frame[numbers].astype("float64")  # MLflow's signature takes doubles; xmo reads 4.0 as 4
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso", date_unit="s"))
    return [records[i % len(records)] for i in range(count)]


# servers ------------------------------------------------------------------------------------------------------
class Server:
    """A server process on 127.0.0.1, stopped with its process group."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], port: int, ready_path: str, log: Path):
        self.name, self.command, self.env, self.port, self.ready_path, self.log = (
            name,
            command,
            env,
            port,
            ready_path,
            log,
        )
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", self.ready_path)
                if connection.getresponse().status == 200:
                    connection.close()
                    return self
            time.sleep(0.25)
        self.__exit__()
        raise RuntimeError(f"{self.name} was not ready after {READY_TIMEOUT_S:.0f} s; see {self.log}")

    def __exit__(self, *exc: object) -> None:
        if self.process is None:
            return
        for sig, grace in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue


def free_port() -> int:
    from xmo.server_process import free_port as port

    return port()


def xmo_server(home: Path, workers: int, scratch: Path) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "XMO_HOME": str(home),
        "XMO_RATE_LIMIT_PER_MINUTE": "0",
        "XMO_COMPACT_INTERVAL_S": "0",
        "PYTHONPATH": str(REPO_ROOT),
    }
    command = [sys.executable, "-m", "xmo", "serve", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers)]
    return Server("xmo serve", command, env, port, "/healthz", scratch / "xmo-serve.log")


def mlflow_server(settings: Any, model_name: str, workers: int, scratch: Path) -> Server:
    port = free_port()
    uri = settings.effective_mlflow_tracking_uri
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
        "XMO_HOME": str(settings.home),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "PYTHONPATH": str(REPO_ROOT),
        "TMPDIR": str(scratch),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    }
    command = [
        sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{model_name}@champion",
        "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "--workers", str(workers),
    ]  # fmt: skip
    return Server("mlflow models serve", command, env, port, "/ping", scratch / "mlflow-serve.log")


# the two APIs ------------------------------------------------------------------------------------------------
class Api:
    """How one server takes sessions and gives probabilities."""

    def __init__(self, name: str, server: Server, path: str, key: str | None, records_key: str):
        self.name, self.server, self.path, self.records_key = name, server, path, records_key
        self.headers = {"Content-Type": "application/json"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"

    def body(self, records: list[dict[str, Any]]) -> bytes:
        return json.dumps({self.records_key: records}, separators=(",", ":")).encode()

    def probabilities(self, answer: bytes) -> list[float]:
        body = json.loads(answer)
        rows = body["scores"] if "scores" in body else body["predictions"]
        return [float(row["probability"]) for row in rows]

    @contextlib.contextmanager
    def connection(self) -> Iterator[http.client.HTTPConnection]:
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=120)
        try:
            yield connection
        finally:
            connection.close()

    def post(self, connection: http.client.HTTPConnection, body: bytes) -> bytes:
        connection.request("POST", self.path, body=body, headers=self.headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200:
            raise RuntimeError(f"{self.name} answered {response.status}: {answer[:300]!r}")
        return answer


class ColumnsApi(Api):
    """xmo's JSON column form: ``{"columns": {field: [value, ...]}}``."""

    def body(self, records: list[dict[str, Any]]) -> bytes:
        columns = {name: [record.get(name) for record in records] for name in records[0]}
        return json.dumps({"columns": columns}, separators=(",", ":")).encode()


class ArrowApi(Api):
    """xmo's Arrow form: one uncompressed IPC stream of the records' values."""

    def __init__(self, name: str, server: Server, path: str, key: str | None):
        super().__init__(name, server, path, key, "")
        self.headers["Content-Type"] = "application/vnd.apache.arrow.stream"

    def body(self, records: list[dict[str, Any]]) -> bytes:
        import pyarrow as pa
        import pyarrow.compute as pc

        columns = {name: pa.array([record.get(name) for record in records]) for name in records[0]}
        columns["started_at"] = pc.strptime(columns["started_at"], format="%Y-%m-%dT%H:%M:%S", unit="s")
        table = pa.table(columns)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return bytes(sink.getvalue())


def sequential_latencies(api: Api, bodies: list[bytes], count: int) -> list[float]:
    """Milliseconds of ``count`` single-session requests, one after another on one keep-alive connection."""
    latencies = []
    with api.connection() as connection:
        for i in range(WARM_UP_REQUESTS):
            api.post(connection, bodies[i % len(bodies)])
        for i in range(count):
            started = time.perf_counter()
            api.post(connection, bodies[i % len(bodies)])
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def batch_rows_per_s(api: Api, body: bytes, rows: int, repeats: int) -> dict[str, float]:
    """Rows/s of the median of ``repeats`` requests of ``rows`` sessions (after one warm-up request)."""
    seconds = []
    with api.connection() as connection:
        api.post(connection, body)
        for _ in range(repeats):
            started = time.perf_counter()
            answer = api.post(connection, body)
            seconds.append(time.perf_counter() - started)
            assert len(api.probabilities(answer)) == rows
    median = statistics.median(seconds)
    return {"rows_per_s": rows / median, "median_ms": median * 1000, "repeats": repeats}


def _duration_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip()).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(api: Api, bodies: list[bytes], seconds: int, connections: int, scratch: Path) -> dict[str, float]:
    """wrk's figures for single-session requests cycling through ``bodies``."""
    lines = scratch / f"bodies-{api.server.port}.jsonl"
    lines.write_bytes(b"\n".join(bodies) + b"\n")
    headers = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in api.headers.items())
    script = scratch / f"post-{api.server.port}.lua"
    script.write_text(
        f'wrk.method = "POST"\n{headers}\nlocal bodies = {{}}\n'
        f'for line in io.lines("{lines}") do bodies[#bodies + 1] = line end\n'
        "local i = 0\nrequest = function()\n  i = i % #bodies + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[i])\nend\n"
    )
    url = f"http://127.0.0.1:{api.server.port}{api.path}"
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "30s", "--latency", "-s", str(script)]
    command.append(url)
    out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    if "50" not in latency:
        raise RuntimeError(f"wrk got no answers from {api.name}:\n{out}")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "requests_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50_ms": _duration_ms(latency["50"]),
        "p99_ms": _duration_ms(latency["99"]),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "failed": (int(errors.group(1)) if errors else 0)
        + (sum(int(g) for g in socket_errors.groups()) if socket_errors else 0),
    }


def run_asyncio(api: Api, bodies: list[bytes], seconds: int, connections: int, _scratch: Path) -> dict[str, float]:
    """The same figures from a bounded asyncio client (when wrk is not installed)."""
    import httpx

    latencies: list[float] = []
    failures = 0
    url = f"http://127.0.0.1:{api.server.port}{api.path}"

    async def lane(offset: int, deadline: float) -> None:
        nonlocal failures
        async with httpx.AsyncClient(timeout=30.0, headers=api.headers) as client:
            i = offset
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post(url, content=bodies[i % len(bodies)])
                latencies.append((time.perf_counter() - started) * 1000)
                failures += response.status_code != 200
                i += connections

    async def main() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(lane(i, started + seconds) for i in range(connections)))
        return time.perf_counter() - started

    wall = asyncio.run(main())
    return {
        "requests_per_s": len(latencies) / wall,
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "requests": len(latencies),
        "failed": failures,
    }


def measure(
    api: Api, records: list[dict[str, Any]], args: argparse.Namespace, scratch: Path, load: Any
) -> dict[str, Any]:
    """Every figure of one running server."""
    singles = [api.body([record]) for record in records[:1000]]
    with api.connection() as connection:
        scores = api.probabilities(api.post(connection, api.body(records[:1000])))
    latencies = sequential_latencies(api, singles, args.single)
    figures: dict[str, Any] = {
        "scores_1000": scores,
        "single_p50_ms": percentile(latencies, 0.5),
        "single_p90_ms": percentile(latencies, 0.9),
        "single_p99_ms": percentile(latencies, 0.99),
        "single_mean_ms": statistics.fmean(latencies),
        "single_requests": len(latencies),
    }
    load(api, singles, 2, args.connections, scratch)  # warm-up of every connection
    concurrent = load(api, singles, args.seconds, args.connections, scratch)
    figures.update({f"concurrent_{k}": v for k, v in concurrent.items()})
    for rows in BATCH_SIZES:
        body = api.body(records[:rows])
        repeats = args.batch_repeats if api.name == "xmo" else max(3, args.batch_repeats // 3)
        batch = batch_rows_per_s(api, body, rows, repeats)
        figures.update({f"batch_{rows}_{k}": v for k, v in batch.items()})
    return figures


def measure_batches(api: Api, records: list[dict[str, Any]], repeats: int) -> dict[str, Any]:
    """Batch figures of one body form of a running server (and its scores of 1,000 sessions)."""
    with api.connection() as connection:
        figures: dict[str, Any] = {"scores_1000": api.probabilities(api.post(connection, api.body(records[:1000])))}
    for rows in BATCH_SIZES:
        body = api.body(records[:rows])
        figures.update({f"batch_{rows}_{k}": v for k, v in batch_rows_per_s(api, body, rows, repeats).items()})
        figures[f"batch_{rows}_body_bytes"] = len(body)
    return figures


def booster_floor(settings: Any, model_name: str, records: list[dict[str, Any]], single: int) -> dict[str, float]:
    """A bare in-process ``Booster.predict`` (threads as the service uses them) on the same rows' features."""
    import mlflow.pyfunc

    from models.pyfunc import predict_threads
    from models.registry import configure_mlflow
    from serving.scoring_input import session_columns

    configure_mlflow(settings)
    scorer = mlflow.pyfunc.load_model(f"models:/{model_name}@champion").unwrap_python_model().scorer
    sessions = session_columns({"sessions": records})
    matrix = scorer.feature_matrix(sessions.columns, sessions.n_rows)

    def predict(rows: Any) -> Any:
        threads = predict_threads(len(rows))
        return scorer.booster.predict(rows, num_iteration=scorer.num_iteration, num_threads=threads)

    latencies = []
    for i in range(WARM_UP_REQUESTS + single):
        row = matrix[i % 1000 : i % 1000 + 1]
        started = time.perf_counter()
        predict(row)
        if i >= WARM_UP_REQUESTS:
            latencies.append((time.perf_counter() - started) * 1000)
    figures = {
        "trees": float(scorer.num_iteration),
        "single_p50_ms": percentile(latencies, 0.5),
        "single_p99_ms": percentile(latencies, 0.99),
    }
    for rows in BATCH_SIZES:
        predict(matrix[:rows])
        seconds = []
        for _ in range(5):
            started = time.perf_counter()
            predict(matrix[:rows])
            seconds.append(time.perf_counter() - started)
        figures[f"batch_{rows}_rows_per_s"] = rows / statistics.median(seconds)
    return figures


# report ------------------------------------------------------------------------------------------------------
def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--visitors-per-day", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--single", type=int, default=1000, help="sequential single-session requests per server")
    parser.add_argument("--seconds", type=int, default=10, help="length of the concurrent load")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers of each server")
    parser.add_argument("--batch-repeats", type=int, default=10)
    parser.add_argument("--home", type=Path, help="keep the run's XMO_HOME here (default: a temporary folder)")
    parser.add_argument("--quick", action="store_true", help="a small, short run to check the script")
    args = parser.parse_args()
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
        args.batch_repeats = 3

    load = run_wrk if Path("/usr/bin/wrk").exists() or shutil.which("wrk") else run_asyncio
    load_before = load_avg()
    scratch = Path(tempfile.mkdtemp(prefix="xmo-bench-serving-"))
    home = args.home or scratch / "xmo-home"
    os.environ["XMO_HOME"] = str(home)
    try:
        started = time.perf_counter()
        settings, api_key, model_name = prepare_model(home, args.days, args.visitors_per_day, args.seed)
        records = session_records(settings, max(BATCH_SIZES))
        setup_s = time.perf_counter() - started
        floor = booster_floor(settings, model_name, records, args.single)
        figures: dict[str, dict[str, Any]] = {}
        with xmo_server(home, args.workers, scratch) as server:
            figures["xmo"] = measure(Api("xmo", server, "/v1/score", api_key, "sessions"), records, args, scratch, load)
            columns_api = ColumnsApi("xmo columns", server, "/v1/score", api_key, "")
            figures["xmo_columns"] = measure_batches(columns_api, records, args.batch_repeats)
            arrow_api = ArrowApi("xmo arrow", server, "/v1/score", api_key)
            figures["xmo_arrow"] = measure_batches(arrow_api, records, args.batch_repeats)
        with mlflow_server(settings, model_name, args.workers, scratch) as server:
            mlflow_api = Api("mlflow", server, "/invocations", None, "dataframe_records")
            figures["mlflow"] = measure(mlflow_api, records, args, scratch, load)
    finally:
        if args.home is None:
            shutil.rmtree(scratch, ignore_errors=True)
    load_after = load_avg()
    report(args, figures, floor, setup_s, load_before, load_after, "wrk" if load is run_wrk else "asyncio")


def report(
    args: argparse.Namespace,
    figures: dict[str, dict[str, Any]],
    floor: dict[str, float],
    setup_s: float,
    load_before: list[float],
    load_after: list[float],
    generator: str,
) -> None:
    xmo, mlflow = figures["xmo"], figures["mlflow"]
    forms = {"JSON columns": figures["xmo_columns"], "Arrow IPC": figures["xmo_arrow"]}
    row_scores = xmo.pop("scores_1000")
    difference = max(abs(a - b) for a, b in zip(row_scores, mlflow.pop("scores_1000"), strict=True))
    same = {name: f.pop("scores_1000") == row_scores for name, f in forms.items()}
    if not all(same.values()):
        raise RuntimeError(f"the body forms scored the same sessions differently: {same}")
    print(
        f"serving benchmark — {os.cpu_count()} CPUs ({cpu_model()}), load average {load_before} before, "
        f"{load_after} after; {args.workers} worker(s) per server; concurrent load by {generator}, "
        f"{args.connections} connections, {args.seconds} s; setup (simulate, train, register) {setup_s:.0f} s; "
        f"the model has {floor['trees']:.0f} trees"
    )
    print(
        f"scores of the same 1,000 sessions: xmo vs MLflow differ by at most {difference:.1e}; xmo's JSON columns "
        "and Arrow bodies score exactly as its rows"
    )
    print()
    print(f"{'':24}{'p50 ms':>9}{'p99 ms':>9}{'req/s @' + str(args.connections):>12}{'failed':>8}", end="")
    print(f"{'1k rows/s':>12}{'10k rows/s':>12}")
    rows = (("xmo serve", xmo), ("mlflow models serve", mlflow))
    for name, f in rows:
        print(
            f"{name:24}{f['single_p50_ms']:>9.2f}{f['single_p99_ms']:>9.2f}{f['concurrent_requests_per_s']:>12,.0f}"
            f"{int(f['concurrent_failed']):>8}{f['batch_1000_rows_per_s']:>12,.0f}{f['batch_10000_rows_per_s']:>12,.0f}"
        )
    for name, f in forms.items():
        label = f"xmo serve, {name}"
        print(f"{label:24}{'':>9}{'':>9}{'':>12}{'':>8}", end="")
        print(f"{f['batch_1000_rows_per_s']:>12,.0f}{f['batch_10000_rows_per_s']:>12,.0f}")
    print(
        f"{'Booster.predict floor':24}{floor['single_p50_ms']:>9.3f}{floor['single_p99_ms']:>9.3f}{'':>12}{'':>8}"
        f"{floor['batch_1000_rows_per_s']:>12,.0f}{floor['batch_10000_rows_per_s']:>12,.0f}"
    )
    print(
        f"(single-session p50/p99: {args.single} sequential requests on one connection; under load "
        f"xmo p50/p99 {xmo['concurrent_p50_ms']:.2f}/{xmo['concurrent_p99_ms']:.2f} ms, "
        f"MLflow {mlflow['concurrent_p50_ms']:.2f}/{mlflow['concurrent_p99_ms']:.2f} ms)"
    )
    ratio = xmo["concurrent_requests_per_s"] / mlflow["concurrent_requests_per_s"]
    batches = {"JSON rows": xmo["batch_10000_rows_per_s"]}
    batches.update({name: f["batch_10000_rows_per_s"] for name, f in forms.items()})
    fastest = max(batches, key=lambda name: batches[name])
    batch = batches[fastest]
    targets = {
        "single_p50_ms": (xmo["single_p50_ms"], TARGET_P50_MS, xmo["single_p50_ms"] <= TARGET_P50_MS),
        "single_p99_ms": (xmo["single_p99_ms"], TARGET_P99_MS, xmo["single_p99_ms"] <= TARGET_P99_MS),
        "rps_ratio_vs_mlflow": (ratio, TARGET_RPS_RATIO, ratio >= TARGET_RPS_RATIO),
        "batch_rows_per_s": (batch, TARGET_BATCH_ROWS_PER_S, batch >= TARGET_BATCH_ROWS_PER_S),
    }
    print()
    print("targets (2 cores):")
    print(
        f"  single-session p50 {xmo['single_p50_ms']:.2f} ms <= {TARGET_P50_MS} ms: "
        f"{verdict(targets['single_p50_ms'][2])} (gap {xmo['single_p50_ms'] - TARGET_P50_MS:+.2f} ms)"
    )
    print(
        f"  single-session p99 {xmo['single_p99_ms']:.2f} ms <= {TARGET_P99_MS} ms: "
        f"{verdict(targets['single_p99_ms'][2])} (gap {xmo['single_p99_ms'] - TARGET_P99_MS:+.2f} ms)"
    )
    print(
        f"  requests/s {ratio:.1f}x MLflow's >= {TARGET_RPS_RATIO}x: {verdict(targets['rps_ratio_vs_mlflow'][2])} "
        f"(gap {ratio - TARGET_RPS_RATIO:+.1f}x)"
    )
    print(
        f"  batch of 10,000 ({fastest}): {batch:,.0f} rows/s >= {TARGET_BATCH_ROWS_PER_S:,}: "
        f"{verdict(targets['batch_rows_per_s'][2])} (gap {batch - TARGET_BATCH_ROWS_PER_S:+,.0f} rows/s; "
        + ", ".join(f"{name} {value:,.0f}" for name, value in batches.items())
        + ")"
    )
    summary = {
        "benchmark": "serving",
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "load_average_before": load_before,
        "load_average_after": load_after,
        "workers": args.workers,
        "connections": args.connections,
        "seconds": args.seconds,
        "single_requests": args.single,
        "load_generator": generator,
        "setup_s": round(setup_s, 1),
        "max_score_difference": difference,
        "xmo": {k: round(v, 4) if isinstance(v, float) else v for k, v in xmo.items()},
        "mlflow": {k: round(v, 4) if isinstance(v, float) else v for k, v in mlflow.items()},
        "xmo_columns": {k: round(v, 4) if isinstance(v, float) else v for k, v in forms["JSON columns"].items()},
        "xmo_arrow": {k: round(v, 4) if isinstance(v, float) else v for k, v in forms["Arrow IPC"].items()},
        "batch_body_form": fastest,
        "booster_floor": {k: round(v, 4) for k, v in floor.items()},
        "rps_ratio": round(ratio, 3),
        "targets": {
            name: {"value": round(value, 4), "target": target, "met": met}
            for name, (value, target, met) in targets.items()
        },
        "meets_target": all(met for _, _, met in targets.values()),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
