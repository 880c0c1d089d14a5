"""Random parameters: a number or a distribution, drawn once per replicate.

In YAML a distribution is a one-key mapping naming it, e.g.
``{uniform: [55, 70]}``, ``{normal: [0.5, 0.2], clip: [0, 1]}`` (values outside
put on the bound) or ``{normal: [0.5, 0.2], truncate: [0, 1]}`` (values only
inside, the mass renormalised there).
"""

import math
from typing import Annotated, Any, ClassVar, Literal, Self

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SerializerFunctionWrapHandler,
    Tag,
    model_serializer,
    model_validator,
)

from sim import truncation as T
from sim.schema_bounds import Bounds

FloatArray = np.ndarray[Any, np.dtype[np.float64]]

#: Latest time a scenario may name, in hours (about 114 years); with ticks of at
#: least :data:`MIN_TICK` hours every time then maps to a tick index that fits
#: in 64 bits.
MAX_HOURS = 1_000_000.0
#: Shortest tick, in hours (3.6 ms).
MIN_TICK = 1e-6
#: The word for a time that never comes (``patience: never``).
NEVER = "never"
#: What ``never`` is drawn as: later than any horizon, and still a finite tick index.
NEVER_HOURS = 1e12


class _Dist(BaseModel):
    # every number is finite: NaN or infinity in a parameter gives silently wrong results;
    # built on first use, as the scenario's models are (see sim.scenario.base.Strict)
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, defer_build=True)

    def support(self) -> tuple[float, float]:
        """Smallest interval holding every value the distribution can give."""
        raise NotImplementedError

    def draw(self, rng: "np.random.Generator", size: int | tuple[int, ...]) -> FloatArray:
        """Draw ``size`` values."""
        raise NotImplementedError

    def fill(self, rng: "np.random.Generator", out: FloatArray) -> None:
        """Write into ``out`` exactly what ``draw(rng, out.shape)`` returns (same stream use)."""
        out[...] = self.draw(rng, out.shape)

    def mean(self) -> float:
        """The distribution's mean, in closed form (of the values drawn, after any clip)."""
        raise NotImplementedError

    #: whether a Gaussian copula may correlate it (continuous, with an inverse CDF)
    continuous: ClassVar[bool] = True

    @model_serializer(mode="wrap")
    def _omit_unset(self, handler: SerializerFunctionWrapHandler) -> Any:
        # a later option left unset is not written: the canonical form, and so the
        # hash, of every scenario written before it stays what it was
        data = handler(self)
        if isinstance(data, dict) and data.get("truncate", 0) is None:
            del data["truncate"]
        return data

    def ppf(self, u: FloatArray) -> FloatArray:
        """Inverse CDF at uniforms ``u`` (what a correlated parameter is drawn through)."""
        raise NotImplementedError

    def from_normal(self, z: FloatArray) -> FloatArray:
        """The value whose quantile is that of standard normals ``z``: ``ppf(Φ(z))``."""
        return self.ppf(T.std_normal_cdf(z))


class Uniform(_Dist):
    """Uniform on ``[low, high]``."""

    uniform: tuple[float, float] = Field(description="[low, high]")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        lo, hi = self.uniform
        if not lo <= hi:
            raise ValueError(f"uniform needs low <= high, got [{lo}, {hi}]")
        return self

    def support(self) -> tuple[float, float]:  # noqa: D102
        return self.uniform

    def draw(self, rng: "np.random.Generator", size: int | tuple[int, ...]) -> FloatArray:  # noqa: D102
        return rng.uniform(self.uniform[0], self.uniform[1], size)

    def mean(self) -> float:  # noqa: D102
        return (self.uniform[0] + self.uniform[1]) / 2

    def ppf(self, u: FloatArray) -> FloatArray:  # noqa: D102
        lo, hi = self.uniform
        return lo + np.asarray(u, dtype=float) * (hi - lo)


class Normal(_Dist):
    """Normal with mean and standard deviation.

    ``clip`` sets outside values to the bound (mass piles up on it);
    ``truncate`` draws only inside, the density renormalised there.
    """

    normal: tuple[float, float] = Field(description="[mean, standard deviation]")
    clip: tuple[float, float] | None = Field(None, description="[low, high]")
    truncate: T.Truncate | None = Field(None, description=T.TRUNCATE_HELP)

    @model_validator(mode="after")
    def _valid(self) -> Self:
        if self.normal[1] < 0:
            raise ValueError(f"normal needs a standard deviation >= 0, got {self.normal[1]}")
        if self.clip is not None and not self.clip[0] <= self.clip[1]:
            raise ValueError(f"clip needs low <= high, got {list(self.clip)}")
        if self.clip is not None and self.truncate is not None:
            raise ValueError("give clip or truncate, not both")
        T.check_truncate(self.truncate, self.normal[0], self.normal[1], "this normal (sd 0)")
        return self

    def _std(self) -> tuple[float, float]:
        """The truncation in standard units (sd > 0)."""
        assert self.truncate is not None
        return T.std_bounds(*self.truncate, *self.normal)

    def support(self) -> tuple[float, float]:  # noqa: D102
        if self.clip is not None:
            return self.clip
        if self.normal[1] == 0:
            return (self.normal[0], self.normal[0])
        if self.truncate is not None:
            lo, hi = self.truncate
            return (-math.inf if lo is None else lo, math.inf if hi is None else hi)
        return (-math.inf, math.inf)

    def draw(self, rng: "np.random.Generator", size: int | tuple[int, ...]) -> FloatArray:  # noqa: D102
        if self.truncate is not None:
            # by the inverse CDF of one uniform per value (scipy.stats.truncnorm.ppf):
            # the block's stream advances by exactly `size` doubles whatever the bounds
            # (rejection would take a number that depends on them and on the draws), and
            # the same inverse CDF serves correlated draws (from_normal)
            return self.ppf(rng.random(size))
        x = np.empty(size)
        self.fill(rng, x)
        return x

    def fill(self, rng: "np.random.Generator", out: FloatArray) -> None:  # noqa: D102
        if self.truncate is not None or not (out.flags.c_contiguous and out.dtype == np.float64):
            super().fill(rng, out)
            return
        # rng.normal(mu, sigma) computes mu + sigma * z for each standard normal z, and
        # these are those numbers, bit for bit; drawn straight into `out` (a batch's
        # thresholds), with no temporary array to allocate and copy
        rng.standard_normal(out=out)
        out *= self.normal[1]
        out += self.normal[0]
        if self.clip is not None:
            np.clip(out, self.clip[0], self.clip[1], out=out)

    def ppf(self, u: FloatArray) -> FloatArray:  # noqa: D102
        mu, sigma = self.normal
        if sigma == 0:
            return self.from_normal(np.zeros(np.shape(u)))
        if self.truncate is not None:
            return mu + sigma * T.truncated_std_ppf(u, *self._std())
        return self.from_normal(T.std_normal_ppf(u))

    def from_normal(self, z: FloatArray) -> FloatArray:  # noqa: D102
        if self.truncate is not None and self.normal[1] > 0:
            return self.ppf(T.std_normal_cdf(z))
        # untruncated: the quantile map is linear, no round trip through Φ
        x = self.normal[0] + self.normal[1] * np.asarray(z, dtype=float)
        return np.clip(x, *self.clip) if self.clip is not None else x

    def mean(self) -> float:
        """The mean; with ``clip``, of the clipped normal (mass outside sits on the bounds).

        E[clip(X, l, h)] = l Φ(α) + h (1 - Φ(β)) + μ (Φ(β) - Φ(α)) + σ (φ(α) - φ(β)),
        with α = (l - μ) / σ and β = (h - μ) / σ. With ``truncate``, of the
        truncated normal: μ + σ (φ(α) - φ(β)) / (Φ(β) - Φ(α)).
        """
        mu, sigma = self.normal
        if self.truncate is not None:
            return mu if sigma == 0 else mu + sigma * T.std_truncated_mean(*self._std())
        if self.clip is None:
            return mu
        lo, hi = self.clip
        if sigma == 0:
            return min(max(mu, lo), hi)
        a, b = (lo - mu) / sigma, (hi - mu) / sigma
        below, above = _std_normal_cdf(a), 1.0 - _std_normal_cdf(b)
        inside = 1.0 - below - above
        return (
            lo * below
            + hi * above
            + mu * inside
            + sigma * (_std_normal_pdf(a) - _std_normal_pdf(b))
        )


class Beta(_Dist):
    """Beta distribution on [0, 1] with shape parameters ``[a, b]``."""

    beta: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = Field(
        description="[a, b], both > 0"
    )

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (0.0, 1.0)

    def draw(self, rng: "np.random.Generator", size: int | tuple[int, ...]) -> FloatArray:  # noqa: D102
        return rng.beta(self.beta[0], self.beta[1], size)

    def mean(self) -> float:  # noqa: D102
        a, b = self.beta
        return a / (a + b)

    def ppf(self, u: FloatArray) -> FloatArray:  # noqa: D102
        from scipy.stats import beta

        return np.asarray(beta.ppf(u, *self.beta), dtype=float)


class Triangular(_Dist):
    """Triangular on ``[left, right]`` with its peak at ``mode``."""

    triangular: tuple[float, float, float] = Field(description="[left, mode, right]")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        lo, mode, hi = self.triangular
        if not lo <= mode <= hi:
            raise ValueError(f"triangular needs left <= mode <= right, got {[lo, mode, hi]}")
        return self

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (self.triangular[0], self.triangular[2])

    def draw(self, rng: "np.random.Generator", size: int | tuple[int, ...]) -> FloatArray:  # noqa: D102
        lo, mode, hi = self.triangular
        if lo == hi:
            return np.full(size, lo, dtype=float)
        return rng.triangular(lo, mode, hi, size)

    def mean(self) -> float:  # noqa: D102
        return sum(self.triangular) / 3

    def ppf(self, u: FloatArray) -> FloatArray:  # noqa: D102
        from scipy.stats import triang

        lo, mode, hi = self.triangular
        if lo == hi:
            return np.full(np.shape(u), lo, dtype=float)
        c = (mode - lo) / (hi - lo)
        return np.asarray(triang.ppf(u, c, loc=lo, scale=hi - lo), dtype=float)


class LogNormal(_Dist):
    """Log-normal: ``exp`` of a normal with ``[mu, sigma]``; ``truncate`` bounds the values."""

    lognormal: tuple[float, Annotated[float, Field(ge=0)]] = Field(
        description="[mu, sigma] of the underlying normal"
    )
    truncate: T.Truncate | None = Field(
        None, description=T.TRUNCATE_HELP + " (of the values, >= 0)"
    )

    @model_validator(mode="after")
    def _valid(self) -> Self:
        lo, hi = self.truncate or (None, None)
        if (lo is not None and lo < 0) or (hi is not None and hi <= 0):
            raise ValueError(f"a lognormal's truncate needs low >= 0 and high > 0, got {[lo, hi]}")
        mu, sigma = self.lognormal
        T.check_truncate(self.truncate, math.exp(min(mu, 700.0)), sigma, "this lognormal (sigma 0)")
        return self

    def _std(self) -> tuple[float, float]:
        """The truncation in standard units of the underlying normal (sigma > 0)."""
        assert self.truncate is not None
        lo, hi = self.truncate
        ln_lo = None if lo is None or lo == 0 else math.log(lo)
        ln_hi = None if hi is None else math.log(hi)
        return T.std_bounds(ln_lo, ln_hi, *self.lognormal)

    def support(self) -> tuple[float, float]:  # noqa: D102
        if self.truncate is None:
            return (0.0, math.inf)
        lo, hi = self.truncate
        return (lo or 0.0, math.inf if hi is None else hi)

    def practical_high(self) -> float:
        """A value beyond which no draw ever lands (ten standard deviations, or the bound)."""
        far = math.exp(min(700.0, self.lognormal[0] + 10 * self.lognormal[1]))
        return min(far, self.support()[1])

    def draw(self, rng: "np.random.Generator", size: int | tuple[int, ...]) -> FloatArray:  # noqa: D102
        if self.truncate is not None:
            # one uniform per value through the inverse CDF, as for a truncated normal
            return self.ppf(rng.random(size))
        return rng.lognormal(self.lognormal[0], self.lognormal[1], size)

    def ppf(self, u: FloatArray) -> FloatArray:  # noqa: D102
        mu, sigma = self.lognormal
        if self.truncate is not None and sigma > 0:
            return np.exp(mu + sigma * T.truncated_std_ppf(u, *self._std()))
        return self.from_normal(T.std_normal_ppf(u))

    def from_normal(self, z: FloatArray) -> FloatArray:  # noqa: D102
        if self.truncate is not None and self.lognormal[1] > 0:
            return self.ppf(T.std_normal_cdf(z))
        return np.exp(self.lognormal[0] + self.lognormal[1] * np.asarray(z, dtype=float))

    def mean(self) -> float:
        """exp(μ + σ²/2); infinity when that overflows a float.

        Truncated to ``[l, h]`` (α, β the bounds of log X in standard units):
        exp(μ + σ²/2) (Φ(β - σ) - Φ(α - σ)) / (Φ(β) - Φ(α)).
        """
        mu, sigma = self.lognormal
        log_mean = mu + sigma**2 / 2
        if self.truncate is not None:
            if sigma == 0:
                return math.exp(mu)
            a, b = self._std()
            log_mean += T.log_mass(a - sigma, b - sigma) - T.log_mass(a, b)
        try:
            return math.exp(log_mean)
        except OverflowError:
            return math.inf


class Choice(_Dist):
    """One of the listed values, with probabilities ``p`` (equal when omitted)."""

    choice: list[float] = Field(min_length=1, description="the values")
    p: list[Annotated[float, Field(ge=0, le=1)]] | None = Field(
        None, description="probability of each value; sums to 1"
    )

    @model_validator(mode="after")
    def _valid(self) -> Self:
        if self.p is not None:
            if len(self.p) != len(self.choice):
                raise ValueError(
                    f"p has {len(self.p)} entries but choice has {len(self.choice)} values"
                )
            if abs(sum(self.p) - 1.0) > 1e-9:
                raise ValueError(f"p must sum to 1, sums to {sum(self.p)}")
        return self

    continuous: ClassVar[bool] = False

    def support(self) -> tuple[float, float]:  # noqa: D102
        return (min(self.choice), max(self.choice))

    def draw(self, rng: "np.random.Generator", size: int | tuple[int, ...]) -> FloatArray:  # noqa: D102
        return rng.choice(np.asarray(self.choice, dtype=float), size=size, p=self.p)

    def mean(self) -> float:  # noqa: D102
        if self.p is None:
            return math.fsum(self.choice) / len(self.choice)
        return math.fsum(x * p for x, p in zip(self.choice, self.p, strict=True))


def _std_normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2))


def _std_normal_pdf(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


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


#: A number or one of the distributions, each tagged for the discriminator.
_Value = (
    Annotated[float, Tag("constant")]
    | Annotated[Uniform, Tag("uniform")]
    | Annotated[Normal, Tag("normal")]
    | Annotated[Beta, Tag("beta")]
    | Annotated[Triangular, Tag("triangular")]
    | Annotated[LogNormal, Tag("lognormal")]
    | Annotated[Choice, Tag("choice")]
)
_DISTRIBUTIONS = (
    "a distribution ({uniform: [a, b]}, {normal: [m, s]}, "
    "{beta: [a, b]}, {triangular: [l, m, r]}, {lognormal: [mu, s]}, {choice: [...]})"
)

Param = Annotated[
    _Value,
    Discriminator(
        _param_tag,
        custom_error_type="param",
        custom_error_message=f"expected a number or {_DISTRIBUTIONS}",
    ),
]


def support(value: float | _Dist) -> tuple[float, float]:
    """Support of a parameter (a constant's is the point itself)."""
    if isinstance(value, _Dist):
        return value.support()
    return (float(value), float(value))


def mean(value: float | str | _Dist) -> float:
    """Mean of a parameter, in closed form: a constant is its own; ``never`` is infinite.

    Examples
    --------
    >>> mean(Uniform(uniform=(55, 70)))
    62.5
    >>> mean(3)
    3.0
    """
    if isinstance(value, _Dist):
        return value.mean()
    if value == NEVER:
        return math.inf
    return float(value)


def _shown(value: Any) -> Any:
    return value.model_dump(exclude_none=True) if isinstance(value, _Dist) else value


def within(lo: float, hi: float, what: str) -> AfterValidator:
    """Validator: every value a parameter can take lies in ``[lo, hi]``."""

    def check(value: float | _Dist) -> float | _Dist:
        a, b = support(value)
        if a < lo or b > hi:
            span = f"[{lo:g}, {hi:g}]".replace("inf", "∞")
            raise ValueError(f"{what} must lie in {span}, got {_shown(value)}")
        return value

    return AfterValidator(check)


def _time(value: Any) -> Any:
    """A time in hours: in ``[0, MAX_HOURS]`` (a log-normal: practically so)."""
    if value == NEVER:
        return value
    a, b = support(value)
    if isinstance(value, LogNormal):
        b = value.practical_high()
    if a < 0 or b > MAX_HOURS:
        raise ValueError(
            f"a time in hours must lie in [0, {MAX_HOURS:.0f}], got {_shown(value)}"
            + ("" if a < 0 else "; write never for a time that never comes")
        )
    return value


def _never_tag(value: Any) -> str | None:
    return "never" if value == NEVER else _param_tag(value)


Hours = Annotated[Param, AfterValidator(_time), Bounds(0.0, MAX_HOURS)]
#: A time, or ``never`` (a patience that never runs out, an event that never happens).
HoursOrNever = Annotated[
    Annotated[Literal["never"], Tag("never")] | _Value,
    Discriminator(
        _never_tag,
        custom_error_type="param",
        custom_error_message=f"expected never, a number or {_DISTRIBUTIONS}",
    ),
    AfterValidator(_time),
    Bounds(0.0, MAX_HOURS),
]
Probability = Annotated[Param, within(0.0, 1.0, "a probability"), Bounds(0.0, 1.0)]
NonNegative = Annotated[Param, within(0.0, math.inf, "this value"), Bounds(0.0, math.inf)]


def draw(
    value: float | str | _Dist, rng: "np.random.Generator", size: int | tuple[int, ...]
) -> FloatArray:
    """Draw ``size`` values of a parameter (a constant, or never, is repeated, drawing nothing)."""
    if isinstance(value, _Dist):
        return np.asarray(value.draw(rng, size), dtype=float)
    if value == NEVER:
        return np.full(size, NEVER_HOURS)
    return np.full(size, float(value))


def draw_into(value: float | str | _Dist, rng: "np.random.Generator", out: FloatArray) -> None:
    """Write into ``out`` exactly what ``draw(value, rng, out.shape)`` returns."""
    if isinstance(value, _Dist):
        value.fill(rng, out)
    else:
        out[...] = draw(value, rng, out.shape)


def is_random(value: float | str | _Dist) -> bool:
    """Whether a parameter is a distribution (not a constant)."""
    return isinstance(value, _Dist)
