"""Random parameters: a number or a distribution, drawn once per replicate.

In YAML a distribution is a one-key mapping naming it, e.g.
``{uniform: [55, 70]}`` or ``{normal: [0.5, 0.2], clip: [0, 1]}``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def support(self) -> tuple[float, float]:
        """Smallest interval holding every value the distribution can give."""
        raise NotImplementedError

    def draw(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:
        """Draw ``size`` values."""
        raise NotImplementedError


class Uniform(_Dist):
    """Uniform on ``[low, high]``."""

    uniform: tuple[float, float] = Field(description="[low, high]")

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        lo, hi = self.uniform
        if not lo <= hi:
            raise ValueError(f"uniform needs low <= high, got [{lo}, {hi}]")
        return self

    def support(self) -> tuple[float, float]:  # noqa: D102
        return self.uniform

    def draw(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:  # noqa: D102
        return rng.uniform(self.uniform[0], self.uniform[1], size)


class Normal(_Dist):
    """Normal with mean and standard deviation; ``clip`` sets outside values to the bound."""

    normal: tuple[float, float] = Field(description="[mean, standard deviation]")
    clip: tuple[float, float] | None = Field(None, description="[low, high]")

    @model_validator(mode="after")
    def _valid(self) -> Normal:
        if self.normal[1] < 0:
            raise ValueError(f"normal needs a standard deviation >= 0, got {self.normal[1]}")
        if self.clip is not None and not self.clip[0] <= self.clip[1]:
            raise ValueError(f"clip needs low <= high, got {list(self.clip)}")
        return self

    def support(self) -> tuple[float, float]:  # noqa: D102
        if self.clip is not None:
            return self.clip
        if self.normal[1] == 0:
            return (self.normal[0], self.normal[0])
        return (-math.inf, math.inf)

    def draw(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:  # noqa: D102
        x = rng.normal(self.normal[0], self.normal[1], size)
        if self.clip is not None:
            np.clip(x, self.clip[0], self.clip[1], out=x)
        return x


class Beta(_Dist):
    """Beta distribution on [0, 1] with shape parameters ``[a, b]``."""

    beta: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = Field(
        description="[a, b], both > 0"
    )

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (0.0, 1.0)

    def draw(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:  # noqa: D102
        return rng.beta(self.beta[0], self.beta[1], size)


class Triangular(_Dist):
    """Triangular on ``[left, right]`` with its peak at ``mode``."""

    triangular: tuple[float, float, float] = Field(description="[left, mode, right]")

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        lo, mode, hi = self.triangular
        if not lo <= mode <= hi:
            raise ValueError(f"triangular needs left <= mode <= right, got {[lo, mode, hi]}")
        return self

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (self.triangular[0], self.triangular[2])

    def draw(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:  # noqa: D102
        lo, mode, hi = self.triangular
        if lo == hi:
            return np.full(size, lo, dtype=float)
        return rng.triangular(lo, mode, hi, size)


class LogNormal(_Dist):
    """Log-normal: ``exp`` of a normal with ``[mu, sigma]``."""

    lognormal: tuple[float, Annotated[float, Field(ge=0)]] = Field(
        description="[mu, sigma] of the underlying normal"
    )

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (0.0, math.inf)

    def draw(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:  # noqa: D102
        return rng.lognormal(self.lognormal[0], self.lognormal[1], size)


class Choice(_Dist):
    """One of the listed values, with probabilities ``p`` (equal when omitted)."""

    choice: list[float] = Field(min_length=1, description="the values")
    p: list[Annotated[float, Field(ge=0, le=1)]] | None = Field(
        None, description="probability of each value; sums to 1"
    )

    @model_validator(mode="after")
    def _valid(self) -> Choice:
        if self.p is not None:
            if len(self.p) != len(self.choice):
                raise ValueError(
                    f"p has {len(self.p)} entries but choice has {len(self.choice)} values"
                )
            if abs(sum(self.p) - 1.0) > 1e-9:
                raise ValueError(f"p must sum to 1, sums to {sum(self.p)}")
        return self

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (min(self.choice), max(self.choice))

    def draw(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:  # noqa: D102
        return rng.choice(np.asarray(self.choice, dtype=float), size=size, p=self.p)


Distribution = Uniform | Normal | Beta | Triangular | LogNormal | Choice
DIST_NAMES = ("uniform", "normal", "beta", "triangular", "lognormal", "choice")


def _param_tag(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return "constant"
    if isinstance(value, _Dist):
        for name in DIST_NAMES:
            if name in type(value).model_fields:
                return name
    if isinstance(value, dict):
        for name in DIST_NAMES:
            if name in value:
                return name
    return None


Param = Annotated[
    Annotated[float, Tag("constant")]
    | Annotated[Uniform, Tag("uniform")]
    | Annotated[Normal, Tag("normal")]
    | Annotated[Beta, Tag("beta")]
    | Annotated[Triangular, Tag("triangular")]
    | Annotated[LogNormal, Tag("lognormal")]
    | Annotated[Choice, Tag("choice")],
    Discriminator(
        _param_tag,
        custom_error_type="param",
        custom_error_message=(
            "expected a number or a distribution ({uniform: [a, b]}, {normal: [m, s]}, "
            "{beta: [a, b]}, {triangular: [l, m, r]}, {lognormal: [mu, s]}, {choice: [...]})"
        ),
    ),
]


def support(value: float | _Dist) -> tuple[float, float]:
    """Support of a parameter (a constant's is the point itself)."""
    if isinstance(value, _Dist):
        return value.support()
    return (float(value), float(value))


def within(lo: float, hi: float, what: str) -> AfterValidator:
    """Validator: every value a parameter can take lies in ``[lo, hi]``."""

    def check(value: float | _Dist) -> float | _Dist:
        a, b = support(value)
        if a < lo or b > hi:
            shown = value if not isinstance(value, _Dist) else value.model_dump(exclude_none=True)
            span = f"[{lo:g}, {hi:g}]".replace("inf", "∞")
            raise ValueError(f"{what} must lie in {span}, got {shown}")
        return value

    return AfterValidator(check)


Probability = Annotated[Param, within(0.0, 1.0, "a probability")]
Hours = Annotated[Param, within(0.0, math.inf, "a time in hours")]
NonNegative = Annotated[Param, within(0.0, math.inf, "this value")]


def draw(value: float | _Dist, rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:
    """Draw ``size`` values of a parameter (a constant is repeated, drawing nothing)."""
    if isinstance(value, _Dist):
        return np.asarray(value.draw(rng, size), dtype=float)
    return np.full(size, float(value))


def is_random(value: float | _Dist) -> bool:
    """Whether a parameter is a distribution (not a constant)."""
    return isinstance(value, _Dist)
