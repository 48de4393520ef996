"""Shared fixtures: a private XMO_HOME per test, registry databases (SQLite always, PostgreSQL when given),
and a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from core.database import dispose_engines
from core.settings import Settings, get_settings

HomeAt = Callable[[Path], AbstractContextManager[Settings]]
_STORE_VARIABLES = ("XMO_DATABASE_URL", "XMO_MLFLOW_TRACKING_URI", "XMO_MASTER_KEY", "XMO_OPTUNA_STORAGE")


def pytest_configure(config: pytest.Config) -> None:
    """Tests never read an operator's ``.env``: XMO_ENV_FILE names an empty file for the whole run."""
    os.environ["XMO_ENV_FILE"] = str(Path(__file__).with_name("empty.env"))


@contextmanager
def _isolated_home(home: Path) -> Iterator[Settings]:
    """XMO_HOME at ``home`` for the block, no store URL or key from outside, background intervals off."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XMO_HOME", str(home))
        for name in _STORE_VARIABLES:
            patch.delenv(name, raising=False)
        get_settings.cache_clear()
        try:
            yield Settings(home=home, compact_interval_s=0, model_reload_interval_s=0)
        finally:
            get_settings.cache_clear()
            dispose_engines()


@pytest.fixture(scope="session")
def home_at() -> HomeAt:
    """``with home_at(path) as settings: …`` — an isolated XMO_HOME, for module fixtures that build data once."""
    return _isolated_home


@pytest.fixture
def xmo_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh XMO_HOME for this test, visible to code that reads the environment (through the test's own
    ``monkeypatch``, so that a test changing the same variables has them undone in one order)."""
    home = tmp_path / "xmo-home"
    monkeypatch.setenv("XMO_HOME", str(home))
    for name in _STORE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
    dispose_engines()


@pytest.fixture
def settings(xmo_home: Path) -> Settings:
    """Settings of the test's XMO_HOME (fast background intervals off)."""
    return Settings(home=xmo_home, compact_interval_s=0, model_reload_interval_s=0)


def _postgres_url() -> str | None:
    return os.environ.get("XMO_TEST_DATABASE_URL") or None


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, xmo_home: Path) -> Iterator[str]:
    """A registry database URL: SQLite under XMO_HOME, and PostgreSQL in a private schema when available."""
    if request.param == "sqlite":
        yield f"sqlite:///{xmo_home / 'registry.db'}"
        return
    base = _postgres_url()
    if base is None:
        pytest.skip("no PostgreSQL server: set XMO_TEST_DATABASE_URL (CI sets it) to run this against PostgreSQL")
    schema = f"xmo_test_{secrets.token_hex(6)}"
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = sa.engine.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        dispose_engines()
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


class LiveServer:
    """A uvicorn server running an app in a background thread on a free loopback port."""

    def __init__(self, app: object) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            proxy_headers=True,
            forwarded_allow_ips="127.0.0.1",
            lifespan="on",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


@pytest.fixture
def live_server_factory() -> Iterator[type[LiveServer]]:
    """``with live_server_factory(app) as server: …`` — a real HTTP server on 127.0.0.1."""
    yield LiveServer


@contextmanager
def _serve(settings: Settings, **client_options: Any) -> Iterator[httpx.Client]:
    """xmo's app on a real server on 127.0.0.1, and an HTTP client pointed at it (``base_url`` is the server)."""
    from serving.app import create_app

    with LiveServer(create_app(settings)) as server, httpx.Client(base_url=server.url, **client_options) as http:
        yield http


@pytest.fixture(scope="session")
def serve() -> Callable[..., AbstractContextManager[httpx.Client]]:
    """``with serve(settings, timeout=60) as http: http.get("/v1/…")`` — the API fixture every test shares."""
    return _serve
