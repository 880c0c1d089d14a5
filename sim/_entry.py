"""Entry point of ``stancesim`` and ``python -m sim``: Ctrl-C is handled from its first line.

This module imports only the standard library. Until the command line has
been parsed and a command starts, SIGINT prints one line and ends the process
with status 130 (the shell's code for an interrupt), wherever the heavy
imports (numpy, pydantic, typer, the package) happen to be; a command then
gets the ordinary :class:`KeyboardInterrupt`, so that it can clean up and say
what was kept. The handler is installed here and not in ``sim/__init__``:
importing the package (in a notebook, say) must leave interrupts alone.
"""

from __future__ import annotations

import gc
import os
import signal
import sys
from types import FrameType
from typing import NoReturn

from sim._startup_gc import hold_collector

#: exit status after an interrupt (128 + SIGINT), as shells report it
EXIT_INTERRUPTED = 130
MESSAGE = b"stancesim: interrupted\n"
#: test hook: when set, start-up prints a line on stdout while importing and
#: waits for a line on stdin, so a test can interrupt it at a known moment
HOLD_VARIABLE = "STANCESIM_TEST_HOLD_STARTUP"
#: pydantic's switch for its plugins (``__all__``: none)
PLUGINS_VARIABLE = "PYDANTIC_DISABLE_PLUGINS"


def _interrupted_at_startup(signum: int, frame: FrameType | None) -> None:
    # nothing is written to disk before a command starts, so leave at once;
    # os.write rather than sys.stderr: a signal handler may interrupt a print
    try:
        os.write(2, MESSAGE)
    finally:
        os._exit(EXIT_INTERRUPTED)


def _interrupted() -> NoReturn:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not become a traceback
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    os.write(2, MESSAGE)
    raise SystemExit(EXIT_INTERRUPTED)


def _hold_for_test() -> None:
    import numpy  # noqa: F401  (an import in progress, as when a user presses Ctrl-C)

    sys.stdout.write("stancesim: start-up held (test hook)\n")
    sys.stdout.flush()
    sys.stdin.readline()


def main() -> None:
    """Run the command line with interrupts handled from the start."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.SIG_IGN:  # started with interrupts ignored (nohup): keep it so
        signal.signal(signal.SIGINT, _interrupted_at_startup)
    try:
        if sys.argv[1:] == ["--version"]:  # answered without loading anything
            from sim._version import __version__

            print(f"stancesim {__version__}")
            return
        if os.environ.get(HOLD_VARIABLE):
            _hold_for_test()
        # no cyclic collection while the command line and the command's module are
        # imported: sim/cli/__init__.py turns it back on once it has the module
        # (why: sim/_startup_gc.py)
        hold_collector()
        # pydantic looks for plugins (observability hooks) in the entry points of every
        # installed distribution when it builds its first validator: about 30 ms, a
        # tenth of a ``validate``. The command line's own schemas need no plugin (typer
        # builds its parameters' validators with them off too); a user who sets the
        # variable, even to nothing, decides instead
        os.environ.setdefault(PLUGINS_VARIABLE, "__all__")
        from sim.cli import app

        command = app.__call__
        # from here on a command may have something to clean up: give it the interrupt
        restore = previous if previous is not None else signal.default_int_handler
        signal.signal(signal.SIGINT, restore)
        try:
            command()
        finally:
            # the process ends with the command: rather than free every module and
            # schema object one by one at exit (about 0.1 s of CPU, a third of a
            # ``validate``), leave them to the OS; atexit handlers and flushes still run
            gc.freeze()
    except KeyboardInterrupt:
        _interrupted()
    except Exception as exc:
        from sim.errors import caused_by_interrupt

        if caused_by_interrupt(exc):  # e.g. an ImportError of an extension it interrupted
            _interrupted()
        raise
