"""The media-mix job on the weekly fixture pair: one MLflow run with params, metrics, dataset and artifacts; the
registry's aliases; no second version for the same fit; a challenger compared with the champion; the gate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from core import audit
from core.database import get_engine
from core.errors import InvalidInput, NotFound, NotReady
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from models.mmm_registry import DIGEST_TAG, KPI_TAG, load_media_mix, mmm_model_name
from models.registry import configure_mlflow
from tracking.kpi import import_kpi_file
from tracking.spend import import_spend_file
from training.mmm import MmmFitResult, fit_mmm, promote_mmm

HomeAt = Callable[[Path], AbstractContextManager[Settings]]
DATA = Path(__file__).parents[1] / "tracking" / "data"
FAST = {"n_draws": 5, "select_families": False}


@dataclass
class Fitted:
    settings: Settings
    first: MmmFitResult
    again: MmmFitResult
    challenger: MmmFitResult


@pytest.fixture(scope="module")
def fitted(home_at: HomeAt, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fitted]:
    home = tmp_path_factory.mktemp("mmm") / "xmo-home"
    with home_at(home) as settings:
        Tenants.from_settings(settings).create_client("Shop", ["shop.example"], client_id="shop")
        layout = StorageLayout.from_settings(settings)
        import_kpi_file(layout, "shop", DATA / "weekly_kpi.csv")
        import_spend_file(layout, "shop", DATA / "weekly_spend.csv")
        first = fit_mmm(settings, "shop", **FAST)  # type: ignore[arg-type]
        again = fit_mmm(settings, "shop", **FAST)  # type: ignore[arg-type]
        challenger = fit_mmm(settings, "shop", holdout_periods=20, **FAST)  # type: ignore[arg-type]
        yield Fitted(settings, first, again, challenger)


def _client(fitted: Fitted) -> MlflowClient:
    return configure_mlflow(fitted.settings)


def test_the_first_fit_is_logged_and_registered_as_champion(fitted: Fitted) -> None:
    first = fitted.first
    assert (first.model_name, first.version, first.aliases, first.registered) == (
        "xmo-mmm-shop",
        "1",
        ["champion"],
        True,
    )
    assert (first.kpi, first.period_days, len(first.digest)) == ("revenue", 7, 64)
    assert first.fit_report["holdout"]["n_periods"] == 26 and first.comparison is None
    run = _client(fitted).get_run(first.run_id)
    params, metrics = run.data.params, run.data.metrics
    assert params["data_sha256"] == first.digest and params["kpi"] == "revenue"
    assert (params["adstock"], params["saturation"], params["n_periods"]) == ("geometric", "hill", "208")
    for name in ("in_sample_r2", "in_sample_nrmse", "in_sample_mape", "holdout_mape", "holdout_r2", "holdout_nrmse"):
        assert name in metrics, name
    assert metrics["holdout_mape"] == pytest.approx(first.fit_report["holdout"]["mape"])
    assert run.inputs is not None
    assert [d.dataset.digest for d in run.inputs.dataset_inputs] == [first.digest[:36]]
    artifacts = {a.path for a in _client(fitted).list_artifacts(first.run_id)}
    assert {"fit_report.json", "decomposition.csv", "predictions.csv", "curves.json", "plots"} <= artifacts
    plots = {a.path for a in _client(fitted).list_artifacts(first.run_id, "plots")}
    assert plots == {"plots/fit_vs_actuals.png", "plots/decomposition.png", "plots/response_curves.png"}
    predictions = pd.read_csv(mlflow.artifacts.download_artifacts(f"runs:/{first.run_id}/predictions.csv"))
    assert len(predictions) == 208 and (predictions["split"] == "holdout").sum() == 26
    version = _client(fitted).get_model_version("xmo-mmm-shop", "1")
    assert version.tags[KPI_TAG] == "revenue" and version.tags[DIGEST_TAG] == first.digest


def test_the_same_fit_is_not_registered_again(fitted: Fitted) -> None:
    again = fitted.again
    assert (again.registered, again.identical_to, again.version) == (False, "champion", "1")
    assert again.metrics["holdout_mape"] == pytest.approx(fitted.first.metrics["holdout_mape"])


def test_a_later_fit_is_a_challenger_compared_with_the_champion(fitted: Fitted) -> None:
    challenger = fitted.challenger
    assert (challenger.version, challenger.aliases) == ("2", ["challenger"])
    comparison = challenger.comparison
    assert comparison is not None and comparison["champion_version"] == "1"
    assert sorted(c["channel"] for c in comparison["channels"]) == ["facebook", "ooh", "print", "search", "tv"]
    allocated = [c["allocation"][1] for c in comparison["channels"]]
    assert sum(allocated) == pytest.approx(comparison["total_per_period"], rel=1e-6)  # the same total, re-split
    accuracy = comparison["accuracy"]
    assert accuracy["method"] == "shared_holdout" and accuracy["n_periods"] == 20  # the challenger's tail lies inside
    assert comparison["new_days"] == 0
    stored = mlflow.artifacts.load_dict(f"runs:/{challenger.run_id}/comparison.json")
    assert stored["accuracy"]["ratio"] == pytest.approx(accuracy["ratio"])


def test_load_media_mix_by_alias_and_version(fitted: Fitted) -> None:
    champion = load_media_mix(fitted.settings, "shop")
    assert (champion.version, champion.alias, champion.kpi, champion.digest) == (
        "1",
        "champion",
        "revenue",
        fitted.first.digest,
    )
    assert champion.fit_report["kpi"] == "revenue" and champion.channels == ["facebook", "ooh", "print", "search", "tv"]
    assert load_media_mix(fitted.settings, "shop").model is champion.model  # cached per version
    assert load_media_mix(fitted.settings, "shop", "challenger").version == "2"
    with pytest.raises(NotFound, match="has no version '9'"):
        load_media_mix(fitted.settings, "shop", version="9")
    with pytest.raises(NotReady, match="xmo mmm fit other"):
        load_media_mix(fitted.settings, "other")


def test_bad_input_fails_before_fitting(fitted: Fitted) -> None:
    with pytest.raises(InvalidInput, match="no KPI column 'profit'"):
        fit_mmm(fitted.settings, "shop", kpi="profit", **FAST)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="at least 4 weeks"):
        fit_mmm(fitted.settings, "shop", holdout_periods=2, **FAST)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="cannot hold out 300 weeks"):
        fit_mmm(fitted.settings, "shop", holdout_periods=300, **FAST)  # type: ignore[arg-type]


def test_promotion_moves_aliases_and_records_the_decision(fitted: Fitted) -> None:
    """Runs last in this module: it moves the champion."""
    settings = fitted.settings
    result = promote_mmm(settings, "shop")
    assert result.challenger_version == "2" and result.champion_version == "1"
    assert result.comparison is not None and result.comparison.accuracy.method == "shared_holdout"
    assert any(r.startswith("accuracy") for r in result.reasons) and any("advice" in r for r in result.reasons)
    client = _client(fitted)
    tags = client.get_model_version(mmm_model_name("shop"), "2").tags
    assert tags["xmo.promotion.decision"] == result.decision
    assert tags["xmo.promotion.reasons"] == "\n".join(result.reasons)
    aliases = client.get_registered_model(mmm_model_name("shop")).aliases
    if result.promoted:
        assert aliases == {"champion": 2, "previous-champion": 1}
    else:
        assert aliases == {"champion": 1, "challenger": 2}
        forced = promote_mmm(settings, "shop", force=True)
        assert forced.forced and forced.promoted and forced.reasons[-1] == "promoted anyway: --force"
    actions = [e.action for e in audit.entries(get_engine(settings), "shop", action_prefix="mmm.promote.")]
    assert actions and actions[-1] == f"mmm.promote.{'forced' if not result.promoted else result.decision}"
    with pytest.raises(InvalidInput, match="already the champion"):
        promote_mmm(settings, "shop", version="2")
    # a rollback: the previous champion back by force, recorded as forced when the gate refuses it
    back = promote_mmm(settings, "shop", version="1", force=True)
    assert back.promoted and client.get_registered_model(mmm_model_name("shop")).aliases["champion"] == 1


def test_lift_tests_calibrate_a_new_version(fitted: Fitted, tmp_path: Path) -> None:
    """After the promotion test: a lift test makes the same data a different fit, calibrated by it."""
    from tracking.lift import import_lift_file

    tests = tmp_path / "lift.csv"
    tests.write_text("channel,start_date,end_date,kpi,roi,standard_error\ntv,2025-03-03,2025-03-30,revenue,2.0,0.4\n")
    layout = StorageLayout.from_settings(fitted.settings)
    import_lift_file(layout, get_engine(fitted.settings), "shop", tests, actor=audit.CLI_ACTOR)
    calibrated = fit_mmm(fitted.settings, "shop", **FAST)  # type: ignore[arg-type]
    assert calibrated.registered and calibrated.lift_tests_used == 1 and calibrated.version == "3"
    [test] = calibrated.fit_report["calibration"]
    assert (test["channel"], test["start_date"], test["end_date"]) == ("tv", "2025-03-03", "2025-03-30")
    assert test["measured"] > 0 and test["standard_error"] > 0 and test["model"] > 0
    run = _client(fitted).get_run(calibrated.run_id)
    assert run.data.params["lift_tests"] == "1"
    uncalibrated = fit_mmm(fitted.settings, "shop", lift=False, **FAST)  # type: ignore[arg-type]
    assert (uncalibrated.registered, uncalibrated.identical_to) == (False, "champion")  # v1 again, lift tests aside


def test_forgetting_the_client_deletes_its_media_mix_model(fitted: Fitted) -> None:
    """Runs last in this module: the client's MLflow data go, the registered media-mix model with them."""
    from training.forgetting import MlflowClientStore

    store = MlflowClientStore(fitted.settings)
    assert any(t.location == "registered model xmo-mmm-shop" for t in store.client_traces("shop"))
    assert store.forget_client("shop") > 0
    assert store.client_traces("shop") == []
    with pytest.raises(NotReady, match="xmo mmm fit shop"):
        load_media_mix(fitted.settings, "shop")
