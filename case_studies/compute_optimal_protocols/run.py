"""Kaplan or Chinchilla? The exponent of the compute-optimal model size under each training protocol (Porian et al.).

Kaplan et al. (2020) found the compute-optimal model size growing as N* ~ C^0.73, Hoffmann et al. (2022) as C^0.5.
Porian et al. ("Resolving Discrepancies in Compute-Optimal Scaling of Language Models", arXiv:2406.19146) trained
the same models under a sequence of protocols, each fixing one difference: counting the last layer's FLOPs,
correcting the warmup, cosine decay, tuning the optimiser. Their IsoFLOP minima give, on RefinedWeb,
a = 0.835 -> 0.706 -> 0.602 -> 0.571 -> 0.497.

Here one hierarchical Bayesian model fits every protocol's compute-optimal points at once:
``N*(C) = N_ref (C/1e18)^a`` per protocol (``compute_optimal_n``), with ``a`` and ``N_ref`` partially pooled over the
15 (data set, protocol) settings and each point's bootstrap spread (``n_opt_logstd``, from Porian et al.'s files)
as its known noise, added to a fitted residual scale. It answers with intervals, and with the probability that the
tuned protocol's exponent is within 0.05 of Chinchilla's 0.5. A second fit uses only budgets up to 1.6e18 FLOPs and
predicts the compute-optimal size at 2.56e19 (16x beyond) for every setting.

    python case_studies/compute_optimal_protocols/run.py [--smoke] [--out DIR]

Writes ``predictions.csv`` (``dataset, label, quantity, published, published_lo, published_hi, mean, q05, q25, q50,
q75, q95``; quantity ``a`` (the exponent) or ``n_opt_2.56e+19`` (predicted without the budgets above 1.6e18,
beside the observed ``N*``)), ``summary.csv`` and ``compute_optimal_protocols.png``.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bayescale as bs
from bayescale._scripts import case_study_args, case_study_parser
from bayescale.predict import parameter_draws

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: The paper's sequence of protocols (Table 2 / Figure 1), in order.
SEQUENCE = ("Reproducing Kaplan et al.", "Counting last layer FLOPs", "Correcting warmup", "Cosine decay",
            "Optimizer tuning (no decay)")
TUNED = "Optimizer tuning (no decay)"
FIT_MAX, TARGET_C = 1.6e18, 2.56e19


def load(smoke: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compute-optimal points (``setting, dataset, label, c, n_opt, n_opt_logstd``) and the upstream fits."""
    pts = bs.datasets.load("porian_discrepancies", table="compute_optimal")
    fits = bs.datasets.load("porian_discrepancies", table="fits")
    runs = pd.DataFrame({"dataset": pts["dataset"], "label": pts["label"], "c": pts["c"], "n_opt": pts["n"],
                         "n_opt_logstd": pts["n_opt_logstd"]})
    runs["setting"] = runs["dataset"] + ": " + runs["label"]
    missing = runs["n_opt"].isna() | runs["n_opt_logstd"].isna()
    if missing.any():  # budgets whose IsoFLOP curve had no interior minimum upstream
        print(f"{int(missing.sum())} budget(s) without a compute-optimal size upstream dropped: "
              + "; ".join(f"{r.setting} at {r.c:.3g}" for r in runs[missing].itertuples()))
        runs = runs[~missing]
    if smoke:  # RefinedWeb's five-step sequence only
        runs = runs[(runs["dataset"] == "rw") & runs["label"].isin(SEQUENCE)]
    return runs.reset_index(drop=True), fits


def fit(runs: pd.DataFrame, *, smoke: bool, seed: int):
    draws = (dict(num_warmup=200, num_samples=200, num_chains=2, fallback=False) if smoke
             else dict(num_warmup=2000, num_samples=2000))
    with warnings.catch_warnings():
        if smoke:
            warnings.simplefilter("ignore", bs.ConvergenceWarning)
        return bs.fit("compute_optimal_n", runs.drop(columns=["dataset", "label"]), groups="setting",
                      pool={"a": "partial", "n_ref": "partial"}, noise="n_opt_logstd", seed=seed,
                      target_accept_prob=0.95, **draws)


def _row(values, **keys) -> dict:
    row = {**keys, "mean": float(np.mean(values))}
    row.update({f"q{round(100 * q):02d}": float(np.quantile(values, q)) for q in QUANTILES})
    return row


def exponents(f, settings: pd.DataFrame, fits: pd.DataFrame) -> pd.DataFrame:
    a = parameter_draws(f, settings[["setting"]])["a"]
    rows = []
    for j, s in settings.iterrows():
        pub = fits[(fits["dataset"] == s["dataset"]) & (fits["label"] == s["label"])].iloc[0]
        rows.append(_row(a[:, j], dataset=s["dataset"], label=s["label"], quantity="a",
                         published=pub["a_n_exponent"], published_lo=pub["a_ci95_lo"],
                         published_hi=pub["a_ci95_hi"]))
    return pd.DataFrame(rows), a


def held_out(runs: pd.DataFrame, settings: pd.DataFrame, *, smoke: bool, seed: int) -> pd.DataFrame:
    """Fit budgets up to FIT_MAX only; predict N* at TARGET_C for each setting beside the observed value."""
    small = runs[runs["c"] <= FIT_MAX]
    f = fit(small, smoke=smoke, seed=seed)
    target = runs[np.isclose(runs["c"], TARGET_C)]
    new = settings[settings["setting"].isin(target["setting"])].copy()
    new["c"] = TARGET_C
    # each held-out N* carries its own fitting noise (n_opt_logstd), added to the fitted sigma as in the fit
    new["n_opt_logstd"] = new["setting"].map(target.groupby("setting")["n_opt_logstd"].first()).to_numpy()
    pred = f.predict(new[["setting", "c", "n_opt_logstd"]], quantiles=QUANTILES)
    rows = []
    for (_, s), (_, p) in zip(new.iterrows(), pred.iterrows(), strict=True):
        obs = target[target["setting"] == s["setting"]]["n_opt"].iloc[0]
        rows.append({"dataset": s["dataset"], "label": s["label"], "quantity": f"n_opt_{TARGET_C:g}",
                     "mean": p["mean"], **{f"q{round(100 * q):02d}": p[f"q{round(100 * q):02d}"] for q in QUANTILES},
                     "published": obs, "published_lo": np.nan, "published_hi": np.nan})
    return pd.DataFrame(rows), f


def figure(runs: pd.DataFrame, f, table: pd.DataFrame, path: Path) -> None:
    """RefinedWeb's compute-optimal sizes per protocol with the fitted law (90% band); the exponents beside the
    paper's."""
    from bayescale.plots import _pyplot

    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5.0))
    for i, label in enumerate(SEQUENCE):
        g = runs[(runs["dataset"] == "rw") & (runs["label"] == label)]
        if g.empty:
            continue
        setting = g["setting"].iloc[0]
        ax1.errorbar(g["c"], g["n_opt"], yerr=[g["n_opt"] * (1 - np.exp(-g["n_opt_logstd"])),
                                               g["n_opt"] * (np.exp(g["n_opt_logstd"]) - 1)],
                     fmt="o", ms=3, color=f"C{i}", label=label, alpha=0.8)
        grid = pd.DataFrame({"setting": setting, "c": np.geomspace(g["c"].min(), g["c"].max(), 40)})
        band = f.predict(grid, kind="mean")
        ax1.fill_between(grid["c"], band["q05"], band["q95"], color=f"C{i}", alpha=0.2, lw=0)
        ax1.plot(grid["c"], band["q50"], color=f"C{i}", lw=1)
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("training compute C (FLOPs)")
    ax1.set_ylabel("compute-optimal model size N*")
    ax1.legend(fontsize=7)
    ax1.set_title("RefinedWeb: IsoFLOP minima and the fitted law (90% band)", fontsize=9)
    t = table[table["quantity"] == "a"].reset_index(drop=True)
    y = np.arange(len(t))[::-1]
    ax2.errorbar(t["q50"], y, xerr=[t["q50"] - t["q05"], t["q95"] - t["q50"]], fmt="o", color="C0", capsize=3,
                 label="hierarchical posterior (90%)")
    ax2.errorbar(t["published"], y - 0.25, xerr=[t["published"] - t["published_lo"],
                                                   t["published_hi"] - t["published"]],
                 fmt="s", color="C3", mfc="white", ms=4, capsize=2, label="Porian et al. (95% bootstrap)")
    ax2.axvline(0.5, color="k", lw=0.8, ls="--")
    ax2.axvline(0.73, color="grey", lw=0.8, ls=":")
    corpora = {"rw": "RefinedWeb", "owt2": "OpenWebText2"}
    ax2.set_yticks(y, [f"{corpora.get(d, d)}: {lab}" for d, lab in zip(t["dataset"], t["label"], strict=True)],
                   fontsize=7.5)
    ax2.set_xlabel("exponent a of N* ~ C^a (dashed 0.5: Chinchilla; dotted 0.73: Kaplan)", fontsize=8)
    ax2.set_title("The exponent per data set and protocol, beside the paper's", fontsize=9)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = case_study_parser(__doc__, "compute_optimal_protocols_out", "RefinedWeb's five protocols, short chains")
    args = case_study_args(ap, argv)
    runs, fits = load(args.smoke)
    settings = runs.groupby("setting", sort=False)[["dataset", "label"]].first().reset_index()
    print(f"Porian et al.: {len(runs)} compute-optimal points in {len(settings)} (data set, protocol) settings, "
          f"{runs['c'].min():.3g} to {runs['c'].max():.3g} FLOPs")
    start = time.perf_counter()
    full = fit(runs, smoke=args.smoke, seed=args.seed)
    print(f"fit in {time.perf_counter() - start:.0f} s: {full.diagnostics!r}")
    full.summary().to_csv(args.out / "summary.csv")
    table, a = exponents(full, settings, fits)

    print("\nExponent a of N*(C) ~ C^a per protocol: posterior median [90%] beside Porian et al.'s fit [95% CI]")
    for dataset in ("rw", "owt2"):
        for label in list(SEQUENCE) + sorted(set(settings["label"]) - set(SEQUENCE)):
            r = table[(table["dataset"] == dataset) & (table["label"] == label)]
            if r.empty:
                continue
            r = r.iloc[0]
            print(f"  {dataset:4s} {label:49s} {r.q50:.3f} [{r.q05:.3f}, {r.q95:.3f}]   paper {r.published:.3f} "
                  f"[{r.published_lo:.2f}, {r.published_hi:.2f}]")
    for j, s in settings.iterrows():
        if s["label"] == TUNED:
            p = np.mean(np.abs(a[:, j] - 0.5) < 0.05)
            print(f"\nP(|a - 0.5| < 0.05) for the tuned protocol on {s['dataset']}: {p:.3f}")
    rw = [table[(table["dataset"] == "rw") & (table["label"] == lab)] for lab in SEQUENCE]
    if all(len(r) for r in rw):
        idx = [int(r.index[0]) for r in rw]
        steps = [np.mean(a[:, i] > a[:, k]) for i, k in zip(idx[:-1], idx[1:], strict=True)]
        print("P(each RefinedWeb step lowers the exponent): " + ", ".join(f"{p:.2f}" for p in steps))

    held, small = held_out(runs, settings, smoke=args.smoke, seed=args.seed)
    print(f"\nfit on budgets <= {FIT_MAX:.2g} FLOPs: {small.diagnostics!r}")
    inside = ((held["q05"] <= held["published"]) & (held["published"] <= held["q95"]))
    print(f"Fit on budgets <= {FIT_MAX:.2g} FLOPs, predict N* at {TARGET_C:.3g} (16x beyond): observed inside the "
          f"90% interval for {int(inside.sum())} of {len(held)} settings")
    for _, r in held.iterrows():
        print(f"  {r.dataset:4s} {r.label:49s} predicted {r.q50:.3g} [{r.q05:.3g}, {r.q95:.3g}], observed "
              f"{r.published:.3g}")
    out = pd.concat([table, held], ignore_index=True)
    out.to_csv(args.out / "predictions.csv", index=False)
    figure(runs, full, out, args.out / "compute_optimal_protocols.png")
    print(f"\nwrote {args.out}/predictions.csv, summary.csv and compute_optimal_protocols.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
