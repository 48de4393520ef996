"""What the MLflow side of a training job prints: nothing of MLflow's own below a warning."""

from __future__ import annotations

import logging

import pytest

from training.run_logging import quiet_mlflow


def test_mlflow_info_lines_stay_out_and_the_levels_come_back(capsys: pytest.CaptureFixture[str]) -> None:
    mlflow_logger, store = logging.getLogger("mlflow"), logging.getLogger("mlflow.store.db.utils")
    alembic = logging.getLogger("alembic")
    before = (mlflow_logger.level, alembic.level)
    mlflow_logger.setLevel(logging.INFO)  # what importing mlflow sets up in a fresh process
    try:
        with quiet_mlflow():
            store.info("Creating initial MLflow database tables...")
            store.warning("a real problem")
            assert not alembic.isEnabledFor(logging.INFO)
        store.info("after the block")
        assert mlflow_logger.level == logging.INFO
    finally:
        mlflow_logger.setLevel(before[0])
    err = capsys.readouterr().err
    assert "Creating initial" not in err and "a real problem" in err and "after the block" in err
    assert alembic.level == before[1]
