"""Which extra runs to train? Replaying five selection policies on two real ladders and a simulated twin.

Start from the 25 cheapest of Hoffmann et al.'s runs (under 7e18 FLOPs; Epoch AI's extraction,
``bs.datasets.load("chinchilla")``, as in the demo); the other 215 runs are the candidates, each with its measured
loss. Each policy adds one run at a time, as long as its runs fit in 2e21 FLOPs, the Chinchilla law is refitted,
and the Bayes allocation at 5.76e23 FLOPs (Chinchilla's budget) is scored by its regret against the full-data
answer: its expected loss under the posterior of a fit to all 240 runs, minus that of the full-data choice.

Policies (``bs.replay``): ``voi`` (the greatest expected value of sample information per FLOP, ``bs.next_run``),
``d_optimal`` (the greatest expected drop in the log-determinant of the parameters' posterior covariance),
``cheapest``, ``largest`` (the largest affordable) and ``random`` (three repeats).

The same replay runs on a second real ladder, Gadre et al.'s 35 RedPajama runs (``bs.datasets.load(
"gadre_overtraining")``; 11M to 6.9B parameters, 5 to 640 tokens per parameter) with their over-training law: the 12
runs under 1e18 FLOPs to start, 1e21 FLOPs to spend, the allocation at 1e23 FLOPs. And on a simulated twin of the
Chinchilla ladder: the same 240 (N, D) runs, their losses drawn from the Chinchilla law at the full-data posterior
means with the fitted noise, so that the law is exactly right. The twin separates what the policies do from what a
law that does not fit every run does to them.

    python case_studies/next_run_replay/run.py [--smoke] [--out DIR]

Writes ``answer.json`` (per ladder and policy: the compute spent to reach each regret, the regret at fixed
spends), ``replay_<ladder>.csv`` (every step) and ``replay.png``.
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
import pandas as pd

import bayescale as bs
from bayescale._scripts import case_study_args, case_study_parser, real_chinchilla_runs

#: ladder -> (law, start below this compute, budget for added runs, compute of the decision)
LADDERS = {"chinchilla": ("chinchilla", 7e18, 2e21, 5.76e23), "gadre_redpajama": ("overtraining", 1e18, 1e21, 1e23),
           "simulated_twin": ("chinchilla", 7e18, 2e21, 5.76e23)}
CHECKPOINTS = (1e19, 1e20, 1e21, 2e21)
THRESHOLDS = (3e-3, 1e-3, 3e-4)
COLOURS = {"voi": "C3", "d_optimal": "C2", "cheapest": "C0", "largest": "C1", "random": "0.5"}


def regret_at(table: pd.DataFrame, spend: float) -> float:
    """Mean over repeats of the regret after the last step whose spent compute is at most ``spend``."""
    return float(np.mean([g.loc[g["spent"] <= spend, "regret"].iloc[-1] for _, g in table.groupby("repeat")]))


def main(argv=None) -> int:
    ap = case_study_parser(__doc__, "next_run_replay_out", "two steps per policy, short chains (for tests)")
    args = case_study_args(ap, argv)
    runs, _ = real_chinchilla_runs()
    runs = runs[["n", "d", "loss"]]
    settings = dict(steps=2, repeats=1, num_outcomes=16,
                    fit_kwargs=dict(num_chains=2, num_warmup=200, num_samples=200, fallback=False)) if args.smoke else \
        dict(steps=10, repeats=3, num_outcomes=64,
             fit_kwargs=dict(num_warmup=1000, num_samples=1000, target_accept_prob=0.95))
    # the fits to every run of a ladder (the reference each replay's regret is measured against): in smoke mode as
    # short as the replay's own fits, since the smoke run checks the script, not the answer
    reference_kwargs = settings["fit_kwargs"] if args.smoke else {}
    full = bs.fit("chinchilla", runs, seed=args.seed, progress_bar=False, **reference_kwargs)
    means = full.summary(["e", "a", "b", "alpha", "beta", "sigma"])["mean"]
    twin = bs.simulate_ladder("chinchilla", {p: float(means[p]) for p in ("e", "a", "b", "alpha", "beta")},
                              design=runs[["n", "d"]], noise_sd=float(means["sigma"]), seed=args.seed)
    twin.index = runs.index
    gadre = bs.datasets.load("gadre_overtraining")
    gadre = gadre.loc[gadre["dataset"] == "rpj", ["n", "d", "loss"]]
    data = {"chinchilla": runs, "gadre_redpajama": gadre, "simulated_twin": twin}

    answer = {"ladders": {}}
    tables = {}
    for ladder, (law, start_below, budget, decision) in LADDERS.items():
        t0 = time.perf_counter()
        ladder_runs = data[ladder]
        start = list(ladder_runs.index[6 * ladder_runs["n"] * ladder_runs["d"] < start_below])
        if ladder == "chinchilla":
            reference = full
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", bs.DataWarning)  # as for the full Chinchilla fit above
                reference = bs.fit(law, ladder_runs, seed=args.seed, progress_bar=False, **reference_kwargs)
        print(f"\n{ladder}: {len(start)} of "
              f"{len(ladder_runs)} runs under {start_below:.0e} FLOPs to start with; budget {budget:.0e} FLOPs; "
              f"the allocation at {decision:.3g} FLOPs; law {law}; the fit to every run: {reference.diagnostics!r}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", bs.DataWarning)
            r = bs.replay(law, ladder_runs, start=start, compute=decision, budget=budget, thresholds=THRESHOLDS,
                          reference=reference, seed=args.seed, progress_bar=True, **settings)
        table = r.table.assign(ladder=ladder)
        tables[ladder] = table
        table.to_csv(args.out / f"replay_{ladder}.csv", index=False)
        print(f"  {time.perf_counter() - t0:.0f} s; full-data Bayes choice N {r.reference['n']:.3g}, D "
              f"{r.reference['d']:.3g}, expected loss {r.reference['loss']:.4f}; fits passing every sampler check: "
              f"{int(table['diagnostics_ok'].sum())} of {len(table)}")
        policies = {}
        for policy, g in table.groupby("policy", sort=False):
            s = r.summary.set_index("policy").loc[policy]
            policies[policy] = {"spent_to": {f"{t:g}": float(s[f"spent_to_{t:g}"]) for t in THRESHOLDS},
                                "regret_at": {f"{x:.0e}": regret_at(g, x) for x in CHECKPOINTS},
                                "start_regret": float(g.loc[g["step"] == 0, "regret"].iloc[0]),
                                "final_regret": float(s["final_regret"])}
        answer["ladders"][ladder] = {"law": law, "start_runs": len(start), "runs": len(ladder_runs), "budget": budget,
                                     "decision_compute": decision, "reference": dict(r.reference),
                                     "policies": policies}
        print(f"  regret (nats) after spending ... FLOPs on added runs; start: "
              f"{next(iter(policies.values()))['start_regret']:.2e}")
        print("  " + " " * 10 + "".join(f"{x:>11.0e}" for x in CHECKPOINTS)
              + "".join(f"  to {t:g}" for t in THRESHOLDS))
        for policy, p in policies.items():
            print(f"  {policy:10s}" + "".join(f"{v:11.2e}" for v in p["regret_at"].values())
                  + "".join(f"  {v:8.2g}" if np.isfinite(v) else "     never" for v in p["spent_to"].values()))

    import matplotlib.pyplot as plt

    floor = 1e-6  # a log axis has no 0: a regret of 0 (the full data's own choice) is drawn at this floor
    fig, axes = plt.subplots(1, len(tables), figsize=(4.5 * len(tables), 4), sharey=True)
    for ax, (ladder, table) in zip(axes, tables.items(), strict=True):
        for (policy, rep), g in table.groupby(["policy", "repeat"], sort=False):
            x = np.maximum(g["spent"].to_numpy(), 1e18)
            ax.step(x, np.maximum(g["regret"].to_numpy(), floor), where="post", color=COLOURS[policy],
                    alpha=0.5 if policy == "random" else 0.9, lw=1.0 if policy == "random" else 1.6,
                    label=policy if rep == 0 else None)
        for t in THRESHOLDS[:2]:  # the regrets the summary table counts compute to
            ax.axhline(t, color="0.4", lw=0.8, ls=":")
            ax.annotate(f"{t:g}", (1.0, t), xycoords=("axes fraction", "data"), xytext=(-2, 2),
                        textcoords="offset points", ha="right", fontsize=7, color="0.3")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("compute spent on added runs (FLOPs; start at 1e18)")
        ax.set_title(f"{ladder.replace('_', ' ')}: allocation at {LADDERS[ladder][3]:.3g} FLOPs", fontsize=10)
    axes[0].set_ylabel(f"regret of the allocation (nats; 0 drawn at {floor:g})")
    axes[0].legend(fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(args.out / "replay.png", dpi=120)
    plt.close(fig)

    print("\nAnswer:")
    for ladder, a in answer["ladders"].items():
        to = {p: v["spent_to"][f"{THRESHOLDS[1]:g}"] for p, v in a["policies"].items()}
        best = min(to, key=to.get)
        ranked = ", ".join(f"{p} {v:.2g}" if np.isfinite(v) else f"{p} never" for p, v in sorted(to.items(),
                                                                                                key=lambda kv: kv[1]))
        verdict = (f"{best} reaches a regret of {THRESHOLDS[1]:g} nats with the least compute" if np.isfinite(to[best])
                   else f"no policy reaches a regret of {THRESHOLDS[1]:g} nats")
        print(f"  {ladder}: {verdict} (FLOPs spent: {ranked}); VOI "
              f"{'wins' if best == 'voi' and np.isfinite(to[best]) else 'does not win'} here")
    (args.out / "answer.json").write_text(json.dumps(answer, indent=1, default=float))
    print(f"\nwrote {args.out}/answer.json, replay_<ladder>.csv and replay.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
