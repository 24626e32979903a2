"""How big a model, how many tokens? Bayes, risk-averse and plug-in allocations from the Chinchilla posterior.

With the Chinchilla law fitted to Hoffmann et al.'s runs (Epoch AI's extraction, ``bs.datasets.load("chinchilla")``,
the 5 smallest-D/N runs left out as in Besiroglu et al.), this script chooses model size N and tokens D at
1e21, 5.76e23 (Chinchilla's own budget) and 1e25 FLOPs three ways: the Bayes choice (least expected loss), the
risk-averse choice (least 90th percentile of the loss) and the plug-in choice (the law's optimum at the posterior
means, a point fit's answer), each with its expected loss and its expected regret against the posterior. It repeats
the choice with an inference budget of 1e12 and 1e13 tokens served (``6 N D + 2 N D_inf = C``, Sardana et al.
2024), and ranks 10 candidate extra runs, each costing at most 1e21 FLOPs, by the expected value of their result for
the 5.76e23 decision (``bs.next_run``).

    python case_studies/chinchilla_allocation/run.py [--smoke] [--out DIR]

Writes ``answer.json`` (every allocation and the ranking), ``allocations.csv`` and ``next_run.csv``.
"""

from __future__ import annotations

import json
import time
import warnings

import pandas as pd

import bayescale as bs
from bayescale._scripts import case_study_args, case_study_parser, real_chinchilla_runs

BUDGETS = (1e21, 5.76e23, 1e25)
INFERENCE = (1e12, 1e13)
DECISION = 5.76e23
#: Candidate extra runs: five model sizes at 20 and 80 tokens per parameter (10 runs, each under 1e21 FLOPs).
CANDIDATES = pd.DataFrame([{"n": n, "d": t * n} for n in (7e7, 1.5e8, 3e8, 6e8, 1.2e9) for t in (20, 80)
                           if 6 * n * t * n <= 1e21])


def main(argv=None) -> int:
    ap = case_study_parser(__doc__, "chinchilla_allocation_out", "short chains (for tests)")
    args = case_study_args(ap, argv)
    runs, _ = real_chinchilla_runs()
    draws = dict(num_chains=2, num_warmup=300, num_samples=300, fallback=False) if args.smoke else {}
    start = time.perf_counter()
    with warnings.catch_warnings():
        if args.smoke:
            warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fit = bs.fit("chinchilla", runs[["n", "d", "loss"]], seed=args.seed, **draws)
    print(f"Chinchilla law on {len(runs)} runs in "
          f"{time.perf_counter() - start:.0f} s: {fit.diagnostics!r}")

    rows = []
    for c in BUDGETS:
        for d_inf in (0.0, *INFERENCE):
            for objective in ("expected", "quantile"):
                a = bs.allocate(fit, c, objective=objective, quantile=0.9, inference_tokens=d_inf)
                t = a.table.set_index("allocation")
                names = ("bayes", "plug_in") if objective == "expected" else ("bayes",)
                for name in names:
                    label = {"bayes": "Bayes" if objective == "expected" else "risk-averse (q90)",
                             "plug_in": "plug-in"}[name]
                    r = t.loc[name]
                    rows.append({"compute": c, "inference_tokens": d_inf, "allocation": label, "n": r["n"],
                                 "d": r["d"], "tokens_per_param": r["tokens_per_param"], "loss_mean": r["mean"],
                                 "loss_q05": r["q05"], "loss_q95": r["q95"], "expected_regret": r["expected_regret"]})
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "allocations.csv", index=False)
    print("\nAllocations (loss: mean [90%]; regret: expected loss above each posterior draw's own best):")
    for (c, d_inf), g in table.groupby(["compute", "inference_tokens"], sort=False):
        serve = f", serving {d_inf:.0e} tokens" if d_inf else ""
        print(f"  C = {c:.3g} FLOPs{serve}:")
        for _, r in g.iterrows():
            print(f"    {r.allocation:18s} N {r.n:9.3g}  D {r.d:9.3g}  D/N {r.tokens_per_param:6.1f}  loss "
                  f"{r.loss_mean:.4f} [{r.loss_q05:.4f}, {r.loss_q95:.4f}]  regret {r.expected_regret:.5f}")

    nxt = bs.next_run(fit, CANDIDATES, compute=DECISION, num_outcomes=64 if args.smoke else 256, seed=args.seed)
    nxt.table.to_csv(args.out / "next_run.csv", index=False)
    print(f"\nWhich extra run (at most 1e21 FLOPs) is worth most for the {DECISION:.3g}-FLOP decision? "
          "EVSI = expected drop in the decision's expected loss")
    for _, r in nxt.table.iterrows():
        picks = [p[5:] for p in nxt.table.columns if p.startswith("pick_") and r[p]]
        print(f"  N {r.n:8.3g} D {r.d:9.3g} cost {r.cost:8.2g} FLOPs: EVSI {r.evsi:.2e}, per 1e20 FLOPs "
              f"{1e20 * r.evsi_per_cost:.2e}, D-gain {r.d_gain:5.2f}" + (f"  <- {', '.join(picks)}" if picks else ""))
    best = nxt.table.iloc[0]
    bayes = table[(table["compute"] == DECISION) & (table["inference_tokens"] == 0)
                  & (table["allocation"] == "Bayes")].iloc[0]
    print(f"\nAnswer: at Chinchilla's budget train N = {bayes.n:.3g} on D = {bayes.d:.3g} tokens (D/N "
          f"{bayes.tokens_per_param:.0f}), expected loss {bayes.loss_mean:.3f}; the most useful extra run per FLOP "
          f"is N = {best.n:.3g} on {best.d:.3g} tokens.")
    answer = {"diagnostics_ok": bool(fit.diagnostics.ok),
              "allocations": table.to_dict(orient="records"),
              "next_run": nxt.table.to_dict(orient="records"), "expected_loss_today": nxt.expected_loss}
    (args.out / "answer.json").write_text(json.dumps(answer, indent=1, default=float))
    print(f"\nwrote {args.out}/answer.json, allocations.csv and next_run.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
