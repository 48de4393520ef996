"""Rate limits per key: the token bucket itself (with a fake clock), then 429 with Retry-After over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.settings import Settings
from core.tenants import NewClient, Tenants
from serving.ratelimit import TokenBucketLimiter, bearer_token


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_refills_at_the_rate() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.acquire("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("k") == pytest.approx(1.0)  # one token a second
    assert limiter.acquire("other") == 0.0, "each key has its own bucket"
    clock.now += 0.5
    assert limiter.acquire("k") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.acquire("k") == 0.0
    assert limiter.acquire("k") > 0
    clock.now += 3600  # refills to the burst, never beyond
    assert [limiter.acquire("k") for _ in range(4)].count(0.0) == 3


def test_bucket_memory_stays_bounded() -> None:
    clock = FakeClock()
    limiter = TokenBucketLimiter(per_minute=60, burst=2, max_keys=100, clock=clock)
    for i in range(1000):
        limiter.acquire(f"key-{i}")
        clock.now += 0.001
    assert len(limiter) <= 100
    with pytest.raises(ValueError):
        TokenBucketLimiter(per_minute=0, burst=1)


def test_bearer_token_parsing() -> None:
    assert bearer_token([(b"authorization", b"Bearer xmo_api_abc")]) == "xmo_api_abc"
    assert bearer_token([(b"authorization", b"bearer  xmo_api_abc ")]) == "xmo_api_abc"
    assert bearer_token([(b"authorization", b"Basic dXNlcjpwYXNz")]) is None
    assert bearer_token([(b"accept", b"*/*")]) is None


Live = tuple[httpx.Client, NewClient, NewClient]


@pytest.fixture
def live(xmo_home: Any, serve: Any) -> Iterator[Live]:
    settings = Settings(
        home=xmo_home, compact_interval_s=0, model_reload_interval_s=0, rate_limit_per_minute=6, rate_limit_burst=3
    )
    tenants = Tenants.from_settings(settings)
    acme = tenants.create_client("Acme", ["acme.example.com"])
    other = tenants.create_client("Other", ["other.example.com"])
    with serve(settings, timeout=30) as http:
        yield http, acme, other


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_key_over_its_budget_gets_429_with_retry_after(live: Live) -> None:
    http, acme, other = live
    answers = [http.get("/v1/goals", headers=bearer(acme.api_key)) for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    limited = answers[-1]
    assert limited.json()["error"]["code"] == "rate_limited" and "per minute" in limited.json()["error"]["message"]
    retry_after = int(limited.headers["Retry-After"])
    assert 1 <= retry_after <= 10  # 6 a minute: one token every 10 s
    assert http.post("/v1/goals", json={"name": "x"}, headers=bearer(acme.api_key)).status_code == 429
    assert http.get("/v1/goals", headers=bearer(other.api_key)).status_code == 200, "another key is not limited"
    text = http.get("/metrics").text
    assert 'status="429"' in text


def test_collection_probes_and_keyless_requests_are_not_limited(live: Live) -> None:
    http, acme, _ = live
    for _ in range(5):
        assert http.get("/t.gif", params={"k": acme.site_key}, headers=bearer(acme.api_key)).status_code == 200
        assert http.post("/v1/events", json=[], headers=bearer(acme.site_key)).status_code == 202
        assert http.get("/readyz").status_code == 200
        assert http.get("/v1/goals").status_code == 401
    assert http.get("/v1/goals", headers=bearer(acme.api_key)).status_code == 200, "the pixel spent none of its budget"


def test_off_when_the_limit_is_zero(xmo_home: Any, serve: Any) -> None:
    settings = Settings(home=xmo_home, compact_interval_s=0, model_reload_interval_s=0, rate_limit_per_minute=0)
    acme = Tenants.from_settings(settings).create_client("Acme", ["acme.example.com"])
    with serve(settings) as http:
        codes = {http.get("/v1/goals", headers=bearer(acme.api_key)).status_code for _ in range(30)}
    assert codes == {200}


def test_dashboard_sessions_and_sign_in_attempts_are_limited_too(live: Live) -> None:
    http, acme, _ = live
    origin = {"Origin": str(http.base_url).rstrip("/")}
    signed_in = http.post("/sign-in", data={"api_key": acme.api_key}, headers=origin, follow_redirects=False)
    assert signed_in.status_code == 303
    cookie = signed_in.cookies["xmo_dashboard"]
    http.cookies.clear()
    by_cookie = [http.get("/v1/goals", headers={"Cookie": f"xmo_dashboard={cookie}"}).status_code for _ in range(4)]
    assert by_cookie == [200, 200, 200, 429], "a dashboard session has a budget of its own (burst 3)"
    guesses = [
        http.post("/sign-in", data={"api_key": "xmo_api_guess"}, headers=origin, follow_redirects=False).status_code
        for _ in range(3)
    ]
    assert guesses[-1] == 429, f"sign-in attempts from one address share a budget with the first sign-in: {guesses}"
