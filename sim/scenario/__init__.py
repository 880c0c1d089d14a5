"""The scenario language: a typed schema, reference checks, and loading with located errors.

Modules, one job each:

- :mod:`sim.scenario.base`: the strict base class, ids and limits;
- :mod:`sim.scenario.schema_rules`: curves and rules;
- :mod:`sim.scenario.schema_events`: signals, conditions, events, decisions, outcomes;
- :mod:`sim.scenario.schema`: clock, agents and :class:`Scenario`;
- :mod:`sim.scenario.references`: checks that every name a scenario uses exists, on
  the raw mapping, run by ``Scenario``'s validator (:mod:`sim.scenario.signal_graph`:
  no cycle or over-long chain of signals);
- :mod:`sim.scenario.load`: YAML files with locations, every problem reported at once;
- :mod:`sim.scenario.editor`: the JSON Schema for editors.

The names other modules use are re-exported here.
"""

from sim.scenario.base import (
    MAX_MAGNITUDE,
    MAX_POSITIONS,
    MAX_SIGNAL_DEPTH,
    MAX_TICKS,
    PARAM_RANGES,
    UNRESOLVED,
    Id,
    Strict,
    Time,
)
from sim.scenario.editor import json_schema
from sim.scenario.load import (
    late_times,
    load_scenario,
    problems_from_validation,
    scenario_from_dict,
    validate_data,
)
from sim.scenario.references import check_references
from sim.scenario.schema import Agent, Clock, Group, Individual, Population, Scenario, Source
from sim.scenario.schema_events import (
    AddOffset,
    AtLeast,
    AtTrigger,
    ChangeParam,
    Condition,
    ConditionTrigger,
    ConstantTerm,
    CurveTerm,
    DeadlineTrigger,
    Decision,
    DecisionTrigger,
    Effect,
    Event,
    EventOutcomeTrigger,
    EventTrigger,
    EveryTrigger,
    FlagTerm,
    Force,
    FractionQuorum,
    FractionTerm,
    OpinionTerm,
    Outcome,
    OutcomeTrigger,
    PositionTerm,
    Quorum,
    Schedule,
    SetFlag,
    SignalTerm,
    Term,
    TraceLine,
    Unanimous,
    WhenTrigger,
)
from sim.scenario.schema_rules import (
    AveragingRule,
    ConstantCurve,
    Curve,
    FixedRule,
    HazardRule,
    IndividualRule,
    LogisticRule,
    PiecewiseCurve,
    PopulationRule,
    RampCurve,
    ScheduledRule,
    StepCurve,
    ThresholdRule,
)

__all__ = [
    "MAX_MAGNITUDE",
    "MAX_POSITIONS",
    "MAX_SIGNAL_DEPTH",
    "MAX_TICKS",
    "PARAM_RANGES",
    "UNRESOLVED",
    "AddOffset",
    "Agent",
    "AtLeast",
    "AtTrigger",
    "AveragingRule",
    "ChangeParam",
    "Clock",
    "Condition",
    "ConditionTrigger",
    "ConstantCurve",
    "ConstantTerm",
    "Curve",
    "CurveTerm",
    "DeadlineTrigger",
    "Decision",
    "DecisionTrigger",
    "Effect",
    "Event",
    "EventOutcomeTrigger",
    "EventTrigger",
    "EveryTrigger",
    "FixedRule",
    "FlagTerm",
    "Force",
    "FractionQuorum",
    "FractionTerm",
    "Group",
    "HazardRule",
    "Id",
    "Individual",
    "IndividualRule",
    "LogisticRule",
    "OpinionTerm",
    "Outcome",
    "OutcomeTrigger",
    "PiecewiseCurve",
    "Population",
    "PopulationRule",
    "PositionTerm",
    "Quorum",
    "RampCurve",
    "Scenario",
    "Schedule",
    "ScheduledRule",
    "SetFlag",
    "SignalTerm",
    "Source",
    "StepCurve",
    "Strict",
    "Term",
    "ThresholdRule",
    "Time",
    "TraceLine",
    "Unanimous",
    "WhenTrigger",
    "check_references",
    "json_schema",
    "late_times",
    "load_scenario",
    "problems_from_validation",
    "scenario_from_dict",
    "validate_data",
]
