"""One shape for every benchmark's targets: ``"targets": {name: {"value", "target", "met"}}`` in its JSON line."""

from __future__ import annotations

from typing import Any


def at_most(value: float | None, target: float) -> dict[str, Any]:
    """A target the figure must not exceed (a time, a latency, memory); not met when there is no figure."""
    return {"value": value, "target": target, "met": value is not None and value <= target}


def at_least(value: float | None, target: float) -> dict[str, Any]:
    """A target the figure must reach (a rate, a ratio); not met when there is no figure."""
    return {"value": value, "target": target, "met": value is not None and value >= target}


def holds(value: bool) -> dict[str, Any]:
    """A yes/no target (every event stored, nothing doubled)."""
    return {"value": value, "target": True, "met": bool(value)}


def all_met(targets: dict[str, dict[str, Any]]) -> bool:
    """Whether every target is met."""
    return all(entry["met"] for entry in targets.values())


def target_lines(targets: dict[str, dict[str, Any]]) -> list[str]:
    """A verdict line, then one line per target: its figure, the target and whether it was met (and by how much
    it was missed)."""
    lines = [f"targets: {'all met' if all_met(targets) else 'NOT all met'}"]
    for name, entry in targets.items():
        value, target = entry["value"], entry["target"]
        verdict = "met" if entry["met"] else "MISSED"
        if not entry["met"] and isinstance(value, int | float) and not isinstance(value, bool) and target:
            verdict += f" ({value / target:.2f}x the target)"
        lines.append(f"  {name}: {value} (target {target}): {verdict}")
    return lines
