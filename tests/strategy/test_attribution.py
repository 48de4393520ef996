"""The attribution job: sessions → journeys in a date window → credits by one model or all; bad input."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pandas as pd
import pytest

from core.errors import InvalidInput, NotReady
from core.settings import Settings
from core.tenants import Client, Tenants
from features.sessions import empty_sessions
from models.attribution import MODELS
from strategy.attribution import attribution_report, client_daily_attributed_outcomes

T0 = pd.Timestamp("2024-06-01 10:00", tz="UTC")
SEARCH = {"utm_source": "google", "utm_medium": "cpc", "campaign_id": "cmp-search"}
EMAIL = {"utm_source": "newsletter", "utm_medium": "email", "campaign_id": "cmp-mail"}
SOCIAL = {"referrer_host": "www.facebook.com"}


def session(visitor: str, day: float, fields: dict[str, Any], value: float | None = None) -> dict[str, Any]:
    return {
        "session_id": f"{visitor}:{day}",
        "visitor_id": visitor,
        "started_at": T0 + pd.Timedelta(days=day),
        "converted": value is not None,
        "conversions": int(value is not None),
        "conversion_value": value or 0.0,
        **fields,
    }


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    empty = empty_sessions()
    filled = pd.DataFrame(rows, columns=empty.columns)
    for column, dtype in empty.dtypes.items():
        if dtype in ("int64", "float64"):
            filled[column] = filled[column].fillna(0)
    filled["converted"] = filled["converted"].fillna(False)
    return filled.astype(empty.dtypes.to_dict())


SESSIONS = frame(
    [
        session("visitor-a", 0, SEARCH),
        session("visitor-a", 2, EMAIL, value=50.0),  # 2024-06-03
        session("visitor-b", 1, SOCIAL, value=20.0),  # 2024-06-02
        session("visitor-c", 9, {}),
        session("visitor-d", 11, SEARCH, value=30.0),  # 2024-06-12
    ]
)


@pytest.fixture
def client(settings: Settings) -> Client:
    tenants = Tenants.from_settings(settings)
    tenants.create_client("Shop", ["shop.example.com"], client_id="shop")
    return tenants.get_client("shop")


def report(settings: Settings, client: Client, sessions: pd.DataFrame = SESSIONS, **kwargs: Any) -> dict[str, Any]:
    result = attribution_report(settings, client, load_sessions=lambda _client: sessions, **kwargs)
    document: dict[str, Any] = json.loads(json.dumps(result.to_dict()))
    return document


def credits(document: dict[str, Any], model: str, key: str = "channel") -> dict[str, float]:
    return {row[key]: row["conversions"] for row in document["models"][model]["credits"]}


def test_report_for_one_model_and_for_all(settings: Settings, client: Client) -> None:
    linear = report(settings, client, model="linear")

    assert linear["client_id"] == "shop" and linear["model"] == "linear" and linear["level"] == "channel"
    assert (linear["journeys"], linear["converting_journeys"], linear["value"]) == (4, 3, 100.0)
    assert credits(linear, "linear") == {"search": 1.5, "email": 0.5, "social": 1.0, "direct": 0.0}
    assert "visitor" not in json.dumps(linear)  # aggregates only, never a visitor id

    everything = report(settings, client, model="all", level="campaign")
    assert list(everything["models"]) == list(MODELS)
    for model in MODELS:
        assert sum(credits(everything, model, "campaign_id").values()) == pytest.approx(3.0), model
    assert credits(everything, "first", "campaign_id") == {
        "cmp-search": 2.0,
        "<social>": 1.0,
        "cmp-mail": 0.0,
        "<direct>": 0.0,
    }


def test_dates_select_journeys_by_their_last_touch(settings: Settings, client: Client) -> None:
    later = report(settings, client, model="last", since=date(2024, 6, 3))
    # a's journey ends on 06-03 and keeps its search touch of 06-01 (within the lookback); b's ended 06-02
    assert (later["journeys"], later["converting_journeys"]) == (3, 2)
    assert credits(later, "last") == {"email": 1.0, "search": 1.0, "direct": 0.0}
    assert later["models"]["last"]["credits"][1]["journeys"] == 2  # search: a's and d's journeys

    early = report(settings, client, model="last", until=date(2024, 6, 2))
    # a's conversion (06-03) is after until: a's journey is still open, so it does not convert
    assert (early["journeys"], early["converting_journeys"]) == (2, 1)
    assert credits(early, "last") == {"social": 1.0, "search": 0.0}
    assert (early["since"], early["until"]) == (None, "2024-06-02")


def test_lookback_and_time_zone(settings: Settings, client: Client) -> None:
    short = report(settings, client, model="first", lookback_days=1)
    assert credits(short, "first")["email"] == 1.0  # the search touch two days before is out of the window

    tenants = Tenants.from_settings(settings)
    tenants.create_client("Far", ["far.example.com"], client_id="far", timezone="Pacific/Kiritimati")  # UTC+14
    far = tenants.get_client("far")
    # in Kiritimati, 06-03 runs from 06-02 10:00 to 06-03 10:00 UTC: b's conversion is in it, a's is not
    day = {"model": "last", "since": date(2024, 6, 3), "until": date(2024, 6, 3)}
    assert credits(report(settings, far, **day), "last") == {"social": 1.0}
    assert credits(report(settings, client, **day), "last") == {"email": 1.0, "search": 0.0}


def test_daily_outcomes_for_the_budget_team(settings: Settings, client: Client) -> None:
    daily = client_daily_attributed_outcomes(settings, client, model="linear", load_sessions=lambda _c: SESSIONS)

    assert daily.to_dict("records") == [
        {"date": date(2024, 6, 2), "campaign_id": "<social>", "conversions": 1.0, "value": 20.0},
        {"date": date(2024, 6, 3), "campaign_id": "cmp-mail", "conversions": 0.5, "value": 25.0},
        {"date": date(2024, 6, 3), "campaign_id": "cmp-search", "conversions": 0.5, "value": 25.0},
        {"date": date(2024, 6, 12), "campaign_id": "cmp-search", "conversions": 1.0, "value": 30.0},
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "u-shaped"}, "choose one of last, first, linear, position, time-decay, markov, shapley, all"),
        ({"level": "creative"}, "choose one of channel, campaign"),
        ({"lookback_days": 0}, "lookback_days must be an integer of at least 1"),
        ({"since": date(2024, 6, 5), "until": date(2024, 6, 1)}, "is after until"),
    ],
)
def test_bad_input_is_refused_before_loading(
    settings: Settings, client: Client, kwargs: dict[str, Any], message: str
) -> None:
    def never(_client: Client) -> pd.DataFrame:
        raise AssertionError("sessions loaded for a request that was invalid anyway")

    with pytest.raises(InvalidInput, match=message):
        attribution_report(settings, client, load_sessions=never, **kwargs)


def test_no_conversions_is_not_ready(settings: Settings, client: Client) -> None:
    with pytest.raises(NotReady, match="no converting journeys for client 'shop' since 2024-07-01"):
        report(settings, client, since=date(2024, 7, 1))
    without = SESSIONS.assign(converted=False, conversion_value=0.0)
    with pytest.raises(NotReady, match="no converting journeys"):
        report(settings, client, sessions=without)
    with pytest.raises(NotReady, match="no sessions"):  # nothing in the lake
        attribution_report(settings, client)
