"""Law specifications and the law registry.

A :class:`Law` is declared once — a pure, broadcasting ``jax.numpy`` function plus its named inputs (with units),
parameters (with NumPyro prior distributions), target and paper reference — and every other part of bayescale
(model building, fitting, prediction, calibration, saving) reads the spec. Laws are checked when they are
created and can be written to, and read back from, a saved fit.
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import difflib
import functools
import inspect
import json
import math
import re
import sys
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from numpyro.distributions import constraints

__all__ = ["Law", "LawSpecError", "register", "laws", "get_law", "law_from_dict"]


#: Sites of the model bayescale builds around every law (the likelihood's), and suffixes of a pooled parameter's.
#: The site of a law's ``level`` parameters (``bayescale.build.LevelSplit``).
LEVEL_SITE = "log_terms"
_RESERVED = frozenset({"mu", "sigma", "nu", "phi", "sigma_slope", LEVEL_SITE})
_DERIVED_SUFFIXES = ("_loc", "_scale", "_z", "_u", "_c", "_c_loc", "_new", "_new_value", "_u_new", "_z_new",
                     "_groups", "_levels", "_new_groups", "_fit", "_index")


class LawSpecError(ValueError):
    """A law specification is inconsistent (raised when a :class:`Law` is created or looked up)."""


_REGISTRY: dict[str, Law] = {}


class _LawNotHere(LawSpecError):
    """A saved fit's law is neither registered in this process nor exported in its file (the file is not damaged)."""


def _freeze(mapping: Mapping | None) -> Mapping:
    return MappingProxyType(dict(mapping or {}))


#: Words of a unit that scale a raw count (:meth:`Law.unit_scale`).
_SCALE_WORDS = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12}

#: A prior on (0, inf) written out, for the errors that ask for one.
_POSITIVE_EXAMPLE = "dist.LogNormal(math.log(2.0), 0.5) for a value near 2, 90% between 0.9 and 4.6"


@dataclass(frozen=True, eq=False)
class Law:
    r"""A scaling law: a pure function of named inputs with named, prior-equipped parameters.

    Parameters
    ----------
    name : str
        Identifier, e.g. ``"chinchilla"``.
    fn : callable
        Pure, broadcasting ``jax.numpy`` function ``fn(*inputs, **params)``; positional arguments in the order of
        ``inputs``, keyword arguments named as ``params``. Returns the target on its natural scale.
    inputs : mapping of str to str
        Input column names and their units, e.g. ``{"n": "parameters", "d": "tokens"}``.
    target : str
        Name of the predicted column, e.g. ``"loss"``.
    params : mapping of str to numpyro.distributions.Distribution
        Default prior of every parameter, on the parameter's natural scale. The prior's support is the
        parameter's constraint.
    reference : str
        The paper the law follows.
    log_fn : callable, optional
        Optional numerically fused version returning ``log(fn(...))`` (e.g. a log-sum-exp). Same signature.
        Used for the likelihood when present; it must agree with ``log(fn)`` (checked at creation).
    centre : mapping of str to (str, exponent), optional
        Named reparameterisation ``{param: (input, exponent)}``. For a coefficient ``p`` multiplying
        ``input ** -exponent`` the sampler works with ``log p_c = log p - exponent * log x0`` where ``x0`` is the
        data's geometric mean of ``input``; ``exponent`` is a parameter name, a number, or ``(name, factor)``
        for ``factor * parameter``. This decorrelates
        coefficients from exponents (5-20x fewer leapfrog steps) and leaves the prior on ``p`` unchanged.
    monotone : mapping of str to int, optional
        ``{input: -1 | +1}``: the law promises to decrease (-1) or increase (+1) in that input; checked at creation
        (at the example inputs halved and doubled, with the prior means) and by the catalogue's tests.
    positive : bool
        The target is strictly positive, so the likelihood is placed on its logarithm (default True).
    link : {"log", "logit", "identity"}, optional
        The scale of the likelihood: ``"log"`` for positive targets (losses), ``"logit"`` for targets in (0, 1)
        (accuracies, error rates), ``"identity"`` otherwise. Default: ``"log"`` if ``positive`` else ``"identity"``;
        giving it sets ``positive`` (true for ``"log"`` only).
    description, formula : str
        Plain-language description and a LaTeX formula, used in the docs.
    example : mapping, optional
        Typical input values ``{input: value}`` used by the spec check and the tests.
    optimum : callable, optional
        Closed-form compute-optimal allocation ``optimum(c, k, **params) -> (n_opt, d_opt, loss_opt)`` for a
        compute budget ``c`` with ``c = k * n * d``.
    published : mapping of str to float, optional
        Parameter values published with the reference (used by simulated ladders and the docs).
    noise_scale : float
        Default scale of the HalfNormal prior on the residual sd, on the link scale (``bs.fit(sigma_scale=)``
        overrides it). 0.1 (the default) suits losses, whose log residuals are about 0.004-0.03; give more to
        targets that scatter more, such as a grid's optimal learning rate (log residuals about 0.5).
    floor : callable, optional
        ``floor(*inputs, **params)``, same signature as ``fn``: the target at the optimum of the inputs the law has
        an optimum in (a learning-rate x batch-size bowl's bottom), <= ``fn``. When given, the residual sd of a
        Student-t or Normal likelihood grows with each run's excess over it on the link scale,
        ``sigma + sigma_slope * excess`` with ``excess = link(fn) - link(floor)`` (:meth:`excess`) and
        ``sigma_slope ~ HalfNormal(0.5)``: runs far from the optimum scatter more than runs near it. Exported
        with ``fn`` when the law is saved.
    level : tuple of str, optional
        Positive parameters whose terms add up to the law's value at the data's centre, e.g. ``("e", "a", "b")``
        for ``E + A N^-alpha + B D^-beta``: the irreducible term first (a parameter not in ``centre``, on
        (0, inf)), then the coefficients listed in ``centre``. A fit whose parameters are all shared samples them
        as one site, ``log_terms``, in the coordinates of their total and its shares (see
        :class:`bayescale.build.LevelSplit`): the data pin the total down, and only the shares trade against the
        exponents, where the terms themselves curve around each other (over 8 laws' default ladders, 20 of 128 fits
        failed a check against 65 with a site per parameter, in 0.52x the gradients). The prior is unchanged. It
        is a change of coordinates for any law (a term's share is only roughly its share of the law's value, e.g.
        when the law bends), so it needs only the terms' signs; default none.
    domain : callable, optional
        ``domain(*inputs, **params)``, same signature as ``fn``, true where the formula holds as written: e.g.
        ``shifted_power``'s ``L_x > E_x``, below which its gap is held at a soft edge and the law flattens. A
        prediction at which over 5% of the posterior draws fall outside it (in a chain, from the previous stage's
        draws) warns, naming its rows; its docstring's first line says what the domain is. Not saved with a fit
        (a registered law's is used on loading).
    registered : bool
        Whether the law is in the registry (set by :func:`register`, which the built-in laws went through). A law
        made from a registered one with :func:`dataclasses.replace` keeps the flag: pass ``registered=False`` for a
        new law under a new name.

    Examples
    --------
    >>> import numpyro.distributions as dist
    >>> import bayescale as bs
    >>> law = bs.Law(
    ...     name="offset_power_law",
    ...     fn=lambda c, *, e, a, alpha: e + a * (c / 1e18) ** -alpha,
    ...     inputs={"c": "FLOPs"}, target="loss",
    ...     params={"e": dist.LogNormal(0.5, 0.5), "a": dist.LogNormal(0.0, 1.0), "alpha": dist.Beta(2, 5)},
    ...     reference="user",
    ... )
    >>> law.param_names
    ('e', 'a', 'alpha')
    """

    name: str
    fn: Callable[..., Any]
    inputs: Mapping[str, str]
    target: str
    params: Mapping[str, dist.Distribution]
    reference: str
    log_fn: Callable[..., Any] | None = None
    centre: Mapping[str, tuple[str, str | float]] = field(default_factory=dict)
    monotone: Mapping[str, int] = field(default_factory=dict)
    positive: bool = True
    link: str = ""
    description: str = ""
    formula: str = ""
    example: Mapping[str, float] = field(default_factory=dict)
    optimum: Callable[..., Any] | None = None
    published: Mapping[str, float] = field(default_factory=dict)
    noise_scale: float = 0.1
    floor: Callable[..., Any] | None = None
    level: tuple[str, ...] = ()
    registered: bool = False
    domain: Callable[..., Any] | None = None

    def __post_init__(self):
        if self.link not in ("",) + LINKS:
            raise LawSpecError(f"law {self.name!r}: link must be one of {LINKS}, got {self.link!r}")
        if self.link:
            object.__setattr__(self, "positive", self.link == "log")
        else:
            object.__setattr__(self, "link", "log" if self.positive else "identity")
        for attr in ("inputs", "params", "centre", "monotone", "example", "published"):
            value = getattr(self, attr)
            if value is not None and not isinstance(value, Mapping):
                hint = " e.g. inputs={'c': 'FLOPs'} (each input's unit)" if attr == "inputs" else ""
                raise LawSpecError(f"law {self.name!r}: {attr} must be a mapping (a dict), got "
                                   f"{type(value).__name__} {value!r};{hint or ' give it as a dict'}")
            object.__setattr__(self, attr, _freeze(value))
        object.__setattr__(self, "level", tuple(self.level or ()))
        self._check()

    # ------------------------------------------------------------------ checks
    def _check(self) -> None:
        where = f"law {self.name!r}"
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise LawSpecError(f"{where}: name must be a Python identifier, got {self.name!r}")
        if not callable(self.fn):
            raise LawSpecError(f"{where}: fn must be callable, got {type(self.fn).__name__}")
        if not self.inputs:
            raise LawSpecError(f"{where}: declare at least one input, e.g. inputs={{'n': 'parameters'}}")
        if not self.params:
            raise LawSpecError(f"{where}: declare at least one parameter with its prior")
        if not isinstance(self.target, str) or not self.target.isidentifier():
            raise LawSpecError(
                f"{where}: target must name the predicted column as an identifier, e.g. target='loss'; "
                f"got {self.target!r}"
            )
        if self.target in self.inputs:
            raise LawSpecError(f"{where}: target {self.target!r} is also an input")
        for x, unit in self.inputs.items():
            if not isinstance(x, str) or not x.isidentifier():
                raise LawSpecError(
                    f"{where}: input name {x!r} is not an identifier (it names a column and an argument)"
                )
            if not isinstance(unit, str):
                raise LawSpecError(f"{where}: unit of input {x!r} must be a string, e.g. 'tokens'; got {unit!r}")
        clash = set(self.inputs) & set(self.params)
        if clash:
            raise LawSpecError(f"{where}: names used both as input and parameter: {sorted(clash)}")
        taken = sorted(set(self.inputs) & _RESERVED)
        if taken:
            raise LawSpecError(f"{where}: input name(s) {taken} are taken by the model bayescale builds (the sites "
                               f"{sorted(_RESERVED)}): rename the column and the input, e.g. {taken[0]}_in")
        taken = sorted(set(self.params) & _RESERVED)
        taken += [p for p in self.params for q in self.params if p != q and
                  (any(p == q + s for s in _DERIVED_SUFFIXES) or p.startswith(f"{q}_on_"))]
        if taken:
            raise LawSpecError(f"{where}: parameter name(s) {taken} are taken by the model bayescale builds (the "
                               f"sites {sorted(_RESERVED)}, and <parameter>_loc, _scale, _z, _c, _new, "
                               "_on_<column> of pooled parameters): rename them")
        for p, prior in self.params.items():
            if not p.isidentifier():
                raise LawSpecError(f"{where}: parameter name {p!r} is not an identifier")
            if not isinstance(prior, dist.Distribution):
                raise LawSpecError(
                    f"{where}: prior of {p!r} must be a numpyro distribution (e.g. dist.LogNormal(0, 1)), "
                    f"got {type(prior).__name__}"
                )
            if prior.batch_shape != () or prior.event_shape != ():
                raise LawSpecError(f"{where}: prior of {p!r} must be scalar, got batch shape {prior.batch_shape}")
            if isinstance(prior, (dist.ImproperUniform, dist.Unit)):
                raise LawSpecError(f"{where}: prior of {p!r} is improper; give a proper distribution")
        self._check_signature(self.fn, "fn")
        if self.log_fn is not None:
            self._check_signature(self.log_fn, "log_fn")
        if self.floor is not None:
            if not callable(self.floor):
                raise LawSpecError(f"{where}: floor must be callable, got {type(self.floor).__name__}")
            self._check_signature(self.floor, "floor")
        ns = self.noise_scale
        if isinstance(ns, bool) or not isinstance(ns, (int, float)) or not math.isfinite(ns) or ns <= 0:
            raise LawSpecError(f"{where}: noise_scale (the prior scale of the residual sd on the link scale) must be "
                               f"a finite number > 0, got {ns!r}")
        unknown = set(self.published) - set(self.params)
        if unknown:
            raise LawSpecError(f"{where}: published values name unknown parameters {sorted(unknown)}")
        outside = {p: v for p, v in self.published.items()
                   if not bool(np.asarray(self.params[p].support(jnp.asarray(float(v)))))}
        if outside:
            raise LawSpecError(f"{where}: published values {outside} lie outside their priors' support (a prior "
                               "puts no mass there); correct the values or the priors")
        unknown = set(self.example) - set(self.inputs)
        if unknown:
            raise LawSpecError(
                f"{where}: example names unknown inputs {sorted(unknown)}; inputs are {list(self.inputs)}"
            )
        for p, (x, expo) in self.centre.items():
            if p not in self.params:
                raise LawSpecError(f"{where}: centre names unknown parameter {p!r}")
            if x not in self.inputs:
                raise LawSpecError(f"{where}: centre of {p!r} names unknown input {x!r}")
            expo_name = expo[0] if isinstance(expo, (tuple, list)) else expo
            if isinstance(expo_name, str) and expo_name not in self.params:
                raise LawSpecError(f"{where}: centre of {p!r} names unknown exponent parameter {expo_name!r}")
            if self.params[p].support is not constraints.positive:
                raise LawSpecError(f"{where}: centred parameter {p!r} needs a prior on (0, inf), as the sampler "
                                   f"works on its log; got {type(self.params[p]).__name__} on "
                                   f"{self.params[p].support}: use a LogNormal, Gamma or HalfNormal, say "
                                   f"({_POSITIVE_EXAMPLE})")
        self._check_level(where)
        for x, sign in self.monotone.items():
            if x not in self.inputs or sign not in (-1, 1):
                raise LawSpecError(f"{where}: monotone must map inputs to -1 or +1, got {x!r}: {sign!r}")
        if not _CATALOGUE_LOADING.get():  # the catalogue's laws are evaluated by its tests, not at every import
            self._check_evaluates()

    def _check_level(self, where: str) -> None:
        level = self.level
        if not level:
            return
        if len(level) < 2 or len(set(level)) != len(level):
            raise LawSpecError(f"{where}: level must name two or more distinct parameters, got {list(level)}")
        unknown = [p for p in level if p not in self.params]
        if unknown:
            raise LawSpecError(f"{where}: level names unknown parameter(s) {unknown}; parameters are "
                               f"{list(self.params)}")
        loose = [p for p in level if p not in self.centre]
        if len(loose) > 1 or (loose and loose[0] != level[0]):
            raise LawSpecError(f"{where}: level takes at most one parameter outside centre= (the irreducible term), "
                               f"first; {loose} are not centred in {list(level)}")
        if loose and self.params[loose[0]].support is not constraints.positive:
            prior = self.params[loose[0]]
            raise LawSpecError(f"{where}: level parameter {loose[0]!r} needs a prior on (0, inf), as the level's "
                               f"terms are sampled as their total and shares; got {type(prior).__name__} on "
                               f"{prior.support}: use a LogNormal, Gamma or HalfNormal, say "
                               f"({_POSITIVE_EXAMPLE}), or level=() to sample each term on its own")

    def _check_signature(self, fn, label):
        where = f"law {self.name!r}"
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):  # builtins, jax-exported callables
            return
        kinds = {p.name: p.kind for p in sig.parameters.values()}
        if any(k is inspect.Parameter.VAR_KEYWORD for k in kinds.values()):
            return
        names = [n for n, k in kinds.items() if k is not inspect.Parameter.VAR_POSITIONAL]
        positional = [
            n
            for n, k in kinds.items()
            if k in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
        keywords = set(names) - set(positional[: len(self.inputs)])
        moved = [(x, i, positional.index(x)) for i, x in enumerate(self.inputs)
                 if x in positional[: len(self.inputs)] and positional.index(x) != i]
        if moved:
            raise LawSpecError(
                f"{where}: {label} takes its inputs in the order ({', '.join(positional[: len(self.inputs)])}), "
                f"but inputs= declares them as ({', '.join(self.inputs)}); the law passes inputs by position, so "
                f"{moved[0][0]!r} would receive another column: declare inputs= in {label}'s order, or reorder its "
                "arguments")
        missing = set(self.params) - keywords
        extra = keywords - set(self.params)
        if len(positional) < len(self.inputs) or missing or extra:
            raise LawSpecError(
                f"{where}: {label} signature {sig} does not match the spec; expected positional inputs "
                f"{list(self.inputs)} and keyword parameters {sorted(self.params)}"
                + (f" (missing {sorted(missing)})" if missing else "")
                + (f" (unexpected {sorted(extra)})" if extra else "")
            )

    def _prior_means(self) -> dict[str, float]:
        """Return each parameter's prior mean (a fixed prior draw where the mean is infinite or undefined)."""
        out = {}
        for p, prior in self.params.items():
            try:
                mean = float(np.asarray(prior.mean))
            except (ArithmeticError, ValueError):  # InverseGamma(1, 1): rate / (concentration - 1)
                mean = math.inf
            out[p] = mean if math.isfinite(mean) else float(np.asarray(prior.sample(jax.random.PRNGKey(0))))
        return out

    def _check_evaluates(self):
        where = f"law {self.name!r}"
        example = {x: float(self.example.get(x, 1e9)) for x in self.inputs}
        params = self._prior_means()
        try:
            with jax.enable_x64(True):
                out = np.asarray(self(**example, **params))
                logout = None
                if self.log_fn is not None:
                    logout = np.asarray(self.log_fn(*[jnp.asarray(example[x]) for x in self.inputs], **params))
        except Exception as err:  # noqa: BLE001 - re-raised with context
            raise LawSpecError(f"{where}: evaluating fn at {example} with prior means failed: {err}") from err
        if out.shape != ():
            raise LawSpecError(f"{where}: fn must return one value per run; got shape {out.shape} for scalar inputs")
        if not np.isfinite(out):
            raise LawSpecError(
                f"{where}: fn returned {out} at {example} with prior means {params}; check the formula, or give "
                "example= inputs where the law is defined"
            )
        if logout is not None and np.isfinite(out) and out > 0 and not np.isclose(logout, np.log(out), rtol=1e-6):
            raise LawSpecError(f"{where}: log_fn disagrees with log(fn): {logout} vs {np.log(out)}")
        self._check_traces(example, params)
        if self.optimum is not None and set(self.inputs) == {"n", "d"}:
            self._check_optimum(example, params)
        self._check_monotone(example, params)

    def _check_monotone(self, example: Mapping[str, float], params: Mapping[str, float]) -> None:
        """Check each ``monotone`` direction at the example inputs halved and doubled, with the prior means."""
        where = f"law {self.name!r}"
        with jax.enable_x64(True):
            for x, sign in self.monotone.items():
                at = [float(np.asarray(self(**{**example, x: example[x] * f}, **params))) for f in (0.5, 2.0)]
                if np.all(np.isfinite(at)) and sign * (at[1] - at[0]) < 0:
                    raise LawSpecError(
                        f"{where}: monotone={{{x!r}: {sign:+d}}} promises it {'in' if sign > 0 else 'de'}creases in "
                        f"{x!r}, but fn gives {at[0]:.6g} at {x}={example[x] * 0.5:.3g} and {at[1]:.6g} at "
                        f"{x}={example[x] * 2:.3g} (prior means); correct the sign or the formula")

    def _check_traces(self, example: Mapping[str, float], params: Mapping[str, float]) -> None:
        """Check ``fn`` as the sampler uses it: compiled, on a vector of runs, and differentiated in its parameters.

        A function written with NumPy or ``math``, or branching in Python on its arguments, runs on the scalars of
        :meth:`_check_evaluates` but not compiled; one that sums or ignores its inputs returns one value for all the
        runs.
        """
        where = f"law {self.name!r}"
        scale = jnp.array([0.5, 1.0, 2.0])
        with jax.enable_x64(True):
            xs = [jnp.asarray(example[x]) * scale for x in self.inputs]
            ps = {p: jnp.asarray(v) for p, v in params.items()}
            try:
                out = jax.jit(lambda xs, ps: self.fn(*xs, **ps))(xs, ps)
                grads = jax.grad(lambda ps: jnp.sum(self.fn(*xs, **ps)))(ps)
            except Exception as err:  # noqa: BLE001 - re-raised with the fix
                first = str(err).splitlines()[0] if str(err) else ""
                raise LawSpecError(
                    f"{where}: fn fails when compiled and differentiated, as the sampler runs it "
                    f"({type(err).__name__}: {first}); write it with jax.numpy (jnp.exp, jnp.where for branches), not "
                    "NumPy, math or Python if/else on its arguments") from err
        if np.shape(out) != (3,):
            raise LawSpecError(f"{where}: fn must return one value per run, broadcasting over its inputs; inputs of "
                               f"3 runs gave shape {np.shape(out)} (a sum, or a value that ignores the inputs?)")
        bad = [p for p, g in grads.items() if not np.all(np.isfinite(np.asarray(g)))]
        if bad:
            raise LawSpecError(f"{where}: fn's gradient in {bad} is not finite at the example inputs and prior means; "
                               "NUTS follows gradients: check the formula there, or give example= inputs where the "
                               "law is smooth")

    def _check_optimum(self, example: Mapping[str, float], params: Mapping[str, float]) -> None:
        """Check ``optimum`` against ``fn`` at one budget.

        It must spend the budget, its loss must be fn's there, and nearby allocations on the budget do no better.
        """
        where = f"law {self.name!r}"
        k = 6.0
        c = k * float(example["n"]) * float(example["d"])
        try:
            with jax.enable_x64(True):
                n_opt, d_opt, l_opt = (float(np.asarray(v)) for v in self.optimum(c, k, **params))
                at = [float(np.asarray(self(n=n_opt * f, d=d_opt / f, **params))) for f in (1.0, 1.2, 1 / 1.2)]
        except Exception as err:  # noqa: BLE001 - re-raised with context
            raise LawSpecError(f"{where}: optimum(c, k, **params) failed at c={c:.3g}, k=6 with the prior means: "
                               f"{err}") from err
        problem = None
        if not np.isclose(k * n_opt * d_opt, c, rtol=1e-6):
            problem = f"its n*d*k is {k * n_opt * d_opt:.6g}, not the budget {c:.6g}"
        elif not np.isclose(at[0], l_opt, rtol=1e-6):
            problem = f"its loss {l_opt:.6g} is not fn's {at[0]:.6g} at its (n, d) = ({n_opt:.4g}, {d_opt:.4g})"
        elif min(at[1:]) < at[0] * (1 - 1e-9):
            problem = f"fn is lower ({min(at[1:]):.6g} < {at[0]:.6g}) at a nearby allocation of the same budget"
        if problem:
            raise LawSpecError(f"{where}: optimum disagrees with fn at c={c:.3g} (k=6, prior means): {problem}; fix "
                               "it, or leave optimum out (the allocation is then found numerically)")

    # ------------------------------------------------------------------ use
    @property
    def param_names(self) -> tuple[str, ...]:
        """Parameter names in declaration order."""
        return tuple(self.params)

    @property
    def input_names(self) -> tuple[str, ...]:
        """Input names in declaration order."""
        return tuple(self.inputs)

    def __call__(self, *args, **kwargs):
        """Evaluate the law: ``law(n=..., d=..., e=..., ...)`` or ``law(n_array, d_array, **params)``.

        Parameters
        ----------
        *args : array_like
            The first inputs, in the order of :attr:`input_names`.
        **kwargs : array_like
            The inputs not given positionally, by name, and every parameter, by name. Inputs are converted with
            ``jnp.asarray``; parameters are passed to ``fn`` as they are.

        Returns
        -------
        array
            ``fn`` of the inputs and parameters: the target on its natural scale, broadcast over the arguments.

        Raises
        ------
        TypeError
            When an input is missing or an argument is neither an input nor a parameter.
        """
        inputs = list(args)
        for x in self.input_names[len(args):]:
            if x not in kwargs:
                raise TypeError(f"law {self.name!r} needs input {x!r}")
            inputs.append(kwargs.pop(x))
        unknown = set(kwargs) - set(self.params)
        if unknown:
            raise TypeError(f"law {self.name!r} got unknown arguments {sorted(unknown)}")
        return self.fn(*[jnp.asarray(v) for v in inputs], **kwargs)

    def is_loss_input(self, x: str) -> bool:
        """Whether input ``x`` is a loss (its unit mentions a loss, nats or bits per byte) rather than a size.

        Sizes (parameters, tokens, FLOPs) span decades and better models are larger; losses span a factor of a few
        and better models have smaller ones. Data checks, extrapolation distances and default designs follow this.

        Parameters
        ----------
        x : str
            The name of one of the law's inputs.

        Returns
        -------
        bool
            True when the unit of ``x`` (lower-cased) contains ``"loss"``, ``"nats"``, ``"bits per byte"`` or
            ``"bpb"``.
        """
        unit = self.inputs[x].lower()
        return any(w in unit for w in ("loss", "nats", "bits per byte", "bpb"))

    def is_level_input(self, x: str) -> bool:
        """Whether input ``x`` is a fixed level of each run (its unit mentions a fraction, e.g. a task's chance level).

        Such inputs are constants of a task, neither sizes (which span decades) nor losses.

        Parameters
        ----------
        x : str
            The name of one of the law's inputs.

        Returns
        -------
        bool
            True when the unit of ``x`` (lower-cased) contains ``"fraction"`` or ``"chance"``.
        """
        unit = self.inputs[x].lower()
        return "fraction" in unit or "chance" in unit

    def is_size_input(self, x: str) -> bool:
        """Whether input ``x`` is a size (parameters, tokens, FLOPs...): neither a loss nor a level.

        Parameters
        ----------
        x : str
            The name of one of the law's inputs.

        Returns
        -------
        bool
            True when neither :meth:`is_loss_input` nor :meth:`is_level_input` holds for ``x``.
        """
        return not (self.is_loss_input(x) or self.is_level_input(x))

    def unit_scale(self, x: str) -> float:
        """How many raw units one unit of input ``x`` is, by its unit's words: ``"millions of parameters"`` is 1e6.

        Sizes are read as raw counts (parameters, tokens, FLOPs); a law may declare them in thousands, millions,
        billions or trillions instead, and the data checks, default designs and compute budgets (``C = k N D`` in
        raw counts) then convert.

        Parameters
        ----------
        x : str
            The name of one of the law's inputs.

        Returns
        -------
        float
            1e3, 1e6, 1e9 or 1e12 when the unit of ``x`` (lower-cased) names thousands, millions, billions or
            trillions (as a word); else 1 (also for a name that is not one of the law's inputs).
        """
        if x not in self.inputs:  # a size the law does not take (``d`` of a law in ``n`` alone): counted raw
            return 1.0
        words = re.findall(r"[a-z]+", self.inputs[x].lower())
        return next((scale for word, scale in _SCALE_WORDS.items() if word in words or f"{word}s" in words), 1.0)

    def flops(self, n, d, k: float = 6.0):
        """Training compute ``C = k N D`` in FLOPs of ``n`` parameters and ``d`` tokens in the law's units.

        Parameters
        ----------
        n, d : array_like
            Model sizes and training tokens, in the units of the law's inputs ``n`` and ``d``.
        k : float
            FLOPs per parameter and token (6: forward and backward passes).

        Returns
        -------
        array_like
            ``k n d`` times the raw counts per unit of each (:meth:`unit_scale`).
        """
        return k * self.unit_scale("n") * self.unit_scale("d") * n * d

    def to_link(self, y, xp=np):
        """Map target values to the likelihood's scale (``log``, ``logit`` or unchanged); ``xp`` is numpy or jnp.

        Parameters
        ----------
        y : array_like
            Values of the target, on its natural scale.
        xp : module
            The array module that computes the map: ``numpy`` (default) or ``jax.numpy``.

        Returns
        -------
        array
            ``log(y)`` for ``link="log"``, ``log(y) - log1p(-y)`` for ``link="logit"``, ``y`` itself for
            ``link="identity"``.
        """
        return to_link(self.link, y, xp)

    def from_link(self, v, xp=np):
        """Map values on the likelihood's scale back to the target (``exp``, the logistic function, unchanged).

        Parameters
        ----------
        v : array_like
            Values on the likelihood's scale (:attr:`link`).
        xp : module
            The array module that computes the map: ``numpy`` (default) or ``jax.numpy``.

        Returns
        -------
        array
            The values on the target's scale: the inverse of :meth:`to_link`.
        """
        return from_link(self.link, v, xp)

    def excess(self, *inputs, **params):
        """Return how far runs lie above the law's ``floor`` on the likelihood's scale: ``link(fn) - link(floor)``.

        Parameters
        ----------
        *inputs, **params : array_like
            As for ``fn``.

        Returns
        -------
        array
            The excess (>= 0 where ``floor <= fn``); the residual sd of a fit is ``sigma + sigma_slope * excess``.

        Raises
        ------
        ValueError
            When the law declares no ``floor``.
        """
        if self.floor is None:
            raise ValueError(f"law {self.name!r} declares no floor, so runs have no excess over it")
        return self.link_location(*inputs, **params) - self.to_link(self.floor(*inputs, **params), jnp)

    def link_location(self, *inputs, **params):
        """Evaluate the law on the likelihood's scale: :meth:`log` for ``link="log"``, ``logit(fn)``, or ``fn``.

        Parameters
        ----------
        *inputs, **params : array_like
            As for ``fn``.

        Returns
        -------
        array
            The law's value on the likelihood's scale: the location of the likelihood (``mu`` in a fit's model).
        """
        if self.link == "log":
            return self.log(*inputs, **params)
        value = self.fn(*inputs, **params)
        return self.to_link(value, jnp) if self.link == "logit" else value

    def log(self, *inputs, **params):
        """Logarithm of the law, fused when the spec provides ``log_fn``.

        Parameters
        ----------
        *inputs, **params : array_like
            As for ``fn``.

        Returns
        -------
        array
            ``log_fn(*inputs, **params)`` when the law has a ``log_fn``, else ``jnp.log(fn(*inputs, **params))``.
        """
        if self.log_fn is not None:
            return self.log_fn(*inputs, **params)
        return jnp.log(self.fn(*inputs, **params))

    def __repr__(self) -> str:
        ins = ", ".join(f"{k} [{v}]" for k, v in self.inputs.items())
        return f"Law({self.name!r}: ({ins}) -> {self.target}; params {list(self.params)}; {self.reference})"

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Describe the spec in serialisable form (priors as distribution name + arguments, fn exported).

        The function is exported with :mod:`jax.export` (StableHLO, shape-polymorphic in the number of runs), so a
        saved fit predicts with a user-defined law without the original script and without executing Python.
        """
        return {
            "name": self.name,
            "inputs": dict(self.inputs),
            "target": self.target,
            "params": {p: _prior_to_dict(d) for p, d in self.params.items()},
            "reference": self.reference,
            "centre": {
                p: [v[0], list(v[1]) if isinstance(v[1], (tuple, list)) else v[1]] for p, v in self.centre.items()
            },
            "monotone": dict(self.monotone),
            "positive": self.positive,
            "link": self.link,
            "description": self.description,
            "formula": self.formula,
            "example": dict(self.example),
            "published": dict(self.published),
            "noise_scale": self.noise_scale,
            "floor": self.floor is not None,
            "level": list(self.level),
            "registered": self.registered,
            # argument order of fn and of the export (JSON writers may sort the keys of "inputs" and "params")
            "input_order": list(self.inputs),
            "param_order": list(self.params),
            "fn_source": _source_or_none(self.fn),
            "fn_export": self._fn_export,
            "floor_export": self._floor_export,
        }

    @functools.cached_property
    def _fn_export(self) -> str | None:
        """``fn`` exported once per law object (:func:`_export_fn` traces and compiles)."""
        return _export_fn(self)

    @functools.cached_property
    def _floor_export(self) -> str | None:
        """``floor`` exported like ``fn`` (None without one, or when it cannot be exported)."""
        return None if self.floor is None else _export_fn(self, self.floor)

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict`."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def signature_dict(self) -> dict[str, Any]:
        """Return the parts of the spec that define the statistical model (to match a saved law to the registry)."""
        d = self.to_dict()
        return {k: d[k] for k in ("name", "inputs", "target", "params", "centre", "positive", "link", "floor")}


def _source_or_none(fn) -> str | None:
    try:
        return inspect.getsource(fn).strip()
    except (OSError, TypeError):
        return None


_PRIOR_ARGS = {
    "Normal": ("loc", "scale"),
    "LogNormal": ("loc", "scale"),
    "HalfNormal": ("scale",),
    "HalfCauchy": ("scale",),
    "Cauchy": ("loc", "scale"),
    "StudentT": ("df", "loc", "scale"),
    "Beta": ("concentration1", "concentration0"),
    "Gamma": ("concentration", "rate"),
    "InverseGamma": ("concentration", "rate"),
    "Exponential": ("rate",),
    "Uniform": ("low", "high"),
    "TruncatedNormal": ("loc", "scale", "low", "high"),
    "Laplace": ("loc", "scale"),
}


def _prior_to_dict(prior: dist.Distribution) -> dict[str, Any]:
    name = type(prior).__name__
    if name in ("LeftTruncatedDistribution", "RightTruncatedDistribution", "TwoSidedTruncatedDistribution"):
        base = prior.base_dist
        if type(base).__name__ == "Normal":
            low = float(getattr(prior, "low", -math.inf))
            high = float(getattr(prior, "high", math.inf))
            return {"dist": "TruncatedNormal", "args": {"loc": float(base.loc), "scale": float(base.scale),
                                                         "low": low, "high": high}}
    if name not in _PRIOR_ARGS:
        raise LawSpecError(
            f"prior {name} cannot be saved; use one of {sorted(_PRIOR_ARGS)} (or register the law so that a saved "
            "fit can look it up by name)"
        )
    return {"dist": name, "args": {a: float(np.asarray(getattr(prior, a))) for a in _PRIOR_ARGS[name]}}


def _prior_from_dict(d: Mapping[str, Any]) -> dist.Distribution:
    cls = getattr(dist, d["dist"])
    return cls(**d["args"])


def _export_fn(law: Law, fn: Callable[..., Any] | None = None) -> str | None:
    """Export ``law.fn`` as serialized StableHLO with a symbolic number of runs; None if it cannot be exported.

    ``fn`` exports another function of the law's signature instead (its ``floor``).
    """
    try:
        from jax import export

        (b,) = export.symbolic_shape("b")
        nin, npar = len(law.inputs), len(law.params)

        target = law.fn if fn is None else fn

        def flat(*arrays):
            return target(*arrays[:nin], **dict(zip(law.params, arrays[nin:], strict=True)))

        with jax.enable_x64(True), _no_locations():
            spec = [jax.ShapeDtypeStruct((b,), jnp.float64)] * (nin + npar)
            exported = export.export(jax.jit(flat))(*spec)
            # vjp_order=1: a reloaded law is differentiable (NUTS, gradient-based optimum searches)
            return base64.b64encode(exported.serialize(vjp_order=1)).decode("ascii")
    except Exception:  # noqa: BLE001 - a law that cannot be exported is still usable when registered
        return None


def _no_locations():
    """Leave Python source locations out of exported code.

    The same law then exports to the same bytes from any caller (the export is part of the key under which compiled
    samplers are stored).
    """
    try:
        from jax._src.config import traceback_in_locations_limit

        return traceback_in_locations_limit(0)
    except ImportError:  # private API moved: exports still work, only less often shared
        return contextlib.nullcontext()


def _import_fn(blob: str, inputs: tuple[str, ...], params: tuple[str, ...]):
    from jax import export

    exported = export.deserialize(bytearray(base64.b64decode(blob)))

    def fn(*args, **kw):
        arrays = [jnp.asarray(a, dtype=jnp.float64) for a in args] + [
            jnp.asarray(kw[p], dtype=jnp.float64) for p in params
        ]
        shape = jnp.broadcast_shapes(*[a.shape for a in arrays])
        flat = [jnp.broadcast_to(a, shape).reshape(-1) for a in arrays]
        return exported.call(*flat).reshape(shape)

    fn.__signature__ = inspect.Signature(
        [inspect.Parameter(x, inspect.Parameter.POSITIONAL_OR_KEYWORD) for x in inputs]
        + [inspect.Parameter(p, inspect.Parameter.KEYWORD_ONLY) for p in params]
    )
    fn._bayescale_exported = True  # compiled code read back from a file: it predicts, but is not fitted again
    return fn


def _check_refittable(law: Law, done: str = "fitted") -> None:
    """Refuse to sample a law whose function was read back from a saved fit (compiled code, not Python).

    Such a law predicts, checks and compares, but the sampler's batched gradients cannot run its code.
    """
    if getattr(law.fn, "_bayescale_exported", False):
        raise LawSpecError(
            f"law {law.name!r} was read back from a saved fit: its function is compiled code that predicts but cannot "
            f"be {done} again; import the module that defines the law (or declare it again with bs.Law) and pass "
            "that law, registered with bs.register to be found by name")


def law_from_dict(d: Mapping[str, Any]) -> Law:
    """Rebuild a law saved with :meth:`Law.to_dict`.

    A registered law whose statistical definition matches is taken from the registry; otherwise the exported
    function is used.

    Parameters
    ----------
    d : mapping
        Output of :meth:`Law.to_dict` (or its JSON, parsed).

    Returns
    -------
    Law
    """
    name = d["name"]
    _ensure_catalogue()  # a new process loading a fit has not looked up a law yet
    if name in _REGISTRY:
        reg = _REGISTRY[name]
        saved = {k: d[k] for k in ("name", "inputs", "target", "params", "centre", "positive")}
        saved["link"] = d.get("link", "log" if d["positive"] else "identity")  # files written before links
        saved["floor"] = d.get("floor", False)  # files written before noise that grows above a law's floor
        if json.dumps(reg.signature_dict(), sort_keys=True) == json.dumps(saved, sort_keys=True):
            point = _where_functions_differ(reg, d)  # a user law named as a built-in one, say
            if point is None:
                return reg
            warnings.warn(f"law {name!r} is registered here with a function that differs from the one saved with this "
                          f"fit ({point}); the saved function is used, since the fit's draws were made under it. "
                          "Refit to use the registered law.", UserWarning, stacklevel=4)
    if not d.get("fn_export") or (d.get("floor") and not d.get("floor_export")):
        raise _LawNotHere(
            f"law {name!r} in this file is not registered here and its function (or floor) could not be exported "
            "when it was saved; import the module that defines it and call bs.register(law) before loading"
        )
    # The export takes its arguments in the law's declaration order, recorded in input_order / param_order;
    # the "inputs" and "params" mappings may have been key-sorted by a JSON writer (Law.to_json sorts keys).
    inputs = tuple(d.get("input_order") or d["inputs"])
    params = tuple(d.get("param_order") or d["params"])
    fn = _import_fn(d["fn_export"], inputs, params)
    floor = _import_fn(d["floor_export"], inputs, params) if d.get("floor") else None
    return Law(
        name=name, fn=fn, inputs={x: d["inputs"][x] for x in inputs}, target=d["target"],
        params={p: _prior_from_dict(d["params"][p]) for p in params}, reference=d["reference"],
        centre={p: (v[0], tuple(v[1]) if isinstance(v[1], list) else v[1]) for p, v in d["centre"].items()},
        monotone=d.get("monotone", {}),
        positive=d.get("positive", True), link=d.get("link", ""), description=d.get("description", ""),
        formula=d.get("formula", ""),
        example=d.get("example", {}), published=d.get("published", {}), noise_scale=d.get("noise_scale", 0.1),
        floor=floor, level=tuple(d.get("level", ())),
    )


def _where_functions_differ(reg: Law, d: Mapping[str, Any]) -> str | None:
    """Where a registered law's ``fn`` (or ``floor``) differs from the export saved in ``d``; None if nowhere.

    The same source text, or equal exports, are the same function. Otherwise (another JAX may serialise the same
    function differently) both are evaluated at the law's example inputs times 0.1, 1 and 10 with its prior means.
    A file without an export has nothing to compare: the registered law is taken, as before exports were saved.
    """
    if d.get("fn_source") and d["fn_source"] == _source_or_none(reg.fn) and reg.floor is None:
        return None  # the same source text (a built-in law's, or a user's module imported again): no export needed
    inputs = tuple(d.get("input_order") or d["inputs"])
    params = tuple(d.get("param_order") or d["params"])
    pairs = [(reg.fn, d.get("fn_export"), reg._fn_export, "fn")]
    if reg.floor is not None:
        pairs.append((reg.floor, d.get("floor_export"), reg._floor_export, "floor"))
    means = reg._prior_means()
    for fn, saved, mine, what in pairs:
        if not saved or saved == mine:
            continue
        try:
            other = _import_fn(saved, inputs, params)
            with jax.enable_x64(True):
                for scale in (0.1, 1.0, 10.0):
                    x = {k: float(reg.example.get(k, 1e9)) * scale for k in reg.inputs}
                    a = float(np.asarray(fn(**x, **means)))
                    b = float(np.asarray(other(*[x[k] for k in inputs], **means)))
                    if not np.isclose(a, b, rtol=1e-9, equal_nan=True):
                        return f"its {what} gives {a:.6g} against the saved {b:.6g} at {x} with the prior means"
        except Exception:  # noqa: BLE001 - an export that cannot be read back: nothing to compare
            continue
    return None


def register(law: Law, *, overwrite: bool = False) -> Law:
    """Add a law to the registry so that ``bs.get_law(name)`` and saved fits can find it.

    Parameters
    ----------
    law : Law
        The spec.
    overwrite : bool
        Replace an existing law of the same name.

    Returns
    -------
    Law
        The registered law (flagged ``registered=True``).
    """
    if not _CATALOGUE_LOADING.get():  # the built-in laws first: a clash with one is said here, not on later lookups
        _ensure_catalogue()
    if law.name in _REGISTRY and not overwrite:
        raise LawSpecError(f"a law named {law.name!r} is already registered; pass overwrite=True to replace it")
    object.__setattr__(law, "registered", True)
    _REGISTRY[law.name] = law
    return law


def _is_built_in(law: Law) -> bool:
    """Return whether ``law`` is the catalogue's registered spec (defined in ``bayescale.models``).

    The catalogue's laws are evaluated by its tests; user laws are also checked on each fit's runs.
    """
    module = getattr(law.fn, "__module__", None) or ""
    return _REGISTRY.get(law.name) is law and module.startswith("bayescale.models.")


#: Scales the likelihood can be placed on (:attr:`Law.link`).
LINKS = ("log", "logit", "identity")


def to_link(link: str, y, xp=np):
    """Map values of a target to the scale ``link`` (one of :data:`LINKS`); ``xp`` is numpy or jax.numpy."""
    if link == "log":
        return xp.log(y)
    if link == "logit":
        return xp.log(y) - xp.log1p(-y)
    if link == "identity":
        return y
    raise ValueError(f"link must be one of {LINKS}, got {link!r}")


#: Scales that predictive draws can be returned on: the target's, or the likelihood's (:func:`to_link`).
_SCALES = ("target", "link")


def _check_scale(scale: str) -> None:
    """Raise a ValueError naming the choices unless ``scale`` is one of ``_SCALES``."""
    if scale not in _SCALES:
        raise ValueError(f"scale={scale!r} is not one of {_SCALES}")


def from_link(link: str, v, xp=np):
    """Map values on the scale ``link`` back to the target: the inverse of :func:`to_link`."""
    if link == "log":
        return xp.exp(v)
    if link == "logit":
        return 1.0 / (1.0 + xp.exp(-v))
    if link == "identity":
        return v
    raise ValueError(f"link must be one of {LINKS}, got {link!r}")

#: True while the built-in catalogue is imported: its laws skip the evaluation check of ``Law.__post_init__`` (each
#: check runs the law eagerly, and eager JAX operations compile one by one: 0.3 s at the first ``get_law``).
_CATALOGUE_LOADING: contextvars.ContextVar[bool] = contextvars.ContextVar("catalogue_loading", default=False)


def _ensure_catalogue() -> None:
    if "bayescale.models" in sys.modules:
        return
    token = _CATALOGUE_LOADING.set(True)
    try:
        import bayescale.models  # noqa: F401 - registers the catalogue on import
    finally:
        _CATALOGUE_LOADING.reset(token)


def laws() -> list[str]:
    """Names of the registered laws.

    Returns
    -------
    list of str

    Examples
    --------
    >>> import bayescale as bs
    >>> "chinchilla" in bs.laws()
    True
    """
    _ensure_catalogue()
    return sorted(_REGISTRY)


def get_law(name: str | Law) -> Law:
    """Look up a law by name (a :class:`Law` is returned unchanged).

    Parameters
    ----------
    name : str or Law

    Returns
    -------
    Law

    Raises
    ------
    KeyError
        Unknown name; the message lists close matches.
    TypeError
        Neither a name nor a :class:`Law`.

    Examples
    --------
    >>> import bayescale as bs
    >>> bs.get_law("chinchilla").param_names
    ('e', 'a', 'b', 'alpha', 'beta')
    """
    if isinstance(name, Law):
        return name
    if not isinstance(name, str):
        raise TypeError(f"a law is a registered name (bs.laws() lists them, e.g. 'chinchilla') or a bs.Law, got "
                        f"{type(name).__name__} {name!r}")
    _ensure_catalogue()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else "."
        raise KeyError(
            f"unknown law {name!r}{hint} Registered laws: {', '.join(sorted(_REGISTRY))} (or pass a bs.Law)"
        ) from None
