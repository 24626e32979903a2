"""OLMo task-scaling ladder: predict OLMo-2 7B and 13B task bits-per-byte and accuracy from 190M-1B models.

Bhagia et al. 2024 (arXiv:2412.04403) chain two fits of point estimates: task loss (bits per byte of the correct
answer) ``L = E + A N^-alpha + B D^-beta``, then accuracy as a sigmoid of that loss. Here the chain is **one
Bayesian model** (``bs.chain("chinchilla", "sigmoid_transfer_chance")``) fitted in one NUTS run to all ten tasks at
once, hierarchical over tasks: law parameters partially pooled across tasks (see :func:`fit_chain`), one noise
scale per task, the accuracy floor at each task's chance level. A prediction feeds each posterior draw of a new
model's task loss into the accuracy stage, so the accuracy intervals carry the loss stage's uncertainty too.

The 3B rung (six runs) is held out of the fit and predicted as a check, by the chain and by the two-step plug-in
chain of point estimates (posterior medians; intervals from the accuracy stage's noise alone).

Data: ``bs.datasets.load("olmo_ladder")`` (allenai/OLMo-ladder, Apache-2.0): the final checkpoint of each ladder
run. Tasks and metrics as in the paper's ``v2`` keys: accuracy normalised by length (``len_norm``; plain accuracy
for BoolQ); test split for MMLU, ARC and OpenBookQA, validation for the others; MMLU is the average of its four
subject groups weighted by their number of test questions.

    python case_studies/olmo_ladder/run.py [--smoke] [--out DIR]

Writes ``predictions.csv`` (one row per model, task and metric: ``model, task, metric, n, d, mean, q05, q25, q50,
q75, q95``), ``holdout_3b.csv`` (each 3B run against its chained and plug-in 90% intervals), ``summary.csv`` (the
posterior), ``chain_<task>.png`` figures and the fit itself (``fit.nc``) under ``--out``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd

import bayescale as bs
from bayescale._scripts import case_study_args, case_study_parser

#: task -> (column stem in the data, chance level). Chance: 1 / number of answer options.
TASKS = {
    "mmlu": ("mmlu", 0.25),
    "hellaswag": ("hellaswag_val", 0.25),
    "arc_challenge": ("arc_challenge_test", 0.25),
    "arc_easy": ("arc_easy_test", 0.25),
    "piqa": ("piqa_val", 0.5),
    "csqa": ("csqa_val", 0.2),
    "socialiqa": ("socialiqa_val", 1 / 3),
    "openbookqa": ("openbookqa_test", 0.25),
    "winogrande": ("winogrande_val", 0.5),
    "boolq": ("boolq_val", 0.5),
}
#: MMLU's subject groups weighted by their test questions (OLMo-ladder's ``WEIGHT_BY_KEY``).
MMLU_WEIGHTS = {"stem": 0.215, "humanities": 0.335, "social_sciences": 0.219, "other": 0.231}
#: The targets (Bhagia et al. 2024): OLMo-2 7B on 4T tokens and 13B on 5T tokens.
TARGETS = pd.DataFrame({"model": ["OLMo-2-7B", "OLMo-2-13B"], "n": [6_887_575_552.0, 13_202_396_160.0],
                        "d": [4e12, 5e12]})
FIT_SIZES = ("190M", "370M", "760M", "1B")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def load_runs() -> pd.DataFrame:
    """One row per ladder run and task: ``run, size, n, d, task, chance, loss`` (task bpb) and ``acc``."""
    final = bs.datasets.load("olmo_ladder")
    parts = []
    for task, (stem, chance) in TASKS.items():
        if task == "mmlu":
            bpb = sum(w * final[f"bpb_mmlu_{g}_test"] for g, w in MMLU_WEIGHTS.items())
            acc = sum(w * final[f"acc_mmlu_{g}_test"] for g, w in MMLU_WEIGHTS.items())
        else:
            bpb, acc = final[f"bpb_{stem}"], final[f"acc_{stem}"]
        parts.append(final[["run", "size", "n", "d"]].assign(task=task, chance=chance, loss=bpb, acc=acc))
    return pd.concat(parts, ignore_index=True)


def fit_chain(runs: pd.DataFrame, *, smoke: bool, seed: int):
    """The chain, hierarchical over tasks, with one noise scale per task in each stage.

    Partially pooled across tasks: the loss stage's ``E, A, B, beta`` and the accuracy stage's ``k, L0``. Shared by
    all tasks: ``alpha``, the exponent of N (the fitted ladder spans under one decade of N, 190M to 1.3B, too little
    to pin an exponent down per task: per-task ``alpha`` and ``A`` made the sampler diverge), and ``top``, the share
    of the way from chance to a perfect score at low loss (tasks seen only near chance, such as ARC-Challenge, say
    little about their ceiling: per-task ``top`` gave R-hat 1.04 and bulk ESS 120).
    """
    chain = bs.chain("chinchilla", "sigmoid_transfer_chance")
    pool = {"loss": {"e": "partial", "a": "partial", "b": "partial", "beta": "partial", "sigma": "independent"},
            "acc": {"k": "partial", "l0": "partial", "sigma": "independent"}}
    draws = dict(num_warmup=300, num_samples=200, num_chains=2) if smoke else dict(num_warmup=2000,
                                                                                     num_samples=1500)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.DataWarning)  # reruns are replicates, noted in the fit
        # no warm-up cap (warmup_tree_depth=12): the README's results were measured so
        return bs.fit(chain, runs, groups="task", pool=pool, seed=seed, target_accept_prob=0.98, max_tree_depth=12,
                      warmup_tree_depth=12, **draws)


def _wide(pred: pd.DataFrame) -> pd.DataFrame:
    return pred.rename(columns={"target": "metric"}).assign(metric=lambda f: f["metric"].replace({"loss": "bpb"}))


def holdout(fit, held: pd.DataFrame) -> pd.DataFrame:
    """Each held-out run and task against the chained and the plug-in 90% intervals (bpb and accuracy)."""
    at = held[["n", "d", "task", "chance"]].reset_index(drop=True)
    rows = []
    for method, pred in (("chain", fit.predict(at, quantiles=(0.05, 0.5, 0.95))),
                         ("plug-in", fit.plugin_predict(at, quantiles=(0.05, 0.5, 0.95)))):
        for target, metric in (("loss", "bpb"), ("acc", "acc")):
            p = pred[pred["target"] == target].reset_index(drop=True)
            obs = held[target].to_numpy()
            rows.append(pd.DataFrame({"run": held["run"].to_numpy(), "task": at["task"], "metric": metric,
                                      "method": method, "observed": obs, "q05": p["q05"], "q50": p["q50"],
                                      "q95": p["q95"], "inside90": (p["q05"] <= obs) & (obs <= p["q95"])}))
    return pd.concat(rows, ignore_index=True)


def main(argv=None) -> int:
    ap = case_study_parser(__doc__, "olmo_ladder_out", "three tasks, few draws (for tests)")
    args = case_study_args(ap, argv)
    runs = load_runs()
    if args.smoke:
        runs = runs[runs["task"].isin(["hellaswag", "piqa", "arc_easy"])]
    train = runs[runs["size"].isin(FIT_SIZES)].reset_index(drop=True)
    held = runs[runs["size"] == "3B"].reset_index(drop=True)
    tasks = list(dict.fromkeys(train["task"]))
    print(f"OLMo ladder: {train['run'].nunique()} runs x {len(tasks)} tasks fitted ({', '.join(FIT_SIZES)}); "
          f"{held['run'].nunique()} runs at 3B held out")
    start = time.perf_counter()
    fit = fit_chain(train, smoke=args.smoke, seed=args.seed)
    print(f"chain fitted in {time.perf_counter() - start:.0f} s: {fit.diagnostics!r}")
    fit.save(args.out / "fit.nc")
    fit.summary().to_csv(args.out / "summary.csv")

    # ---- targets: OLMo-2 7B and 13B
    at = TARGETS.merge(pd.DataFrame({"task": tasks, "chance": [TASKS[t][1] for t in tasks]}), how="cross")
    pred = _wide(fit.predict(at[["n", "d", "task", "chance"]], quantiles=QUANTILES, seed=args.seed))
    pred.insert(0, "model", np.tile(at["model"].to_numpy(), 2))
    cols = ["model", "task", "metric", "n", "d", "mean", "q05", "q25", "q50", "q75", "q95"]
    pred = pred[cols].sort_values(["model", "task", "metric"]).reset_index(drop=True)
    pred.to_csv(args.out / "predictions.csv", index=False)
    with pd.option_context("display.width", 160, "display.max_rows", 100, "display.float_format", "{:.3f}".format):
        print("\nPredictions (90% intervals), OLMo-2 7B (4T tokens) and 13B (5T tokens):")
        table = pred.pivot_table(index=["task"], columns=["model", "metric"], values="q50")
        print(table)
        print(pred[["model", "task", "metric", "q05", "q50", "q95"]].to_string(index=False))

    # ---- the held-out 3B rung
    hold = holdout(fit, held)
    hold.to_csv(args.out / "holdout_3b.csv", index=False)
    per_task = hold.groupby(["method", "metric", "task"])["inside90"].mean().unstack("task")
    counts = hold.groupby(["method", "metric"])["inside90"].mean()
    majority = (hold.groupby(["method", "metric", "task"])["inside90"].mean() > 0.5).groupby(["method",
                                                                                                "metric"]).sum()
    print(f"\nHeld-out 3B runs inside the 90% intervals (share of the {held['run'].nunique()} runs, per task):")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.float_format", "{:.2f}".format):
        print(per_task)
    for (method, metric), share in counts.items():
        print(f"  {method:8s} {metric}: {100 * share:.0f}% of 3B runs x tasks inside; most runs inside for "
              f"{int(majority[(method, metric)])} of {len(tasks)} tasks")

    # ---- figures: each stage with its bands, for every task
    from bayescale.plots import plot_chain

    for task in tasks:
        fig = plot_chain(fit, at=at[at["task"] == task][["n", "d", "task", "chance"]], groups=[task],
                         seed=args.seed, path=args.out / f"chain_{task}.png")
        import matplotlib.pyplot as plt

        plt.close(fig)
    print(f"\nwrote {args.out}/predictions.csv, holdout_3b.csv, summary.csv, fit.nc and chain_<task>.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
