"""Helpers shared by the commands: error reporting and option parsing."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from sim.errors import InputError

T = TypeVar("T")
stderr = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)  # ":100:" is a line
EXIT_INPUT = 2


def fail(message: str) -> typer.Exit:
    """Print an error and return the exit to raise (status 2)."""
    stderr.print(f"[bold red]error:[/] {escape(message)}", markup=True, highlight=False)
    return typer.Exit(EXIT_INPUT)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn :class:`InputError` (and bad values) into a message and exit status 2."""
    try:
        yield
    except InputError as exc:
        print_problems(exc)
        raise typer.Exit(EXIT_INPUT) from None
    except ValueError as exc:
        raise fail(str(exc)) from None


def print_problems(exc: InputError) -> None:
    """One located line per problem on stderr."""
    for p in exc.problems:
        stderr.print(
            f"[bold red]error:[/] {escape(str(p).lstrip(': '))}", markup=True, highlight=False
        )


def show_progress() -> bool:
    """Progress bars only when a person watches stderr."""
    return sys.stderr.isatty()


def guarded(fn: Callable[..., T]) -> Callable[..., T]:
    """Decorator form of :func:`user_errors`."""

    def wrapper(*args: object, **kwargs: object) -> T:
        with user_errors():
            return fn(*args, **kwargs)

    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapper
