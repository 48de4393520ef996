"""The grain of a file's dates: daily, weekly on any weekday, given or detected, and irregular dates refused."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from core.errors import InvalidInput
from tracking.cadence import Cadence, cadence_of_days, detect_grain, parse_cadence, span_cadence


def weeks(first: date, count: int) -> list[date]:
    return [first + timedelta(days=7 * i) for i in range(count)]


def test_weekly_dates_on_any_weekday_are_weeks_starting_that_day() -> None:
    grain = detect_grain(weeks(date(2022, 1, 3), 209))
    assert (grain.cadence, grain.week_start, grain.period_days, grain.gaps) == (Cadence.WEEK, "Monday", 7, ())
    assert grain.describe() == "weekly rows (weeks starting Monday), 2022-01-03 to 2025-12-29, 209 weeks"
    sunday = detect_grain(weeks(date(2023, 1, 1), 10) * 3)  # three series, one row each per week
    assert (sunday.cadence, sunday.week_start, sunday.periods) == (Cadence.WEEK, "Sunday", 10)
    assert sunday.to_dict()["text"] == "weekly rows (weeks starting Sunday), 2023-01-01 to 2023-03-05, 10 weeks"


def test_missing_periods_are_named() -> None:
    dates = weeks(date(2024, 1, 1), 10)
    grain = detect_grain(dates[:3] + dates[5:])
    assert grain.gaps == (date(2024, 1, 22), date(2024, 1, 29))
    assert grain.gap_warning("KPI") == (
        "2 week(s) between 2024-01-01 and 2024-03-04 have no KPI row: 2024-01-22, 2024-01-29"
    )
    daily = detect_grain([date(2024, 1, d) for d in (1, 2, 3, 5, 6, 7, 8)])
    assert (daily.cadence, daily.gaps) == (Cadence.DAY, (date(2024, 1, 4),))
    assert daily.describe() == "daily rows, 2024-01-01 to 2024-01-08, 7 days"


def test_irregular_dates_are_refused_naming_some() -> None:
    with pytest.raises(InvalidInput, match=r"neither daily nor weekly .*e\.g\. 2024-01-01, 2024-02-01"):
        detect_grain([date(2024, m, 1) for m in range(1, 7)])
    stray = [*weeks(date(2024, 1, 1), 8), date(2024, 1, 17)]
    with pytest.raises(InvalidInput, match="most fall on a Monday, but not 2024-01-17"):
        detect_grain(stray)


def test_a_given_cadence_wins_and_is_checked() -> None:
    stray = [*weeks(date(2024, 1, 1), 8), date(2024, 1, 17)]
    with pytest.raises(InvalidInput, match=r"the cadence is week, but .* not 2024-01-17"):
        detect_grain(stray, Cadence.WEEK)
    as_days = detect_grain(stray, Cadence.DAY)
    assert (as_days.cadence, as_days.detected) == (Cadence.DAY, False)
    assert "(cadence given)" in as_days.describe()
    one = detect_grain([date(2024, 1, 1)])
    assert one.cadence is Cadence.DAY and detect_grain([date(2024, 1, 1)], Cadence.WEEK).cadence is Cadence.WEEK
    few = detect_grain([date(2024, 1, 1), date(2024, 1, 5)])  # too few dates to call irregular: days
    assert few.cadence is Cadence.DAY


def test_parse_cadence() -> None:
    assert parse_cadence("Week") is Cadence.WEEK and parse_cadence("daily") is Cadence.DAY
    assert parse_cadence(None) is None and parse_cadence(" ") is None
    with pytest.raises(InvalidInput, match="unknown cadence 'month': use day or week"):
        parse_cadence("month")
    assert cadence_of_days(7) is Cadence.WEEK
    with pytest.raises(InvalidInput, match="neither a day nor a week"):
        cadence_of_days(30)


def test_report_spans_of_one_day_or_one_week() -> None:
    frame = pd.DataFrame({"start": ["2026-01-05", "2026-01-12"], "end": ["2026-01-11", "2026-01-18"]})
    assert span_cadence(frame, ("start", "end"), "spend") is Cadence.WEEK
    assert span_cadence(frame.assign(end=frame["start"]), ("start", "end"), "spend") is Cadence.DAY
    assert span_cadence(frame, None, "spend") is None
    with pytest.raises(InvalidInput, match="row 2: start 2026-01-12 and end 2026-01-14 differ: the row covers 3 day"):
        span_cadence(frame.assign(end=["2026-01-11", "2026-01-14"]), ("start", "end"), "spend")
