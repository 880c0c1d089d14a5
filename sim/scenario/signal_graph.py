"""Signals that refer to signals: no cycle, and no chain too long to evaluate.

Signals are evaluated recursively, so these are checked on the raw mapping
with the other references (:mod:`sim.scenario.references`); the walks are
iterative, since the chains they look at can be long.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sim.scenario.base import MAX_SIGNAL_DEPTH


def _graph(signals: dict[str, Any]) -> dict[str, list[str]]:
    """``signal -> signals its terms name`` (only names of signals that exist)."""
    out: dict[str, list[str]] = {}
    for s, terms in signals.items():
        named = (
            [t.get("signal") for t in terms if isinstance(t, dict)]
            if isinstance(terms, list)
            else []
        )
        out[s] = [n for n in named if isinstance(n, str) and n in signals]
    return out


def signal_chains(signals: dict[str, Any]) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """No cycle of signals referring to signals, and no chain too long to evaluate."""
    graph = _graph(signals)
    cycle = _cycle(graph)
    if cycle:
        yield ("signals", cycle[0]), f"signals refer to each other in a cycle: {' -> '.join(cycle)}"
        return
    deep = _too_deep(graph)
    if deep is not None:
        yield (
            ("signals", deep),
            f"signal {deep!r} starts a chain of more than {MAX_SIGNAL_DEPTH} signals "
            f"referring to signals; at most {MAX_SIGNAL_DEPTH} are allowed",
        )


def _cycle(graph: dict[str, list[str]]) -> list[str]:
    """A cycle in ``graph``, or ``[]``; iterative (chains can be long)."""
    state: dict[str, int] = {}
    for root in graph:
        if root in state:
            continue
        stack: list[str] = [root]
        todo: list[Iterator[str]] = [iter(graph[root])]
        state[root] = 1
        while todo:
            nxt = next(todo[-1], None)
            if nxt is None:
                state[stack.pop()] = 2
                todo.pop()
            elif state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            elif nxt not in state:
                state[nxt] = 1
                stack.append(nxt)
                todo.append(iter(graph[nxt]))
    return []


def _too_deep(graph: dict[str, list[str]]) -> str | None:
    """A signal that starts a chain longer than :data:`MAX_SIGNAL_DEPTH` (no cycle assumed).

    Signals are evaluated recursively, so a very long chain would overflow the
    stack at run time.
    """
    depth: dict[str, int] = {}
    for root in graph:
        stack = [root]
        while stack:
            s = stack[-1]
            if s in depth:
                stack.pop()
                continue
            missing = [t for t in graph[s] if t not in depth]
            if missing:
                stack.extend(missing)
            else:
                depth[s] = 1 + max((depth[t] for t in graph[s]), default=0)
                stack.pop()
                if depth[s] > MAX_SIGNAL_DEPTH:
                    return s
    return None
