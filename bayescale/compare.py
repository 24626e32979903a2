"""Which law fits these runs best? PSIS-LOO comparison and the stacked posterior predictive.

:func:`compare` takes fits of different laws to the same runs and returns a :class:`Comparison`: arviz-stats'
``compare`` table (expected log pointwise predictive density by PSIS-LOO, its standard error, differences from the
best, and stacking weights, Yao et al. 2018) and :meth:`Comparison.predict`, the stacked posterior predictive:
each law's predictive draws mixed in proportion to its stacking weight (arviz-stats' ``weight_predictions``).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Comparison", "compare"]

#: The weighting methods of :func:`compare` (arviz-stats' ``compare``).
METHODS = ("stacking", "bb-pseudo-bma", "pseudo-bma")


@dataclass(frozen=True, eq=False)
class Comparison:
    """The result of :func:`compare`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per fit, best first, with arviz-stats' columns ``rank, elpd_diff, dse, p_worse, diag_diff,
        diag_elpd, p, elpd, se, weight`` (``elpd`` on the log scale of the target for positive targets, which every
        compared fit shares; ``p_worse`` the probability that the fit predicts worse than the best; ``diag_*``
        notes when the difference or the PSIS estimate is unreliable).
    fits : dict of str to Fit
    weights : dict of str to float
        The weights of ``method`` (sum to 1).
    method : str
        How the weights were made: ``"stacking"`` (the default), ``"bb-pseudo-bma"`` or ``"pseudo-bma"``.
    """

    table: pd.DataFrame
    fits: Mapping[str, object]
    weights: Mapping[str, float]
    method: str = "stacking"

    def __repr__(self) -> str:
        cols = [c for c in ("rank", "elpd", "se", "elpd_diff", "dse", "p_worse", "weight", "p") if c in self.table]
        with pd.option_context("display.width", 140, "display.float_format", "{:.3f}".format):
            return f"Comparison of {len(self.fits)} fits (PSIS-LOO, {self.method} weights):\n{self.table[cols]}"

    @property
    def best(self) -> str:
        """Name of the fit with the highest expected log predictive density."""
        return str(self.table.index[0])

    def predict(self, new_runs, *, quantiles: Sequence[float] = (0.05, 0.5, 0.95), kind: str = "observation",
                seed: int | None = 0) -> pd.DataFrame:
        """Quantiles of the stacked posterior predictive at new inputs.

        Each fit's predictive draws are weighted by its weight (:attr:`weights`, with
        ``arviz_stats.weight_predictions``); fits whose laws need different inputs each take their own columns from
        ``new_runs``.

        Returns
        -------
        pandas.DataFrame
            The union of the fits' input columns, ``mean`` and one column per quantile, with ``new_runs``'s index.
        """
        import arviz_stats as azs
        import xarray as xr

        from bayescale.fit import _resolve_seed
        from bayescale.predict import _check_quantiles, _mean, _quantiles, predictive_draws

        qs = _check_quantiles(quantiles)
        seed = _resolve_seed(seed)
        trees, out = [], None
        sizes = {n: f.tree.posterior.sizes["chain"] * f.tree.posterior.sizes["draw"] for n, f in self.fits.items()}
        names = [n for n in self.fits if self.weights[n] * min(sizes.values()) >= 1]  # fits that get a draw
        for i, name in enumerate(names):
            fit = self.fits[name]
            table, values, _ = predictive_draws(fit, new_runs, kind=kind, seed=(seed + i) % 2**63)
            # the inputs as validated (sizes such as "70B" parsed, a one-run mapping made a row), with their index
            cols = list(fit.law.inputs) + list(fit.groups)
            if out is None:
                out = table.frame[cols].copy()
            for c in cols:
                if c not in out:
                    out[c] = table.frame[c].to_numpy()
            n = fit.tree.posterior.sizes
            da = xr.DataArray(values.reshape(n["chain"], n["draw"], -1), dims=("chain", "draw", "point"),
                              coords={"chain": np.arange(n["chain"]), "draw": np.arange(n["draw"])})
            # weight_predictions carries the first tree's observed_data over: a placeholder of the points
            placeholder = xr.Dataset({"y": ("point", np.zeros(da.sizes["point"]))})
            trees.append(xr.DataTree.from_dict({"posterior_predictive": xr.Dataset({"y": da}),
                                                "observed_data": placeholder}))
        if len(trees) == 1:
            values = trees[0].posterior_predictive["y"].stack(sample=("chain", "draw")).transpose("sample", ...).values
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mixed = azs.weight_predictions(trees, weights=[self.weights[n] for n in names], random_seed=seed)
            values = mixed.posterior_predictive["y"].transpose("sample", ...).values
        out["mean"] = _mean(values)
        for col, v in _quantiles(values, qs).items():
            out[col] = v
        return out


def _named(fits) -> dict[str, object]:
    """Return ``fits`` as a dict of name to fit; a sequence is named by each fit's law."""
    if isinstance(fits, Mapping):
        return dict(fits)
    if isinstance(fits, (str, bytes)) or not isinstance(fits, Sequence):
        raise TypeError(f"fits must be a mapping of name to Fit or a sequence of Fits, got {type(fits).__name__}")
    named: dict[str, object] = {}
    for fit in fits:
        law = getattr(fit, "law", None)
        if law is None:
            hint = " (a saved fit is read with bs.load(path))" if isinstance(fit, (str, bytes, os.PathLike)) else ""
            raise TypeError(f"fits must be Fits, got a {type(fit).__name__}{hint}")
        name, k = law.name, 1
        while name in named:
            k += 1
            name = f"{law.name} ({k})"
        named[name] = fit
    return named


def compare(fits: Mapping[str, object] | Sequence[object], *, method: str = "stacking") -> Comparison:
    """Compare fits of different laws to the same runs by PSIS-LOO.

    Parameters
    ----------
    fits : mapping of str to Fit, or sequence of Fit
        At least two fits, on the same runs (same target values in the same order) and the same likelihood scale.
        A sequence is named by each fit's law (``chinchilla``, ``chinchilla (2)``, ... when laws repeat).
    method : {"stacking", "bb-pseudo-bma", "pseudo-bma"}
        How arviz-stats weights the fits.

    Returns
    -------
    Comparison

    Raises
    ------
    ValueError
        Fewer than two fits, or fits of different runs or targets (named).

    Examples
    --------
    >>> cmp = bs.compare({"chinchilla": fit_a, "kaplan": fit_b})  # doctest: +SKIP
    >>> cmp.table[["elpd", "se", "elpd_diff", "weight"]]  # doctest: +SKIP
    >>> cmp.predict(pd.DataFrame({"n": [7e10], "d": [1.4e12]}))  # doctest: +SKIP
    """
    import arviz_stats as azs

    from bayescale.build import COUNT_LIKELIHOODS, obs_site
    from bayescale.posterior import with_log_likelihood

    if not isinstance(method, str) or method.lower() not in METHODS:  # before any LOO; in any case, as arviz-stats
        raise ValueError(f"method={method!r} is not one of {METHODS} (how arviz-stats weights the fits)")
    fits = _named(fits)
    if len(fits) < 2:
        raise ValueError(f"compare needs at least two fits, got {len(fits)}")
    wrong = {name: type(f).__name__ for name, f in fits.items() if not (hasattr(f, "tree") and hasattr(f, "law"))}
    if wrong:
        raise TypeError(f"compare takes Fit objects; {wrong} are not (a saved fit is read with bs.load(path))")
    names = list(fits)
    counted = {n: f.config.likelihood in COUNT_LIKELIHOODS for n, f in fits.items() if hasattr(f, "config")}
    if len(set(counted.values())) > 1:
        kinds = ", ".join(f"{n} ({fits[n].config.likelihood})" for n in counted)
        raise ValueError(f"fits {kinds} mix count likelihoods (a probability mass per run) with densities: their LOO "
                         "scores are on different scales; compare fits of one kind")
    ref_name, ref = names[0], fits[names[0]]
    ref_site, ref_y = obs_site(ref.law), ref.tree.observed_data[obs_site(ref.law)].values
    for name in names[1:]:
        fit = fits[name]
        site = obs_site(fit.law)
        if site != ref_site:
            raise ValueError(f"fits {ref_name!r} and {name!r} model different targets ({ref_site!r} and {site!r}); "
                             "LOO compares predictions of the same observations")
        y = fit.tree.observed_data[site].values
        if y.shape != ref_y.shape or not np.allclose(y, ref_y, rtol=1e-12, atol=0):
            raise ValueError(
                f"fits {ref_name!r} ({ref_y.size} runs) and {name!r} ({y.size} runs) were not made on the same runs in "
                "the same order; fit every law to the same table (after validation drops duplicates) to compare them")
        shared = [x for x in fit.law.inputs if x in ref.law.inputs]
        if shared:  # the same targets at other inputs (a unit slip in one table) are other runs too
            a, b = ref.runs()[shared].to_numpy(float), fit.runs()[shared].to_numpy(float)
            off = [x for i, x in enumerate(shared) if not np.allclose(a[:, i], b[:, i], rtol=1e-9, atol=0)]
            if off:
                raise ValueError(f"fits {ref_name!r} and {name!r} have the same targets but different {off}: they "
                                 "were not made on the same runs (a column in other units in one table?); fit every "
                                 "law to the same table to compare them")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = azs.compare({n: with_log_likelihood(f) for n, f in fits.items()}, method=method, round_to="none")
    table = pd.DataFrame(table)
    weights = {n: float(table.loc[n, "weight"]) for n in names}
    return Comparison(table=table, fits=fits, weights=weights, method=method.lower())
