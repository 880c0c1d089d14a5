"""Helpers shared by the commands: error reporting and option parsing."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from sim.errors import InputError

if TYPE_CHECKING:
    from rich.console import Console

    stderr: Console

T = TypeVar("T")
EXIT_INPUT = 2


@cache
def _stderr() -> Console:
    # rich is loaded on first use: ``validate`` and ``schema`` start faster without it
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)  # ":100:" is a line


def __getattr__(name: str) -> Any:
    """``stderr``, the rich console of the commands, made on first use."""
    if name == "stderr":
        return _stderr()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _error(message: str) -> None:
    """One ``error:`` line on stderr (bold red on a terminal)."""
    typer.secho("error:", fg="red", bold=True, err=True, nl=False)
    typer.echo(f" {message}", err=True)


def fail(message: str) -> typer.Exit:
    """Print an error and return the exit to raise (status 2)."""
    _error(message)
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
        _error(str(p).lstrip(": "))


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
