"""The loss-to-loss case study's second stage with NUTS's ``warm_start=True`` against its earlier settings.

The study (``case_studies/loss_to_loss``) fits a Chinchilla law per pre-training set (stage 1), then the
loss-to-loss law ``L_y = K (L_x - E_x)^kappa + E_y`` over every (pre-training set, evaluation set) pair, with each
dataset's ``E`` a crossed effect and ``(K, kappa)`` partially pooled over the pairs (stage 2). Each pair has 86-91
runs, so its ``K`` and ``kappa`` are known to a few thousandths, while NumPyro's warm-up shrinks each windowed
estimate of the mass matrix toward a variance of 1e-3: the adapted metric overstates those directions and NUTS's
trees grow to depth 8-10.

Stage 1 is fitted once, as the study does; stage 2 then twice from the same stage-1 priors and seed:

* ``earlier``: the study's settings until 2026-12-06, warm-up trees uncapped (``warmup_tree_depth=10``);
* ``warm_start=True``: NUTS in the Laplace approximation's whitened coordinates (``NUTSSettings.warm_start``),
  the warm-up's trees capped at bayescale's default.

Columns: wall seconds of ``bs.fit`` (compile included; the persistent cache is off in this process), the compiled
sampler's seconds, leapfrog steps (gradient evaluations) of the warm-up and the draws, the draws' mean steps each,
the share of draws at the maximum tree depth, the smallest bulk and tail ESS, the largest R-hat, divergences,
every check's verdict, and the ratio of the sampler's seconds to the earlier settings' in the same run; under the
table, the largest difference between the two fits' posterior medians of every ``E``, ``kappa`` and ``K``.

Run ``python benchmarks/loss_to_loss.py`` (the study's 42 pairs, 4 chains x 1500 + 1500: about 15 minutes on 2
CPU cores, nearly all of it the earlier settings' fit), ``--smoke`` for the study's smoke subset (12 pairs, 2
chains x 300 + 200: about a minute), ``--json out.json`` to keep the rows. Needs the data set
``loss_to_loss_brandfonbrener`` (``BAYESCALE_DATA_DIR``, the user cache or a download).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "case_studies" / "loss_to_loss"))
if __name__ == "__main__":  # every compile cold: off before `import bayescale`, which turns the cache on
    os.environ.setdefault("BAYESCALE_JAX_CACHE", "off")

import numpy as np  # noqa: E402
import run as study  # noqa: E402  (case_studies/loss_to_loss/run.py)

import bayescale as bs  # noqa: E402

#: Stage 2's two settings: bayescale's earlier mode for this fit (the study's until 2026-12-06), and the warm start.
MODES = {"earlier (warmup_tree_depth=10)": {"warm_start": False, "warmup_tree_depth": 10},
         "warm_start=True": {"warm_start": True}}


def stages(smoke: bool) -> tuple:
    """The study's pairs (its smoke subset with ``smoke``), its draws' settings and its stage-1 fit."""
    own, pairs, _, _ = study.subset(*study.load(), smoke)
    draws = study.DRAWS["smoke" if smoke else "full"]
    return pairs, draws, study.fit_stage1(own, draws, seed=0)


def fit_stage2(pairs, draws: dict, stage1, mode: dict) -> tuple[bs.Fit, float]:
    """Stage 2 as the study fits it, with ``mode``'s options; the fit and its wall seconds."""
    t0 = time.perf_counter()
    fit = study.fit_stage2(pairs, stage1, draws, seed=0, progress_bar=False, **mode)
    return fit, time.perf_counter() - t0


def row(name: str, fit: bs.Fit, wall: float) -> dict:
    """One table row's numbers."""
    d, sampler = fit.diagnostics, fit.meta["sampler"]
    return {"mode": name, "wall_s": wall, "sampler_s": fit.meta["options"]["sampler_seconds"],
            "warmup_steps": int(sampler["warmup_steps"]), "draws_steps": int(sampler["sample_steps"]),
            "steps_per_draw": sampler["sample_steps"] / d.num_draws, "at_max_depth": d.tree_depth_frac,
            "min_ess_bulk": d.min_ess_bulk, "min_ess_tail": d.min_ess_tail, "max_r_hat": d.max_r_hat,
            "divergences": d.divergences, "ok": d.ok,
            "medians": {k: float(v) for k, v in fit.summary(["e", "kappa", "k"])["q50"].items()}}


def table(rows: list[dict]) -> None:
    """Print the rows, each against the first (the earlier settings), and how far apart their medians are."""
    base = rows[0]["sampler_s"]
    print("\n| stage 2 | wall s | sampler s | sampler / earlier's | warm-up steps | draws' steps | steps per draw | "
          "draws at max depth | min bulk / tail ESS | max R-hat | divergences | every check |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['mode']} | {r['wall_s']:.1f} | {r['sampler_s']:.1f} | {r['sampler_s'] / base:.2f}x | "
              f"{r['warmup_steps']:,} | {r['draws_steps']:,} | {r['steps_per_draw']:.1f} | {r['at_max_depth']:.1%} | "
              f"{r['min_ess_bulk']:.0f} / {r['min_ess_tail']:.0f} | {r['max_r_hat']:.3f} | {r['divergences']} | "
              f"{'pass' if r['ok'] else 'FAIL'} |")
    medians = [np.array([r["medians"][k] for k in rows[0]["medians"]]) for r in rows]
    print(f"\nlargest difference between the two fits' posterior medians of E, kappa and K: "
          f"{np.max(np.abs(medians[1] - medians[0])):.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="the study's smoke subset and draws")
    parser.add_argument("--json", help="write the rows to this file")
    args = parser.parse_args(argv)
    print(f"# loss-to-loss stage 2 — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs "
          f"({platform.machine()}), {'smoke subset' if args.smoke else 'every pair'}", flush=True)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pairs, draws, stage1 = stages(args.smoke)
        print(f"(stage 1 fitted; stage 2: {pairs[['x_set', 'y_set']].drop_duplicates().shape[0]} pairs, "
              f"{len(pairs)} losses, {draws.get('num_chains', 4)} chains x "
              f"{draws['num_warmup']} + {draws['num_samples']})", file=sys.stderr, flush=True)
        for name, mode in MODES.items():
            rows.append(row(name, *fit_stage2(pairs, draws, stage1, mode)))
            print(f"  ({name}: {rows[-1]['wall_s']:.0f} s)", file=sys.stderr, flush=True)
    table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                               "cpus": os.cpu_count(), "smoke": args.smoke, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
