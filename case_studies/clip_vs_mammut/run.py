"""CLIP or MaMMUT at scale? The probability that each wins ImageNet zero-shot accuracy at 1e20-1e22 FLOPs.

LAION's comparison runs (Nezhurina et al. 2025, ``bs.datasets.load("laion_clip_mammut_comparison")``): for each
pre-training data set (DataComp-1.4B, Re-LAION-2B) and each model family, the compute-Pareto front of ImageNet
zero-shot top-1 accuracy (cosine schedule; the best over each cell's hyper-parameter sweep) is fitted with the
``accuracy_compute`` law (the paper's error power law plus floor, in shifted compute), one fit per family and data
set. ``bs.compare_at_scale`` then gives, at 1e20, 1e21 and 1e22 FLOPs, the probability that MaMMUT's front lies above
CLIP's, the expected margin, and the posterior of the compute where the two fronts cross.

Runs below ``--fit-min-compute`` (default 1e18 FLOPs, accuracies under about 0.4) are left out: there the front
bends away from the power law (fitted with them, the law under-predicts every MaMMUT front point above 1e20 FLOPs
on DataComp when fitted up to 1e20; see the README).

``--fit-max-compute C`` fits only runs at or below C FLOPs and scores the prediction of every front point above C
(the held-out points): what you would have concluded with less compute, and whether it held.

    python case_studies/clip_vs_mammut/run.py [--fit-max-compute 3e19] [--fit-min-compute 1e18] [--smoke] [--out DIR]

Writes ``answer.json`` (per data set and compute: ``p_mammut_better``, the margin, the crossover quantiles),
``comparison.csv``, ``held_out.csv`` (with ``--fit-max-compute``) and one figure per data set.
"""

from __future__ import annotations

import json
import time
import warnings

import pandas as pd

import bayescale as bs
from bayescale._scripts import case_study_args, case_study_parser
from bayescale.plots import plot_compare_at_scale

BUDGETS = (1e20, 1e21, 1e22)
FAMILIES = ("clip", "mammut")
NAMES = {"datacomp_1b": "DataComp-1.4B", "relaion2b-en": "Re-LAION-2B", "clip": "CLIP", "mammut": "MaMMUT"}
SPAN = (1e18, 1e24)
#: A family is called the winner when P(it is better) is at least this; below it the answer says "too close to call"
#: (the cut-off of case_studies/pretraining_data_choice).
CLEAR = 0.8


def front(runs: pd.DataFrame) -> pd.DataFrame:
    """ImageNet zero-shot top-1 on the compute-Pareto front, per data set and family (cosine schedule)."""
    keep = (runs["eval_dataset"] == "imagenet1k") & (runs["metric"] == "acc1") & (runs["lr_scheduler"] == "cosine")
    keep &= runs["family"].isin(FAMILIES)
    table = runs[keep].rename(columns={"value": "acc"})
    return bs.pareto_front(table, x="c", y="acc", by=["dataset", "family"])


def main(argv=None) -> int:
    ap = case_study_parser(__doc__, "clip_vs_mammut_out", "short chains (for tests)")
    ap.add_argument("--fit-max-compute", type=float, default=None, metavar="C",
                    help="fit only runs at or below C FLOPs; score the held-out front points above C")
    ap.add_argument("--fit-min-compute", type=float, default=1e18, metavar="C",
                    help="leave out front points below C FLOPs (default 1e18)")
    args = case_study_args(ap, argv)
    cut = args.fit_max_compute
    points = front(bs.datasets.load("laion_clip_mammut_comparison"))
    points = points[points["c"] >= args.fit_min_compute]
    points = points.assign(held_out=points["c"] > cut if cut else False)
    # few points and a ceiling-exponent ridge: long chains and small steps (every fit then passes every check)
    draws = (dict(num_chains=2, num_warmup=300, num_samples=300, fallback=False) if args.smoke
             else dict(num_warmup=2000, num_samples=2000, target_accept_prob=0.97))
    answer = {"fit_max_compute": cut, "fit_min_compute": args.fit_min_compute, "budgets": list(BUDGETS), "datasets": {}}
    tables, held_rows = [], []
    for dataset, pts in points.groupby("dataset", sort=True):
        fits = {}
        for family in FAMILIES:
            train = pts[(pts["family"] == family) & ~pts["held_out"]]
            if len(train) < 4:
                where = f"at or below {cut:.3g} FLOPs; raise --fit-max-compute" if cut is not None else \
                    "in the data; lower --fit-min-compute"
                raise SystemExit(f"{NAMES[dataset]} {NAMES[family]}: only {len(train)} front points {where}")
            start = time.perf_counter()
            with warnings.catch_warnings():
                if args.smoke:
                    warnings.simplefilter("ignore", bs.ConvergenceWarning)
                fits[NAMES[family]] = bs.fit("accuracy_compute", train[["c", "acc"]], seed=args.seed, **draws)
            s = fits[NAMES[family]].summary(["top", "alpha"])
            print(f"{NAMES[dataset]:14s} {NAMES[family]:7s} {len(train):3d} front points up to "
                  f"{train['c'].max():.3g} FLOPs, {time.perf_counter() - start:4.1f} s; "
                  f"ceiling {s.loc['top', 'mean']:.3f}, error exponent {s.loc['alpha', 'mean']:.3f}; "
                  f"{fits[NAMES[family]].diagnostics!r}")
            held = pts[(pts["family"] == family) & pts["held_out"]]
            if len(held):
                pred = fits[NAMES[family]].predict(held[["c"]], kind="observation")
                held_rows += [{"dataset": dataset, "family": family, "arch": r.arch, "c": r.c, "acc": r.acc,
                               "q05": p.q05, "q50": p.q50, "q95": p.q95, "inside_90": bool(p.q05 <= r.acc <= p.q95)}
                              for r, p in zip(held.itertuples(), pred.itertuples(), strict=True)]
        cmp = bs.compare_at_scale(fits, BUDGETS, span=SPAN, seed=args.seed)
        pair = cmp.pairwise[(cmp.pairwise["a"] == "MaMMUT") & (cmp.pairwise["b"] == "CLIP")].set_index("compute")
        cross = cmp.crossover.iloc[0]
        tables.append(cmp.table.assign(dataset=dataset))
        answer["datasets"][dataset] = {
            "diagnostics_ok": {k: bool(f.diagnostics.ok) for k, f in fits.items()},
            "at": {f"{c:.0e}": {"p_mammut_better": float(pair.loc[c, "p_a_better"]),
                                "margin_mean": float(pair.loc[c, "margin_mean"]),
                                "margin_q05": float(pair.loc[c, "margin_q05"]),
                                "margin_q95": float(pair.loc[c, "margin_q95"])} for c in BUDGETS},
            "crossover": {"p_cross": float(cross["p_cross"]),
                          **{q: float(cross[q]) if q in cross and pd.notna(cross[q]) else None
                             for q in ("q05", "q50", "q95")}},
        }
        obs = pts.assign(config=pts["family"].map(NAMES), compute=pts["c"], value=pts["acc"])
        plot_compare_at_scale(cmp, observed=obs, ylabel="ImageNet zero-shot top-1",
                              title=f"{NAMES[dataset]}: compute-Pareto fronts with 90% bands"
                                    + (f" (fitted up to {cut:.0e} FLOPs)" if cut else ""),
                              path=args.out / f"compare_{dataset}.png")
    pd.concat(tables).to_csv(args.out / "comparison.csv", index=False)

    print("\nP(MaMMUT's front above CLIP's), and the margin in accuracy points (mean [90%]):")
    for dataset, a in answer["datasets"].items():
        for c, r in a["at"].items():
            print(f"  {NAMES[dataset]:14s} at {float(c):.0e} FLOPs: P = {r['p_mammut_better']:.3f}, margin "
                  f"{100 * r['margin_mean']:+.1f} [{100 * r['margin_q05']:+.1f}, {100 * r['margin_q95']:+.1f}]")
    print("\nWhere the fronts cross (first crossing between 1e18 and 1e24 FLOPs):")
    for dataset, a in answer["datasets"].items():
        x = a["crossover"]
        where = (f"median {x['q50']:.2g} FLOPs, 90% interval [{x['q05']:.2g}, {x['q95']:.2g}]"
                 if x["q50"] is not None else "no draw crosses" if x["p_cross"] == 0
                 else "too few draws cross to place the crossing")
        print(f"  {NAMES[dataset]:14s} P(cross) = {x['p_cross']:.3f}; {where}")
    if held_rows:
        held = pd.DataFrame(held_rows)
        held.to_csv(args.out / "held_out.csv", index=False)
        answer["held_out"] = {"points": len(held), "inside_90": int(held["inside_90"].sum())}
        print(f"\nHeld-out front points above {cut:.3g} FLOPs inside their 90% predictive interval: "
              f"{int(held['inside_90'].sum())} of {len(held)}")
        for (dataset, family), g in held.groupby(["dataset", "family"]):
            print(f"  {NAMES[dataset]:14s} {NAMES[family]:7s} {int(g['inside_90'].sum())} of {len(g)}; largest "
                  f"{g['c'].max():.3g} FLOPs: observed {g['acc'].iloc[-1]:.3f}, predicted {g['q50'].iloc[-1]:.3f} "
                  f"[{g['q05'].iloc[-1]:.3f}, {g['q95'].iloc[-1]:.3f}]")
    print("\nAnswer:")
    for dataset, a in answer["datasets"].items():
        for c in ("1e+21", "1e+22"):
            p = a["at"][c]["p_mammut_better"]
            winner, prob = ("MaMMUT", p) if p >= 0.5 else ("CLIP", 1 - p)
            verdict = (f"{winner} wins with probability {prob:.2f}" if prob >= CLEAR else
                       f"too close to call: {winner} is the likelier, with probability {prob:.2f}")
            print(f"  on {NAMES[dataset]}, at {float(c):.0e} FLOPs {verdict}")
    (args.out / "answer.json").write_text(json.dumps(answer, indent=1))
    print(f"\nwrote {args.out}/answer.json, comparison.csv and the figures")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
