"""Critical batch size: does it follow model size or data? (Zhang et al. 2024's steps-to-target sweep)

Zhang et al. (arXiv:2410.21676) trained five model sizes (85M to 1.2B, each to the C4 loss it reaches at its
Chinchilla-optimal budget) at nine batch sizes each and recorded the steps needed to reach the target. They fit
``steps = a + b / B`` per size, then the critical batch size against model size, and argue from other ablations that
it follows data, not model size.

Here one hierarchical Bayesian model uses all 45 runs at once: McCandlish's law ``S = S_min (1 + B_noise / B)`` per
size (``bs.fit("mccandlish", groups="model")``), with the critical batch ``B_noise`` of each size regressed on its
parameters N and training tokens D, ``log B_noise = c + b_N log N + b_D log D + e`` (``group_predictors=``), and
``S_min`` on N. The posterior of ``(b_N, b_D)`` says which one the critical batch follows — as far as this sweep can
tell, since here D = 20 N for every size. A second fit leaves the 1.2B size out and predicts its critical batch
from its N and D alone.

Zhang et al.'s own critical batch size is the largest batch whose steps exceed linear scaling from B = 256 by at
most 20%, which under McCandlish's law is ``0.2 B_noise + 1.2 * 256`` (:func:`bayescale.models.batch.zhang_cbs`);
their notebook's values (sequences of 512 tokens: 745, 955, 1394, 1889, 2533) are printed beside ours.

Data: ``bs.datasets.load("critical_batch_zhang2024")`` (hlzhang109/critical-batch-size, MIT). Batch sizes in
sequences of 512 tokens; D per size is its Chinchilla-optimal budget, ``chinchilla_steps_at_bs256 * 256 * 512``.

    python case_studies/critical_batch/run.py [--smoke] [--out DIR]

Writes ``predictions.csv`` (``model, n, d, quantity, fit, mean, q05, q25, q50, q75, q95``; quantity
``b_noise_seqs`` or ``cbs_seqs``, fit ``all`` or ``without_1.2B``), ``tradeoff.csv`` (steps, tokens and expected cost
of each batch for the 1.2B model under four cost weightings), ``summary.csv`` and ``critical_batch.png``.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from bayescale.models.batch import zhang_cbs

import bayescale as bs
from bayescale._scripts import case_study_args, case_study_parser
from bayescale.predict import parameter_draws

HELD_OUT = "1.2B"
#: Zhang et al.'s notebook (cell 5): critical batch size per model size, sequences of 512 tokens.
PUBLISHED_CBS = {"85M": 745.3, "151M-ablation": 955.2, "302M": 1393.7, "604M": 1888.5, "1.2B": 2533.4}
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def load() -> pd.DataFrame:
    """One row per (model size, batch size): ``model, n, d, b`` (sequences per step) and ``steps``."""
    raw = bs.datasets.load("critical_batch_zhang2024")
    d = raw["chinchilla_steps_at_bs256"] * 256 * raw["seq_len"]  # tokens of each size's Chinchilla-optimal budget
    return pd.DataFrame({"model": raw["model"], "n": raw["n"], "d": d, "b": raw["batch_seqs"].astype(float),
                         "steps": raw["steps"].astype(float)})


def fit(runs: pd.DataFrame, *, smoke: bool, seed: int):
    draws = dict(num_warmup=300, num_samples=300, num_chains=2, fallback=False) if smoke else dict(num_warmup=2000,
                                                                                                     num_samples=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.DataWarning)
        # warmup_tree_depth=12: no warm-up cap; the draws average depth 7.5, and with max_tree_depth=10 a warm-up cap
        # of 6 left 3 of 4 seeds failing a check (1 of 4 uncapped); the results in the README were measured uncapped
        # non-centred pooling: the regression explains most of the spread between sizes, and a centred hierarchy
        # with little left for the group scale diverged (436 divergences on a simulated sweep of this shape)
        return bs.fit("mccandlish", runs, groups="model", pool={"s_min": "partial", "b_noise": "partial"},
                      group_predictors={"b_noise": ["n", "d"], "s_min": ["n"]}, pooling="noncentred", seed=seed,
                      target_accept_prob=0.99, max_tree_depth=12, warmup_tree_depth=12, **draws)


def _rows(model, n, d, quantity, which, values) -> dict:
    row = {"model": model, "n": n, "d": d, "quantity": quantity, "fit": which, "mean": float(np.mean(values))}
    row.update({f"q{round(100 * q):02d}": float(np.quantile(values, q)) for q in QUANTILES})
    return row


def figure(runs: pd.DataFrame, table: pd.DataFrame, path: Path, fit=None) -> None:
    """Steps against batch size per model size (with the fitted law's 90% band), and the critical batch against N
    with the held-out prediction."""
    from bayescale.plots import _pyplot

    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, (m, g) in enumerate(runs.groupby("model", sort=False)):
        ax1.loglog(g["b"], g["steps"], "o", color=f"C{i}", ms=4, label=m)
        if fit is not None:
            grid = pd.DataFrame({"model": m, "n": g["n"].iloc[0], "d": g["d"].iloc[0],
                                 "b": np.geomspace(g["b"].min(), g["b"].max(), 40)})
            band = fit.predict(grid, kind="mean")
            ax1.fill_between(grid["b"], band["q05"], band["q95"], color=f"C{i}", alpha=0.2, lw=0)
            ax1.plot(grid["b"], band["q50"], color=f"C{i}", lw=1)
    ax1.set_xlabel("batch size (sequences of 512 tokens)")
    ax1.set_ylabel("steps to the target loss")
    ax1.legend(fontsize=7)
    ax1.set_title("Zhang et al.'s sweep and McCandlish's law (90% band)", fontsize=10)
    bn = table[(table["quantity"] == "b_noise_seqs") & (table["fit"] == "all")]
    ax2.errorbar(bn["n"], bn["q50"], yerr=[bn["q50"] - bn["q05"], bn["q95"] - bn["q50"]], fmt="o", color="C0",
                 capsize=3, label="fitted on all sizes (90%)")
    held = table[(table["quantity"] == "b_noise_seqs") & (table["fit"] == "without_1.2B")
                 & (table["model"] == HELD_OUT)]
    ax2.errorbar(held["n"] * 1.08, held["q50"], yerr=[held["q50"] - held["q05"], held["q95"] - held["q50"]],
                 fmt="D", color="C3", mfc="white", capsize=3, label="1.2B predicted without its runs (90%)")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("parameters N (D = 20 N)")
    ax2.set_ylabel("critical batch B_noise (sequences)")
    ax2.legend(fontsize=7)
    ax2.set_title("Critical batch size against model size", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


#: Cost weights of the time-versus-compute table: (label, w_time per step, w_compute per token).
WEIGHTS = (("time only", 1.0, 0.0), ("a step costs as much as 1M tokens", 1.0, 1e-6),
           ("a step costs as much as 4M tokens", 1.0, 2.5e-7), ("compute only", 0.0, 1.0))


def tradeoff(f, runs: pd.DataFrame, out: Path) -> pd.DataFrame:
    """McCandlish's time-versus-compute trade-off for the largest size: the batch of least expected cost."""
    batches = np.sort(runs["b"].unique())
    tables = []
    print(f"\nWhich batch for the {HELD_OUT} model? cost = w_time * steps + w_compute * tokens (sequences of 512):")
    for label, w_t, w_c in WEIGHTS:
        t = f.batch_tradeoff(batches, w_time=w_t, w_compute=w_c, tokens_per_unit=512, group=HELD_OUT)
        row = t.table.set_index("batch").loc[t.best]
        print(f"  {label:36s} batch {t.best:6.0f}: {row.steps_q50:7.0f} steps, {row.tokens_q50 / 1e9:5.2f}B tokens,"
              f" P(cheapest) {row.p_cheapest:.2f}")
        tables.append(t.table.assign(weights=label, w_time=w_t, w_compute=w_c))
    table = pd.concat(tables, ignore_index=True)
    table.to_csv(out / "tradeoff.csv", index=False)
    return table


def main(argv=None) -> int:
    ap = case_study_parser(__doc__, "critical_batch_out", "short chains (for tests)")
    args = case_study_args(ap, argv)
    runs = load()
    sizes = runs.groupby("model", sort=False)[["n", "d"]].first()
    print(f"Zhang et al.: {len(runs)} runs, {len(sizes)} model sizes x {runs.groupby('model').size().iloc[0]} batch "
          "sizes")
    start = time.perf_counter()
    full = fit(runs, smoke=args.smoke, seed=args.seed)
    print(f"fit on all sizes in {time.perf_counter() - start:.0f} s: {full.diagnostics!r}")
    start = time.perf_counter()
    part = fit(runs[runs["model"] != HELD_OUT], smoke=args.smoke, seed=args.seed)
    print(f"fit without {HELD_OUT} in {time.perf_counter() - start:.0f} s: {part.diagnostics!r}")
    full.summary().to_csv(args.out / "summary.csv")

    rows = []
    groups = sizes.reset_index()
    for which, f in (("all", full), (f"without_{HELD_OUT}", part)):
        bn = parameter_draws(f, groups, seed=args.seed)["b_noise"]
        for j, g in groups.iterrows():
            rows.append(_rows(g["model"], g["n"], g["d"], "b_noise_seqs", which, bn[:, j]))
            rows.append(_rows(g["model"], g["n"], g["d"], "cbs_seqs", which, zhang_cbs(bn[:, j])))
    table = pd.DataFrame(rows)
    table.to_csv(args.out / "predictions.csv", index=False)

    print("\nCritical batch size per model size (sequences; median [90%]):")
    for m in sizes.index:
        b = table[(table["model"] == m) & (table["fit"] == "all") & (table["quantity"] == "b_noise_seqs")].iloc[0]
        c = table[(table["model"] == m) & (table["fit"] == "all") & (table["quantity"] == "cbs_seqs")].iloc[0]
        print(f"  {m:14s} B_noise {b.q50:7.0f} [{b.q05:6.0f}, {b.q95:6.0f}]   Zhang's CBS {c.q50:6.0f} "
              f"[{c.q05:5.0f}, {c.q95:5.0f}]  (published {PUBLISHED_CBS[m]:.0f})")
    post = full.draws(["b_noise_on_n", "b_noise_on_d"])
    bn_n, bn_d = post["b_noise_on_n"], post["b_noise_on_d"]
    both = bn_n + bn_d

    def q(v):
        return f"{np.median(v):.2f} [{np.quantile(v, 0.05):.2f}, {np.quantile(v, 0.95):.2f}]"

    print("\nDoes the critical batch follow model size or data?  log B_noise = c + b_N log N + b_D log D")
    print(f"  b_N {q(bn_n)}   b_D {q(bn_d)}   b_N + b_D {q(both)}   corr(b_N, b_D) {np.corrcoef(bn_n, bn_d)[0, 1]:.2f}")
    ratio = sizes["d"] / sizes["n"]
    corr = float(np.corrcoef(bn_n, bn_d)[0, 1])
    print(f"  P(b_D > b_N) = {np.mean(bn_d > bn_n):.2f}. In this sweep D/N is {ratio.min():.1f}-{ratio.max():.1f} "
          f"across the {len(ratio)} sizes", end="")
    if ratio.max() / ratio.min() < 1.5 and corr < -0.9:  # D proportional to N: only the sum is identified
        print(f", so the data pin down only the sum b_N + b_D (the growth of the critical batch along the "
              f"Chinchilla frontier): corr(b_N, b_D) = {corr:.2f}, and which of N and D drives it rests on the "
              "prior. Zhang et al. separate them with runs that vary D at fixed N.")
    else:
        print(f"; corr(b_N, b_D) = {corr:.2f}, so the runs inform b_N and b_D apart.")
    held = table[(table["model"] == HELD_OUT) & (table["fit"] == f"without_{HELD_OUT}")
                 & (table["quantity"] == "b_noise_seqs")].iloc[0]
    own = table[(table["model"] == HELD_OUT) & (table["fit"] == "all") & (table["quantity"] == "b_noise_seqs")].iloc[0]
    inside = held.q05 <= own.q50 <= held.q95
    print(f"\nHeld-out {HELD_OUT}: predicted from the four smaller sizes B_noise {held.q50:.0f} "
          f"[{held.q05:.0f}, {held.q95:.0f}]; estimated with its own runs {own.q50:.0f}: "
          f"{'inside' if inside else 'OUTSIDE'} the 90% prediction interval")
    tradeoff(full, runs, args.out)
    figure(runs, table, args.out / "critical_batch.png", fit=full)
    print(f"\nwrote {args.out}/predictions.csv, tradeoff.csv, summary.csv and critical_batch.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
