"""What one gradient costs per chain when K chains are evaluated in lockstep (``vmap``), against one chain alone.

Problem C's fits (the Chinchilla law with Student-t noise on 30 runs) spend their sampler time in NUTS's gradients
and in NUTS's own per-step work (``speed.py --problems C`` prints the ratio to the gradient floor). NUTS moves each
chain on its own trajectory; a sampler that moves many chains in lockstep (HMC with one trajectory length per
fit, adapted across its chains) could evaluate their gradients as one vectorised call. This script measures what
that call costs per chain on this machine, with bayescale's own model and data layout (padded to the bucket
``fit_many`` uses): a compiled ``lax.scan`` of ``--steps`` gradient evaluations of K chains at once, on one
device, for each K; the baseline is K = 1 in the same run.

Run ``python benchmarks/vmap_gradient.py`` (under a minute on 2 CPU cores); ``--ks 1 4 64`` chooses the K.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import problems  # noqa: E402
import speed  # noqa: E402


def per_chain_seconds(potential_fn, z0, k: int, steps: int) -> float:
    """Seconds per chain per gradient: ``steps`` evaluations of K chains' gradients in one compiled scan."""
    many = jax.jit(speed.gradient_loop(jax.vmap(jax.value_and_grad(potential_fn)), steps))
    rng = np.random.default_rng(k)
    zs = jax.tree.map(lambda v: jnp.asarray(v)[None] + 0.01 * rng.standard_normal((k,) + np.shape(v)), z0)
    jax.block_until_ready(many(zs))
    t0 = time.perf_counter()
    jax.block_until_ready(many(zs))
    return (time.perf_counter() - t0) / steps / k


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 4, 16, 64, 400, 4000],
                        help="numbers of chains evaluated at once (1 is the baseline and is always run)")
    parser.add_argument("--work", type=float, default=2e6,
                        help="chain-gradients per K (steps = work / K, at least 20)")
    args = parser.parse_args(argv)
    ks = sorted({1, *args.ks})
    runs = problems.problem_c(1).drop(columns="task")
    print(f"# one fit of problem C ({len(runs)} runs), {jax.default_backend()}, one device, "
          f"{jax.devices()[0].device_kind}")
    print("| chains at once (K) | us per chain per gradient | against K = 1 |")
    print("|---|---|---|")
    with jax.enable_x64(True):
        potential_fn, z0 = speed.potential(runs, likelihood=problems.LIKELIHOOD_C)
        base = None
        for k in ks:
            s = per_chain_seconds(potential_fn, z0, k, max(20, int(args.work / k)))
            base = base or s
            print(f"| {k} | {1e6 * s:.2f} | {s / base:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
