"""The training job against PostgreSQL: MLflow's tracking and registry store and Optuna's study storage."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from mlflow.tracking import MlflowClient

from core.settings import Settings
from models.registry import configure_mlflow, conversion_model_name
from training.forgetting import MlflowClientStore, OptunaClientStore
from training.train import train_conversion_model


@pytest.fixture
def postgres_urls() -> Iterator[tuple[str, str]]:
    """Two private schemas on the CI's PostgreSQL server (``XMO_TEST_DATABASE_URL``), dropped afterwards.

    MLflow and Optuna each keep an Alembic ``alembic_version`` table: they need a schema (or database) each.
    """
    base = os.environ.get("XMO_TEST_DATABASE_URL")
    if not base:
        pytest.skip("no PostgreSQL server: set XMO_TEST_DATABASE_URL (CI sets it) to run this against PostgreSQL")
    schemas = [f"xmo_{kind}_{secrets.token_hex(5)}" for kind in ("mlflow", "optuna")]
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        for schema in schemas:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    urls = [
        sa.engine.make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
        for schema in schemas
    ]
    try:
        yield urls[0], urls[1]
    finally:
        with admin.begin() as connection:
            for schema in schemas:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_training_tunes_logs_and_registers_on_postgresql(simulated_client: Any, postgres_urls: tuple[str, str]) -> None:
    local = simulated_client.settings
    postgres_url, optuna_url = postgres_urls
    settings = Settings(home=local.home, mlflow_tracking_uri=postgres_url, optuna_storage=optuna_url)
    try:
        result = train_conversion_model(settings, simulated_client.client_id, trials=2, baselines=False)
        assert result.tuning is not None and result.tuning["n_trials"] == 2
        client = MlflowClient(postgres_url, registry_uri=postgres_url)
        name = conversion_model_name(simulated_client.client_id)
        assert str(client.get_model_version_by_alias(name, "champion").version) == result.model_version
        assert client.get_run(result.run_id).data.metrics["test_roc_auc"] == pytest.approx(result.metrics["roc_auc"])
    finally:
        configure_mlflow(local)  # the other tests of this process use the home's SQLite store


def _rows_naming(url: str, needle: str) -> dict[str, int]:
    """Rows of every table in the URL's schema whose text holds ``needle``."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            tables = connection.execute(
                sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
            ).scalars()
            found = {}
            for table in list(tables):
                rows = connection.execute(
                    sa.text(f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE :needle'), {"needle": f"%{needle}%"}
                ).scalar()
                if rows:
                    found[table] = int(rows)
            return found
    finally:
        engine.dispose()


def test_mlflow_and_optuna_forget_a_client_on_postgresql(simulated_client: Any, postgres_urls: tuple[str, str]) -> None:
    local = simulated_client.settings
    postgres_url, optuna_url = postgres_urls
    settings = Settings(home=local.home, mlflow_tracking_uri=postgres_url, optuna_storage=optuna_url)
    client_id = simulated_client.client_id
    try:
        train_conversion_model(settings, client_id, trials=2, baselines=False)
        assert _rows_naming(postgres_url, client_id) and _rows_naming(optuna_url, client_id)
        mlflow_store, optuna_store = MlflowClientStore(settings), OptunaClientStore(settings)
        assert mlflow_store.forget_client(client_id) >= 4  # runs, logged model, registered version, experiment
        assert optuna_store.forget_client(client_id) == 1
        assert mlflow_store.client_traces(client_id) == [] and optuna_store.client_traces(client_id) == []
        assert _rows_naming(postgres_url, client_id) == {}, "hard deleted, not marked deleted"
        assert _rows_naming(optuna_url, client_id) == {}
        assert mlflow_store.forget_client(client_id) == 0, "idempotent"
    finally:
        configure_mlflow(local)
