"""NUTS compiled once per model structure and reused for every data set of the same (bucketed) shape.

``numpyro.infer.MCMC`` retraces and recompiles its sampler on every ``run`` (15-20 s on CPU for the Chinchilla
law), which dominates repeat fits and loops over many data sets. A :class:`NUTSProgram` builds the same NUTS chain
from NumPyro's functional API (``initialize_model`` + ``hmc(..., algo="NUTS")``) as one ``jax.jit`` program whose
data are arguments:

* **Jobs.** The program runs ``J`` independent *jobs* (one job = one chain on one data set). A single fit of ``C``
  chains is ``C`` jobs on the same data; ``bs.fit_many`` of ``K`` fits is ``K x C`` jobs. Initialisation (prior
  medians), warm-up (step size and mass-matrix adaptation), sampling and the pointwise log-likelihood all run
  inside the program, so a new data set of the same shape compiles nothing.
* **Devices.** On CPU (:func:`threaded`) each job is a call of one single-device, one-job program, and as many
  threads as there are host devices take job after job (a CPU device runs a program in the thread that calls it,
  so the jobs run in parallel); the program's shape does not depend on the number of jobs, so one compilation
  serves a fit of 4 chains and a call of 32 fits alike. bayescale asks XLA for host devices before JAX starts
  (:mod:`bayescale._devices`), which sets how many. On accelerators the jobs are split into as many equal shares
  as there are devices, in one program (``jax.shard_map``, mesh axis ``"jobs"``); a GPU vectorises its jobs with
  ``vmap``. Each job or share runs its own NUTS loop (no synchronisation between them per step).
* **Shapes.** Callers pad the runs axis to :func:`bucket` sizes (at most 25% padding, with a mask on the
  likelihood), so nearby data sizes share one compiled program.
* **Cache.** :func:`program` keeps compiled programs per (model, settings) for the life of the process; JAX's
  persistent compilation cache (:func:`enable_persistent_cache`, on by default in the user cache dir) keeps the
  compiled XLA code across processes, and the traced programs beside it, up to :func:`cache_max_bytes` in all
  (least recently used first out; :func:`cache_info`, :func:`clear_cache`).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import importlib.util
import itertools
import math
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["default_warmup_tree_depth", "default_batching", "threaded", "own_dispatch", "init_near_mean",
           "NUTSProgram", "Pending", "NUTSSettings", "program", "reused", "light_jit", "bucket",
           "enable_persistent_cache", "cache_dir", "cache_max_bytes", "cache_info", "clear_cache", "CompiledNUTS",
           "job_keys", "DEFAULT_MASS_SHRINKAGE", "ChEESSettings", "ChEESProgram", "laplace"]

#: Sample statistics recorded per draw (NumPyro's names).
STATS = ("diverging", "num_steps", "energy", "accept_prob", "step_size", "potential_energy")

#: The variance NumPyro (after Stan) shrinks each windowed mass-matrix estimate toward, with weight ``5 / (n + 5)``
#: for a window of ``n`` draws, in whatever space NUTS samples.
NUMPYRO_SHRINKAGE = 1e-3

#: Default :attr:`NUTSSettings.mass_shrinkage`: NumPyro's own (1e-4 halves the gradients of flat fits on many runs,
#: but failed a two-stage chain fit's R-hat; docs/speed.md, "Mass-matrix shrinkage"; 1e-5 over the 23 laws' default
#: ladders on 2026-12-06: 0.90x the gradients, 46 of 368 fits failing a check against 43).
DEFAULT_MASS_SHRINKAGE = 1e-3


def default_warmup_tree_depth(max_tree_depth: int) -> int:
    """Return the default tree-depth cap of NUTS's warm-up: 7, or ``max_tree_depth - 3`` when that is deeper.

    Never above ``max_tree_depth``. Early in warm-up, before the step size and mass matrix fit the posterior,
    NUTS builds its deepest trees: with depth 10 throughout, the warm-up of these laws took three quarters of a
    fit's gradients, while their draws need depth 3-5. Capping it at 7 cut the warm-up's gradients of problems A
    and B of ``benchmarks/speed.py`` by about 40% and their sampler's run by 24-33%, with the same R-hat and ESS.
    The cap must not fall below the depth the draws need: on a posterior whose draws average depth 7.5 (the
    critical-batch case study's model, fitted with ``max_tree_depth=10``, four seeds), a cap of 6 left 3 of 4
    fits failing a check (1 of 4 uncapped), two of them needing more gradients in all, not fewer; a cap of 7
    left 1 of 4. A fit that raises ``max_tree_depth`` for a hard posterior raises the cap with it
    (docs/speed.md, "Warm-up trees").
    """
    return min(max_tree_depth, max(7, max_tree_depth - 3))


@dataclass(frozen=True)
class NUTSSettings:
    """Settings of a compiled NUTS program: a change means a new program, but for ``target_accept_prob``.

    ``target_accept_prob`` is an input of the program, not a constant compiled into it (:attr:`compiled`), so that
    a refit at a higher target (``bs.fit``'s fallback) runs the program already compiled for the first fit.

    ``warmup_tree_depth`` caps NUTS's tree depth during warm-up only (NumPyro's ``max_tree_depth=(warm-up,
    sampling)``); ``None`` is :func:`default_warmup_tree_depth` of ``max_tree_depth``, and ``max_tree_depth``
    itself turns the cap off.

    ``mass_shrinkage`` is the variance, in NumPyro's unconstrained space, that each windowed estimate of the mass
    matrix is shrunk toward (Stan's regularisation, weight ``5 / (n + 5)`` for ``n`` draws). NumPyro fixes it at
    1e-3, which assumes unit posterior scales; a scaling law fitted to a few hundred runs has posterior variances
    down to about 1e-6, and shrinking those toward 1e-3 left the adapted step size several times too small. NUTS
    samples ``z / c`` with ``c = sqrt(mass_shrinkage / 1e-3)`` (:attr:`space_scale`), where NumPyro's 1e-3 is
    ``mass_shrinkage`` in ``z``. The posterior is the same; only the warm-up's estimates change. The default is
    NumPyro's 1e-3: 1e-4 needs half the gradients on flat fits to many runs but mixed worse on fits with many
    group-level parameters or curved tails.

    ``warm_start`` runs each chain in the Laplace approximation's whitened coordinates (as ChEES does): the chain
    first searches for the posterior mode (:func:`laplace`'s search, :data:`WARM_START_NEWTON_STEPS` steps), then
    NUTS samples ``y`` with ``x = mode + L y`` (``L L'`` the approximation's covariance, ``x`` the flat vector of
    ``z / c``), starting ``WARM_START_SCALE`` standard deviations from the mode. There the posterior is close to a
    standard normal, so the warm-up's shrinkage toward a variance of 1e-3 is small beside every direction's own
    variance: on the loss-to-loss case study's second stage (42 pairs, each pair's ``K`` and ``kappa`` known to a
    few thousandths) the draws took 18 leapfrog steps each against 256 (``benchmarks/loss_to_loss.py``). The
    affine map has a constant Jacobian, so the posterior is the same. From the prior mean with a unit metric,
    NumPyro's first
    150 warm-up iterations on a fit of problem C (``benchmarks/speed.py``, 30 runs) took 71-108 leapfrog steps each
    against 10-14 in the draws, about half the warm-up's gradients. A chain whose search ends short of a mode
    (squared Newton decrement over :data:`WARM_START_MAX_DECREMENT`) samples ``x`` itself from its usual start, and
    the run's ``warm_started`` says which chains did not. It adds the search to the
    compiled program (about a second of XLA's compile), so it pays where a program is reused (``fit_many``,
    repeat fits, the persistent cache), not in a cold process's one fit. Off by default.
    """

    num_warmup: int
    num_samples: int
    target_accept_prob: float = 0.8
    max_tree_depth: int = 10
    dense_mass: bool = True
    init_radius: float = 0.5
    warmup_tree_depth: int | None = None
    mass_shrinkage: float = DEFAULT_MASS_SHRINKAGE
    warm_start: bool = False

    def __post_init__(self):
        value = self.mass_shrinkage
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not (
                math.isfinite(value) and value > 0):
            raise ValueError(f"mass_shrinkage={self.mass_shrinkage!r} must be a positive number (default "
                             f"{DEFAULT_MASS_SHRINKAGE:g}; 1e-4 is faster on fits without groups to many runs)")

    @property
    def compiled(self) -> NUTSSettings:
        """Settings the compiled program depends on: ``target_accept_prob`` set to a fixed value.

        The program takes the target with the data, so settings that differ only in it share one program.
        """
        return dataclasses.replace(self, target_accept_prob=0.8)

    @property
    def space_scale(self) -> float:
        """``c``: NUTS samples ``z / c``, where ``z`` is NumPyro's unconstrained space (see ``mass_shrinkage``)."""
        return math.sqrt(self.mass_shrinkage / NUMPYRO_SHRINKAGE)

    @property
    def tree_depths(self) -> tuple[int, int]:
        """NumPyro's ``(warm-up, sampling)`` maximum tree depths."""
        warm = self.warmup_tree_depth
        warm = default_warmup_tree_depth(self.max_tree_depth) if warm is None else min(warm, self.max_tree_depth)
        return warm, self.max_tree_depth


#: With ``NUTSSettings.warm_start``: how far each chain starts from the posterior mode, in standard deviations of
#: the Laplace approximation there (over 1, as ChEES's ``init_scale``, so that R-hat can still see chains that
#: have not met).
WARM_START_SCALE = 1.5
#: With ``NUTSSettings.warm_start``: iterations of the search for the mode. ChEES's 30 left one of two chains of the
#: loss-to-loss case study's smoke fit (stage 2, 12 pairs) short of the mode (a squared Newton
#: decrement of 28); with 100 both reached it (decrement under 1e-12). A step costs one Hessian, ``2 d`` gradients.
WARM_START_NEWTON_STEPS = 100
#: With ``NUTSSettings.warm_start``: the largest squared Newton decrement (``g' |H|^-1 g``) at the end of a chain's
#: search for which it starts from the Laplace approximation; a chain whose search ends farther from a mode starts
#: as it would without the warm start. 1 puts the mode the search promises within about one of the
#: approximation's standard deviations (a fall of the potential of about 0.5).
WARM_START_MAX_DECREMENT = 1.0


def init_near_mean(site=None, radius: float = 0.5):
    """Initialise at the prior mean, jittered by ``Uniform(-radius, radius)`` on the unconstrained scale.

    A NumPyro init strategy: the mean (the median where no mean exists) keeps chains in the bulk, the jitter starts
    them apart.

    Cheaper to compile than ``init_to_median``, which samples every prior (Gamma and Beta samplers are rejection
    loops), and as robust for these laws, whose priors are centred on published values.
    """
    import numpyro.distributions as dist
    from numpyro.distributions.transforms import biject_to
    from numpyro.infer import init_to_mean

    if site is None:
        return partial(init_near_mean, radius=radius)
    if site["type"] != "sample" or site["is_observed"] or site["fn"].support.is_discrete:
        return None
    value = init_to_mean(site)
    if value is not None and not isinstance(value, jax.core.Tracer) and not np.all(np.isfinite(value)):
        value = _median(site["fn"], value)  # HalfCauchy, InverseGamma(a <= 1): no finite mean, start at the median
    key = site["kwargs"].get("rng_key")
    if key is None or not radius:
        return value
    transform = biject_to(site["fn"].support)
    u = transform.inv(value)
    return transform(u + dist.Uniform(-radius, radius).sample(key, jnp.shape(u)))


def _median(prior, mean):
    """Return ``mean`` where finite, else the prior's median: by its inverse CDF, or from 1001 fixed draws."""
    try:
        median = prior.icdf(0.5)
    except Exception:  # noqa: BLE001 - no inverse CDF (NotImplementedError, or an optional dependency missing)
        median = jnp.median(prior.sample(jax.random.PRNGKey(0), (1001,)), axis=0)
    return jnp.where(jnp.isfinite(mean), mean, median)


class NUTSProgram:
    """NUTS for ``model(data)`` over a batch of jobs, compiled once per data shape and number of devices.

    Parameters
    ----------
    model : callable
        NumPyro model taking one pytree argument.
    settings : NUTSSettings
    loglik_site : str or tuple of str, optional
        Observed site whose pointwise log-likelihood is returned for every draw (``log_likelihood``); for a tuple,
        each site's as ``log_likelihood:<site>``.
    batching : {"auto", "map", "vmap"}
        How the jobs of one device run: ``"vmap"`` vectorises them (one NUTS loop for all, each step as long as the
        longest trajectory), ``"map"`` runs them one after another inside the compiled program. ``"auto"``:
        :func:`default_batching`.
    store_key : str, optional
        A name of the model across processes (a digest of the law's spec and the model configuration): with it the
        traced program is stored on disk and later processes load it without tracing (:func:`program`).

    Attributes
    ----------
    traces : int
        How many times the program has been traced (and so compiled or fetched from the persistent cache); stays
        at 1 while the data shapes and the number of jobs do not change.
    last_run_seconds : float or None
        Wall seconds of the last :meth:`run` spent running the compiled program (initialisation, warm-up,
        sampling and log-likelihood of every job), not tracing or compiling it.
    """

    def __init__(self, model: Callable, settings: NUTSSettings, loglik_site: str | None = None,
                 batching: str = "auto", store_key: str | None = None):
        if batching not in ("auto", "map", "vmap"):
            raise ValueError(f"batching={batching!r} is not one of ('auto', 'map', 'vmap')")
        self.model, self.settings, self.loglik_site = model, settings, loglik_site
        self.batching = default_batching() if batching == "auto" else batching
        self.store_key = store_key
        self.traces = 0
        self.last_run_seconds: float | None = None
        self._compiled: dict[Hashable, Callable] = {}

    # ------------------------------------------------------------------ one job
    def _job(self, key, data):
        from numpyro.infer.hmc import hmc
        from numpyro.infer.util import initialize_model

        s = self.settings
        data, target = data  # the target acceptance rate is an input of the program (NUTSSettings.compiled)
        init_key, run_key = jax.random.split(key)
        # validate_grad=False: initial values are checked on the potential alone (init_kernel computes the gradient
        # once), which keeps two copies of the gradient out of the compiled program (1.3 s -> 0.4 s of XLA compile)
        info = initialize_model(init_key, self.model, init_strategy=partial(init_near_mean, radius=s.init_radius),
                                model_args=(data,), validate_grad=False)
        scale, potential, z0 = s.space_scale, info.potential_fn, info.param_info.z
        if scale != 1.0:  # NUTS runs on u = z / scale (NUTSSettings.mass_shrinkage)
            def potential(u):
                return info.potential_fn(jax.tree.map(lambda v: v * scale, u))

            z0 = jax.tree.map(lambda v: v / scale, z0)
        unravel = None
        if s.warm_start:  # NUTS then runs on the flat vector of z / scale, as the search does
            from jax.flatten_util import ravel_pytree

            z0, unravel = ravel_pytree(z0)
            potential = jax.jit(lambda x, f=potential: f(unravel(x)))  # traced once for the search and NUTS
            mode, root, ok, decrement = _laplace_search(potential, z0, WARM_START_NEWTON_STEPS)
            warm = ok & (decrement <= WARM_START_MAX_DECREMENT)  # else the default start, as without warm_start
            start_key, run_key = jax.random.split(run_key)
            # NUTS samples y with x = mode + root @ y, where the posterior is close to a standard normal, so that
            # the warm-up's windowed mass-matrix estimates are shrunk toward a variance (1e-3) small beside the
            # posterior's own in every direction; a chain whose search stalled samples x itself (y = x)
            shift = jnp.where(warm, mode, jnp.zeros_like(mode))
            lin = jnp.where(warm, root, jnp.eye(z0.shape[0], dtype=z0.dtype))
            potential = jax.jit(lambda y, f=potential: f(shift + lin @ y))
            start = WARM_START_SCALE * jax.random.normal(start_key, z0.shape, dtype=z0.dtype)
            start = jnp.where(jnp.isfinite(potential(start)), start, jnp.zeros_like(start))  # the mode if off a cliff
            z0 = jnp.where(warm, start, z0)
        init_kernel, sample_kernel = hmc(potential_fn=potential, algo="NUTS")
        state = init_kernel(z0, s.num_warmup, dense_mass=s.dense_mass, target_accept_prob=target,
                            max_tree_depth=s.tree_depths, rng_key=run_key)

        def step(st, _):
            st = sample_kernel(st)
            return st, (st.z, st.diverging, st.num_steps, st.energy, st.accept_prob, st.adapt_state.step_size,
                        st.potential_energy)

        _, out = jax.lax.scan(step, state, None, length=s.num_warmup + s.num_samples)
        warmup_steps = jnp.sum(out[2][:s.num_warmup])
        out = jax.tree.map(lambda v: v[s.num_warmup:], out)
        zs = out[0] if unravel is None else jax.vmap(unravel)(shift + out[0] @ lin.T)  # y back to x, as ChEES does
        zs, stats = jax.tree.map(lambda v: v * scale, zs), dict(zip(STATS, out[1:], strict=True))
        stats["warmup_steps"] = warmup_steps
        if s.warm_start:
            stats["warm_started"] = warm
        return self._values(info.postprocess_fn, zs, data, stats)

    def _values(self, postprocess_fn, zs, data, stats):
        """One chain's constrained draws (and pointwise log-likelihood, into ``stats``) from its unconstrained ones."""
        from numpyro.infer.util import log_likelihood

        values = jax.vmap(postprocess_fn)(zs)
        if self.loglik_site is not None:
            ll = log_likelihood(self.model, values, data, parallel=True)
            if isinstance(self.loglik_site, str):
                stats["log_likelihood"] = ll[self.loglik_site]
            else:  # several observed sites (the stages of a chain): one entry each
                for site in self.loglik_site:
                    stats[f"log_likelihood:{site}"] = ll[site]
        return values, stats

    @staticmethod
    def _mesh(n_dev: int):
        from jax.sharding import Mesh

        return Mesh(np.asarray(jax.local_devices()[:n_dev]), ("jobs",))

    def _body(self, keys, data):
        """Run the jobs of one device (or one thread): ``keys`` and every leaf of ``data`` have a leading job axis."""
        self.traces += 1  # Python side effect: runs only when JAX traces
        if keys.shape[0] == 1:  # one job per device: no vmap, so NUTS keeps real branches (cheaper to trace,
            # compile and run than vmap's selects)
            out = self._job(keys[0], jax.tree.map(lambda v: v[0], data))
            return jax.tree.map(lambda v: v[None], out)
        if self.batching == "map":
            return jax.lax.map(lambda kd: self._job(*kd), (keys, data))
        return jax.vmap(self._job)(keys, data)

    def _build(self, n_dev: int) -> Callable:
        from jax.sharding import PartitionSpec

        spec = PartitionSpec("jobs")
        return jax.jit(jax.shard_map(self._body, mesh=self._mesh(n_dev), in_specs=(spec, spec), out_specs=spec,
                                     check_vma=False))

    def run(self, keys, data, while_compiling: Callable[[], None] | None = None
            ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Run one chain per job.

        Parameters
        ----------
        keys : array_like
            PRNG keys, shape ``(J, 2)``, ``uint32``: one per job (:func:`job_keys`).
        data : pytree
            The model's argument with a leading job axis of length ``J`` on every array leaf.
        while_compiling : callable, optional
            Called once the program is traced and lowered, just before XLA compiles it (or loads it from the
            persistent cache), when this shape is new; XLA releases the GIL, so Python work started here (in a
            thread) overlaps the compilation.

        Returns
        -------
        samples : dict of str to numpy.ndarray
            Constrained latent and deterministic sites, shape ``(J, num_samples, ...)``.
        stats : dict of str to numpy.ndarray
            :data:`STATS` (and ``log_likelihood``, ``(J, num_samples, runs)``) per draw; ``warmup_steps``, the
            leapfrog steps (gradient evaluations) of each job's warm-up, shape ``(J,)``; with
            ``NUTSSettings.warm_start``, ``warm_started``, whether each job started from the Laplace approximation,
            shape ``(J,)``.
        """
        pending = self.launch(keys, data, while_compiling)
        out = pending.result()
        self.last_run_seconds = pending.seconds
        return out

    def launch(self, keys, data, while_compiling: Callable[[], None] | None = None) -> Pending:
        """Start :meth:`run` on the devices and return at once, with the results to collect from a :class:`Pending`.

        Tracing and compiling (for a new shape) happen here, before it returns; the sampling runs while the
        caller does other work, such as building the fits of an earlier call (``bs.fit_many`` does this).

        Parameters
        ----------
        keys, data, while_compiling
            As in :meth:`run`.

        Returns
        -------
        Pending
            Its :meth:`Pending.result` waits for the devices and returns what :meth:`run` returns;
            :attr:`Pending.seconds` is then the run's own wall time.
        """
        keys = np.asarray(keys, dtype=np.uint32)
        num_jobs = int(keys.shape[0])
        if isinstance(self.settings, NUTSSettings):  # one target per job, in the data's precision
            dtype = np.float64 if jax.config.read("jax_enable_x64") else np.float32
            data = (data, np.full(num_jobs, self.settings.target_accept_prob, dtype=dtype))
        n_dev = min(jax.local_device_count(), num_jobs)
        threads = n_dev if threaded() else 0
        pad = 0 if threads else -num_jobs % n_dev
        if pad:  # repeat the first jobs so that every device gets the same number
            keys = np.concatenate([keys, keys[:pad]])
            data = jax.tree.map(lambda v: np.concatenate([v, v[:pad]]), data)
        leaves, treedef = jax.tree.flatten(data)
        leaves = [np.asarray(v) for v in leaves]
        if threads:  # one program for one job, whatever the number of jobs: the threads take job after job
            signature = ("job", treedef, keys.shape[1:], tuple((v.shape[1:], v.dtype.str) for v in leaves))
        else:
            signature = (n_dev, treedef, keys.shape, tuple((v.shape, v.dtype.str) for v in leaves))
        fn = self._compiled.get(signature)
        if fn is None:
            share = [a[:1] for a in (keys, *leaves)] if threads else [keys, *leaves]
            lowered = self._callable(1 if threads else n_dev, 1 if threads else 0, treedef, share[0],
                                     share[1:]).lower(*share)
            if while_compiling is not None:
                while_compiling()
            # compiled here, so that the timing starts with the run alone
            fn = self._compiled[signature] = lowered.compile()
        if threads:
            return Pending(partial(_ThreadedRun, fn, threads), (keys, *leaves), num_jobs)
        return Pending(fn, (keys, *leaves), num_jobs)

    def _callable(self, n_dev: int, threads: int, treedef, keys: np.ndarray, leaves: list[np.ndarray]) -> Callable:
        """Return the program for one signature of arguments (not yet compiled): from the program store, else traced.

        ``threads``: 0 for one program sharded over ``n_dev`` devices; else 1, for the single-device program of one
        job that threads call (``n_dev`` 1 and ``keys`` and ``leaves`` that one job's).

        With a ``store_key`` and the persistent cache on, the traced program is exported (:mod:`jax.export`,
        StableHLO) to ``<cache>/programs/`` under a digest of everything it depends on, and run from there; a new
        process loads it instead of tracing and lowering the model again, and XLA's compiled code comes from JAX's
        persistent cache.
        """
        from jax.sharding import NamedSharding, PartitionSpec

        run, mesh = (self._body, None) if threads else (self._build(n_dev), self._mesh(n_dev))

        def flat(keys, *leaves):
            return run(keys, jax.tree.unflatten(treedef, leaves))

        if threads:
            traced = jax.jit(flat)
        else:
            jobs = NamedSharding(mesh, PartitionSpec("jobs"))
            traced = jax.jit(flat, in_shardings=jobs, out_shardings=jobs)
        path = self._store_path(n_dev, threads, treedef, keys, leaves)
        if path is None:
            return traced
        from jax import export

        def run_exported(exported):
            if mesh is None:
                return jax.jit(exported.call)
            return jax.jit(exported.call, in_shardings=exported.in_shardings_jax(mesh),
                           out_shardings=jax.tree.unflatten(exported.out_tree, exported.out_shardings_jax(mesh)))

        if path.exists():
            try:
                loaded = run_exported(export.deserialize(bytearray(path.read_bytes())))
            except Exception:  # noqa: BLE001 - unreadable entry (partial copy, other JAX): trace it again below
                pass
            else:
                with contextlib.suppress(OSError):  # its last use, which _prune_programs keeps the latest of
                    os.utime(path)
                return loaded
        specs = [jax.ShapeDtypeStruct(v.shape, v.dtype) for v in [keys, *leaves]]
        try:
            from bayescale.law import _no_locations

            with _no_locations():
                exported = export.export(traced)(*specs)
            _atomic_write(path, exported.serialize())
            _prune_programs(path.parent, _limits()[1])
        except Exception:  # noqa: BLE001 - a program JAX cannot export still runs, traced in this process
            return traced
        return run_exported(exported)

    def _store_path(self, n_dev, threads, treedef, keys, leaves):
        cache = enable_persistent_cache()
        if self.store_key is None or cache is None or _gspmd():
            return None
        settings = self.settings.compiled if isinstance(self.settings, NUTSSettings) else self.settings
        parts = [self.store_key, repr(settings), self.loglik_site, self.batching, n_dev, threads,
                 jax.default_backend(),
                 bool(jax.config.read("jax_enable_x64")), str(treedef), keys.shape,
                 [(v.shape, v.dtype.str) for v in leaves], _code_version()]
        digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
        return _programs_dir(cache) / f"{digest}.jaxexport"


@dataclass(frozen=True)
class ChEESSettings:
    """Static settings of a compiled :class:`ChEESProgram` (a change means a new program).

    Attributes
    ----------
    num_warmup, num_samples : int
        Warm-up iterations and draws of each chain.
    num_chains : int
        Chains of each fit, which move together.
    target_accept_prob : float
        Mean acceptance rate (over a fit's chains) the step size is tuned to.
    newton_steps : int
        Iterations of the search for the posterior mode that sets the metric (:func:`laplace`).
    init_scale : float
        How far the chains start from the mode, in standard deviations of the Laplace approximation (over 1, so
        that R-hat can still see chains that have not met).
    learning_rate : float
        Adam's rate for the trajectory length (BlackJAX's ChEES adaptation).
    max_leapfrog_steps : int
        Most leapfrog steps of one trajectory (BlackJAX caps the adapted trajectory length at this many steps, so the
        draws' jittered trajectories are at most this long too). 100, not BlackJAX's 1000: fits that ChEES samples well
        take a few steps (problem G's 1,000 small fits: 2-4.5 on average for all but 4; its fit of 64 groups: 4.9, at
        most 9; a 17-parameter learning-rate landscape 34, at most 67), while a fit whose posterior the Laplace metric
        misses drives its trajectories to the cap and fails its checks either way (those 4 fits: 500 steps on average
        under a cap of 1000, R-hat 1.27-3.33), then is refitted with NUTS (``fallback=True``), which passes them. Under
        a cap of 1000 those 4 fits took about 40% of the 1,000 fits' sampler time on a CPU, and where fits are
        vectorised (accelerators) each one made its whole batch take its steps: on fits 580-879, vectorised on 2 CPU
        cores, the sampler took 115 s under a cap of 1000 against 30 s under 100 (2026-12-03;
        ``benchmarks/HISTORY.md``).
    """

    num_warmup: int
    num_samples: int
    num_chains: int = 8
    target_accept_prob: float = 0.9
    newton_steps: int = 30
    init_scale: float = 1.5
    learning_rate: float = 0.025
    max_leapfrog_steps: int = 100


def _grad_and_hessian(potential: Callable) -> Callable:
    """Return ``x -> (g, H)``: the gradient of ``potential`` and its Hessian by differences of it, at ``x``.

    The Hessian is central differences of the gradient, symmetrised; both come from one vectorised gradient call at
    ``2 d + 1`` points.

    Coordinate ``i`` steps by ``h_i = eps^(1/3) max(1, |x_i|)`` (``eps`` of ``x``'s dtype), the step that balances
    the differences' truncation error (``h^2``) against rounding (``eps / h``). Exact but for rounding where the
    potential is quadratic; where the posterior's scale along a coordinate is near ``h_i`` or below (a standard
    deviation of about 6e-6 in float64), the curvature is averaged over that span. Only the metric is then rougher:
    HMC's draws are exact under any metric, and the checks judge how well it sampled. The gradient at ``x`` rides
    in the same call, so the program holds one copy of the gradient here rather than two: XLA
    compiled problem C's ChEES program in 5.9 s against 6.6 s (medians of 21 compiles each in 7 interleaved pairs
    of processes, 4.3-7.8 s against 5.4-8.8 s; 2026-12-04), with the same gradient count.
    """
    grad = jax.vmap(jax.grad(potential))

    def grad_and_hessian(x):
        h = jnp.finfo(x.dtype).eps ** (1 / 3) * jnp.maximum(1.0, jnp.abs(x))
        step = jnp.diag(h)
        g = grad(jnp.concatenate([x[None], x + step, x - step]))
        dim = x.shape[0]
        hess = (g[1:dim + 1] - g[dim + 1:]) / (2 * h[:, None])
        return g[0], 0.5 * (hess + hess.T)

    return grad_and_hessian


#: Step lengths each Newton step of :func:`laplace` tries (1, 1/2, ... 2^-(n-1) of the step). Twelve (down to
#: 1/2048) left one of the four chains of the loss-to-loss case study's second stage (139 parameters) stalled at
#: its start for every one of 300 steps, where the Newton step along the Hessian's floored eigenvalues overshot
#: more than 2048-fold (squared Newton decrement 3.6e5); the stage then fell back to NUTS without the warm start
#: and took 1016 s failing its checks, against 90 s passing them. With 24 that chain reached the mode the others
#: did (decrement 1e-16; 2026-12-07, an AMD EPYC). Each length costs one potential, beside the step's Hessian
#: (``2 d`` gradients).
SEARCH_LENGTHS = 24


def laplace(potential: Callable, x0, steps: int):
    """Return the mode of ``potential`` (a negative log density of a flat vector) and ``L`` (``L L^T`` = H^-1 there).

    Saddle-free Newton: each step follows ``-|H|^-1 g`` (eigenvalues of the Hessian taken in absolute value and
    floored at 1e-10 of the largest), with the best of :data:`SEARCH_LENGTHS` step lengths (1, 1/2, ..., 2^-23)
    evaluated together, kept only if it lowers the potential. A fixed number of steps, so that it vectorises; one
    more pass of the loop, its step masked off, gives the Hessian at the mode, so the program holds one copy of the
    Hessian, not two (XLA's compile of a ChEES fit of problem C: 5.1-5.9 s against 9.2 s). The Hessian is
    central differences of the gradient (:func:`_grad_and_hessian`: one vectorised gradient), not ``jax.hessian``
    (forward mode over the reverse-mode gradient, which differentiates every special function of the model a
    second time): on problem C's ChEES program XLA compiled in 6.7 s against 8.2 s (medians of 8 compiles each,
    5.3-7.7 against 6.7-9.0 s) and tracing took 1.9 against 2.3 s, with the same gradient count and checks
    (2026-12-04). Where the result is not finite, the start point and the identity are returned (the sampler then
    adapts without a metric, and its diagnostics say how that went).

    Parameters
    ----------
    potential : callable
        ``x -> float``, differentiable with JAX (its Hessian is differences of the gradient).
    x0 : jax.Array
        Start point, shape ``(d,)``.
    steps : int
        Newton steps.

    Returns
    -------
    mode : jax.Array
        Shape ``(d,)``.
    root : jax.Array
        Shape ``(d, d)``, with ``root @ root.T`` the inverse Hessian at ``mode``.
    """
    mode, root, _, _ = _laplace_search(potential, x0, steps)
    return mode, root


def _laplace_search(potential: Callable, x0, steps: int):
    """:func:`laplace`, also returning whether it succeeded and the squared Newton decrement where it ended.

    ``ok`` False: the search returned ``x0`` and the identity. The decrement, ``g' |H|^-1 g`` at the point returned
    (infinite where the search failed), is about twice the fall of the potential that one more Newton step would
    promise: at most 2e-13 in six chains of two ``data_constrained`` fits (simulated ladders) that reached the mode,
    3.4e4 and 4.0e5 in the other two chains of those fits, whose 30 steps stalled far from it (2026-12-05).
    """
    grad_and_hessian = _grad_and_hessian(potential)
    lengths = 2.0 ** -jnp.arange(SEARCH_LENGTHS)
    dim = x0.shape[0]

    def step(carry, i):
        x, u, _, _, _ = carry
        g, hess = grad_and_hessian(x)
        w, v = jnp.linalg.eigh(hess)
        w = jnp.abs(w)
        w = jnp.maximum(w, 1e-10 * jnp.max(w))
        newton = v @ ((v.T @ g) / w)
        cand = x - lengths[:, None] * newton
        us = jax.vmap(potential)(cand)
        us = jnp.where(jnp.isfinite(us) & (i < steps), us, jnp.inf)  # the last pass only reads the Hessian
        best = jnp.argmin(us)
        better = us[best] < u
        return (jnp.where(better, cand[best], x), jnp.where(better, us[best], u), v, w, g @ newton), None

    eye = jnp.eye(dim, dtype=x0.dtype)
    start = (x0, potential(x0), eye, jnp.ones(dim, dtype=x0.dtype), jnp.asarray(jnp.inf, x0.dtype))
    (mode, _, v, w, decrement), _ = jax.lax.scan(step, start, jnp.arange(steps + 1))
    root = v / jnp.sqrt(w)
    ok = jnp.all(jnp.isfinite(root)) & jnp.all(jnp.isfinite(mode))
    return jnp.where(ok, mode, x0), jnp.where(ok, root, eye), ok, jnp.where(ok, decrement, jnp.inf)


class ChEESProgram(NUTSProgram):
    """Lockstep HMC for ``model(data)``: a fit's chains move together, with one trajectory length per fit.

    Called as :class:`NUTSProgram` is, one job per chain (``settings.num_chains`` consecutive jobs per fit, with
    the same data), and returning the same per-chain arrays; inside, a compiled job is one fit with all its
    chains (:meth:`launch` regroups them). Per fit, inside the compiled program:

    1. **Metric.** The posterior mode by :func:`laplace` (saddle-free Newton from the prior mean) and the Laplace
       approximation's covariance there; the chains sample ``y`` with ``z = mode + L y``, in which the posterior
       is close to a standard normal when the approximation is good (one Hessian: a dense metric for free).
    2. **Warm-up.** BlackJAX's ChEES adaptation (Hoffman, Radul and Sountsov 2021): the step size by dual
       averaging on the chains' mean acceptance, the trajectory length by Adam on the ChEES criterion across the
       chains, starting from ``init_scale`` standard deviations around the mode.
    3. **Draws.** Jittered-length HMC (``blackjax.dynamic_hmc``) with the adapted parameters, the chains' gradients
       evaluated as one vectorised call per leapfrog step.

    No tree is built, so there is no tree depth; ``num_steps`` is the leapfrog steps of each transition. Suited to
    laws whose posterior the Laplace approximation roughly shapes (a few parameters, no funnel); ``bs.fit`` and
    ``bs.fit_many`` refit with NUTS a fit whose diagnostics fail (``fallback=True``).

    Parameters
    ----------
    model, loglik_site, store_key
        As in :class:`NUTSProgram`.
    settings : ChEESSettings
    batching : {"auto", "map", "vmap"}
        How the fits of one device (or one thread) run; ``"auto"`` is :func:`default_batching`, as for NUTS: one
        fit after another on a CPU, vectorised on accelerators. Vectorised fits share every loop, so each
        transition takes as many leapfrog steps as the batch's longest. Measured on 2 CPU cores: on problem C's
        100 easy fits (about 3 steps a transition) the sampler ran 1.09-1.86x faster vectorised (median 1.3x, 6
        interleaved runs), but on 300 fits of problem G (fits 580-879, three of which fail their checks with long
        trajectories) 2.9x slower (sampler 126 and 104 s against 44 and 36 s; wall 2.3x; two interleaved pairs,
        2026-12-03): a batch holding a hard fit pays its long trajectories for every fit in it.
    """

    def _job(self, key, data):
        import blackjax
        import optax
        from blackjax.adaptation.base import get_filter_adapt_info_fn
        from jax.flatten_util import ravel_pytree
        from numpyro.infer.util import initialize_model

        s = self.settings
        chains = key.shape[0]
        init_key, start_key, warm_key, draw_key = jax.random.split(key[0], 4)
        info = initialize_model(init_key, self.model, init_strategy=partial(init_near_mean, radius=0.0),
                                model_args=(data,), validate_grad=False)
        flat0, unravel = ravel_pytree(info.param_info.z)

        @jax.jit  # traced once: its uses (gradient, differences, line search, HMC) transform the one jaxpr
        def potential(x):  # rather than run the model's Python again (tracing 1.2 s against 1.8 s on problem C)
            return info.potential_fn(unravel(x))

        mode, root = laplace(potential, flat0, s.newton_steps)

        def logdensity(y):
            # z = mode + root @ y as a product and a sum: under the vmap over chains, `root @ y` is a (chains x d) by
            # (d x d) matrix product, which XLA's CPU backend hands to YNNPACK as a library call costing more than
            # the model's gradient (an HMC transition of 8 chains x 3 leapfrog steps on a fit of problem C: 49-62 us
            # with it, 27-30 us without). XLA compiles the sum's code, so a new program compiles a little slower; the
            # barrier keeps it from fusing the sum into each of its consumers, which compiled slower still
            # (2026-12-05; benchmarks/HISTORY.md).
            return -potential(jax.lax.optimization_barrier(mode + jnp.sum(root * y, axis=-1)))

        y0 = s.init_scale * jax.random.normal(start_key, (chains, flat0.shape[0]), dtype=flat0.dtype)
        warm = blackjax.chees_adaptation(logdensity, chains, target_acceptance_rate=s.target_accept_prob,
                                         max_leapfrog_steps=s.max_leapfrog_steps, mass_matrix_estimation="diagonal",
                                         adaptation_info_fn=get_filter_adapt_info_fn(
                                             info_keys={"num_integration_steps"}))
        (state, params), warm_info = warm.run(warm_key, y0, 0.5, optax.adam(s.learning_rate), s.num_warmup,
                                              max_sampling_steps=s.num_samples)
        kernel = blackjax.dynamic_hmc(logdensity, **params)

        def step(st, k):
            new, hmc = jax.vmap(kernel.step)(jax.random.split(k, chains), st)
            # the Hamiltonian once the momentum is drawn (what E-BFMI asks about)
            energy = -st.logdensity + 0.5 * jnp.sum(params["inverse_mass_matrix"] * jnp.square(hmc.momentum), axis=-1)
            return new, (new.position, hmc.is_divergent, hmc.num_integration_steps, energy, hmc.acceptance_rate,
                         jnp.broadcast_to(params["step_size"], (chains,)), -new.logdensity)

        _, out = jax.lax.scan(step, state, jax.random.split(draw_key, s.num_samples))
        out = jax.tree.map(lambda v: jnp.swapaxes(v, 0, 1), out)  # (chains, draws, ...)
        zs = mode + out[0] @ root.T
        stats = dict(zip(STATS, out[1:], strict=True))
        warm_steps = jnp.sum(warm_info.info.num_integration_steps) * (1 if warm_info.info.num_integration_steps.ndim > 1
                                                                      else chains)
        stats["warmup_steps"] = jnp.full((chains,), warm_steps // chains)
        return jax.vmap(lambda z, st: self._values(info.postprocess_fn, jax.vmap(unravel)(z), data, st))(zs, stats)

    def launch(self, keys, data, while_compiling: Callable[[], None] | None = None) -> _PerChain:
        """Start a run as :meth:`NUTSProgram.launch` does, one job (key and data) per chain.

        ``settings.num_chains`` consecutive jobs make one fit (with the same data); the results have one row per
        chain, as NUTS's do.
        """
        chains = self.settings.num_chains
        keys = np.asarray(keys, dtype=np.uint32)
        if keys.shape[0] % chains:
            raise ValueError(f"{keys.shape[0]} jobs are not whole fits of num_chains={chains} chains each")
        per_fit = jax.tree.map(lambda v: np.asarray(v)[::chains], data)
        return _PerChain(super().launch(keys.reshape(-1, chains, keys.shape[-1]), per_fit, while_compiling))


class _PerChain:
    """A :class:`ChEESProgram` run's :class:`Pending`, whose results come with one row per chain (as NUTS's do)."""

    def __init__(self, pending: Pending):
        self._pending = pending

    @property
    def seconds(self) -> float | None:
        return self._pending.seconds

    def result(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Wait for the run; arrays of shape ``(fits x chains, ...)`` from the program's ``(fits, chains, ...)``."""
        return tuple({k: v.reshape((-1, *v.shape[2:])) for k, v in out.items()} for out in self._pending.result())


def _gspmd() -> bool:
    """Whether the user turned JAX's Shardy partitioner off.

    Programs exported by ``jax.export`` (which lowers with Shardy) then fail to run, so they are traced in the
    process instead of stored.
    """
    return not getattr(jax.config, "jax_use_shardy_partitioner", True)


def _code_version() -> str:
    """Versions of JAX, jaxlib, NumPyro, BlackJAX, Optax and a digest of bayescale's source: in each program's key."""
    if not _CODE_VERSION:
        from importlib.metadata import PackageNotFoundError, version

        import jaxlib
        import numpyro

        import bayescale

        def installed(name):
            try:
                return version(name)
            except PackageNotFoundError:
                return "none"

        h = hashlib.sha256(f"{jax.__version__} {jaxlib.__version__} {numpyro.__version__} {installed('blackjax')} "
                           f"{installed('optax')}".encode())
        for root in sorted({Path(bayescale.__file__).parent, Path(_models_dir())}):
            for f in sorted(root.glob("*.py")):
                h.update(f.name.encode())
                h.update(f.read_bytes())
        _CODE_VERSION.append(h.hexdigest())
    return _CODE_VERSION[0]


_CODE_VERSION: list[str] = []


def _models_dir() -> str:
    import bayescale.models

    return os.path.dirname(bayescale.models.__file__)


def _atomic_write(path: Path, blob: bytes) -> None:
    """Write ``blob`` to ``path`` through a temporary file in the same folder, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes files private; give them the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def job_keys(seed: int, index: int, num: int) -> np.ndarray:
    """``num`` PRNG keys (``uint32``, shape ``(num, 2)``) for the chains of fit ``index`` of a call seeded ``seed``.

    Drawn with NumPy's ``SeedSequence``, so making keys compiles nothing.
    """
    return np.random.SeedSequence([int(seed) % 2**63, int(index)]).generate_state(2 * num, np.uint32).reshape(num, 2)


def threaded() -> bool:
    """Whether a run's jobs go to threads that each call one single-device program (on CPU).

    Otherwise (accelerators) they go to one program sharded over the devices with ``jax.shard_map``. A CPU device
    runs a program in the thread that calls it, so several threads calling one compiled program (each its own copy,
    :func:`own_dispatch`) run in parallel, as JAX's host devices do. Measured on 2 cores (2026-12-01, problem A,
    three interleaved pairs of cold processes): XLA compiled the single-device program of one chain in 4.3, 5.3 and
    5.8 s against 5.0, 6.5 and 6.5 s for the program sharded over four host devices (no partitioning passes), and
    in repeat fits four threads ran the four chains in the time the four devices did (1.5-2.0 s against 1.8-1.9 s).

    Returns
    -------
    bool
        True when JAX's default backend is the CPU.
    """
    return jax.default_backend() == "cpu"


def own_dispatch(fn: Callable) -> Callable:
    """Return a compiled program that shares ``fn``'s executable but not its dispatch cache.

    JAX's first call of a compiled program fills the program's C++ dispatch cache, and it runs the program while
    doing so: a second thread calling the same program meanwhile waits on that cache entry until the first call has
    *finished*. So on a CPU every fit of a new shape (or loaded from the persistent cache) sampled one share of its
    chains alone before the others: measured on 2 cores (2026-12-05), two threads' first calls of a 0.65 s program
    took 1.26-1.35 s, their second calls 0.64-0.66 s; a short 2-chain fit of the hyperparameters case study used
    103% of a core, and its sampler took 57 s against 29 s for one chain alone; problem A's cold fit (four chains in
    four threads) sampled in 1.03 s against 0.85 s for a repeat fit. Each thread calling its own copy (a few
    microseconds; nothing is compiled again) fills its own cache: two first calls took 0.65 s, and A's cold fit
    sampled in 0.83-0.85 s.

    Parameters
    ----------
    fn : callable
        Usually a :class:`jax.stages.Compiled`; anything else is returned as it is.

    Returns
    -------
    callable
        A copy of ``fn`` with an empty dispatch cache, or ``fn``.
    """
    if not isinstance(fn, jax.stages.Compiled) or not hasattr(fn, "_call"):  # JAX moved it: calls still work
        return fn
    clone = copy.copy(fn)
    clone._call = None
    return clone


class _ThreadedRun:
    """The jobs of one run, each a call of a one-job program, taken one after another by ``threads`` threads.

    The threads start at once, each with its own copy of the program (:func:`own_dispatch`), so that they run at
    once even on the program's first call. A thread that finishes a job takes the next one not yet taken, so no
    thread waits while another still has a queue of jobs (a NUTS chain's cost varies with its trees), and no job is
    repeated to give the threads equal shares. :meth:`join` waits for them and returns the outputs in job order.
    """

    def __init__(self, fn: Callable, threads: int, *args: np.ndarray):
        num_jobs = args[0].shape[0]
        x64 = bool(jax.config.read("jax_enable_x64"))  # thread-local under jax.enable_x64: pass it on
        fns = [own_dispatch(fn) for _ in range(threads)]
        taken = itertools.count()  # next() is atomic in CPython: each job is taken by one thread
        outs: list[Any] = [None] * num_jobs
        failed = threading.Event()  # a job that raises stops the other threads taking more

        def work(i: int):
            with jax.enable_x64(x64):
                while not failed.is_set() and (j := next(taken)) < num_jobs:
                    try:
                        outs[j] = jax.block_until_ready(fns[i](*(a[j:j + 1] for a in args)))
                    except BaseException:
                        failed.set()
                        raise

        pool = ThreadPoolExecutor(threads, thread_name_prefix="bayescale-nuts")
        self._futures = [pool.submit(work, i) for i in range(threads)]
        self._outs = outs
        pool.shutdown(wait=False)

    def join(self):
        for f in self._futures:
            f.result()
        return jax.tree.map(lambda *v: np.concatenate([np.asarray(x) for x in v]), *self._outs)


class Pending:
    """A run of a compiled NUTS program dispatched to the devices (:meth:`NUTSProgram.launch`).

    A thread waits for the devices, so :attr:`seconds` is the run's own wall time (initialisation, warm-up,
    sampling and log-likelihood of every job) even when :meth:`result` is called long after it ended.
    """

    def __init__(self, fn: Callable, args: tuple, num_jobs: int):
        start = time.perf_counter()
        # JAX dispatches asynchronously, and a _ThreadedRun runs in its own threads: either way this returns before
        # the devices finish
        self._out = fn(*args)
        self._num_jobs = num_jobs
        self._end: list[float] = []
        self.seconds: float | None = None

        def wait():
            with contextlib.suppress(Exception):  # a failed run raises in result(), in the caller's thread
                if isinstance(self._out, _ThreadedRun):
                    self._out = self._out.join()
                jax.block_until_ready(self._out)
                self._end.append(time.perf_counter() - start)

        self._waiter = threading.Thread(target=wait, name="bayescale-nuts-wait", daemon=True)
        self._waiter.start()
        self._result: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None = None

    def result(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Return the samples and statistics of every job as NumPy arrays (waits for the devices).

        They are what :meth:`NUTSProgram.run` returns. The arrays are copied to the host once; later calls return
        the same ones.
        """
        if self._result is None:
            self._waiter.join()
            if isinstance(self._out, _ThreadedRun):  # the waiter failed to join it: raise its error here
                self._out = self._out.join()
            values, stats = self._out
            self._result = ({k: np.asarray(v)[: self._num_jobs] for k, v in values.items()},
                            {k: np.asarray(v)[: self._num_jobs] for k, v in stats.items()})
            self._out = None
            self.seconds = self._end[0] if self._end else None
        return self._result


def default_batching() -> str:
    """``"vmap"`` on accelerators, ``"map"`` on CPU.

    Measured on CPU (Chinchilla law, 30 runs, dense mass, 600 iterations): one chain 0.07 s; 4, 16 and 64 chains
    vectorised with ``vmap`` cost 0.28, 0.28 and 0.24 s *per chain*. The gradient of a small law is already
    compute-bound on a CPU core, and a vectorised NUTS pays for the longest trajectory in the batch and for both
    sides of every branch, so on CPU jobs run one after another (and in parallel over host devices).
    """
    return "map" if jax.default_backend() == "cpu" else "vmap"


# ---------------------------------------------------------------------------------------------- program cache
_PROGRAMS: OrderedDict[Hashable, NUTSProgram] = OrderedDict()
_MAX_PROGRAMS = 32


def program(key: Hashable, model: Callable, settings: NUTSSettings | ChEESSettings, loglik_site: str | None = None,
            store_key: str | None = None) -> NUTSProgram:
    """Return the cached :class:`NUTSProgram` for ``key`` (identifying the model structure) and ``settings``.

    A :class:`ChEESProgram` (a subclass) for :class:`ChEESSettings`.

    Keeps the 32 most recently used programs; ``model`` is only called when the key is new. ``store_key``, a string
    that names the model across processes (a digest of the law's spec and the model configuration), lets the
    program be stored on disk and loaded by later processes without tracing (see :meth:`NUTSProgram._callable`).
    NUTS programs whose settings differ only in ``target_accept_prob`` share their compiled code
    (:attr:`NUTSSettings.compiled`).
    """
    full = (key, settings, loglik_site, default_batching())
    prog = _PROGRAMS.get(full)
    if prog is None:
        cls = ChEESProgram if isinstance(settings, ChEESSettings) else NUTSProgram
        prog = _PROGRAMS[full] = cls(model, settings, loglik_site, store_key=store_key)
        if isinstance(settings, NUTSSettings):  # programs that differ only in their target share compiled code
            same = next((p for (k, st, ll, b), p in _PROGRAMS.items() if p is not prog and k == key
                         and ll == loglik_site and b == full[3] and isinstance(st, NUTSSettings)
                         and st.compiled == settings.compiled), None)
            if same is not None:
                prog._compiled = same._compiled
        while len(_PROGRAMS) > _MAX_PROGRAMS:
            _PROGRAMS.popitem(last=False)
    _PROGRAMS.move_to_end(full)
    return prog


#: XLA options of :func:`light_jit`: LLVM's optimisations off. Measured on the 2-core AMD EPYC (2026-12-07): two Beta
#: and one Student-t draw (20 and 20 x 48 of them) compiled in 1.6 s against 4.9 s, and ran in 5.2 ms either way.
LIGHT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0}


def light_jit(fn: Callable) -> Callable:
    """Return ``jax.jit(fn)`` compiled without LLVM's optimisations (:data:`LIGHT_COMPILER_OPTIONS`).

    For programs that run a few times and cost little to run but much to compile: prior predictives, whose Gamma
    and Beta samplers are rejection loops (each about 1 s of XLA compile at the default level). Never for a
    sampler, which runs about 4x slower so compiled.

    Parameters
    ----------
    fn : callable
        A function JAX can trace.

    Returns
    -------
    callable
        The jitted function.
    """
    return jax.jit(fn, compiler_options=LIGHT_COMPILER_OPTIONS)


def clear_programs() -> None:
    """Forget every compiled program of this process (the persistent cache on disk is kept)."""
    _PROGRAMS.clear()
    with _BUILT_LOCK:
        _BUILT.clear()


_BUILT: OrderedDict[Hashable, Any] = OrderedDict()
_BUILT_LOCK = threading.RLock()  # reentrant: a build may itself reuse (a model it wraps)


def reused(key: Hashable, build: Callable[[], Any]) -> Any:
    """Return what ``build()`` returned for ``key`` earlier in this process, calling it only when ``key`` is new.

    For compiled programs other than the samplers of :func:`program` (a calibration's sampler, prior predictive
    and scores, say), so that a second call with the same models and settings traces and compiles nothing. Keeps
    the :data:`_MAX_PROGRAMS` most recently used. A key may name model objects by ``id``: the cached value must
    then hold those objects (a model closing over its law does), so that their ``id`` is not reused while the key
    is cached. ``build`` runs under a reentrant lock (it should only wrap: a jitted function compiles at its first
    call).

    Parameters
    ----------
    key : hashable
        Names what is built: the models and settings it depends on.
    build : callable
        Called with no arguments when ``key`` is new; its result is kept.

    Returns
    -------
    object
        The kept result of ``build()`` for ``key``.
    """
    with _BUILT_LOCK:
        value = _BUILT.get(key)
        if value is None:
            value = _BUILT[key] = build()
            while len(_BUILT) > _MAX_PROGRAMS:
                _BUILT.popitem(last=False)
        _BUILT.move_to_end(key)
        return value


def bucket(n: int) -> int:
    """Return the padded size for ``n`` runs: ``n`` rounded up to a quarter of its power of two (at most 25% padding).

    ``bucket(30) == 32``, ``bucket(240) == 256``, ``bucket(250) == 256``, ``bucket(300) == 320``.
    """
    if n <= 8:
        return max(n, 1)
    step = 2 ** (math.floor(math.log2(n)) - 2)
    return -(-n // step) * step


# ---------------------------------------------------------------------------------------------- persistent cache
_CACHE_STATE: dict[str, Any] = {"dir": None, "checked": False}

#: Default of ``BAYESCALE_JAX_CACHE_MAX_MB``: the persistent cache's limit in MiB, all of it together.
CACHE_MAX_MB = 1024

#: Share of the limit that JAX's compiled code may take; bayescale's stored programs (``programs/``) take the rest.
#: Measured on the development machine after a few hundred programs: 133 MiB of XLA code beside 72 MiB of them.
_XLA_SHARE = 0.75


def cache_dir() -> str | None:
    """Return the persistent cache's folder as :func:`enable_persistent_cache` would pick it.

    Nothing is created or turned on here.

    Returns
    -------
    str or None
        ``$BAYESCALE_JAX_CACHE``, else ``<user cache dir>/bayescale/jax``; None when ``BAYESCALE_JAX_CACHE`` switches
        the cache off (``off``, ``0``, ``false``, ``no``).
    """
    env = os.environ.get("BAYESCALE_JAX_CACHE", "")
    if env.lower() in ("off", "0", "false", "no"):
        return None
    if env:
        return env
    import platformdirs  # pooch's own choice of the user cache dir (its os_cache), without importing pooch

    return os.path.join(platformdirs.user_cache_dir("bayescale"), "jax")


def cache_max_bytes() -> int:
    """Return the persistent cache's limit, all of it together.

    Returns
    -------
    int
        ``$BAYESCALE_JAX_CACHE_MAX_MB`` MiB, else :data:`CACHE_MAX_MB` MiB, in bytes.

    Raises
    ------
    ValueError
        Naming the variable, when it is set to anything but a positive whole number of MiB.
    """
    raw = os.environ.get("BAYESCALE_JAX_CACHE_MAX_MB", "").strip()
    if not raw:
        return CACHE_MAX_MB * 2**20
    try:
        mb = int(raw)
    except ValueError:
        mb = 0
    if mb <= 0:
        raise ValueError(f"BAYESCALE_JAX_CACHE_MAX_MB={raw!r} is not a positive whole number of MiB; set it to, "
                         f"say, {CACHE_MAX_MB} (the default), or BAYESCALE_JAX_CACHE=off to run without the cache")
    return mb * 2**20


def _limits() -> tuple[int, int]:
    """Bytes that JAX's compiled code and that bayescale's stored programs may take (:func:`cache_max_bytes`)."""
    limit = cache_max_bytes()
    xla = int(_XLA_SHARE * limit)
    return xla, limit - xla


def enable_persistent_cache(path: str | os.PathLike | None = None) -> str | None:
    """Turn on JAX's persistent compilation cache (once per process), so a new process reuses compiled samplers.

    ``import bayescale`` calls it, so that a process that never fits (it loads a fit and predicts, say) keeps what
    it compiles for the next one; the fits call it again, which then only returns the directory.

    The directory is ``path``, else :func:`cache_dir` (``$BAYESCALE_JAX_CACHE``, else
    ``<user cache dir>/bayescale/jax``). Setting ``BAYESCALE_JAX_CACHE=off`` disables it; a cache directory the user
    already gave JAX (``jax_compilation_cache_dir``) is left alone (JAX's own limit too). The cache keeps at most
    :func:`cache_max_bytes` (``$BAYESCALE_JAX_CACHE_MAX_MB``, default 1024 MiB): JAX evicts its least recently used
    compiled code beyond three quarters of it (``jax_compilation_cache_max_size``), and bayescale its least recently
    used stored programs beyond the rest. Returns the directory in use, or None.
    """
    if path is None and _CACHE_STATE["checked"]:
        return _CACHE_STATE["dir"]
    if path is None and cache_dir() is None:
        _CACHE_STATE["checked"] = True
        return None
    xla_limit = _limits()[0]  # a bad limit fails here, before anything is switched on, and again at the next call
    _CACHE_STATE["checked"] = True
    existing = jax.config.jax_compilation_cache_dir
    if existing and path is None:
        _CACHE_STATE["dir"] = existing
        return existing
    path = os.fspath(cache_dir() if path is None else path)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:  # read-only home: run without the cache rather than fail the fit
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    if importlib.util.find_spec("filelock") is not None:  # JAX's eviction locks the folder with it
        jax.config.update("jax_compilation_cache_max_size", xla_limit)
    _CACHE_STATE["dir"] = path
    return path


def _programs_dir(cache: str | os.PathLike) -> Path:
    return Path(cache) / "programs"


def _prune_programs(folder: Path, max_bytes: int) -> None:
    """Delete the least recently used stored programs until ``folder`` holds at most ``max_bytes``.

    A program's modification time is when it was last written or loaded (:meth:`NUTSProgram._callable` touches it).
    Another process may be reading a file deleted here: it then traces its program again, as for any unreadable
    entry.
    """
    entries = []
    for f in folder.glob("*.jaxexport"):
        with contextlib.suppress(OSError):
            st = f.stat()
            entries.append((st.st_mtime_ns, st.st_size, f))
    total = sum(size for _, size, _ in entries)
    for _, size, f in sorted(entries, key=lambda e: e[0]):
        if total <= max_bytes:
            break
        with contextlib.suppress(OSError):
            f.unlink()
        total -= size


def _cache_files(cache: str | os.PathLike) -> dict[str, list[Path]]:
    """List a cache folder's files: JAX's (``*-cache`` and their ``*-atime``) and the stored programs."""
    root = Path(cache)
    return {"xla": sorted(root.glob("*-cache")) + sorted(root.glob("*-atime")),
            "programs": sorted(_programs_dir(root).glob("*.jaxexport"))}


def cache_info(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Report what the persistent cache holds: its folder, JAX's compiled programs and the stored programs.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A cache folder other than :func:`cache_dir`'s.

    Returns
    -------
    dict
        ``dir`` (the folder), ``max_bytes`` (:func:`cache_max_bytes`), ``xla_entries`` and ``xla_bytes`` (JAX's
        compiled programs and the bytes of their files), ``program_entries`` and ``program_bytes`` (bayescale's
        stored programs). ``dir`` and ``max_bytes`` are None, and the counts 0, when the cache is switched off.
    """
    folder = cache_dir() if path is None else os.fspath(path)
    out: dict[str, Any] = {"dir": folder, "max_bytes": None if folder is None else cache_max_bytes(),
                           "xla_entries": 0, "xla_bytes": 0, "program_entries": 0, "program_bytes": 0}
    if folder is None or not os.path.isdir(folder):
        return out
    files = _cache_files(folder)

    def size(f):
        try:
            return f.stat().st_size
        except FileNotFoundError:  # evicted by another process meanwhile
            return 0

    out.update(xla_entries=sum(f.name.endswith("-cache") for f in files["xla"]),
               xla_bytes=sum(map(size, files["xla"])), program_entries=len(files["programs"]),
               program_bytes=sum(map(size, files["programs"])))
    return out


def clear_cache(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Delete the persistent cache's entries: JAX's compiled programs and bayescale's stored programs.

    Only those files go (the folder and anything else in it stay); a process using the cache meanwhile compiles
    what it needs again.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A cache folder other than :func:`cache_dir`'s.

    Returns
    -------
    dict
        :func:`cache_info` as it was before.
    """
    before = cache_info(path)
    if before["dir"] is not None and os.path.isdir(before["dir"]):
        for files in _cache_files(before["dir"]).values():
            for f in files:
                with contextlib.suppress(FileNotFoundError):
                    f.unlink()
    return before


# ---------------------------------------------------------------------------------------------- single data set
class CompiledNUTS:
    """NUTS for ``model(data)`` on one data set at a time, ``num_chains`` chains, compiled once per shape.

    A thin wrapper of :class:`NUTSProgram` (or, with ``sampler="chees"``, of :class:`ChEESProgram`) for loops over
    data sets (simulation-based calibration).

    Parameters
    ----------
    model : callable
        NumPyro model taking one pytree argument; shapes come from the data of each :meth:`run`, whose key seeds
        initialisation and sampling.
    num_warmup, num_samples, num_chains : int
    target_accept_prob : float
    max_tree_depth : int
    dense_mass : bool
    warmup_tree_depth : int or None
        Tree-depth cap during warm-up (:class:`NUTSSettings`; None: :func:`default_warmup_tree_depth`).
    sampler : {"nuts", "chees"}
        ``"chees"``: a data set's chains in lockstep (:class:`ChEESProgram`; ``max_tree_depth``, ``dense_mass``
        and ``warmup_tree_depth`` do not apply).
    """

    def __init__(self, model: Callable, *, num_warmup: int, num_samples: int, num_chains: int = 2,
                 target_accept_prob: float = 0.9, max_tree_depth: int = 10, dense_mass: bool = True,
                 warmup_tree_depth: int | None = None, sampler: str = "nuts"):
        if sampler not in ("nuts", "chees"):
            raise ValueError(f"sampler={sampler!r} is not one of ('nuts', 'chees')")
        self.num_chains, self.sampler = num_chains, sampler
        if sampler == "chees":
            self._program = ChEESProgram(model, ChEESSettings(num_warmup, num_samples, num_chains,
                                                              target_accept_prob))
        else:
            self._program = NUTSProgram(model, NUTSSettings(num_warmup, num_samples, target_accept_prob,
                                                            max_tree_depth, dense_mass,
                                                            warmup_tree_depth=warmup_tree_depth))

    @property
    def traces(self) -> int:
        """How many times the sampler has been traced; stays 1 while data shapes do not change."""
        return self._program.traces

    def run(self, key, data) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Sample the posterior of ``model(data)``: arrays of shape ``(num_chains, num_samples, ...)``."""
        return self.run_batch([key], [data])[0]

    def run_batch(self, keys, datas) -> list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
        """Sample several posteriors in one call: ``num_chains`` jobs for each data set, over the devices.

        Data set ``i`` gets the chains :meth:`run` would give it with ``keys[i]`` (the same draws). The number of
        data sets is part of the compiled program's shape: keep it fixed (pad the last call) to compile once.

        Parameters
        ----------
        keys : sequence of jax.Array
            One PRNG key per data set.
        datas : sequence of pytree
            The model's argument for each data set, all of the same shapes.

        Returns
        -------
        list of (dict, dict)
            Per data set, its draws and its sampler statistics, arrays of shape ``(num_chains, num_samples, ...)``.
        """
        return self.launch_batch(keys, datas)()

    def launch_batch(self, keys, datas) -> Callable[[], list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]]:
        """Start :meth:`run_batch` and return at once (after compiling, for a new shape).

        Parameters
        ----------
        keys, datas
            As in :meth:`run_batch`.

        Returns
        -------
        callable
            Waits for the run and returns what :meth:`run_batch` returns. The sampling runs meanwhile, in threads
            of its own on a CPU, so several calls may run at once (``bs.calibrate`` keeps two running).
        """
        c, n = self.num_chains, len(datas)
        job_keys = np.concatenate([np.asarray(jax.random.split(k, c), dtype=np.uint32) for k in keys])
        jobs = jax.tree.map(lambda *vs: np.concatenate([np.broadcast_to(np.asarray(v), (c,) + np.shape(v))
                                                        for v in vs]), *datas)
        pending = self._program.launch(job_keys, jobs)

        def result():
            samples, stats = pending.result()
            return [tuple({k: v[i * c:(i + 1) * c] for k, v in out.items()} for out in (samples, stats))
                    for i in range(n)]

        return result
