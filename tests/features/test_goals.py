"""Goal definitions: validation, glob patterns, and the per-client store on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from core import audit
from core.database import get_engine
from core.errors import Conflict, InvalidInput, NotFound
from core.schema import clients, goals
from core.settings import Settings
from core.tenants import Tenants
from features.goals import MAX_GOALS_PER_CLIENT, GoalDefinition, GoalKind, GoalStore, glob_to_regex


@pytest.fixture
def tenants(database_url: str, settings: Settings) -> Tenants:
    return Tenants(get_engine(settings.model_copy(update={"database_url": database_url})))


@pytest.fixture
def store(tenants: Tenants) -> GoalStore:
    tenants.create_client("Acme", ["acme.example.com"])
    return GoalStore(tenants.engine)


# definitions ---------------------------------------------------------------------------------------
def test_a_name_alone_is_a_goal_event_of_that_name() -> None:
    goal = GoalDefinition.create(" Purchase ")
    assert goal == GoalDefinition("purchase", GoalKind.PURCHASE, "goal", "purchase", None, None)
    assert GoalDefinition.create("newsletter").kind is GoalKind.CUSTOM
    assert GoalDefinition.create("signup", kind="registration", event_type="custom").match == "signup"
    assert GoalDefinition.create("big", match="order*", min_value=100).public() == {
        "name": "big",
        "kind": "custom",
        "event_type": "goal",
        "match": "order*",
        "path": None,
        "min_value": 100.0,
    }


def test_a_path_alone_does_not_add_a_name_match() -> None:
    goal = GoalDefinition.create("thanks", kind=GoalKind.ENQUIRY, event_type="pageview", path="/thank-you*")
    assert (goal.match, goal.path, goal.event_type) == (None, "/thank-you*", "pageview")
    assert GoalDefinition.create("done", path="/done").match is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "invalid goal name"),
        ({"name": "-x"}, "invalid goal name"),
        ({"name": "a b"}, "invalid goal name"),
        ({"name": "x" * 64}, "invalid goal name"),
        ({"name": "ok", "kind": "sale"}, "unknown goal kind 'sale': use one of purchase, enquiry"),
        ({"name": "ok", "event_type": "view"}, "unknown event type 'view': use one of pageview, click, goal, custom"),
        ({"name": "ok", "event_type": "pageview"}, "needs a path or match pattern"),
        ({"name": "ok", "event_type": "click"}, "needs a path or match pattern"),
        ({"name": "ok", "match": ""}, "1-200 characters"),
        ({"name": "ok", "match": "   "}, "1-200 characters"),
        ({"name": "ok", "path": "/" + "x" * 200}, "1-200 characters"),
        ({"name": "ok", "path": "/a\x00b"}, "control characters"),
        ({"name": "ok", "match": "a\nb"}, "control characters"),
        ({"name": "ok", "min_value": -1}, "finite number >= 0"),
        ({"name": "ok", "min_value": float("nan")}, "finite number >= 0"),
        ({"name": "ok", "min_value": float("inf")}, "finite number >= 0"),
    ],
)
def test_invalid_definitions_say_what_to_give(kwargs: dict[str, object], message: str) -> None:
    name = kwargs.pop("name")
    with pytest.raises(InvalidInput, match=re.escape(message)):
        GoalDefinition.create(name, **kwargs)  # type: ignore[arg-type]


def test_names_of_63_characters_and_digits_first_are_fine() -> None:
    assert GoalDefinition.create("9" + "x" * 62).name == "9" + "x" * 62
    assert GoalDefinition.create("a_b-c").name == "a_b-c"


# globs ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("purchase", ["purchase"], ["Purchase", "purchases", "xpurchase", ""]),
        ("purchase*", ["purchase", "purchase-b2b", "purchase\nx"], ["purchas", "a purchase"]),
        ("/thank?you", ["/thank-you", "/thank_you", "/thank\nyou"], ["/thankyou", "/thank--you"]),
        ("a.b", ["a.b"], ["axb"]),
        ("c++", ["c++"], ["c", "cc"]),
        ("(x)|[y]{2}^$", ["(x)|[y]{2}^$"], ["x", "y"]),
        ("a\\*", ["a\\b", "a\\"], ["a*", "ab"]),
        ("日本*", ["日本語"], ["日"]),
        ("*", ["", "anything"], []),
    ],
)
def test_glob_to_regex(pattern: str, matches: list[str], misses: list[str]) -> None:
    regex = re.compile(glob_to_regex(pattern))
    assert all(regex.fullmatch(text) for text in matches)
    assert not any(regex.fullmatch(text) for text in misses)


def test_glob_escapes_only_regex_metacharacters() -> None:
    assert glob_to_regex("/a-b_c/é d") == "/a-b_c/é d"
    assert glob_to_regex("a.b*?") == "a\\.b(?s:.*)(?s:.)"


# the store -----------------------------------------------------------------------------------------
def test_add_list_remove_in_creation_order(store: GoalStore) -> None:
    assert store.list_goals("acme") == ()
    added = [
        store.add_goal("acme", GoalDefinition.create("zeta")),
        store.add_goal("acme", GoalDefinition.create("alpha", event_type="pageview", path="/done")),
        store.add_goal("acme", GoalDefinition.create("big", match="order*", min_value=99.5)),
    ]
    assert store.list_goals("acme") == tuple(added)
    store.remove_goal("acme", "ALPHA")
    assert [g.name for g in store.list_goals("acme")] == ["zeta", "big"]
    assert store.list_goals("nobody") == ()


def test_duplicates_unknowns_and_the_limit(store: GoalStore, tenants: Tenants) -> None:
    store.add_goal("acme", GoalDefinition.create("purchase"))
    with pytest.raises(Conflict, match="already has a goal named 'purchase'"):
        store.add_goal("acme", GoalDefinition.create("purchase", match="other"))
    with pytest.raises(NotFound, match="unknown client 'nobody'"):
        store.add_goal("nobody", GoalDefinition.create("purchase"))
    with pytest.raises(NotFound, match="no goal named 'enquiry'"):
        store.remove_goal("acme", "enquiry")
    with pytest.raises(NotFound, match="unknown client"):
        store.remove_goal("nobody", "purchase")
    tenants.create_client("Other", ["other.example.com"])
    store.add_goal("other", GoalDefinition.create("purchase"))  # names are per client
    for i in range(MAX_GOALS_PER_CLIENT - 1):
        store.add_goal("acme", GoalDefinition.create(f"g{i}"))
    with pytest.raises(InvalidInput, match="remove one first"):
        store.add_goal("acme", GoalDefinition.create("one-too-many"))
    assert len(store.list_goals("acme")) == MAX_GOALS_PER_CLIENT
    assert len(store.list_goals("other")) == 1


def test_changes_are_audited_without_patterns(store: GoalStore) -> None:
    store.add_goal("acme", GoalDefinition.create("thanks", event_type="pageview", path="/thanks/*"), actor="api")
    store.remove_goal("acme", "thanks")
    entries = [e for e in audit.entries(store.engine, "acme") if e.action.startswith("goal.")]
    assert [(e.action, e.actor) for e in entries] == [("goal.add", "api"), ("goal.remove", "cli")]
    assert entries[0].details == {"name": "thanks", "kind": "custom", "event_type": "pageview"}
    assert "/thanks/" not in repr([e.details for e in entries])


def test_goals_go_with_their_client(store: GoalStore) -> None:
    store.add_goal("acme", GoalDefinition.create("purchase"))
    with store.engine.begin() as connection:  # xmo has no client deletion yet: the schema's cascade is tested
        connection.execute(sa.delete(clients).where(clients.c.id == "acme"))
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(goals)).scalar_one() == 0
