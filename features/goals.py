"""Conversion goals: which of a client's events count as conversions, validated and stored per client.

A goal matches an event when every condition it gives holds: the event type, a glob on the event's ``goal``
field (the goal name the site sent), a glob on the page ``path``, and a minimum ``value``. A client without
goals uses the default rule: every ``goal`` event is a conversion. ``features.goal_matching`` applies them.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from core import audit
from core.database import get_engine
from core.errors import Conflict, InvalidInput, NotFound
from core.schema import clients, goals
from core.settings import Settings
from tracking.events import EventType

MAX_GOALS_PER_CLIENT = 50
MAX_PATTERN_LENGTH = 200
GOAL_NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
DEFAULT_RULE = "every `goal` event counts as a conversion"  # while a client has no goals
# Characters that mean something in a regular expression outside a character class (Python re and RE2 alike).
_REGEX_META = frozenset("\\.^$|?*+()[]{}")
_E = TypeVar("_E", bound=StrEnum)


class GoalKind(StrEnum):
    """What a conversion means to the client's business."""

    PURCHASE = "purchase"
    ENQUIRY = "enquiry"
    REGISTRATION = "registration"
    CUSTOM = "custom"


def glob_to_regex(pattern: str) -> str:
    """A regular expression for ``re.fullmatch`` and DuckDB's ``regexp_full_match`` alike (case-sensitive).

    ``*`` is any run of characters (newlines too), ``?`` exactly one character, everything else literal.
    """
    parts: list[str] = []
    for char in pattern:
        if char == "*":
            parts.append("(?s:.*)")
        elif char == "?":
            parts.append("(?s:.)")
        elif char in _REGEX_META:
            parts.append("\\" + char)
        else:
            parts.append(char)
    return "".join(parts)


def _check_name(name: str) -> str:
    normalized = name.strip().lower()
    if not GOAL_NAME_PATTERN.fullmatch(normalized):
        raise InvalidInput(
            f"invalid goal name {name!r}: use 1-63 letters, digits, '-' or '_', starting with a letter or digit"
        )
    return normalized


def _check_pattern(label: str, pattern: str | None) -> str | None:
    if pattern is None:
        return None
    pattern = pattern.strip()
    if not 1 <= len(pattern) <= MAX_PATTERN_LENGTH:
        raise InvalidInput(f"the {label} pattern must have 1-{MAX_PATTERN_LENGTH} characters, e.g. 'purchase*'")
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in pattern):
        raise InvalidInput(f"the {label} pattern contains control characters; give printable text only")
    return pattern


def _check_min_value(min_value: float | None) -> float | None:
    if min_value is None:
        return None
    if isinstance(min_value, bool) or not isinstance(min_value, int | float):
        raise InvalidInput("the minimum value must be a number such as 50")
    value = float(min_value)
    if not math.isfinite(value) or value < 0:
        raise InvalidInput(f"invalid minimum value {min_value!r}: give a finite number >= 0")
    return value


def _check_enum(enum: type[_E], value: _E | str, label: str) -> _E:
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise InvalidInput(f"unknown {label} {value!r}: use one of {choices}") from None


@dataclass(frozen=True)
class GoalDefinition:
    """One conversion goal of a client; every condition given must hold (``None`` means any)."""

    name: str
    kind: GoalKind
    event_type: str = EventType.GOAL.value
    match: str | None = None
    path: str | None = None
    min_value: float | None = None

    @classmethod
    def create(
        cls,
        name: str,
        *,
        kind: GoalKind | str | None = None,
        event_type: EventType | str = EventType.GOAL,
        match: str | None = None,
        path: str | None = None,
        min_value: float | None = None,
    ) -> GoalDefinition:
        """A validated, normalized goal; ``InvalidInput`` says what to give instead.

        ``kind`` defaults to the name when the name is a kind (``purchase``…), else ``custom``. A ``goal`` or
        ``custom`` goal without ``match`` and ``path`` matches events whose goal name is the goal's name.
        """
        name = _check_name(name)
        if kind is None:
            kind = name if name in {k.value for k in GoalKind} else GoalKind.CUSTOM
        goal_kind = _check_enum(GoalKind, kind, "goal kind")
        event = _check_enum(EventType, event_type, "event type")
        match = _check_pattern("match", match)
        path = _check_pattern("path", path)
        if match is None and path is None:
            if event in (EventType.PAGEVIEW, EventType.CLICK):
                raise InvalidInput(f"a {event.value} goal needs a path or match pattern, e.g. --path '/thank-you*'")
            match = name
        return cls(name, goal_kind, event.value, match, path, _check_min_value(min_value))

    @classmethod
    def from_row(cls, row: Any) -> GoalDefinition:
        """The goal a ``goals`` row stores."""
        return cls(
            name=row.name,
            kind=GoalKind(row.kind),
            event_type=row.event_type,
            match=row.match,
            path=row.path,
            min_value=row.min_value,
        )

    def public(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "name": self.name,
            "kind": self.kind.value,
            "event_type": self.event_type,
            "match": self.match,
            "path": self.path,
            "min_value": self.min_value,
        }


class GoalStore:
    """The clients' goals in the registry database; every change is audited."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_settings(cls, settings: Settings) -> GoalStore:
        """The store in the database ``settings`` name (migrated on first use)."""
        return cls(get_engine(settings))

    def list_goals(self, client_id: str) -> tuple[GoalDefinition, ...]:
        """The client's goals in the order they were added (empty: none, or no such client)."""
        query = select(goals).where(goals.c.client_id == client_id).order_by(goals.c.id)
        with self.engine.connect() as connection:
            return tuple(GoalDefinition.from_row(row) for row in connection.execute(query))

    @staticmethod
    def _lock_client(connection: Connection, client_id: str) -> None:
        """Check the client exists, holding its row until commit (serializes goal changes on PostgreSQL)."""
        row = connection.execute(select(clients.c.id).where(clients.c.id == client_id).with_for_update()).first()
        if row is None:
            raise NotFound(f"unknown client {client_id!r} (see `xmo client list`)")

    def add_goal(self, client_id: str, goal: GoalDefinition, *, actor: str = "cli") -> GoalDefinition:
        """Add ``goal`` to the client's goals (``Conflict`` if the name is taken, at most 50 per client)."""
        try:
            with self.engine.begin() as connection:
                self._lock_client(connection, client_id)
                count = connection.execute(
                    select(func.count()).select_from(goals).where(goals.c.client_id == client_id)
                ).scalar_one()
                if count >= MAX_GOALS_PER_CLIENT:
                    raise InvalidInput(
                        f"client {client_id!r} has {MAX_GOALS_PER_CLIENT} goals, the most allowed; remove one first"
                    )
                connection.execute(
                    insert(goals).values(
                        client_id=client_id,
                        name=goal.name,
                        kind=goal.kind.value,
                        event_type=goal.event_type,
                        match=goal.match,
                        path=goal.path,
                        min_value=goal.min_value,
                        created_at=datetime.now(UTC),
                    )
                )
                audit.record(
                    connection,
                    actor=actor,
                    action="goal.add",
                    client_id=client_id,
                    details={"name": goal.name, "kind": goal.kind.value, "event_type": goal.event_type},
                )
        except IntegrityError as exc:
            raise Conflict(
                f"client {client_id!r} already has a goal named {goal.name!r}; remove it first or pick another name"
            ) from exc
        return goal

    def remove_goal(self, client_id: str, name: str, *, actor: str = "cli") -> None:
        """Remove the client's goal ``name`` (``NotFound`` if it has none of that name)."""
        name = name.strip().lower()
        with self.engine.begin() as connection:
            self._lock_client(connection, client_id)
            removed = connection.execute(
                delete(goals).where(goals.c.client_id == client_id, goals.c.name == name)
            ).rowcount
            if not removed:
                raise NotFound(f"client {client_id!r} has no goal named {name!r} (see `xmo goal list {client_id}`)")
            audit.record(connection, actor=actor, action="goal.remove", client_id=client_id, details={"name": name})
