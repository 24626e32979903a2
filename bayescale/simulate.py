"""Simulated ladders of runs from a law: for tests, calibration and the offline demo (always labelled simulated)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import jax
import numpy as np
import pandas as pd
from numpyro.distributions import transforms

from bayescale.law import Law, get_law

__all__ = ["simulate_ladder", "default_design", "prior_median", "reference_params"]


def prior_median(prior) -> float:
    """Median of a scalar prior: its inverse CDF at 0.5 where NumPyro has one, else a fixed-seed Monte Carlo median.

    (``Beta.icdf`` needs tensorflow-probability, which bayescale does not depend on.)

    Parameters
    ----------
    prior : numpyro.distributions.Distribution

    Returns
    -------
    float
    """
    try:
        value = float(np.asarray(prior.icdf(0.5)))
        if np.isfinite(value):
            return value
    except (ImportError, NotImplementedError):
        pass
    draws = np.asarray(prior.sample(jax.random.PRNGKey(0), (20001,)), dtype=float)
    return float(np.median(draws))


def reference_params(law: Law | str) -> dict[str, float]:
    """Typical parameter values of a law: its published values, completed by prior medians.

    Parameters
    ----------
    law : Law or str

    Returns
    -------
    dict of str to float
        One value per parameter, in declaration order.

    Examples
    --------
    >>> from bayescale.simulate import reference_params
    >>> round(reference_params("chinchilla")["e"], 3)
    1.817
    """
    law = get_law(law)
    return {p: float(law.published[p]) if p in law.published else prior_median(prior)
            for p, prior in law.params.items()}


def default_design(law: Law, *, sizes: Sequence[float] | None = None,
                   tokens_per_param: Sequence[float] = (5, 10, 20, 40, 80),
                   epochs: Sequence[float] = (1, 2, 4, 8)) -> pd.DataFrame:
    """Build a grid of run inputs for a law: model sizes x tokens-per-parameter (x epochs), or a log grid.

    Parameters
    ----------
    law : Law
    sizes : sequence of float, optional
        Model sizes (``n``) or, for single-input laws, the input values. Default: for laws in ``n``, ``d`` (and
        ``u``), 6 model sizes log-spaced from 3e7 to 3e9 parameters (in the law's units: 30 to 3,000 for a law in
        millions of parameters, :meth:`~bayescale.Law.unit_scale`); for single-input laws in a size, 12 values
        log-spaced from 1/300 to 3 times the law's example, and in a loss, 12 values from half to 1.5 times the
        example.
        Other laws get a product grid of 4 values per input, log-spaced from
        1/30 to 3 times each input's example (1 when the law gives none).
    tokens_per_param : sequence of float
        Token multipliers ``d / n``.
    epochs : sequence of float
        Repetitions ``d / u`` for laws with unique tokens ``u``.

    Returns
    -------
    pandas.DataFrame
    """
    inputs = set(law.inputs)
    if inputs <= {"n", "d", "u"} and {"n", "d"} <= inputs:
        sn, sd = law.unit_scale("n"), law.unit_scale("d")  # a law in millions of parameters: 30 to 3,000
        ns = np.asarray(sizes if sizes is not None else np.geomspace(3e7, 3e9, 6) / sn, dtype=float)
        rows = [{"n": n, "d": n * t * sn / sd} for n in ns for t in tokens_per_param]
        frame = pd.DataFrame(rows)
        if "u" in inputs:
            frame = pd.concat([frame.assign(u=frame["d"] * sd / law.unit_scale("u") / e) for e in epochs],
                              ignore_index=True)
        return frame
    levels = {x: float(law.example.get(x, 0.25)) for x in law.inputs if law.is_level_input(x)}
    if len(inputs) - len(levels) == 1:  # one varying input; levels (a task's chance) held at the example
        (x,) = inputs - set(levels)
        centre = float(law.example.get(x, 1e9))
        if sizes is not None:
            xs = np.asarray(sizes, dtype=float)
        elif not law.is_loss_input(x):  # a size: orders of magnitude
            xs = np.geomspace(centre / 300, centre * 3, 12)
        else:  # a loss (downstream laws): a factor of three around the example, as ladders of small models span
            xs = np.linspace(centre / 2, centre * 1.5, 12)
        return pd.DataFrame({x: xs, **levels})[list(law.inputs)]
    if sizes is not None:
        raise ValueError(f"sizes= applies to laws in n and d or with one input; law {law.name!r} has inputs "
                         f"{list(law.inputs)}; pass design= instead")
    axes = [np.geomspace(float(law.example.get(x, 1.0)) / 30, float(law.example.get(x, 1.0)) * 3, 4)
            for x in law.inputs]
    grid = np.meshgrid(*axes, indexing="ij")
    return pd.DataFrame({x: g.ravel() for x, g in zip(law.inputs, grid, strict=True)})


def simulate_ladder(
    law: Law | str = "chinchilla",
    params: Mapping[str, float] | None = None,
    *,
    design: pd.DataFrame | None = None,
    noise_sd: float = 0.02,
    noise_slope: float = 0.0,
    df: float | None = None,
    num_groups: int | None = None,
    group_sd: Mapping[str, float] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Simulate a ladder of training runs from a law (Normal or Student-t noise on the law's link scale).

    Parameters
    ----------
    law : Law or str
    params : mapping, optional
        True parameter values; default :func:`reference_params` (published values, else prior medians).
    design : pandas.DataFrame, optional
        Run inputs; default :func:`default_design`.
    noise_sd : float
        Sd of the noise on the law's link scale (:attr:`Law.link`): the log target for losses (0.02 = about 2%
        run-to-run noise), the logit for accuracies and other fractions.
    noise_slope : float
        For a law whose noise grows away from its optimum (``Law.floor``): the sd added per unit of a run's excess,
        ``noise_sd + noise_slope * excess``, as the fitted ``sigma + sigma_slope * excess``. Default 0.
    df : float, optional
        Degrees of freedom of Student-t noise; Normal when None.
    num_groups : int, optional
        Repeat the design for this many groups, named ``g0, g1, ...`` in column ``group``; each group's parameters
        are the base values perturbed on the log scale (logit for (0, 1) parameters) by ``group_sd``.
    group_sd : mapping, optional
        Spread of each varying parameter across groups; default ``{"e": 0.1, "a": 0.3}`` where those exist.
    seed : int

    Returns
    -------
    pandas.DataFrame
        The design (a given ``design``'s other columns kept, a target column in it replaced), the target column and
        (with groups) ``group``; ``attrs["simulated"] = True`` and
        ``attrs["params"]`` holds the true values (per group with groups).

    Examples
    --------
    >>> import bayescale as bs
    >>> runs = bs.simulate_ladder("chinchilla", seed=0)
    >>> sorted(runs.columns)
    ['d', 'loss', 'n']
    """
    law = get_law(law)
    from bayescale.fit import _resolve_seed

    rng = np.random.default_rng(_resolve_seed(seed))
    if params is None:
        params = reference_params(law)
    missing = set(law.params) - set(params)
    if missing:
        raise ValueError(f"params is missing {sorted(missing)} for law {law.name!r}")
    unknown = sorted(set(params) - set(law.params))
    if unknown:
        raise ValueError(f"params names {unknown}, which are not parameters of law {law.name!r} ({list(law.params)})")
    for p in law.params:  # a value outside the prior's support would simulate NaN targets
        v = params[p]
        try:
            ok = not isinstance(v, (bool, str)) and np.isfinite(float(v)) and bool(law.params[p].support(float(v)))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(f"params[{p!r}] = {v!r} is not a finite value in the support of its prior "
                             f"({type(law.params[p]).__name__}, support {law.params[p].support})")
    if isinstance(noise_sd, bool) or not isinstance(noise_sd, (int, float, np.floating)) \
            or not (np.isfinite(noise_sd) and noise_sd >= 0):
        raise ValueError(f"noise_sd must be a finite number >= 0 (the sd of the noise on the link scale), got "
                         f"{noise_sd!r}")
    if isinstance(noise_slope, bool) or not isinstance(noise_slope, (int, float, np.floating)) \
            or not (np.isfinite(noise_slope) and noise_slope >= 0):
        raise ValueError(f"noise_slope must be a finite number >= 0, got {noise_slope!r}")
    if noise_slope and law.floor is None:
        raise ValueError(f"noise_slope= needs a law whose noise grows with its excess over a floor (Law.floor); "
                         f"law {law.name!r} has none")
    if df is not None and not (isinstance(df, (int, float, np.floating)) and not isinstance(df, bool)
                               and np.isfinite(df) and df > 0):
        raise ValueError(f"df must be a finite number > 0 (Student-t noise) or None (normal noise: the limit of an "
                         f"infinite df), got {df!r}")
    if group_sd is not None and not num_groups:
        raise ValueError("group_sd= spreads parameters across groups: give num_groups= too (or leave group_sd out)")
    if num_groups is not None and (isinstance(num_groups, bool) or not isinstance(num_groups, (int, np.integer))
                                   or num_groups < 1):
        raise ValueError(f"num_groups must be a positive integer or None, got {num_groups!r}")
    if design is None:
        base = default_design(law)
    else:
        from bayescale.data import DataWarning, validate_runs

        with warnings.catch_warnings():  # a design's units are the caller's choice; only errors matter here
            warnings.simplefilter("ignore", DataWarning)
            checked = validate_runs(design, law, require_target=False, table="the design").frame
        if num_groups and "group" in design:
            raise ValueError("design already has a 'group' column, which num_groups= would overwrite: rename it")
        given = design if isinstance(design, pd.DataFrame) else pd.DataFrame(design)
        base = pd.concat([checked[list(law.inputs)].reset_index(drop=True),  # inputs parsed ("7B"), other columns
                          given.drop(columns=[*law.inputs, law.target], errors="ignore").reset_index(drop=True)],
                         axis=1)[[c for c in given.columns if c != law.target]]
    truth: dict = {}
    if num_groups:
        if group_sd is not None and not isinstance(group_sd, Mapping):
            raise ValueError(f"group_sd must map parameters to sds, e.g. {{'e': 0.1}}, got {group_sd!r}")
        sd = dict(group_sd if group_sd is not None else {k: v for k, v in (("e", 0.1), ("a", 0.3))
                                                          if k in law.params})
        bad = {p: s for p, s in sd.items() if p not in law.params or isinstance(s, bool)
               or not isinstance(s, (int, float, np.number)) or not (np.isfinite(s) and s >= 0)}
        if bad:
            raise ValueError(f"group_sd {bad}: it maps parameters of law {law.name!r} ({list(law.params)}) to finite "
                             "sds >= 0 on their unconstrained scale")
        frames = []
        for g in range(num_groups):
            pg = dict(params)
            for p, s in sd.items():
                bij = transforms.biject_to(law.params[p].support)
                pg[p] = float(bij(bij.inv(float(params[p])) + s * rng.standard_normal()))
            frames.append(base.assign(group=f"g{g}"))
            truth[f"g{g}"] = pg
        frame = pd.concat(frames, ignore_index=True)
        pvals = {p: np.asarray([truth[g][p] for g in frame["group"]]) for p in law.params}
    else:
        frame = base.copy()
        truth = dict(params)
        pvals = {p: np.full(len(frame), float(v)) for p, v in params.items()}
    xs = [frame[x].to_numpy(float) for x in law.inputs]
    with jax.enable_x64(True):
        mean = np.asarray(law(*xs, **pvals))
        sd = noise_sd + (noise_slope * np.asarray(law.excess(*xs, **pvals)) if noise_slope else 0.0)
    eps = rng.standard_t(df, len(frame)) if df else rng.standard_normal(len(frame))
    frame[law.target] = law.from_link(law.to_link(mean) + sd * eps)
    frame.attrs["simulated"] = True
    frame.attrs["params"] = truth
    return frame
