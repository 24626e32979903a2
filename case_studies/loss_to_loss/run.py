"""Loss-to-loss: which pre-training set gives the lowest loss on each evaluation set at 1e21 FLOPs?

Brandfonbrener et al. 2024 (arXiv:2411.12925) trained ~88 models on each of six pre-training sets and evaluated every
model on eight validation sets. Their loss-to-loss law ``L_y = K (L_x - E_x)^kappa + E_y`` maps a model's loss on
its own training distribution (``L_x``) to its loss on another set (``L_y``, "train-to-test").

This study composes two Bayesian fits into one chain (``bs.chain("chinchilla", "shifted_power")``):

1. **Chinchilla per pre-training set**: ``L_x = E + A N^-alpha + B D^-beta`` on each model's own validation loss,
   one hierarchical fit over the six sets (every parameter partially pooled, one noise scale per set);
2. **loss-to-loss per (pre-training set, evaluation set) pair**: one hierarchical fit over the 42 pairs, with
   **crossed effects**: each dataset's irreducible loss ``E`` is one parameter shared by every pair that uses it
   (as ``E_x`` where it is the training distribution, as ``E_y`` where it is evaluated), ``(K, kappa)`` per ordered
   pair partially pooled, ``kappa`` near 1 a priori, one noise scale per pair.

The two stages are observed on different rows (one own loss per model; one loss per model and evaluation set), so
they are fitted separately and composed with ``ChainFit.from_stages``, which pairs draw ``i`` of each stage. That
treats the stages' posteriors as independent, which they are only approximately here: stage 2's prior on each
pre-training set's ``E`` is stage 1's posterior (sequential updating), and stage 2's data move it (its ``E_x`` is
not stage 1's ``E`` draw by draw). A prediction feeds each posterior draw of the new model's own loss into the
loss-to-loss stage; where that loss falls to stage 2's ``E_x`` the law's gap ``L_x - E_x`` is held just above 0 and
the prediction flattens at ``E_y``, so the study reports the share of draws that do (``gap_share`` below; the
chain's prediction warns where it is over 5%, as for any law with a ``domain``).

Target: N = 3,309,980,160 parameters, D = 50,352,769,083 tokens (1e21 FLOPs, 40 layers x 2560), trained on each of the
six sets, evaluated on each of the eight sets (``eval/<set>_val/CrossEntropyLoss``). The largest fitted budget is
4.84e19 FLOPs: a 21x extrapolation. The paper's own 1e21 models are not in the public data file, so this study
predicts without a held-out check.

Data: ``bs.datasets.load("loss_to_loss_brandfonbrener")`` (KempnerInstitute/loss-to-loss-notebooks).

    python case_studies/loss_to_loss/run.py [--smoke] [--out DIR]

Writes ``predictions.csv`` (``pretraining_set, eval_set, mean, q05, q25, q50, q75, q95``: the loss of one such
model, run-to-run noise included), ``best.csv`` (per evaluation set, the probability that each pre-training set
gives the lowest expected loss), ``summary_chinchilla.csv``, ``summary_l2l.csv`` and ``p_best.png`` (each evaluation
set's predicted losses with their intervals, the winner marked) under ``--out``.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import bayescale as bs
from bayescale._scripts import case_study_args, case_study_parser
from bayescale.chain import ChainFit

#: Pre-training set -> the evaluation set of its own distribution (its ``val_loss``).
OWN = {
    "fineweb-100b": "fineweb_100b",
    "fineweb-edu-100b": "fineweb_edu_100b",
    "proof-pile-2": "proof_pile_2",
    "slimpajama-chunk1": "slimpajama",
    "smollm-corpus": "smollm",
    "starcoder": "starcoder",
}
COLUMN_SPELLING = {"fineweb_1t": "fineweb_1T"}
TARGET = {"n": 3_309_980_160.0, "d": 50_352_769_083.0}
#: Published per-set Chinchilla irreducible losses of the own validation loss (LAWS.md: the authors' fits).
PUBLISHED_E = {"fineweb-edu-100b": 2.002, "starcoder": 0.863, "smollm-corpus": 1.552}
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def load() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Own-loss runs (``n, d, dataset, loss``) and train-to-test pairs (``x_set, y_set, l_x, l_y``)."""
    runs = bs.datasets.load("loss_to_loss_brandfonbrener")
    own = runs[["id", "dataset", "n", "d", "loss"]].reset_index(drop=True)
    losses = bs.datasets.load("loss_to_loss_brandfonbrener", table="losses")
    pairs = losses.merge(own[["id", "loss"]].rename(columns={"loss": "l_x"}), on="id")
    # evaluation sets spelled as in the data's column names, eval/<set>_val/CrossEntropyLoss (fineweb_1T)
    pairs = pairs.assign(x_set=pairs["dataset"].map(OWN), y_set=pairs["eval_set"].replace(COLUMN_SPELLING),
                         l_y=pairs["loss"])
    pairs = pairs[pairs["x_set"] != pairs["y_set"]]  # the own set is stage 1 itself
    return own, pairs[["id", "dataset", "x_set", "y_set", "l_x", "l_y"]].reset_index(drop=True)


def e_priors(stage1) -> dict:
    """Each pre-training set's irreducible loss from the Chinchilla stage, as a LogNormal prior for stage 2.

    The loss-to-loss data alone barely separate ``E_x`` from ``K`` and ``kappa`` (the losses of a pair span a narrow
    range far above ``E``): with the law's default prior, the shared ``E`` of FineWeb-Edu came out at 0.36 with
    per-pair ``kappa`` and at 1.0 with one ``kappa`` for all pairs, against 2.00 from its Chinchilla fit. As in the
    paper, ``E`` of a dataset with a scaling curve comes from that curve: its stage-1 posterior, moment-matched on
    the log scale, is the prior of that level of the crossed ``E`` (sequential updating: exact for the joint model
    only as far as the posterior is log-normal). Evaluation-only sets (C4, FineWeb-1T) keep the law's prior.
    """
    import numpyro.distributions as dist

    draws = np.log(stage1.draws(["e"])["e"])
    return {OWN[level]: dist.LogNormal(float(draws[:, i].mean()), float(draws[:, i].std()))
            for i, level in enumerate(stage1.levels)}


#: Draws per stage. ``--smoke`` runs the pipeline rather than finding the posterior.
DRAWS = {"full": dict(num_warmup=1500, num_samples=1500),
         "smoke": dict(num_warmup=300, num_samples=200, num_chains=2, fallback=False)}


def subset(own: pd.DataFrame, pairs: pd.DataFrame, smoke: bool) -> tuple[pd.DataFrame, pd.DataFrame, list, list]:
    """The runs and pairs fitted, with the pre-training and evaluation sets predicted: all of them, or with
    ``smoke`` three pre-training sets evaluated on C4, FineWeb-100B and StarCoder."""
    sets, evals = list(OWN), sorted(pairs["y_set"].unique())
    if smoke:
        sets, evals = sets[:3], ["c4", "fineweb_100b", "starcoder"]
        own = own[own["dataset"].isin(sets)]
        pairs = pairs[pairs["dataset"].isin(sets) & pairs["y_set"].isin(evals + [OWN[s] for s in sets])]
    return own, pairs, sets, evals


def fit_stage1(own: pd.DataFrame, draws: dict, seed: int) -> bs.Fit:
    """Chinchilla over the pre-training sets, every parameter partially pooled, one noise scale per set.

    Its warm-up trees are uncapped (bayescale caps them at depth 7 by default; docs/speed.md, "Warm-up trees").
    Not warm-started: on 2026-12-06 one of its chains stuck that way (R-hat 1.58, 86 divergences).
    """
    params = bs.get_law("chinchilla").params
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.DataWarning)
        return bs.fit("chinchilla", own, groups="dataset",
                      pool={p: "partial" for p in params} | {"sigma": "independent"}, seed=seed,
                      target_accept_prob=0.99, warmup_tree_depth=10, **draws)


def fit_stage2(pairs: pd.DataFrame, stage1: bs.Fit, draws: dict, seed: int, **options) -> bs.Fit:
    """The loss-to-loss law over the pairs: each dataset's ``E`` crossed, ``(K, kappa)`` partially pooled.

    Warm-started (``warm_start=True``, which ``options`` may override): NUTS samples the Laplace approximation's
    whitened coordinates. Each pair's ``K`` and ``kappa`` are known to a few thousandths, and NumPyro's warm-up
    shrinks its estimates of the mass matrix toward a variance of 1e-3, which without the warm start sent the draws
    to depth 8-10 (``benchmarks/loss_to_loss.py``).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.DataWarning)
        return bs.fit("shifted_power", pairs, groups=["x_set", "y_set"],
                      pool={"k": "partial", "kappa": "partial", "sigma": "independent"},
                      crossed={"e": {"e_x": "x_set", "e_y": "y_set"}}, crossed_priors={"e": e_priors(stage1)},
                      seed=seed, target_accept_prob=0.95, **({"warm_start": True} | draws | options))


def fit_stages(own: pd.DataFrame, pairs: pd.DataFrame, *, smoke: bool, seed: int) -> ChainFit:
    """Fit both stages and compose them into a chain."""
    draws = DRAWS["smoke" if smoke else "full"]
    start = time.perf_counter()
    stage1 = fit_stage1(own, draws, seed)
    print(f"stage 1 (Chinchilla over {own['dataset'].nunique()} pre-training sets, {len(own)} runs) in "
          f"{time.perf_counter() - start:.0f} s: {stage1.diagnostics!r}")
    start = time.perf_counter()
    stage2 = fit_stage2(pairs, stage1, draws, seed)
    print(f"stage 2 (loss-to-loss over {pairs[['x_set', 'y_set']].drop_duplicates().shape[0]} pairs, "
          f"{len(pairs)} losses) in {time.perf_counter() - start:.0f} s: {stage2.diagnostics!r}")
    return ChainFit.from_stages(bs.chain("chinchilla", "shifted_power"), {"loss": stage1, "l_y": stage2}, seed=seed)


def _grid(sets, evals) -> pd.DataFrame:
    return pd.DataFrame([{**TARGET, "dataset": p, "x_set": OWN[p], "y_set": v} for p in sets for v in evals])


def predict(fit: ChainFit, sets, evals, *, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predictive quantiles of each (pre-training set, eval set) loss, and P(best pre-training set) per eval set.

    An eval set that is a pre-training set's own distribution is read from stage 1 (its own loss).
    """
    grid = _grid(sets, evals)
    own_rows = grid["x_set"] == grid["y_set"]
    out = []
    best_draws = {}
    for kind in ("observation", "mean"):
        frame, values, _ = fit.predictive_draws(grid.loc[~own_rows], kind=kind, seed=seed)
        _, own_values, _ = fit.predictive_draws(grid.loc[own_rows].assign(y_set=grid.loc[own_rows, "x_set"])
                                                if own_rows.any() else grid.iloc[:1], kind=kind, seed=seed)
        draws = np.empty((values["l_y"].shape[0], len(grid)))
        draws[:, np.flatnonzero(~own_rows)] = values["l_y"]
        if own_rows.any():
            draws[:, np.flatnonzero(own_rows)] = own_values["loss"]
        if kind == "mean":
            _check_gap(fit, frame, values["loss"])
        if kind == "observation":
            for j, row in grid.iterrows():
                rec = {"pretraining_set": row["dataset"], "eval_set": row["y_set"], "mean": draws[:, j].mean()}
                rec.update({f"q{round(100 * q):02d}": np.quantile(draws[:, j], q) for q in QUANTILES})
                out.append(rec)
        else:
            best_draws = draws
    pred = pd.DataFrame(out)
    rows = []
    for v in evals:
        cols = np.flatnonzero(grid["y_set"].to_numpy() == v)
        winner = np.argmin(best_draws[:, cols], axis=1)
        for i, j in enumerate(cols):
            rows.append({"eval_set": v, "pretraining_set": grid.loc[j, "dataset"],
                         "p_best": float(np.mean(winner == i)),
                         "expected_loss": float(best_draws[:, j].mean())})
    return pred, pd.DataFrame(rows)


def gap_share(fit: ChainFit, frame: pd.DataFrame, l_x: np.ndarray) -> np.ndarray:
    """Per row of ``frame``, the share of draws whose fed own loss ``L_x`` is at or below stage 2's ``E_x``.

    There ``shifted_power`` holds its gap ``L_x - E_x`` at the soft edge (``SOFT_EDGE`` nats), so the predicted
    loss is ``E_y`` whatever the scale: an extrapolation the law cannot make. ``l_x`` is ``(draws, rows)``.
    """
    post = fit.stages["l_y"].tree.posterior["e"]
    (dim,) = [d for d in post.dims if d not in ("chain", "draw")]
    levels = [str(v) for v in post[dim].values]
    e = fit.stages["l_y"].draws(["e"])["e"]  # (draws, levels), in the draws' order of predictive_draws
    e_x = e[:, [levels.index(x) for x in frame["x_set"]]]
    return np.mean(l_x <= e_x, axis=0)


def _check_gap(fit: ChainFit, frame: pd.DataFrame, l_x: np.ndarray) -> None:
    """Print the largest :func:`gap_share` at the target (the chain's prediction itself warns above 5%)."""
    share = gap_share(fit, frame, l_x)
    worst = int(np.argmax(share))
    print("\ngap_share: " + (f"at most {share[worst]:.1%} of draws put the target's own loss at or below stage 2's "
                             f"E_x ({frame['x_set'].iloc[worst]} -> {frame['y_set'].iloc[worst]})" if share[worst]
                             else "no draw puts the target's own loss at or below stage 2's E_x"))


def figure(pred: pd.DataFrame, best: pd.DataFrame, path: Path) -> None:
    """One panel per evaluation set: each pre-training set's predicted loss (median, 90% interval), winner marked."""
    from bayescale.plots import _pyplot

    plt = _pyplot()
    evals = list(dict.fromkeys(pred["eval_set"]))
    ncol = min(4, len(evals))
    nrow = -(-len(evals) // ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.3 * ncol, 2.6 * nrow), squeeze=False)
    for ax, v in zip(axes.flat, evals, strict=False):
        p = pred[pred["eval_set"] == v].reset_index(drop=True)
        b = best[best["eval_set"] == v].set_index("pretraining_set")
        winner = b["p_best"].idxmax()
        y = np.arange(len(p))
        colours = ["C3" if s == winner else "C0" for s in p["pretraining_set"]]
        ax.hlines(y, p["q05"], p["q95"], color=colours, lw=2)
        ax.scatter(p["q50"], y, color=colours, s=14, zorder=3)
        ax.set_yticks(y, p["pretraining_set"], fontsize=7)
        ax.set_title(f"{v}: {winner}, P(best) {b.loc[winner, 'p_best']:.2f}", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.set_xlabel(f"loss on {v} (nats per token)", fontsize=7)
    for ax in list(axes.flat)[len(evals):]:
        ax.set_visible(False)
    fig.suptitle("Loss at 1e21 FLOPs (3.3B params, 50B tokens) on each evaluation set: median and 90% interval "
                 "per pre-training set (red: lowest expected loss)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = case_study_parser(__doc__, "loss_to_loss_out", "three pre-training sets, three eval sets, few draws")
    args = case_study_args(ap, argv)
    own, pairs, sets, evals = subset(*load(), args.smoke)
    print(f"{len(own)} models on {len(sets)} pre-training sets; {len(pairs)} train-to-test losses on "
          f"{pairs['y_set'].nunique()} evaluation sets")
    fit = fit_stages(own, pairs, smoke=args.smoke, seed=args.seed)
    s1 = fit.stages["loss"].summary()
    s1.to_csv(args.out / "summary_chinchilla.csv")
    fit.stages["l_y"].summary().to_csv(args.out / "summary_l2l.csv")
    e_rows = [f"e[{s}]" for s in sets]
    print("\nIrreducible own loss E per pre-training set (posterior median, 90% interval; published where known):")
    for s, row in zip(sets, e_rows, strict=True):
        pub = f"  published {PUBLISHED_E[s]:.3f}" if s in PUBLISHED_E else ""
        print(f"  {s:18s} {s1.loc[row, 'q50']:.3f} [{s1.loc[row, 'q05']:.3f}, {s1.loc[row, 'q95']:.3f}]{pub}")
    s2 = fit.stages["l_y"].summary(["e", "kappa_loc", "k_loc"])
    print("\nLoss-to-loss: per-dataset E (crossed effect), population kappa and K:")
    print(s2[["q05", "q50", "q95", "r_hat"]].round(3).to_string())

    pred, best = predict(fit, sets, evals, seed=args.seed)
    pred.to_csv(args.out / "predictions.csv", index=False)
    best.to_csv(args.out / "best.csv", index=False)
    figure(pred, best, args.out / "p_best.png")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print("\nPredicted loss at 1e21 FLOPs (median, rows: pre-training set, columns: evaluation set):")
        print(pred.pivot(index="pretraining_set", columns="eval_set", values="q50"))
    print("\nLowest expected loss on each evaluation set at 1e21 FLOPs:")
    for v, g in best.groupby("eval_set", sort=False):
        ranked = g.sort_values(["p_best", "expected_loss"], ascending=[False, True])
        top, second = ranked.iloc[0], ranked.iloc[1]
        print(f"  {v:18s} {top['pretraining_set']:18s} P(best) = {top['p_best']:.2f}, expected loss "
              f"{top['expected_loss']:.3f}  (runner-up: {second['pretraining_set']}, {second['expected_loss']:.3f}, "
              f"P(best) = {second['p_best']:.2f})")
    print(f"\nwrote {args.out}/predictions.csv, best.csv, summary_*.csv and p_best.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
