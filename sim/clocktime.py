"""Simulated hours shown as wall-clock dates when a scenario has a start."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sim.scenario import Clock


def to_datetime(clock: Clock, hours: float) -> datetime | None:
    """The wall-clock time ``hours`` after the start, in the scenario's zone."""
    if clock.start is None:
        return None
    try:
        when = clock.start + timedelta(hours=hours)
        if clock.timezone is not None:
            when = when.astimezone(ZoneInfo(clock.timezone))
    except (OverflowError, ValueError):
        return None  # past year 9999 (only a time that never comes can be)
    return when


def format_time(clock: Clock, hours: float | None) -> str:
    """``"98.0 h"``, plus the date (``"Mon 20 Nov 14:00 PST"``) when the clock has a start."""
    if hours is None:
        return "—"
    text = f"{hours:.1f} h"
    when = to_datetime(clock, hours)
    if when is not None:
        text += f" ({when.strftime('%a %d %b %H:%M')} {when.tzname()})"
    return text
