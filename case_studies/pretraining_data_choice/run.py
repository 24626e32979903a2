"""C4, RedPajama or RefinedWeb? Which pre-training corpus gives the lowest loss and downstream error at scale.

Gadre et al. (2024, arXiv:2403.08540; ``bs.datasets.load("gadre_overtraining")``) trained the same model shapes on
three corpora. Here one Bayesian chain (``bs.chain("overtraining", "exp_error")``: the loss law in compute and tokens
per parameter, then the average top-1 error over 17 tasks as a function of the loss) is fitted to every run of the
three corpora at once, grouped by corpus (each corpus its own loss and error parameters, the over-training exponent
shared). ``bs.compare_at_scale`` then gives, at 1e22 and 1e23 FLOPs and each draw's compute-optimal allocation, the
probability that each corpus gives the lowest loss and the lowest downstream error, with the margins.

The loss is measured on C4's validation set, as in the paper: in distribution for the C4-trained models, so it
favours C4; the downstream error does not.

    python case_studies/pretraining_data_choice/run.py [--smoke] [--out DIR]

Writes ``answer.json`` (per target and compute: each corpus's value and P(best), and the pairwise probabilities),
``comparison.csv`` and ``compare_loss.png``, ``compare_err.png``.
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
import pandas as pd

import bayescale as bs
from bayescale._scripts import case_study_args, case_study_parser
from bayescale.plots import plot_compare_at_scale

BUDGETS = (1e22, 1e23)
NAMES = {"rpj": "RedPajama", "c4_original": "C4", "rw_original": "RefinedWeb"}
TARGETS = {"loss": "C4 validation loss", "err": "17-task average top-1 error"}
#: A corpus is called the winner when its P(best) is at least this; below it the answer says "too close to call".
CLEAR = 0.8


def load() -> pd.DataFrame:
    """One row per model: ``dataset, n, d, loss`` (C4 validation) and ``err`` (17-task average top-1 error)."""
    runs = bs.datasets.load("gadre_overtraining")
    if not np.allclose(runs["loss"], runs["loss_c4_val"]):
        raise SystemExit("gadre_overtraining: 'loss' is expected to be the C4 validation loss")
    return runs[["dataset", "n", "d", "loss"]].assign(err=runs["err_avg17"], dataset=runs["dataset"].map(NAMES))


def main(argv=None) -> int:
    ap = case_study_parser(__doc__, "pretraining_data_choice_out", "short chains (for tests)")
    args = case_study_args(ap, argv)
    runs = load()
    chain = bs.chain("overtraining", "exp_error")
    # each corpus its own parameters (with three corpora, partial pooling leaves the spread to its prior, and its
    # funnel made NUTS diverge in the overtraining_downstream case study); the over-training exponent is shared
    pool = {"loss": {"e": "independent", "a": "independent", "b": "independent", "sigma": "independent"},
            "err": {p: "independent" for p in chain.stage("err").params} | {"sigma": "independent"}}
    draws = dict(num_chains=2, num_warmup=300, num_samples=300) if args.smoke else {}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.DataWarning)
        if args.smoke:
            warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fit = bs.fit(chain, runs, groups="dataset", pool=pool, seed=args.seed, target_accept_prob=0.95, **draws)
    counts = ", ".join(f"{k} {v}" for k, v in runs["dataset"].value_counts().sort_index().items())
    print(f"Gadre et al.: {len(runs)} runs ({counts}; {runs['n'].min():.3g} to {runs['n'].max():.3g} parameters, "
          f"up to {6 * (runs['n'] * runs['d']).max():.3g} FLOPs); chain fitted in {time.perf_counter() - start:.0f} s: "
          f"{fit.diagnostics!r}")

    answer = {"diagnostics_ok": bool(fit.diagnostics.ok), "budgets": list(BUDGETS), "targets": {}}
    tables = []
    for target, label in TARGETS.items():
        cmp = bs.compare_at_scale(fit, BUDGETS, target=target, span=(1e18, 1e24), seed=args.seed)
        tables.append(cmp.table.assign(target=target))
        plot_compare_at_scale(cmp, observed=runs.assign(config=runs["dataset"], compute=6 * runs["n"] * runs["d"],
                                                        value=runs[target]),
                              ylabel=label, title=f"{label}: curves at the compute-optimal allocation (90% "
                                                  "bands)\ndots: every run, at any tokens per parameter",
                              path=args.out / f"compare_{target}.png")
        t = cmp.table.set_index(["compute", "config"])
        answer["targets"][target] = {
            f"{c:.0e}": {
                "corpora": {name: {"mean": float(t.loc[(c, name), "mean"]), "q05": float(t.loc[(c, name), "q05"]),
                                   "q95": float(t.loc[(c, name), "q95"]),
                                   "p_best": float(t.loc[(c, name), "p_best"])} for name in NAMES.values()},
                "pairwise": [{"a": r.a, "b": r.b, "p_a_better": r.p_a_better, "margin_mean": r.margin_mean,
                              "margin_q05": r.margin_q05, "margin_q95": r.margin_q95}
                             for r in cmp.pairwise[cmp.pairwise["compute"] == c].itertuples()],
            } for c in BUDGETS}
        print(f"\n{label} (lower is better) at each draw's compute-optimal allocation: mean [90%], P(best)")
        for c in BUDGETS:
            at = answer["targets"][target][f"{c:.0e}"]["corpora"]
            cells = "   ".join(f"{name} {v['mean']:.4f} [{v['q05']:.4f}, {v['q95']:.4f}] P {v['p_best']:.3f}"
                               for name, v in at.items())
            print(f"  {c:.0e} FLOPs: {cells}")
    pd.concat(tables).to_csv(args.out / "comparison.csv", index=False)

    print("\nAnswer:")
    for target, label in TARGETS.items():
        for c in BUDGETS:
            at = answer["targets"][target][f"{c:.0e}"]["corpora"]
            best = max(at, key=lambda name: at[name]["p_best"])
            runner = max((n for n in at if n != best), key=lambda name: at[name]["p_best"])
            pair = next(p for p in answer["targets"][target][f"{c:.0e}"]["pairwise"]
                        if p["a"] == best and p["b"] == runner)
            verdict = (f"{best}" if at[best]["p_best"] >= CLEAR else
                       f"too close to call; {best} is the likeliest")
            print(f"  lowest {label} at {c:.0e} FLOPs: {verdict} (P(best) {at[best]['p_best']:.2f}; beats {runner} "
                  f"with probability {pair['p_a_better']:.2f}, by {pair['margin_mean']:.4f} "
                  f"[{pair['margin_q05']:.4f}, {pair['margin_q95']:.4f}])")
    (args.out / "answer.json").write_text(json.dumps(answer, indent=1))
    print(f"\nwrote {args.out}/answer.json, comparison.csv and compare_loss.png, compare_err.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
