"""Start-up: Ctrl-C while the package loads gives one line and 130; ``import sim`` is light."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tomllib

import pytest
from conftest import ROOT, interruptible

import sim
from sim._entry import HOLD_VARIABLE

TINY = ROOT / "benchmarks" / "tiny.yaml"
ENTRY_FORMS = {
    "python -m sim": [sys.executable, "-m", "sim"],
    "console script": [sys.executable, "-c", "from sim._entry import main; main()"],
}


def _python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        preexec_fn=interruptible,
    )
    return done.stdout.strip()


@pytest.mark.parametrize("form", sorted(ENTRY_FORMS))
def test_ctrl_c_during_start_up_gives_one_line_and_130(form: str) -> None:
    cmd = [*ENTRY_FORMS[form], "run", str(TINY), "-n", "10"]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, HOLD_VARIABLE: "1"},
        cwd=ROOT,
        preexec_fn=interruptible,
    )
    try:
        assert proc.stdout is not None
        # the hook prints this while the package is still being imported, then waits
        assert proc.stdout.readline() == "stancesim: start-up held (test hook)\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err.splitlines() == ["stancesim: interrupted"]
    assert "Traceback" not in err and out == ""


def test_console_script_points_at_the_light_entry_module() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["stancesim"] == "sim._entry:main"
    # the entry module itself loads nothing heavy, so its handler is in place at once
    heavy = _python(
        "import sys, sim._entry; "
        "print(sorted(m for m in ('numpy', 'typer', 'pydantic', 'sim.cli') if m in sys.modules))"
    )
    assert heavy == "[]"


def test_import_sim_is_light_and_leaves_interrupts_alone() -> None:
    out = _python(
        "import signal, sys; before = signal.getsignal(signal.SIGINT); import sim; "
        "print('numpy' in sys.modules, signal.getsignal(signal.SIGINT) is before, "
        "before is signal.default_int_handler)"
    )
    assert out == "False True True"
    # the names still load on use, and still no handler (a notebook's Ctrl-C stays its own)
    out = _python(
        "import signal, sim; sim.run; sim.load_scenario; "
        "print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    )
    assert out == "True"


def test_public_names_resolve() -> None:
    for name in sim.__all__:
        assert getattr(sim, name) is not None
        assert name in dir(sim)
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = sim.nothing  # type: ignore[attr-defined]


def test_the_command_line_leaves_its_objects_to_the_os_at_exit() -> None:
    # freeing every module and schema object one by one at exit cost about 0.1 s of a
    # 0.3 s ``validate`` (benchmarks/bench_startup.py); frozen objects are left to the OS
    out = _python(
        "import gc, sys\n"
        "sys.argv = ['stancesim', 'validate', 'scenarios/bench_770.yaml']\n"
        "from sim._entry import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(gc.get_freeze_count() > 1000)"
    )
    assert out.splitlines()[-1] == "True"
    # a library user's process is its own: importing or running leaves the collector alone
    out = _python(
        "import gc, sim\n"
        "sim.load_scenario('scenarios/bench_770.yaml')\n"
        "print(gc.get_freeze_count(), gc.get_threshold()[0], gc.isenabled())"
    )
    assert out.splitlines()[-1] == "0 700 True"


def test_the_command_line_collects_no_garbage_until_the_command_is_in() -> None:
    # start-up makes ~73,000 objects (validate) that live as long as the process; the collector
    # walked them over and over (~55 ms of a validate) and found no garbage
    out = _python(
        "import gc, sys\n"
        "during = []\n"
        "gc.callbacks.append(lambda phase, info: phase == 'start' and during.append(\n"
        "    'sim.cli' in sys.modules and 'sim.cli.validate' not in sys.modules))\n"
        "sys.argv = ['stancesim', 'validate', 'scenarios/bench_770.yaml']\n"
        "from sim._entry import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(any(during), len(during) > 0, gc.isenabled(), gc.get_threshold()[0])"
    )
    # none while starting, some once the command runs, with Python's collector
    assert out.splitlines()[-1] == "False True True 700"


def test_start_up_hold_of_the_collector_respects_one_turned_off() -> None:
    out = _python(
        "import gc\n"
        "from sim._startup_gc import hold_collector, release_collector\n"
        "release_collector()  # without a hold: nothing\n"
        "a = (gc.isenabled(), gc.get_freeze_count())\n"
        "gc.disable(); hold_collector(); release_collector()\n"
        "b = gc.isenabled()\n"
        "gc.enable(); hold_collector(); c = gc.isenabled(); release_collector()\n"
        "print(a == (True, 0), b, c, gc.isenabled(), gc.get_freeze_count() > 0)"
    )
    assert out.splitlines()[-1] == "True False False True True"
