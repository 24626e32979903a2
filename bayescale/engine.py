"""A NUTS sampler compiled once per model structure and reused across data sets of the same shape.

``numpyro.infer.MCMC`` retraces and recompiles its sampler on every ``run`` (about 10 s on CPU for a small law),
which dominates loops over many data sets such as simulation-based calibration. :class:`CompiledNUTS` builds the
same NUTS chain from NumPyro's functional API (``initialize_model`` with ``dynamic_args=True`` and ``hmc(...,
algo="NUTS")``) inside one ``jax.jit``/``jax.pmap``: warm-up (step size and mass matrix adaptation) and sampling
run as one ``lax.scan`` whose data are arguments, so a new data set of the same shape reuses the compiled code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from bayescale._devices import chain_method

__all__ = ["CompiledNUTS"]


class CompiledNUTS:
    """NUTS for ``model(data)``, compiled on the first call and reused for every data set of the same shape.

    Parameters
    ----------
    model : callable
        NumPyro model taking one pytree argument (``bayescale.build.ModelData``).
    prototype : pytree
        Example data fixing shapes and static fields; used to find initial values (prior medians).
    num_warmup, num_samples, num_chains : int
    target_accept_prob : float
    max_tree_depth : int
    dense_mass : bool
    seed : int
        Seed of the initial values (the per-run key is given to :meth:`run`).

    Notes
    -----
    Must be constructed and run with float64 enabled when the model expects it (``with jax.enable_x64(True)``).
    Chains run over host devices with ``pmap`` when there are enough of them, else vectorized with ``vmap``.
    """

    def __init__(self, model: Callable, prototype: Any, *, num_warmup: int, num_samples: int, num_chains: int = 2,
                 target_accept_prob: float = 0.9, max_tree_depth: int = 10, dense_mass: bool = True, seed: int = 0):
        from numpyro.infer import init_to_median
        from numpyro.infer.hmc import hmc
        from numpyro.infer.util import initialize_model

        keys = jax.random.split(jax.random.PRNGKey(seed), num_chains)
        info = initialize_model(keys, model, init_strategy=init_to_median(num_samples=15), dynamic_args=True,
                                model_args=(prototype,))
        self.init_params = info.param_info.z
        self._potential_gen = info.potential_fn
        self._postprocess_gen = info.postprocess_fn
        init_kernel, sample_kernel = hmc(potential_fn_gen=info.potential_fn, algo="NUTS")
        self.num_warmup, self.num_samples, self.num_chains = num_warmup, num_samples, num_chains
        #: How many times the sampler has been traced (and so compiled); stays 1 while data shapes do not change.
        self.traces = 0

        def chain(key, z0, data):
            self.traces += 1  # Python side effect: runs only when JAX traces
            state = init_kernel(z0, num_warmup, dense_mass=dense_mass, target_accept_prob=target_accept_prob,
                                max_tree_depth=max_tree_depth, model_args=(data,), rng_key=key)

            def step(s, _):
                s = sample_kernel(s, model_args=(data,))
                return s, (s.z, s.diverging, s.num_steps)

            _, (zs, div, steps) = jax.lax.scan(step, state, None, length=num_warmup + num_samples)
            zs = jax.tree.map(lambda v: v[num_warmup:], zs)
            values = jax.vmap(self._postprocess_gen(data))(zs)
            return values, div[num_warmup:], steps[num_warmup:]

        if chain_method(num_chains) == "parallel":
            self._run = jax.pmap(chain, in_axes=(0, 0, None))
        else:
            self._run = jax.jit(jax.vmap(chain, in_axes=(0, 0, None)))

    def run(self, key, data) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Sample the posterior of ``model(data)``.

        Returns
        -------
        samples : dict of str to numpy.ndarray
            Constrained latent and deterministic sites, shape ``(num_chains, num_samples, ...)``.
        stats : dict
            ``diverging`` and ``num_steps`` per draw, shape ``(num_chains, num_samples)``.
        """
        keys = jax.random.split(key, self.num_chains)
        values, div, steps = self._run(keys, self.init_params, data)
        samples = {k: np.asarray(v) for k, v in values.items()}
        return samples, {"diverging": np.asarray(div), "num_steps": np.asarray(steps)}

