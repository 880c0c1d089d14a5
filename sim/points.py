"""A scenario at a parameter point: the base data with dotted paths set, validated.

Shared by sweeps (:mod:`sim.sweeps`) and calibration (:mod:`sim.calibrate`),
which both run a base scenario at many points of its parameters. Values are
set exactly as ``--set PATH=VALUE`` would set them, and a bad value is reported
as the ``--param`` flag that gave it.
"""

from __future__ import annotations

import copy
from typing import Any

from sim.scenario import Scenario, validate_data
from sim.yamlio import Located, set_path, split_path


def point_scenario(base: dict[str, Any], paths: list[str], values: tuple[Any, ...]) -> Scenario:
    """The scenario of one point: the base data with the point's values set.

    Parameters
    ----------
    base : dict
        The base scenario's data (:meth:`sim.scenario.Scenario.canonical`); never changed.
    paths : list of str
        Dotted paths of the parameters, as for ``--set``.
    values : tuple
        One value per path.

    Raises
    ------
    InputError
        A path does not exist or a value is invalid there.
    """
    data = copy.deepcopy(base)
    located = Located(data, "sweep point")
    for path, value in zip(paths, values, strict=True):
        flag = f"--param {path}={value}"
        resolved = set_path(data, split_path(path, flag), value, flag)
        located.overrides[tuple(resolved)] = flag
    return validate_data(located)
