"""Chained laws: a law built from laws, fitted as one Bayesian model in one NUTS run.

A :class:`Chain` composes stages — e.g. Chinchilla for a task's loss, then a sigmoid for its accuracy — where each
stage after the first takes the previous stage's target as one of its inputs. The joint model is the product of the
stages' models, each the model :func:`bayescale.build.build_model` makes for that law (same priors, hierarchy and
likelihood), with its sites named ``<target>.<site>``:

* **fitting**: stage ``k`` is conditioned on the observed target of stage ``k - 1`` (a run's measured loss is the
  input of its accuracy), so every run must have every stage's target;
* **prediction**: stage ``k``'s input is stage ``k - 1``'s posterior predictive draw (a new model's loss, with its
  run-to-run noise), draw by draw, so the intervals of the last stage carry every stage's parameter and noise
  uncertainty. ``kind="mean"`` feeds each stage's law value (the curve) instead.

The two-step **plug-in chain** of point estimates that the task-scaling literature uses (Bhagia et al. 2024,
Gadre et al. 2024: fit stage 1, plug its point prediction into stage 2) is :meth:`ChainFit.plugin_predict`: posterior
medians of every parameter, stage 1's point prediction fed to stage 2, intervals from stage 2's residual noise alone.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import pandas as pd

if TYPE_CHECKING:
    import xarray as xr

from bayescale.build import COUNT_LIKELIHOODS, DOMAIN_SITE, ModelData, build_model, noise_params, obs_site
from bayescale.law import Law, LawSpecError, get_law, law_from_dict

__all__ = ["Chain", "chain", "ChainFit", "ChainData", "build_chain_model"]

_ATTR = "bayescale_chain"


@dataclass(frozen=True, eq=False)
class Chain:
    """A composition of laws: stage ``k + 1`` takes stage ``k``'s target as its input ``feeds[k]``.

    Build it with :func:`chain`; fit it with :func:`bayescale.fit` like a law.

    Attributes
    ----------
    name : str
    stages : tuple of Law
    feeds : tuple of str
        ``feeds[k]`` is the input of ``stages[k + 1]`` that receives ``stages[k].target``.
    """

    name: str
    stages: tuple[Law, ...]
    feeds: tuple[str, ...]

    @property
    def targets(self) -> tuple[str, ...]:
        """The stages' targets, in order (each one a column of the runs)."""
        return tuple(s.target for s in self.stages)

    @property
    def inputs(self) -> dict[str, str]:
        """Inputs a prediction needs: the first stage's, plus later stages' inputs that no stage feeds."""
        out = dict(self.stages[0].inputs)
        for law, fed in zip(self.stages[1:], self.feeds, strict=True):
            out.update({x: u for x, u in law.inputs.items() if x != fed})
        return out

    @property
    def target(self) -> str:
        """The last stage's target (what the chain predicts in the end)."""
        return self.stages[-1].target

    def stage(self, target: str) -> Law:
        """Return the law of the stage that predicts ``target``.

        Parameters
        ----------
        target : str
            The target of one of the chain's stages (one of :attr:`targets`).

        Returns
        -------
        Law

        Raises
        ------
        KeyError
            When no stage predicts ``target``; the message lists the chain's targets.
        """
        for law in self.stages:
            if law.target == target:
                return law
        raise KeyError(f"chain {self.name!r} has no stage with target {target!r}; its targets are {self.targets}")

    def __repr__(self) -> str:
        parts = [f"{self.stages[0].name}({', '.join(self.stages[0].inputs)}) -> {self.stages[0].target}"]
        for law, fed in zip(self.stages[1:], self.feeds, strict=True):
            parts.append(f"{law.name}({fed}) -> {law.target}")
        return f"Chain({self.name!r}: {' ; '.join(parts)})"

    def to_dict(self) -> dict[str, Any]:
        """Describe the chain in serialisable form (each stage's :meth:`Law.to_dict`)."""
        return {"name": self.name, "stages": [law.to_dict() for law in self.stages], "feeds": list(self.feeds)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Chain:
        """Inverse of :meth:`to_dict`.

        Parameters
        ----------
        d : mapping
            Output of :meth:`to_dict` (or its JSON, parsed): ``name``, ``stages`` (each rebuilt with
            :func:`bayescale.law.law_from_dict`) and ``feeds``.

        Returns
        -------
        Chain
        """
        return cls(name=d["name"], stages=tuple(law_from_dict(s) for s in d["stages"]), feeds=tuple(d["feeds"]))


def chain(*laws: Law | str, name: str | None = None, feeds: Sequence[str] | None = None) -> Chain:
    """Compose laws into a chain: each stage's target becomes an input of the next stage.

    Parameters
    ----------
    *laws : Law or str
        Two or more laws (or registered names), first stage first.
    name : str, optional
        Default: the stage names joined by ``"_to_"``.
    feeds : sequence of str, optional
        For each stage after the first, the input that receives the previous stage's target. Default: the input
        named like that target, else the stage's only input measured as a loss (:meth:`Law.is_loss_input`).

    Returns
    -------
    Chain

    Examples
    --------
    >>> import bayescale as bs
    >>> bs.chain("chinchilla", "sigmoid_transfer").targets
    ('loss', 'acc')
    """
    stages = tuple(get_law(law) for law in laws)
    if name is not None and (not isinstance(name, str) or not name.isidentifier()):
        raise LawSpecError(f"a chain's name must be a Python identifier (it names saved fits), got {name!r}")
    if len(stages) < 2:
        raise LawSpecError("a chain needs at least two laws, e.g. bs.chain('chinchilla', 'sigmoid_transfer')")
    targets = [s.target for s in stages]
    if len(set(targets)) != len(targets):
        raise LawSpecError(f"the stages of a chain must predict different targets, got {targets}")
    if feeds is not None and len(feeds) != len(stages) - 1:
        raise LawSpecError(f"feeds= names one input per stage after the first ({len(stages) - 1}), got {list(feeds)}")
    chosen = []
    for k, law in enumerate(stages[1:]):
        prev = stages[k].target
        if feeds is not None:
            fed = feeds[k]
            if fed not in law.inputs:
                raise LawSpecError(f"feeds[{k}]={fed!r} is not an input of law {law.name!r} ({list(law.inputs)})")
        elif prev in law.inputs:
            fed = prev
        else:
            losses = [x for x in law.inputs if law.is_loss_input(x)]
            if len(losses) != 1:
                raise LawSpecError(
                    f"cannot tell which input of law {law.name!r} ({list(law.inputs)}) takes {prev!r}, the target "
                    f"of law {stages[k].name!r}: pass feeds=[...]"
                )
            fed = losses[0]
            if stages[k].link == "logit":  # guessed: an accuracy or error rate is not a loss
                raise LawSpecError(
                    f"law {stages[k].name!r} predicts {prev!r}, a fraction in (0, 1), and law {law.name!r} takes a "
                    f"loss ({fed!r}); a chain feeds a law the quantity it models: reorder the stages, or pass "
                    "feeds=[...] if this is meant")
        clash = (set(law.inputs) - {fed}) & set(targets)
        if clash:
            raise LawSpecError(f"law {law.name!r} has input(s) {sorted(clash)} named like a target of the chain")
        chosen.append(fed)
    return Chain(name=name or "_to_".join(s.name for s in stages), stages=stages, feeds=tuple(chosen))


@partial(jax.tree_util.register_dataclass, data_fields=["stages"], meta_fields=["feed"])
@dataclass(frozen=True)
class ChainData:
    """The model data of each stage, and what is fed forward: ``"sample"`` (observed or drawn) or ``"mean"``."""

    stages: tuple[ModelData, ...]
    feed: str = "sample"


def build_chain_model(chain_: Chain, configs: Sequence):
    """Return the NumPyro model of a chain: each stage's model under the name scope ``<target>.``.

    Stage ``k + 1``'s fed input is replaced by stage ``k``'s observed or sampled target (``feed="sample"``) or its
    law value (``feed="mean"``).

    Parameters
    ----------
    chain_ : Chain
    configs : sequence of ModelConfig
        One model configuration per stage, in stage order; stage ``k``'s model is
        ``build_model(chain_.stages[k], configs[k])``.

    Returns
    -------
    callable
        ``model(data: ChainData)``. Each stage's sites are named ``<target>.<site>``. It returns the last stage's
        ``(mu, value)``, as the model of :func:`bayescale.build.build_model` does.
    """
    models = [build_model(law, cfg) for law, cfg in zip(chain_.stages, configs, strict=True)]

    def model(data: ChainData):
        prev = None
        for k, (law, stage_model) in enumerate(zip(chain_.stages, models, strict=True)):
            d = data.stages[k]
            if k:
                before = chain_.stages[k - 1]
                mu, value = prev
                fed = before.from_link(value if data.feed == "sample" else mu, jnp)
                d = dataclasses.replace(d, x={**d.x, chain_.feeds[k - 1]: fed})
            with numpyro.handlers.scope(prefix=law.target, divider="."):
                prev = stage_model(d)
        return prev

    return model


def _shared_chain_model(chain_: Chain, configs: Sequence):
    """Return ``build_chain_model(chain_, configs)``, one object per chain and configurations in a process.

    What is compiled for it (predictions, a calibration's programs) is then reused (:func:`bayescale.engine.reused`).
    """
    from bayescale import engine

    key = ("chain model", id(chain_), json.dumps([c.to_dict() for c in configs], sort_keys=True))
    return engine.reused(key, partial(build_chain_model, chain_, configs))


def _per_stage(value, chain_: Chain, what: str, default):
    """Expand an option given once or per stage (a mapping keyed by target) into one value per stage."""
    if isinstance(value, Mapping):
        unknown = set(value) - set(chain_.targets)
        if unknown:
            raise ValueError(f"{what}= names unknown stage(s) {sorted(unknown)}; the chain's targets are "
                             f"{chain_.targets}")
        return [value.get(t, default) for t in chain_.targets]
    return [value] * len(chain_.stages)


def _stage_likelihoods(chain_: Chain, likelihood) -> list[str]:
    """One likelihood per stage: a mapping by target, or one name for all (``"beta"``: for the logit stages)."""
    if isinstance(likelihood, str) and likelihood == "beta":
        likelihood = {law.target: "beta" for law in chain_.stages if law.link == "logit"}
    named = [likelihood] if isinstance(likelihood, str) else list(likelihood.values()) if isinstance(
        likelihood, Mapping) else []
    counted = [x for x in named if x in COUNT_LIKELIHOODS]
    if counted:
        raise ValueError(f"likelihood {counted[0]!r}: a Chain's stages take 'student_t', 'normal' or 'beta'; fit a "
                         "count likelihood on one law with bs.fit(law, runs, likelihood='binomial', noise=<items "
                         "column>)")
    return _per_stage(likelihood, chain_, "likelihood", "student_t")


def _fed_runs(chain_: Chain, runs, k: int):
    """Return the runs as stage ``k`` reads them: its fed input is the previous stage's target.

    The joint model feeds stage ``k`` that target; a column of the fed input's own name (``l_x`` for a
    loss-to-loss stage fed ``loss``) is not needed, and one whose values differ is refused rather than left to
    describe data the fit never used (the stage's checks, report and residuals read its runs).
    """
    if k == 0:
        return runs
    frame = runs if isinstance(runs, pd.DataFrame) else pd.DataFrame(runs)
    fed, prev = chain_.feeds[k - 1], chain_.stages[k - 1].target
    if fed == prev or prev not in frame.columns:  # a missing target is the previous stage's error
        return frame
    targets = {law.target for law in chain_.stages}
    if fed in frame.columns and fed not in targets:
        given = pd.to_numeric(frame[fed], errors="coerce").to_numpy(float)
        source = pd.to_numeric(frame[prev], errors="coerce").to_numpy(float)
        if not np.allclose(given, source, rtol=1e-12, atol=0, equal_nan=True):
            raise ValueError(f"column {fed!r} differs from column {prev!r}, the target of stage {k} ({prev!r}) that "
                             f"chain {chain_.name!r} feeds stage {k + 1} as its input {fed!r}: the fit reads "
                             f"{prev!r} there; drop the column {fed!r} (it is filled from {prev!r}), or fix it")
    return frame.assign(**{fed: frame[prev]})


def fit_chain(chain_: Chain, runs, *, groups, pool, pooling, likelihood, noise, sigma_scale, group_scale,
              flops_per_param_token, opts, seed, dense_mass, progress) -> ChainFit:
    """Fit a chain in one NUTS run (called by :func:`bayescale.fit`)."""
    from bayescale import engine
    from bayescale.data import RunTableError
    from bayescale.fit import (
        DENSE_MAX_PARAMS,
        _count_unconstrained,
        _make_fit,
        _padded,
        _prefetch_imports,
        _prepare,
        _run_info,
        _slots,
        _store_key,
        _structure,
        _versions,
    )

    pools = _per_stage(pool, chain_, "pool", None)
    likelihoods = _stage_likelihoods(chain_, likelihood)
    noises = _per_stage(noise, chain_, "noise", None)
    with_sigma = ["sigma" in noise_params(law, like) for law, like in zip(chain_.stages, likelihoods, strict=True)]
    if sigma_scale is not None and not any(with_sigma):
        raise ValueError(f"sigma_scale= sets the prior of the residual sd sigma, which no stage of chain "
                         f"{chain_.name!r} has (likelihoods {likelihoods}); leave sigma_scale out")
    preps, problems, said = [], [], set()  # every stage's table problems, said in one error
    for k, (law, pool_k, like_k, noise_k) in enumerate(zip(chain_.stages, pools, likelihoods, noises, strict=True)):
        runs_k = _fed_runs(chain_, runs, k)
        try:  # sigma_scale= is for the stages with a sigma (a Beta stage's noise is phi)
            preps.append(_prepare(law, runs_k, groups=groups, pool=pool_k, pooling=pooling, likelihood=like_k,
                                  noise=noise_k, sigma_scale=sigma_scale if with_sigma[k] else None,
                                  group_scale=group_scale,
                                  flops_per_param_token=flops_per_param_token))
        except RunTableError as err:  # a fed column's problem was said by the stage whose target it is
            problems += [f"stage {law.target!r} ({law.name}) of chain {chain_.name!r}: {p}" for p in err.problems
                         if p.split(";")[0] not in said]
            said.update(p.split(";")[0] for p in err.problems)
        except (ValueError, TypeError) as err:
            raise type(err)(f"stage {law.target!r} ({law.name}) of chain {chain_.name!r}: {err}") from err
    if problems:
        raise RunTableError(problems)
    kept = [p.table.frame.index for p in preps]
    if any(not k.equals(kept[0]) for k in kept[1:]):
        raise ValueError(
            f"the stages of chain {chain_.name!r} kept different runs after validation (duplicate runs are dropped "
            "per stage); remove duplicate rows from runs before fitting"
        )
    configs = [p.config for p in preps]
    model = build_chain_model(chain_, configs)
    size = engine.bucket(_slots(preps[0].data))
    x64 = opts.precision == "float64"
    dtype = np.float64 if x64 else np.float32
    data = ChainData(tuple(_padded(p.data, size, dtype) for p in preps))
    if dense_mass is None:
        with jax.enable_x64(True):
            dense_mass = _count_unconstrained(model, data) <= DENSE_MAX_PARAMS
    settings = opts.settings(dense_mass)
    sites = tuple(f"{law.target}.{obs_site(law)}" for law in chain_.stages)
    structure = ("chain", chain_.name, tuple(_structure(p) for p in preps), opts.precision)
    keys = [_store_key(law, s) for law, s in zip(chain_.stages, structure[2], strict=True)]
    store_key = None if None in keys else hashlib.sha256(json.dumps([keys, structure]).encode()).hexdigest()
    prog = engine.program((id(chain_), *structure), model, settings, loglik_site=sites, store_key=store_key)
    engine.enable_persistent_cache()
    c = opts.num_chains
    start = time.perf_counter()
    if progress:
        print(f"bayescale: sampling chain {chain_.name}, {c} chains x ({opts.num_warmup} warm-up + "
              f"{opts.num_samples}) draws on {len(preps[0].table.frame)} runs ...", file=sys.stderr, flush=True)
    with jax.enable_x64(x64):
        jobs = jax.tree.map(lambda v: np.repeat(np.asarray(v)[None], c, axis=0), data)
        samples, stats = prog.run(engine.job_keys(seed, 0, c), jobs, while_compiling=_prefetch_imports)
    if progress:
        print(f"bayescale: done in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    run_info = _run_info(prog, dense_mass, 1, c, size, prog.last_run_seconds)
    common = {k: v for k, v in stats.items() if not k.startswith("log_likelihood:")}
    versions = _versions()
    stage_fits = {}
    for k, (law, prep) in enumerate(zip(chain_.stages, preps, strict=True)):
        prefix = f"{law.target}."
        s_k = {name[len(prefix):]: v for name, v in samples.items() if name.startswith(prefix)}
        st_k = {**common, "log_likelihood": stats[f"log_likelihood:{sites[k]}"]}
        stage_fits[law.target] = _make_fit(
            prep, s_k, st_k, seed=seed, opts=opts, run_info=run_info, versions=versions,
            extra={"chain": {"name": chain_.name, "stage": k, "targets": list(chain_.targets),
                             "feed": chain_.feeds[k - 1] if k else None}},
        )
    result = ChainFit.from_stages(chain_, stage_fits, seed=seed, joint=True)
    return result


class ChainFit:
    """The posterior of a chain: one :class:`~bayescale.Fit` per stage, sampled jointly.

    Attributes
    ----------
    chain : Chain
    stages : dict of str to Fit
        Each stage's fit, keyed by its target: a normal :class:`~bayescale.Fit` (summary, check, report, predict
        at given inputs, e.g. accuracy at a given loss). Their draws are the joint posterior's, aligned draw by draw.
    tree : xarray.DataTree
        One child per stage (each a fit's DataTree); the chain's spec in the root's attrs.
    meta : dict
        The root's ``bayescale_chain`` attrs, read: the chain's spec, seed and whether it was sampled jointly.
    groups : tuple of str
        The group columns of every stage (stages fitted apart may group their runs differently).
    levels : tuple of str
        The first stage's fitted groups' labels.
    joint : bool
        True when the stages were sampled as one model; False when composed from separate fits
        (:meth:`from_stages`).
    """

    def __init__(self, tree: xr.DataTree, chain_: Chain | None = None):
        from bayescale.fit import Fit, FitFileError

        if _ATTR not in tree.attrs:
            raise FitFileError("this DataTree was not written by bayescale for a chain (no 'bayescale_chain' attrs)")
        self.tree = tree
        self.meta: dict[str, Any] = json.loads(tree.attrs[_ATTR])
        self.chain: Chain = chain_ if chain_ is not None else Chain.from_dict(self.meta["chain"])
        self.stages: dict[str, Fit] = {
            law.target: Fit(tree[law.target].copy(), law=law) for law in self.chain.stages
        }
        first = next(iter(self.stages.values()))
        #: Group columns of every stage (stages fitted separately may group their runs differently).
        self.groups = tuple(dict.fromkeys(g for f in self.stages.values() for g in f.groups))
        self.levels = first.levels
        self.joint: bool = self.meta.get("joint", True)

    @classmethod
    def from_stages(cls, chain_: Chain, stage_fits: Mapping[str, Any], *, seed: int = 0,
                    joint: bool = False) -> ChainFit:
        """Compose a chain from one fit per stage, keyed by target.

        Use it when the stages are observed on different rows, e.g. one loss per model for a Chinchilla stage and
        one per model and evaluation set for a loss-to-loss stage, so that one joint fit cannot hold both. Fitted
        jointly, such stages would have independent posteriors anyway (each stage conditions on the previous
        stage's observed target), so composing separate fits predicts from the same joint posterior: draw ``i`` of
        every stage is combined. Every stage needs the same number of draws.

        Parameters
        ----------
        chain_ : Chain
        stage_fits : mapping of str to Fit
            One fit of each stage's law, keyed by the stage's target.
        seed : int
        joint : bool
            True when the fits' draws come from one NUTS run (set by :func:`bayescale.fit`).
        """
        import xarray as xr

        missing = set(chain_.targets) - set(stage_fits)
        if missing:
            raise ValueError(f"no fit given for stage(s) {sorted(missing)} of chain {chain_.name!r}")
        for law in chain_.stages:
            f = stage_fits[law.target]
            if f.law.signature_dict() != law.signature_dict():
                raise ValueError(f"the fit given for stage {law.target!r} is of law {f.law.name!r}, not {law.name!r}")
        sizes = {t: f.tree.posterior.sizes["chain"] * f.tree.posterior.sizes["draw"] for t, f in stage_fits.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"the stages' fits have different numbers of draws {sizes}; fit them with the same "
                             "num_chains and num_samples")
        tree = xr.DataTree(children={law.target: stage_fits[law.target].tree for law in chain_.stages})
        tree.attrs[_ATTR] = json.dumps({"chain": chain_.to_dict(), "seed": seed, "joint": joint})
        tree.attrs["law"] = chain_.name
        return cls(tree, chain_)

    @property
    def law(self) -> Chain:
        """The chain (for code written against :class:`~bayescale.Fit`, whose ``law`` is its law)."""
        return self.chain

    def __repr__(self) -> str:
        first = next(iter(self.stages.values()))
        post = first.tree.posterior
        grp = f", groups {list(self.groups)} ({len(self.levels)} levels)" if self.groups else ""
        return (f"<ChainFit {self.chain.name}: {' -> '.join(self.chain.targets)}; "
                f"{first.tree.observed_data.sizes['run']} runs{grp}, {post.sizes['chain']} chains x "
                f"{post.sizes['draw']} draws; {self.diagnostics!r}>")

    # ------------------------------------------------------------------ description
    def summary(self, *, ci_prob: float = 0.9) -> pd.DataFrame:
        """Every stage's :meth:`Fit.summary`, rows labelled ``<target>.<parameter>``.

        Parameters
        ----------
        ci_prob : float
            Mass of the equal-tailed interval given by the two outer quantile columns, for every stage.

        Returns
        -------
        pandas.DataFrame
            The stages' summaries one after the other, in stage order, with the columns of :meth:`Fit.summary`.
        """
        parts = [f.summary(ci_prob=ci_prob).rename(index=lambda i, t=t: f"{t}.{i}") for t, f in self.stages.items()]
        return pd.concat(parts)

    @property
    def diagnostics(self):
        """Sampler diagnostics of the joint run: the worst value over the stages' parameters, every problem."""
        from bayescale.fit import Diagnostics

        ds = {t: f.diagnostics for t, f in self.stages.items()}
        first = next(iter(ds.values()))
        shared = ("divergent", "E-BFMI", "maximum tree depth")  # statistics of the joint run, not of one stage
        problems = tuple(
            p if self.joint and any(w in p for w in shared) else f"stage {t!r}: {p}"
            for t, d in ds.items() for p in d.problems
        )
        every = ds.values()
        return Diagnostics(
            max_r_hat=max(d.max_r_hat for d in every), min_ess_bulk=min(d.min_ess_bulk for d in every),
            min_ess_tail=min(d.min_ess_tail for d in every),
            # one joint run shares its sampler statistics between the stages; separate fits add up
            divergences=first.divergences if self.joint else sum(d.divergences for d in every),
            tree_depth_frac=max(d.tree_depth_frac for d in every), max_tree_depth=first.max_tree_depth,
            min_e_bfmi=min(d.min_e_bfmi for d in every), num_draws=first.num_draws,
            problems=tuple(dict.fromkeys(problems)),
        )

    def runs(self) -> pd.DataFrame:
        """Return the runs the chain was fitted on: every input and every stage's target."""
        out = None
        for f in self.stages.values():
            r = f.runs()
            out = r if out is None else out.join(r[[c for c in r.columns if c not in out.columns]])
        return out

    # ------------------------------------------------------------------ prediction
    def predictive_draws(self, new_runs, *, kind: str = "observation", seed: int = 0, plugin: bool = False):
        """Draws of every stage's target at new inputs: ``(frame, {target: (draws, points)}, new_groups)``.

        ``frame`` holds the validated inputs and group columns of every stage. See :meth:`predict`.

        Parameters
        ----------
        new_runs : pandas.DataFrame or mapping of columns
            The chain's :attr:`Chain.inputs` (and the fit's group columns); a mapping holds one sequence per column.
            Inputs that a stage feeds are not read: they come from the stage before.
        kind : {"observation", "mean"}
            ``"observation"``: each stage's run-to-run noise is drawn, and its draws are fed to the next stage;
            ``"mean"``: each stage's law value (the curve), fed the previous stage's curve, with no noise drawn.
        seed : int
            Seed for the predictive draws.
        plugin : bool
            True sets every parameter to its posterior median (per group for group parameters) and feeds each
            stage's law value to the next stage, as :meth:`plugin_predict` does. It raises a ValueError when
            ``new_runs`` names groups that are not in the fit.

        Returns
        -------
        tuple
            ``frame`` (pandas.DataFrame); ``{target: draws}``, each stage's draws on its target's scale with shape
            ``(draws, points)``, one row per posterior draw and one column per row of ``frame``; and the group
            levels the fit has not seen (tuple of str).
        """
        from bayescale.data import validate_runs
        from bayescale.fit import _model_data, _predictor_columns
        from bayescale.posterior import _curve, _posterior_predictive
        from bayescale.predict import _KINDS, _fitted_groups, _padded, _sample_sites, _warn_outside_domain

        if kind not in _KINDS:
            raise ValueError(f"kind={kind!r} is not one of {_KINDS}")
        if not isinstance(new_runs, pd.DataFrame | Mapping):
            raise TypeError(f"new_runs must be a DataFrame or a mapping of column to values (e.g. {{'n': [7e10], "
                            f"'d': [1.4e12]}}), got {type(new_runs).__name__}")
        if not isinstance(new_runs, pd.DataFrame):
            new_runs = pd.DataFrame(dict(new_runs))
        new_runs = _fitted_groups(next(iter(self.stages.values())), new_runs)  # 11.0 for a fitted 11, as bs.fit's
        datas, tables, new = [], [], ()
        with jax.enable_x64(True):
            for k, (law, f) in enumerate(zip(self.chain.stages, self.stages.values(), strict=True)):
                runs_k = new_runs
                if k:  # the fed input comes from the stage before; a placeholder passes validation
                    runs_k = new_runs.assign(**{self.chain.feeds[k - 1]: 1.0})
                table = validate_runs(runs_k, law, groups=f.groups, require_target=False,
                                      keep=_predictor_columns(f.config))
                data, _, new_k = _model_data(_padded(table), f.meta["log_x0"], levels=f.levels,
                                              with_target=False, config=f.config)
                datas.append(data)
                tables.append(table)
                new = tuple(dict.fromkeys(new + tuple(new_k)))
            if plugin and new:
                raise ValueError(f"the plug-in chain uses each group's point estimates; groups {list(new)} are not "
                                 "in the fit")
            data = ChainData(tuple(datas), feed="mean" if (kind == "mean" or plugin) else "sample")
            model = _shared_chain_model(self.chain, [f.config for f in self.stages.values()])
            if kind == "mean":  # every stage's curve, fed the curve before it: no stage's noise is drawn
                model = _curve(model, [f"{law.target}.{obs_site(law)}" for law in self.chain.stages])
            sites = set(_sample_sites(model, data))
            draws = {}
            for t, f in self.stages.items():
                names = [v for v in f.tree.posterior.data_vars if f"{t}.{v}" in sites]
                draws.update({f"{t}.{k}": v for k, v in f.draws(names).items()})
            if plugin:  # every draw set to the posterior median of each parameter (per group for group parameters)
                draws = {k: np.broadcast_to(np.median(v, axis=0), v.shape) for k, v in draws.items()}
            draws = {k: jnp.asarray(v) for k, v in draws.items()}
            returns = [f"{law.target}.{'mu' if kind == 'mean' else obs_site(law)}" for law in self.chain.stages]
            domains = [f"{law.target}.{DOMAIN_SITE}" for law in self.chain.stages if law.domain is not None]
            out = _posterior_predictive(model, tuple(returns + domains))(jax.random.PRNGKey(seed), data, draws)
            values = {law.target: law.from_link(np.asarray(out[site])[:, :len(tables[0])])
                      for law, site in zip(self.chain.stages, returns, strict=True)}
        for law in (law for law in self.chain.stages if law.domain is not None):  # fed draws past the law's domain
            _warn_outside_domain(law, np.asarray(out[f"{law.target}.{DOMAIN_SITE}"])[:, :len(tables[0])],
                                 tables[0].frame.index, where=f"stage {law.target!r} of chain {self.chain.name!r}: ")
        frame = tables[0].frame.copy()
        for table in tables[1:]:  # later stages' own inputs and group columns
            frame = frame.join(table.frame[[c for c in table.frame.columns if c not in frame.columns]])
        return frame, values, new

    def predict(self, new_runs, *, quantiles: Sequence[float] = (0.05, 0.5, 0.95), kind: str = "observation",
                seed: int = 0) -> pd.DataFrame:
        """Posterior predictive quantiles of every stage's target at new inputs.

        The inputs are the first stage's, and later stages' inputs that no stage feeds. Stage ``k``'s prediction
        takes stage ``k - 1``'s predictive draws as its input, draw by draw, so the last
        stage's interval includes every stage's uncertainty.

        Parameters
        ----------
        new_runs : pandas.DataFrame
            The chain's :attr:`Chain.inputs` (and the fit's group columns).
        quantiles : sequence of float
        kind : {"observation", "mean"}
            ``"observation"``: a new run's values (each stage's run-to-run noise included and fed forward);
            ``"mean"``: the laws' curves, each stage fed the previous stage's curve.
        seed : int

        Returns
        -------
        pandas.DataFrame
            One row per input row and stage: the inputs (and groups), ``target`` (the stage's target name),
            ``mean`` and one column per quantile; the index repeats ``new_runs``'s.
        """
        from bayescale.predict import _check_quantiles

        qs = _check_quantiles(quantiles)
        table, values, new = self.predictive_draws(new_runs, kind=kind, seed=seed)
        return self._frame(table, values, qs, new)

    def plugin_predict(self, new_runs, *, quantiles: Sequence[float] = (0.05, 0.5, 0.95), seed: int = 0):
        """Predict with the two-step plug-in chain of point estimates, for comparison with :meth:`predict`.

        Every parameter at its posterior median; each stage's point prediction (the law's value) is the next
        stage's input; each stage's interval comes from its residual noise at the point estimates. This is how
        task-scaling papers chain their fits (with least-squares point estimates); it leaves out the parameters'
        uncertainty and the noise of the earlier stages.

        Parameters
        ----------
        new_runs : pandas.DataFrame or mapping of columns
            The chain's :attr:`Chain.inputs` (and the fit's group columns), as for :meth:`predict`. Every group must
            be in the fit: a group the fit has not seen has no point estimates, and raises a ValueError.
        quantiles : sequence of float
            Quantiles to report; columns are named ``q05``, ``q50``, ``q95``, ...
        seed : int
            Seed for the draws of each stage's residual noise.

        Returns
        -------
        pandas.DataFrame
            As :meth:`predict`.
        """
        from bayescale.predict import _check_quantiles

        qs = _check_quantiles(quantiles)
        table, values, new = self.predictive_draws(new_runs, seed=seed, plugin=True)
        return self._frame(table, values, qs, new)

    def _frame(self, frame: pd.DataFrame, values: Mapping[str, np.ndarray], qs, new) -> pd.DataFrame:
        from bayescale.predict import _mean, _quantiles

        cols = [x for x in self.chain.inputs if x in frame] + list(self.groups)
        parts = []
        for t, v in values.items():
            part = frame[[c for c in cols if c in frame]].copy()
            part.insert(len(part.columns), "target", t)
            part["mean"] = _mean(v, t)
            for col, x in _quantiles(v, qs).items():
                part[col] = x
            parts.append(part)
        out = pd.concat(parts)
        if new:
            out.attrs["new_groups"] = list(new)
        return out

    # ------------------------------------------------------------------ checks and reports
    def check(self, at=None, *, seed: int = 0) -> dict[str, Any]:
        """Every stage's :meth:`Fit.check` report, keyed by target (``at`` applies to the first stage).

        Parameters
        ----------
        at : pandas.DataFrame, optional
            Inputs where predictions are wanted (the first stage's input columns); adds the extrapolation check to
            the first stage's report only.
        seed : int
            Seed for the prior draws of every stage's contraction check.

        Returns
        -------
        dict of str to Report
            One :class:`bayescale.check.Report` per stage, keyed by the stage's target, in stage order.
        """
        return {t: f.check(at if k == 0 else None, seed=seed) for k, (t, f) in enumerate(self.stages.items())}

    def report(self, path: str | os.PathLike, *, at=None, title: str | None = None, seed: int = 0,
               progress_bar: bool | None = None):
        """Write one report per stage under ``path/<target>/`` and the chain's figure ``path/chain.png``.

        The figure shows each stage with its bands: stage 1 along its first input, each later stage against the
        previous stage's target, with the chained prediction at ``at`` (inputs of the first stage) when given.

        Parameters
        ----------
        path : str or path-like
            The folder to write to; created if missing.
        at : pandas.DataFrame, optional
            Inputs where predictions are wanted: the chain's :attr:`Chain.inputs` (and the fit's group columns).
            The first stage's report gets them (its extrapolation check and law figure), and the chain's figure
            marks the chained predictions at them.
        title : str, optional
            Each stage's report is titled ``"<title>: stage <target>"``; default the chain's name.
        seed : int
            Seed of every stage report's prior and posterior predictive draws, and of the figure's predictions.
        progress_bar : bool, optional
            Print a line to stderr as each step of each stage's report starts; default when stderr is a terminal
            outside CI, as for ``bs.fit``.

        Returns
        -------
        dict of str to Path
            ``{"<target>": report folder, ..., "figure": chain.png}``.
        """
        from bayescale.plots import plot_chain

        path = Path(path)
        out = {}
        for k, (t, f) in enumerate(self.stages.items()):
            f.report(path / t, at=at if k == 0 else None, title=f"{title or self.chain.name}: stage {t}", seed=seed,
                     progress_bar=progress_bar)
            out[t] = path / t
        fig = plot_chain(self, at=at, seed=seed)
        out["figure"] = path / "chain.png"
        fig.savefig(out["figure"], dpi=110)
        import matplotlib.pyplot as plt

        plt.close(fig)
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write the chain fit to one netCDF file atomically (one group per stage); read it with ``bs.load``.

        Parameters
        ----------
        path : str or path-like
            The file to write; missing folders are made.

        Returns
        -------
        pathlib.Path
            The path written.
        """
        from bayescale.fit import _atomic_netcdf, _check_savable

        _check_savable(self.tree)
        return _atomic_netcdf(self.tree, path)


