"""Optimal learning rate and batch size from Step Law's dense sweep: one landscape model over every run.

Li et al. ("Predictable Scale: Part I — Optimal Hyperparameter Scaling Law in LLM Pretraining", arXiv:2503.04715)
trained dense models in 15 (N, D) cells, each on a grid of about 12 peak learning rates x 10 batch sizes, took each
cell's best (learning rate, batch size) and fitted ``eta* = 1.79 N^-0.713 D^0.307``, ``B* = 0.58 D^0.571`` (tokens)
to those argmins.

Here one hierarchical Bayesian model uses every run: in each cell the final (smoothed) loss is a quadratic bowl in
(log lr, log batch) whose minimum follows ``eta*(N, D) = eta_ref (N/1e9)^p (D/1e11)^q`` and
``B*(D) = B_ref (D/1e11)^r`` and whose floor follows the Chinchilla law (``lr_batch_landscape``), with each cell's
optimum free to deviate from the two laws by a fitted spread (``eta_ref`` and ``b_ref`` partially pooled over cells),
and a residual sd that grows with a run's height above its cell's floor (the law declares its floor).
Runs that diverged (a final loss over 1.5x the best of their cell; 6-11 nats beside 2.2-2.8) are dropped and
counted: a bowl cannot describe a run that blew up.

    python case_studies/hyperparameters/run.py [--smoke] [--out DIR]

Writes ``predictions.csv`` (``n, d, quantity, mean, q05, q25, q50, q75, q95``; quantity ``lr`` or ``batch_tokens``:
the optimum for N = 1,073,741,824 at D = 2e10 and 5.69e10 tokens, a new cell, so the spread between cells is in the
intervals), ``recommendation.csv`` (the Bayes choice at each, the loss expected there, and the penalty of the
published law's choice), ``exponents.csv`` (posterior beside published), ``cells.csv`` and ``hyperparameters.png``.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from bayescale.models.batch import D_REF, N_REF, flag_diverged

import bayescale as bs
from bayescale._scripts import case_study_args, case_study_parser
from bayescale.decide import recommend
from bayescale.predict import parameter_draws

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
TARGET_N = 1_073_741_824
TARGET_D = (2e10, 5.69e10)
PUBLISHED = {"p": -0.713, "q": 0.307, "r": 0.571, "lr_coef": 1.79, "batch_coef": 0.58}
SMOKE_CELLS = 4


def published_lr(n, d):
    return PUBLISHED["lr_coef"] * n ** PUBLISHED["p"] * d ** PUBLISHED["q"]


def published_batch(d):
    return PUBLISHED["batch_coef"] * d ** PUBLISHED["r"]


def load(smoke: bool) -> tuple[pd.DataFrame, int, int]:
    """Step Law's dense runs with a ``cell`` column, diverged runs dropped; also the counts before and dropped."""
    raw = bs.datasets.load("steplaw_lr_bs")
    bad = flag_diverged(raw)
    runs = raw.loc[~bad, ["n", "d", "lr", "batch", "loss"]].copy()
    runs["cell"] = [f"N{n / 1e6:.0f}M_D{d / 1e9:g}B" for n, d in zip(runs["n"], runs["d"], strict=True)]
    if smoke:  # the smallest and largest model, two budgets each, every other learning rate
        cells = runs.groupby("cell")[["n", "d"]].first().sort_values(["n", "d"])
        keep = list(cells.index[:2]) + list(cells.index[-2:])[:SMOKE_CELLS - 2]
        runs = runs[runs["cell"].isin(keep)]
        lrs = np.sort(runs["lr"].round(5).unique())[::2]
        runs = runs[runs["lr"].round(5).isin(lrs)]
    return runs.reset_index(drop=True), len(raw), int(bad.sum())


def fit(runs: pd.DataFrame, *, smoke: bool, seed: int):
    draws = (dict(num_warmup=150, num_samples=150, num_chains=2, fallback=False) if smoke
             else dict(num_warmup=1000, num_samples=1000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.DataWarning)  # N spans a factor 2.5: the floor's N term leans on its prior
        if smoke:
            warnings.simplefilter("ignore", bs.ConvergenceWarning)
        # no warm-up cap: the README's results were measured so; the smoke run (which checks the script, not the
        # posterior) stops trees at depth 8: at depth 12 its fit took 51 s of 88 s, at 8 29 s of 64 s (2026-12-01)
        depth = 8 if smoke else 12
        # centred pooling: about 100 runs pin each cell's optimum, and non-centred offsets then trade against the
        # exponents along a curved ridge (300 + 100 draws, 2026-12-05: min bulk ESS 41 centred, 10 non-centred)
        return bs.fit("lr_batch_landscape", runs, groups="cell", pool={"eta_ref": "partial", "b_ref": "partial"},
                      pooling="centred", target_accept_prob=0.95, seed=seed, max_tree_depth=depth,
                      warmup_tree_depth=depth, **draws)


def _row(quantity, values, **keys) -> dict:
    row = {**keys, "quantity": quantity, "mean": float(np.mean(values))}
    row.update({f"q{round(100 * q):02d}": float(np.quantile(values, q)) for q in QUANTILES})
    return row


def exponents(f) -> pd.DataFrame:
    """Step Law's exponents and coefficients, posterior beside published (coefficients in Step Law's form)."""
    post = f.draws(["p", "q", "r", "eta_ref_loc", "b_ref_loc"])
    eta_ref, b_ref = post["eta_ref_loc"], post["b_ref_loc"]  # the population median of the cells
    derived = {
        "p": post["p"], "q": post["q"], "r": post["r"],
        "lr_coef": eta_ref * N_REF ** -post["p"] * D_REF ** -post["q"],  # eta* = coef N^p D^q
        "batch_coef": b_ref * D_REF ** -post["r"],  # B* = coef D^r
    }
    rows = [_row(k, v, published=PUBLISHED[k]) for k, v in derived.items()]
    return pd.DataFrame(rows)[["quantity", "published", "mean", *[f"q{round(100 * q):02d}" for q in QUANTILES]]]


def cells_table(runs: pd.DataFrame, f, seed: int) -> pd.DataFrame:
    """Each cell's best run beside its fitted optimum (median and 90%) and the published law."""
    cells = runs.groupby("cell", sort=False)[["n", "d"]].first().reset_index()
    params = parameter_draws(f, cells[["cell"]], seed=seed)
    from bayescale.models.batch import landscape_optimum

    lr, batch, _ = landscape_optimum(cells["n"].to_numpy()[None, :], cells["d"].to_numpy()[None, :], **params)
    lr, batch = np.asarray(lr), np.asarray(batch)
    best = runs.loc[runs.groupby("cell", sort=False)["loss"].idxmin()].set_index("cell")
    out = cells.copy()
    out["best_run_lr"] = best.loc[out["cell"], "lr"].to_numpy()
    out["best_run_batch"] = best.loc[out["cell"], "batch"].to_numpy()
    for name, v in (("lr", lr), ("batch", batch)):
        out[f"{name}_q05"], out[f"{name}_q50"], out[f"{name}_q95"] = np.quantile(v, [0.05, 0.5, 0.95], axis=0)
    out["published_lr"] = published_lr(out["n"], out["d"])
    out["published_batch"] = published_batch(out["d"])
    return out


def figure(cells: pd.DataFrame, preds: pd.DataFrame, path: Path) -> None:
    """Optimal learning rate and batch per cell: best run, fitted optimum (90%), published law; and the targets."""
    from bayescale.plots import _pyplot

    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4))
    for ax, name, unit in ((axes[0], "lr", "optimal peak learning rate"),
                           (axes[1], "batch", "optimal batch size (tokens)")):
        sizes = sorted(cells["n"].unique())
        for i, n in enumerate(sizes):
            c = cells[cells["n"] == n].sort_values("d")
            ax.errorbar(c["d"], c[f"{name}_q50"], yerr=[c[f"{name}_q50"] - c[f"{name}_q05"],
                                                        c[f"{name}_q95"] - c[f"{name}_q50"]],
                        fmt="o", color=f"C{i}", capsize=3, label=f"N = {n / 1e6:.0f}M: fitted (90%)")
            ax.plot(c["d"], c[f"best_run_{name}"], "x", color=f"C{i}", ms=7)
            ax.plot(c["d"], c[f"published_{name}"], "--", color=f"C{i}", lw=1)
        quantity = "lr" if name == "lr" else "batch_tokens"
        t = preds[preds["quantity"] == quantity]
        ax.errorbar(t["d"], t["q50"], yerr=[t["q50"] - t["q05"], t["q95"] - t["q50"]], fmt="D", color="k",
                    mfc="white", capsize=3, label=f"N = {TARGET_N / 1e9:.2f}B: predicted (90%)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training tokens D")
        ax.set_ylabel(unit)
    axes[0].legend(fontsize=7)
    axes[0].set_title("x: best run of the cell; dashed: Step Law's published fit", fontsize=9)
    axes[1].set_title("Batch size: the published law depends on D only", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = case_study_parser(__doc__, "hyperparameters_out", "four cells, half the learning rates, short chains (tests)")
    args = case_study_args(ap, argv)
    runs, total, dropped = load(args.smoke)
    print(f"Step Law dense sweep: {total} runs, {dropped} diverged (loss > 1.5x their cell's best) dropped; fitting "
          f"{len(runs)} runs in {runs['cell'].nunique()} (N, D) cells")
    start = time.perf_counter()
    f = fit(runs, smoke=args.smoke, seed=args.seed)
    print(f"fit in {time.perf_counter() - start:.0f} s: {f.diagnostics!r}{f.fallback_note}")
    f.summary().to_csv(args.out / "summary.csv")

    table = exponents(f)
    table.to_csv(args.out / "exponents.csv", index=False)
    print("\nStep Law's exponents: posterior median [90%] beside the published bootstrap median")
    for _, r in table.iterrows():
        print(f"  {r.quantity:10s} {r.q50:9.4g} [{r.q05:.4g}, {r.q95:.4g}]   published {r.published:g}")

    cells = cells_table(runs, f, args.seed)
    cells.to_csv(args.out / "cells.csv", index=False)

    rows, recs = [], []
    for d in TARGET_D:
        pub = {"lr": published_lr(TARGET_N, d), "batch": published_batch(d)}
        rec = recommend(f, n=TARGET_N, d=d, point=pub)
        t = rec.table.set_index("quantity")
        for quantity, name in (("lr", "lr_opt"), ("batch_tokens", "batch_opt")):
            rows.append({"n": TARGET_N, "d": d, "quantity": quantity, "mean": t.loc[name, "mean"],
                         **{f"q{round(100 * q):02d}": t.loc[name, f"q{round(100 * q):02d}"] for q in QUANTILES}})
        recs.append({"n": TARGET_N, "d": d, "lr": rec.choice["lr"], "batch_tokens": rec.choice["batch"],
                     "expected_loss": t.loc["loss_at_choice", "mean"], "loss_q05": t.loc["loss_at_choice", "q05"],
                     "loss_q95": t.loc["loss_at_choice", "q95"], "expected_penalty": t.loc["penalty", "mean"],
                     "published_lr": pub["lr"], "published_batch_tokens": pub["batch"],
                     "published_expected_penalty": t.loc["penalty_at_point", "mean"],
                     "published_penalty_q95": t.loc["penalty_at_point", "q95"]})
    preds = pd.DataFrame(rows)
    preds.to_csv(args.out / "predictions.csv", index=False)
    recs = pd.DataFrame(recs)
    recs.to_csv(args.out / "recommendation.csv", index=False)
    print(f"\nOptimum for N = {TARGET_N:,} (a new cell; median [90%]) and the Bayes choice:")
    for (_, r), d in zip(recs.iterrows(), TARGET_D, strict=True):
        lr = preds[(preds["d"] == d) & (preds["quantity"] == "lr")].iloc[0]
        b = preds[(preds["d"] == d) & (preds["quantity"] == "batch_tokens")].iloc[0]
        print(f"  D = {d:.3g}: eta* {lr.q50:.3g} [{lr.q05:.3g}, {lr.q95:.3g}] (published {r.published_lr:.3g}); "
              f"B* {b.q50:,.0f} [{b.q05:,.0f}, {b.q95:,.0f}] tokens (published {r.published_batch_tokens:,.0f})")
        print(f"    choose lr {r.lr:.3g}, batch {r.batch_tokens:,.0f} tokens: expected loss {r.expected_loss:.4f} "
              f"[{r.loss_q05:.4f}, {r.loss_q95:.4f}], expected penalty against the unknown optimum "
              f"{r.expected_penalty:.4f}; the published law's point costs {r.published_expected_penalty:.4f} "
              f"(95th percentile {r.published_penalty_q95:.4f})")
    figure(cells, preds, args.out / "hyperparameters.png")
    print(f"\nwrote {args.out}/predictions.csv, recommendation.csv, exponents.csv, cells.csv, summary.csv and "
          "hyperparameters.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
