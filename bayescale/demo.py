"""The demo case study: a Bayesian replication of Chinchilla's scaling law (Hoffmann et al. 2022).

Data: Epoch AI's extraction of the 245 final losses of Hoffmann et al.'s Fig. 4 (``bs.datasets.load("chinchilla")``).
As Besiroglu et al. (2024) did, the 5 runs with the smallest tokens-per-parameter ratio D/N (all under 0.41: tiny
data budgets for huge models) are dropped, leaving 240. The Chinchilla law ``L = E + A/N^alpha + B/D^beta`` is
fitted with NUTS and compared with the point fits of Besiroglu et al. (bootstrap SEs) and of Hoffmann et al.; the
posterior of the compute-optimal allocation at Chinchilla's budget (5.76e23 FLOPs) is printed with 90% intervals and
three figures are saved. With no data reachable (no data dir, no cache, no network) it runs on a ladder simulated
from Besiroglu's published fit and says so.

``python -m bayescale.demo --help``; the ``bayescale demo`` command and ``case_studies/chinchilla_replication``
call :func:`run`.
"""

from __future__ import annotations

import argparse
import textwrap
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["ReplicationResult", "run", "main", "load_runs", "comparison_table", "hoffmann_region", "BESIROGLU",
           "BESIROGLU_SE", "HOFFMANN", "CHINCHILLA_BUDGET", "SIMULATED_MARK"]

#: Besiroglu et al. 2024 (arXiv:2404.10102) Table 1, with bootstrap standard errors.
BESIROGLU = {"e": 1.8172, "a": 482.01, "b": 2085.43, "alpha": 0.3478, "beta": 0.3658}
BESIROGLU_SE = {"e": 0.03, "a": 124.58, "b": 1293.23, "alpha": 0.02, "beta": 0.02}
#: Hoffmann et al. 2022 (arXiv:2203.15556) Approach 3, rounded as published.
HOFFMANN = {"e": 1.69, "a": 406.4, "b": 410.7, "alpha": 0.34, "beta": 0.28}
#: Chinchilla's training compute as Hoffmann et al. 2022 report it (6 x 70B parameters x 1.4T tokens is 5.88e23).
CHINCHILLA_BUDGET = 5.76e23
#: What each saved figure says at its top when the runs were simulated (no Chinchilla data reachable).
SIMULATED_MARK = "SIMULATED runs (Besiroglu et al.'s fit + noise), not Chinchilla's: no data was reachable"
PARAMS = ("e", "a", "b", "alpha", "beta")


@dataclass(frozen=True)
class ReplicationResult:
    """What the replication found.

    Attributes
    ----------
    fit : Fit
    table : pandas.DataFrame
        Posterior median and 90% interval of each parameter beside the published values, and whether the median is
        within 2 Besiroglu standard errors.
    allocation : pandas.DataFrame
        Posterior of N*, D*, L*, D*/N* at the Chinchilla budget.
    hoffmann_in_region : bool
        Whether Hoffmann's (alpha, beta) lies inside the 95% posterior region.
    hoffmann_mahalanobis : float
        Its squared Mahalanobis distance under the posterior covariance of (alpha, beta).
    simulated : bool
        True when the data were simulated (no real data reachable).
    dropped : pandas.DataFrame
        The runs left out.
    figures : list of pathlib.Path
    seconds : float
    """

    fit: object
    table: pd.DataFrame
    allocation: pd.DataFrame
    hoffmann_in_region: bool
    hoffmann_mahalanobis: float
    simulated: bool
    dropped: pd.DataFrame
    figures: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def recovers_besiroglu(self) -> bool:
        """Posterior medians of E, alpha, beta within 2 Besiroglu SEs of their values."""
        return bool(self.table.loc[["e", "alpha", "beta"], "within_2se"].all())


def load_runs(data_dir=None, fallback: bool = True) -> tuple[pd.DataFrame, pd.DataFrame, bool]:
    """Load the Chinchilla runs minus the 5 smallest-D/N ones (simulated from Besiroglu's fit without data).

    Parameters
    ----------
    data_dir : str or path-like, optional
        Data directory; default ``BAYESCALE_DATA_DIR``, then the cache, then a verified download.
    fallback : bool
        Simulate the runs when no data is reachable (and say so); False raises the data set's
        ``DatasetNotFoundError`` instead, for callers whose answers are about the real runs.

    Returns
    -------
    runs : pandas.DataFrame
        The runs kept (``n, d, c, loss``).
    dropped : pandas.DataFrame
        The 5 runs left out.
    simulated : bool
        True when no data was reachable and the runs were simulated.
    """
    import bayescale as bs

    try:
        runs = bs.datasets.load("chinchilla", data_dir=data_dir)
        simulated = False
    except bs.datasets.DatasetNotFoundError as exc:
        if not fallback:
            raise
        print(f"NOTE: the Chinchilla data could not be read or downloaded:\n{textwrap.indent(str(exc), '      ')}\n"
              "      Running on a SIMULATED ladder drawn from Besiroglu et al.'s published fit instead; the numbers\n"
              "      below describe simulated data, not Chinchilla.")
        # Hoffmann's Approach 3 layout: 9 iso-FLOP budgets x 20 model sizes, noise like the real residuals
        design = pd.DataFrame([{"n": n, "d": c / (6 * n)} for c in np.geomspace(6e18, 3e21, 9)
                               for n in np.geomspace(7e7, 1.6e10, 20)])
        design = design[(design["d"] / design["n"] > 0.3) & (design["d"] / design["n"] < 500)]
        runs = bs.simulate_ladder("chinchilla", BESIROGLU, design=design.reset_index(drop=True), noise_sd=0.005,
                                  df=4, seed=0)
        simulated = True
    ratio = runs["d"] / runs["n"]
    drop = ratio.nsmallest(5).index
    return runs.drop(index=drop), runs.loc[drop], simulated


def hoffmann_region(fit, prob: float = 0.95) -> tuple[bool, float]:
    """Test whether Hoffmann's (alpha, beta) is inside the ``prob`` posterior region (Gaussian approximation).

    Parameters
    ----------
    fit : Fit
        A Chinchilla fit.
    prob : float
        Mass of the region.

    Returns
    -------
    inside : bool
    d2 : float
        Squared Mahalanobis distance under the posterior mean and covariance of (alpha, beta); the region is
        ``d2 <= chi2.ppf(prob, 2)``.
    """
    draws = fit.draws(["alpha", "beta"])
    x = np.column_stack([draws["alpha"], draws["beta"]])
    diff = np.array([HOFFMANN["alpha"], HOFFMANN["beta"]]) - x.mean(0)
    d2 = float(diff @ np.linalg.solve(np.cov(x.T), diff))
    return d2 <= stats.chi2.ppf(prob, 2), d2


def comparison_table(fit) -> pd.DataFrame:
    """Tabulate the posterior median and 90% interval beside Besiroglu's (with SE) and Hoffmann's estimates.

    Parameters
    ----------
    fit : Fit
        A Chinchilla fit.

    Returns
    -------
    pandas.DataFrame
        One row per parameter: ``median, q05, q95, sd, besiroglu, besiroglu_se, hoffmann, z_vs_besiroglu,
        within_2se``.
    """
    s = fit.summary(list(PARAMS))
    out = pd.DataFrame({
        "median": s["q50"], "q05": s["q05"], "q95": s["q95"], "sd": s["sd"],
        "besiroglu": pd.Series(BESIROGLU), "besiroglu_se": pd.Series(BESIROGLU_SE), "hoffmann": pd.Series(HOFFMANN),
    }).loc[list(PARAMS)]
    out["z_vs_besiroglu"] = (out["median"] - out["besiroglu"]) / out["besiroglu_se"]
    out["within_2se"] = out["z_vs_besiroglu"].abs() <= 2
    return out


def run(*, out_dir: str | Path = "chinchilla_replication_out", smoke: bool = False, seed: int = 0,
        data_dir=None, num_chains: int = 4, num_warmup: int = 1000, num_samples: int = 1000,
        progress_bar: bool | None = None, verbose: bool = True) -> ReplicationResult:
    """Run the replication: fit, compare, allocate, save the fit and figures, and print a report.

    Parameters
    ----------
    out_dir : str or path-like
        Where the fit (``fit.nc``), the tables (CSV) and the figures (PNG) are written.
    smoke : bool
        A few hundred draws on 2 chains, for tests: runs in well under a minute; numbers are rough and convergence
        warnings are silenced (say so).
    seed : int
    data_dir : str or path-like, optional
        Data directory (default: ``BAYESCALE_DATA_DIR``, then the cache, then a verified download).
    num_chains, num_warmup, num_samples : int
        NUTS settings for the full run.
    progress_bar : bool, optional
    verbose : bool
        Print the report.

    Returns
    -------
    ReplicationResult
    """
    import bayescale as bs
    from bayescale import plots

    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say = print if verbose else (lambda *a, **k: None)
    runs, dropped, simulated = load_runs(data_dir)
    if smoke:
        num_chains, num_warmup, num_samples = 2, 150, 150
    source = "a SIMULATED iso-FLOP ladder (Besiroglu's fit + 0.5% Student-t noise)" if simulated else \
        "Epoch AI's extraction of Hoffmann et al. 2022 Fig. 4"
    say(f"Chinchilla replication on {source}: {len(runs) + len(dropped)} runs; dropped the 5 with the smallest "
        f"D/N (max {float((dropped['d'] / dropped['n']).max()):.3f}) as Besiroglu et al. 2024 did -> {len(runs)}.")
    say(f"Fitting {bs.get_law('chinchilla').formula} with NUTS: {num_chains} chains x {num_warmup} warm-up x "
        f"{num_samples} draws (seed {seed}){' [SMOKE: too few draws for real answers]' if smoke else ''} ...")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.DataWarning)  # 6 runs have D < N: genuine, kept, as in the papers
        if smoke:
            warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fit = bs.fit("chinchilla", runs[["n", "d", "loss"]], num_chains=num_chains, num_warmup=num_warmup,
                     num_samples=num_samples, seed=seed, progress_bar=progress_bar)
    fit.save(out / "fit.nc")
    diag = fit.diagnostics
    say(f"Diagnostics: {diag!r}")

    table = comparison_table(fit)
    table.to_csv(out / "parameters.csv")
    say("\nPosterior (median [90% interval]) beside the published point fits:")
    say(f"{'':>6}  {'posterior':<28}{'Besiroglu (SE)':<20}{'z':>6}  {'Hoffmann':>8}")
    for p, r in table.iterrows():
        post = f"{r['median']:.4g} [{r['q05']:.4g}, {r['q95']:.4g}]"
        pub = f"{r['besiroglu']:.4g} ({r['besiroglu_se']:.3g})"
        say(f"{p:>6}  {post:<28}{pub:<20}{r['z_vs_besiroglu']:>+6.2f}  {r['hoffmann']:>8.4g}")
    ok = bool(table.loc[["e", "alpha", "beta"], "within_2se"].all())
    say(f"E, alpha, beta within 2 Besiroglu SEs: {'yes' if ok else 'NO'}.")
    inside, d2 = hoffmann_region(fit)
    say(f"Hoffmann's (alpha, beta) = ({HOFFMANN['alpha']}, {HOFFMANN['beta']}) is "
        f"{'INSIDE' if inside else 'OUTSIDE'} the 95% posterior region of (alpha, beta) "
        f"(squared Mahalanobis distance {d2:.1f}; the region ends at {stats.chi2.ppf(0.95, 2):.2f}).")

    alloc = fit.optimal_allocation(CHINCHILLA_BUDGET, quantiles=(0.05, 0.5, 0.95))
    alloc.to_csv(out / "allocation.csv", index=False)
    say(f"\nCompute-optimal allocation at Chinchilla's budget C = {CHINCHILLA_BUDGET:.3g} FLOPs (C = 6ND), "
        "median [90% interval]:")
    labels = {"n_opt": "N* parameters", "d_opt": "D* tokens", "loss_opt": "L* loss", "tokens_per_param": "D*/N*"}
    for _, r in alloc.iterrows():
        say(f"  {labels[r['quantity']]:>14}: {r['q50']:.3g} [{r['q05']:.3g}, {r['q95']:.3g}]")
    from bayescale.models.loss_scaling import chinchilla_optimum

    n_b, d_b, l_b = (float(v) for v in chinchilla_optimum(CHINCHILLA_BUDGET, 6.0, **BESIROGLU))
    say(f"  (Chinchilla itself: N = 7e10, D = 1.4e12, D/N = 20; Besiroglu's point fit gives N* {n_b:.3g}, "
        f"D* {d_b:.3g}, L* {l_b:.4g}.)")

    figures = {
        "loss_vs_compute.png": plots.plot_loss_vs_compute(fit, runs),
        "frontier.png": plots.plot_frontier(fit, np.geomspace(1e18, 1e26, 40),
                                            marks={"Chinchilla 70B, 1.4T": (CHINCHILLA_BUDGET, 7e10, 1.4e12)}),
        "exponents_pair.png": plots.plot_pair(fit, ("alpha", "beta"),
                                              reference={"Hoffmann 2022": HOFFMANN, "Besiroglu 2024": BESIROGLU}),
    }
    import matplotlib.pyplot as plt

    for name, f in figures.items():
        if simulated:  # a figure is often looked at without the printed output: it says so itself
            f.text(0.5, 1.0, SIMULATED_MARK, ha="center", va="bottom", color="crimson", fontweight="bold")
        plots._save(f, out / name)
        plt.close(f)
    paths = [out / name for name in figures]
    seconds = time.perf_counter() - start
    say(f"\nSaved the fit, tables and figures to {out}/ ({', '.join(p.name for p in paths)}) in {seconds:.0f} s.")
    if simulated:
        say("Reminder: these results are from SIMULATED data.")
    return ReplicationResult(fit=fit, table=table, allocation=alloc, hoffmann_in_region=bool(inside),
                             hoffmann_mahalanobis=d2, simulated=simulated, dropped=dropped, figures=paths,
                             seconds=seconds)


def main(argv=None) -> int:
    """Command-line entry point (``python -m bayescale.demo``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="chinchilla_replication_out", help="output directory")
    parser.add_argument("--smoke", action="store_true", help="few draws, for tests (rough numbers)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=None, help="data directory (default: BAYESCALE_DATA_DIR / cache)")
    parser.add_argument("--num-chains", type=int, default=4)
    parser.add_argument("--num-warmup", type=int, default=1000)
    parser.add_argument("--num-samples", type=int, default=1000)
    args = parser.parse_args(argv)
    run(out_dir=args.out, smoke=args.smoke, seed=args.seed, data_dir=args.data_dir, num_chains=args.num_chains,
        num_warmup=args.num_warmup, num_samples=args.num_samples)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
