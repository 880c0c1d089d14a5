"""User-facing errors: every message names where the bad input is."""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file.

    Parameters
    ----------
    source : str
        File name, or ``--set PATH=VALUE`` for a command-line override.
    line, column : int or None
        1-based position in ``source``, when known.
    path : str
        Dotted field path, e.g. ``agents.toner.rules.0.resistance``.
    message : str
        What is wrong and what was expected.
    """

    source: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class InputError(Exception):
    """Bad user input (a file, a flag); the CLI prints it and exits with status 2."""

    def __init__(self, problems: list[Problem] | str) -> None:
        if isinstance(problems, str):
            problems = [Problem("", None, None, "", problems)]
        self.problems = problems
        super().__init__("\n".join(str(p).lstrip(": ") for p in problems))


def warn(problems: list[Problem]) -> None:
    """Print located warnings on stderr (the input is used as it is)."""
    for p in problems:
        print(f"warning: {str(p).lstrip(': ')}", file=sys.stderr)


def caused_by_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is, or was raised while handling, a Ctrl-C (KeyboardInterrupt).

    A Ctrl-C that lands while a C extension initialises (matplotlib's Agg
    renderer, a Cython module imported lazily) surfaces as that import's
    ``ImportError`` with the KeyboardInterrupt as its cause; it is still the
    user's interrupt, and is reported as one.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
