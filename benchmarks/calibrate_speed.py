"""Speed of ``bs.calibrate`` (simulation-based calibration): where each simulation's time goes, and the cost of
scoring each fit eagerly (bayescale before 2026-12-01) against compiling the scoring once (today).

For each law, in one process:

1. ``bs.calibrate(law, S)`` once to compile everything, then timed with another seed: wall seconds, the compiled
   sampler's share (``engine.Pending``, wrapped here to time its runs) and the rest per simulation (ranks, scoring,
   simulating); with one chain per fit (the default since 2026-12-01) and with two (the default before).
2. The scoring of one simulation, both ways, on the same ``S`` sets of 99 draws (prior draws stand in for the
   posterior: the cost does not depend on the values): the log-likelihood of the draws and of the truth, and the
   law's extrapolation for both, as eager NumPyro and JAX calls (the baseline) and as one ``jax.jit`` function
   (what ``calibrate`` runs; its compile is timed apart).
3. First of all, the prior predictive for two values of ``S`` (``S``, then ``S + 20``): a ``Predictive`` of
   ``num_samples=S`` (the baseline: a new program for each ``S``) against ``calibrate``'s chunks of ``SIM_CHUNK``
   (one program, which the second call loads from the persistent cache).
4. Each fit's smallest ESS, on the draws of the ``S`` fits of step 1's timed run (one chain each): one ArviZ
   call per fit with R-hat too (bayescale until 2026-12-06, the baseline) against one call for all the fits
   without R-hat (today's ``calibration._min_ess``).
5. Step 1's one-chain calibration again with one call of the sampler at a time (``CALLS_IN_FLIGHT = 1``, as until
   2026-12-06) against two at once (today): wall, sampler, and whether the ranks are the same.

The sampler's seconds are the time during which at least one of its runs was in flight (from dispatch to the end
of its last job), which the rest of ``calibrate`` overlaps when two calls run at once.

Run ``python benchmarks/calibrate_speed.py`` (about 3 minutes on 2 CPU cores), ``--laws chinchilla`` for one law,
``--num-simulations 40`` to change ``S``, ``--json out.json`` to keep every number. The persistent compilation
cache starts empty (a temporary folder), so first calls compile.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import tempfile
import time
import warnings

os.environ.setdefault("BAYESCALE_JAX_CACHE", tempfile.mkdtemp(prefix="bayescale-calibrate-bench-"))

import jax  # noqa: E402  (importing JAX does not start its backend: bayescale still sets host devices)
import numpy as np  # noqa: E402

import bayescale as bs  # noqa: E402
from bayescale import build, calibration, engine  # noqa: E402
from bayescale.simulate import default_design  # noqa: E402

NUM_DRAWS = 99

#: When each run of the compiled sampler was in flight (from its dispatch to the end of its last job), as
#: ``(start, end)``: ``calibrate`` keeps two calls running at once, so the sampler's seconds are these intervals'
#: union, not their sum.
_sampler_runs: list[tuple[float, float]] = []
_pending_init, _pending_result = engine.Pending.__init__, engine.Pending.result


def _timed_init(self, *args, **kwargs):
    self._bench_start = time.perf_counter()
    _pending_init(self, *args, **kwargs)


def _timed_result(self):
    first = self._result is None
    out = _pending_result(self)
    if first and self.seconds is not None:
        _sampler_runs.append((self._bench_start, self._bench_start + self.seconds))
    return out


engine.Pending.__init__, engine.Pending.result = _timed_init, _timed_result


def sampler_seconds() -> float:
    """Seconds during which at least one run of the sampler was in flight, since :data:`_sampler_runs` was emptied."""
    total, end = 0.0, -np.inf
    for a, b in sorted(_sampler_runs):
        if b > end:
            total += b - max(a, end)
            end = b
    return total

#: The draws calibrate's fits hand to their ESS (``calibration._ESSInChunks.add``), kept for step 4.
_fit_draws: list[dict[str, np.ndarray]] = []
_add = calibration._ESSInChunks.add


def _kept_add(self, samples):
    _fit_draws.append({k: np.array(samples[k]) for k in self.names})
    return _add(self, samples)


calibration._ESSInChunks.add = _kept_add


def _timed(fn, *args):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - start


def time_calibrate(law: str, num: int) -> dict:
    """Calibrate with one chain per fit (the default), with two (the default until 2026-12-01), and with one chain
    but one call of the sampler at a time (``CALLS_IN_FLIGHT = 1``, as until 2026-12-06), each twice (compile, then
    timed with another seed): wall, sampler and the rest per simulation."""
    out = {}
    in_flight = calibration.CALLS_IN_FLIGHT
    for chains, calls, tag in ((1, in_flight, ""), (2, in_flight, "_2ch"), (1, 1, "_one_call")):
        calibration.CALLS_IN_FLIGHT = calls
        try:
            bs.calibrate(law, num_simulations=num, seed=1, num_chains=chains)
            _sampler_runs.clear()
            _fit_draws.clear()
            start = time.perf_counter()
            res = bs.calibrate(law, num_simulations=num, seed=0, num_chains=chains)
            wall = time.perf_counter() - start
        finally:
            calibration.CALLS_IN_FLIGHT = in_flight
        sampler = sampler_seconds()
        out.update({f"wall_s{tag}": wall, f"sampler_s{tag}": sampler, f"other_per_sim_s{tag}": (wall - sampler) / num,
                    f"passed{tag}": bool(res.passed), f"rank_sum{tag}": int(res.ranks.to_numpy().sum())})
        if tag == "":
            out.update(time_ess(list(_fit_draws), res.min_ess))
    out["same_ranks_one_call"] = out["rank_sum"] == out["rank_sum_one_call"]
    return out


def time_ess(fits: list[dict[str, np.ndarray]], reported: np.ndarray) -> dict:
    """Each fit's smallest ESS: one call per fit with R-hat (the baseline) against one call for all without it."""
    from bayescale.fit import _worst_stats

    names = list(fits[0])
    start = time.perf_counter()
    one_by_one = []
    for f in fits:
        worst = _worst_stats({k: f[k][None] for k in names})
        one_by_one.append(min(min(bulk[0], tail[0]) for _, bulk, tail in worst.values()))
    per_fit_s = time.perf_counter() - start
    start = time.perf_counter()
    together = calibration._min_ess(fits, names)
    together_s = time.perf_counter() - start
    same = bool(np.allclose(one_by_one, together, rtol=1e-12) and np.allclose(together, reported, rtol=1e-12))
    return {"ess_per_fit_s": per_fit_s, "ess_together_s": together_s, "ess_same": same}


def time_scoring(law_name: str, num: int) -> dict:
    """Per-simulation scoring, eager (baseline) against one compiled function, on the same draws."""
    from numpyro.infer import Predictive
    from numpyro.infer.util import log_likelihood

    law = bs.get_law(law_name)
    config = build.ModelConfig(pool=build.resolve_pool(law, None, False), likelihood="student_t")
    model = build.build_model(law, config)
    design = default_design(law)
    site = build.obs_site(law)
    with jax.enable_x64(True):
        x = {k: design[k].to_numpy(np.float64) for k in law.inputs}
        data = build.ModelData(x=x, log_x0=build.geometric_centre(x))
        x_ext = {k: v[-1:] * 10 for k, v in x.items()}
        prior = Predictive(model, num_samples=num * (NUM_DRAWS + 1))(jax.random.PRNGKey(0), data)
        latent_sites = [k for k in prior if k != site]
        sims = []
        for s in range(num):
            block = {k: np.asarray(prior[k][s * (NUM_DRAWS + 1):(s + 1) * (NUM_DRAWS + 1)]) for k in prior}
            sims.append(({k: block[k][:NUM_DRAWS] for k in latent_sites}, {k: block[k][-1:] for k in latent_sites},
                         build.ModelData(x=x, log_x0=data.log_x0, y=law.from_link(block[site][-1]))))

        def eager(post, latent, sim_data):
            ll_post = log_likelihood(model, post, sim_data)[site].sum(-1)
            ll_true = log_likelihood(model, latent, sim_data)[site].sum(-1)
            xs = [jax.numpy.asarray(x_ext[k]) for k in law.inputs]
            ext_post = build.law_location(law, xs, {p: jax.numpy.asarray(post[p]) for p in law.params})
            ext_true = build.law_location(law, xs, {p: jax.numpy.asarray(latent[p]) for p in law.params})
            return ll_post, ll_true, ext_post, ext_true

        def fused(post, latent, sim_data):
            ll_post = log_likelihood(model, post, sim_data, parallel=True)[site].sum(-1)
            ll_true = log_likelihood(model, latent, sim_data, parallel=True)[site].sum(-1)
            xs = [jax.numpy.asarray(x_ext[k]) for k in law.inputs]
            return (ll_post, ll_true, build.law_location(law, xs, {p: post[p] for p in law.params}),
                    build.law_location(law, xs, {p: latent[p] for p in law.params}))

        compiled = jax.jit(fused)
        _, compile_s = _timed(compiled, *sims[0])
        eager_s = sum(_timed(eager, *sim)[1] for sim in sims) / num
        jit_s = sum(_timed(compiled, *sim)[1] for sim in sims) / num
        a, b = eager(*sims[1]), compiled(*sims[1])
        agree = all(np.allclose(np.asarray(u).reshape(-1), np.asarray(v).reshape(-1), rtol=1e-9) for u, v in
                    zip(a, b, strict=True))
    return {"eager_per_sim_s": eager_s, "compiled_per_sim_s": jit_s, "scoring_compile_s": compile_s,
            "same_values": agree}


def time_prior(law_name: str, num: int) -> dict:
    """Prior predictive draws for ``S`` and then ``S + 20`` data sets: a program per ``S`` against chunks.

    Run before anything else compiles this law's model; the persistent cache is on, as it is by default, so the
    chunked program's second call loads what its first compiled.
    """
    from numpyro.infer import Predictive

    law = bs.get_law(law_name)
    model = build.build_model(law, build.ModelConfig(pool=build.resolve_pool(law, None, False), likelihood="student_t"))
    design = default_design(law)
    engine.enable_persistent_cache()
    with jax.enable_x64(True):
        x = {k: design[k].to_numpy(np.float64) for k in law.inputs}
        data = build.ModelData(x=x, log_x0=build.geometric_centre(x))
        sizes = (num, num + calibration.SIM_CHUNK)
        per_s = sum(_timed(lambda n=n: Predictive(model, num_samples=n)(jax.random.PRNGKey(n), data))[1]
                    for n in sizes)
        chunked = sum(_timed(calibration._prior_draws, model, data, n, jax.random.PRNGKey(n))[1] for n in sizes)
    return {"prior_per_s_s": per_s, "prior_chunked_s": chunked}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--laws", nargs="+", default=["sigmoid_transfer", "chinchilla"])
    parser.add_argument("--num-simulations", type=int, default=40)
    parser.add_argument("--json", help="write every number to this file")
    args = parser.parse_args(argv)
    num = args.num_simulations
    defaults = inspect.signature(bs.calibrate).parameters  # time_calibrate runs calibrate's own settings
    print(f"# bs.calibrate speed — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
          f"JAX {jax.default_backend()} x {jax.local_device_count()} devices, S = {num}, "
          f"{defaults['num_warmup'].default} + {defaults['num_samples'].default} iterations per chain", flush=True)
    rows = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for law in args.laws:
            rows[law] = {**time_prior(law, num), **time_calibrate(law, num), **time_scoring(law, num)}
            print(f"  ({law} done)", file=sys.stderr, flush=True)
    print("\n| law | calibrate, 1 chain: wall s | sampler s | 2 chains (before): wall s | sampler s | wall ratio | "
          "rest per simulation s | scoring per simulation: eager s | compiled s | eager / compiled | scoring compile "
          "s | same values | prior draws for two S: a program per S s | chunks s | ratio | ESS of the S fits: a "
          "call each, with R-hat (before) s | one call, without (today) s | ratio | same ESS | SBC passed (1 / 2 "
          "chains) | 1 chain, one call at a time (before): wall s | sampler s | wall ratio | same ranks |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for law, r in rows.items():
        print(f"| {law} | {r['wall_s']:.1f} | {r['sampler_s']:.1f} | {r['wall_s_2ch']:.1f} | "
              f"{r['sampler_s_2ch']:.1f} | {r['wall_s_2ch'] / r['wall_s']:.2f}x | {r['other_per_sim_s']:.3f} | "
              f"{r['eager_per_sim_s']:.3f} | {r['compiled_per_sim_s']:.4f} | "
              f"{r['eager_per_sim_s'] / r['compiled_per_sim_s']:.0f}x | {r['scoring_compile_s']:.1f} | "
              f"{r['same_values']} | {r['prior_per_s_s']:.1f} | {r['prior_chunked_s']:.1f} | "
              f"{r['prior_per_s_s'] / r['prior_chunked_s']:.1f}x | {r['ess_per_fit_s']:.2f} | "
              f"{r['ess_together_s']:.2f} | {r['ess_per_fit_s'] / r['ess_together_s']:.1f}x | {r['ess_same']} | "
              f"{r['passed']} / {r['passed_2ch']} | {r['wall_s_one_call']:.1f} | {r['sampler_s_one_call']:.1f} | "
              f"{r['wall_s_one_call'] / r['wall_s']:.2f}x | {r['same_ranks_one_call']} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
