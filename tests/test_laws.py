"""Every registered law: shapes, broadcasting, gradients, monotonicity, log_fn, spec round trip, prior predictive.

The per-law tests are parametrised over ``bs.laws()``, so a law added to the catalogue is covered automatically.
Published forward values (Muennighoff 2023) and the closed-form Chinchilla optimum are checked against
independent computations; bad specs, registry look-ups and duplicate registration are checked for their messages.
"""

from __future__ import annotations

import dataclasses
import json
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
import pandas as pd
import pytest
from scipy.optimize import minimize_scalar

import bayescale as bs
from bayescale import law as law_module
from bayescale.law import law_from_dict
from bayescale.simulate import default_design, reference_params

LAWS = bs.laws()
MONOTONE = [(name, x, sign) for name in LAWS for x, sign in bs.get_law(name).monotone.items()]
WITH_LOG_FN = [name for name in LAWS if bs.get_law(name).log_fn is not None]
WITH_OPTIMUM = [name for name in LAWS if bs.get_law(name).optimum is not None]

# Plausible range of the prior-predictive median of each target, at every point of the default design.
# Loss in nats/token: the priors are weakly informative; their median prediction must be a loss a trained model
# could have. The lower end excludes a collapsed floor; the upper end allows for the heavy prior tails of a sum of
# two power-law terms (the Chinchilla prior's median at a 30M-parameter model on 150M tokens is ~15 nats).
# Accuracy down to 1%: 1000-way zero-shot ImageNet at small compute (accuracy_compute); a median of 95% or more
# across the whole design would be a prior that has already decided. The other ranges allow one to two decades
# around the medians the catalogue's priors give on their default designs (2026-12-05: critical batch 9e4-2.2e7
# tokens, steps 3.2e4-1.1e7, learning rate 3.9e-4-2.7e-3, batch 5.7e4-1.7e6 tokens, optimal N 1.9e7-5.4e8,
# error 0.29-0.69, BLEU 4.8-10.3), so that a prior off by a thousandfold fails.
PLAUSIBLE = {"loss": (0.5, 20.0), "acc": (0.01, 0.95), "err": (0.05, 0.95), "bleu": (1.0, 60.0), "l_y": (0.5, 20.0),
             "steps": (1e3, 1e8), "b_crit": (1e3, 1e9), "lr": (1e-5, 1e-1), "batch_tokens": (1e4, 1e8),
             "n_opt": (1e6, 1e12)}


def _x64(fn, *args, **kwargs):
    with jax.enable_x64(True):
        return fn(*args, **kwargs)


def _example(law) -> dict[str, float]:
    return {x: float(law.example.get(x, 1e9)) for x in law.inputs}


#: Every prior is sampled at this one size and cut to the draws a test asks for, so that each kind of prior's sampler
#: is compiled once for the whole file, not once per size (a Gamma's or Beta's rejection sampler took 3-4 s to
#: compile on a 2-core AMD EPYC, 2026-12-06).
PRIOR_DRAWS = 4000


def _prior_draws(law, num: int, seed: int = 0) -> dict[str, np.ndarray]:
    assert num <= PRIOR_DRAWS
    key = jax.random.PRNGKey(seed)
    return {
        p: np.asarray(prior.sample(jax.random.fold_in(key, i), (PRIOR_DRAWS,)), dtype=np.float64)[:num]
        for i, (p, prior) in enumerate(law.params.items())
    }


def _evaluate(law, inputs: dict, params: dict, *, log: bool = False) -> np.ndarray:
    def run():
        args = [jnp.asarray(inputs[x], dtype=jnp.float64) for x in law.inputs]
        kw = {p: jnp.asarray(v, dtype=jnp.float64) for p, v in params.items()}
        return np.asarray(law.log_fn(*args, **kw) if log else law(*args, **kw))

    return _x64(run)


# ---------------------------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("name", LAWS)
def test_catalogue_law_passes_the_creation_check(name):
    # the catalogue skips Law's evaluation check at import (it compiles op by op); it must still pass it
    bs.get_law(name)._check_evaluates()


def test_user_laws_are_checked_at_creation():
    law = bs.get_law("chinchilla")
    with pytest.raises(bs.LawSpecError, match="returned nan"):
        dataclasses.replace(law, name="broken", fn=lambda n, d, **p: law.fn(n, d, **p) * jnp.nan)
    # a prior of another support where the sampler takes logs: the error names it and the fix
    with pytest.raises(bs.LawSpecError, match=r"level parameter 'e' needs a prior on \(0, inf\), .* got "
                                              r"LeftTruncatedDistribution on GreaterThanEq\(lower_bound=0.0\): use a "
                                              r"LogNormal, Gamma or HalfNormal, say \(dist.LogNormal.*or level=\(\)"):
        dataclasses.replace(law, name="truncated", params={**law.params, "e": dist.TruncatedNormal(2.0, 1.0, low=0.0)})
    with pytest.raises(bs.LawSpecError, match=r"centred parameter 'a' needs a prior on \(0, inf\), as the sampler "
                                              r"works on its log; got Normal on Real\(\): use a LogNormal"):
        dataclasses.replace(law, name="normal_a", params={**law.params, "a": dist.Normal(500.0, 100.0)})


@pytest.mark.parametrize("name", LAWS)
def test_scalar_inputs_give_a_scalar(name):
    law = bs.get_law(name)
    out = _evaluate(law, _example(law), reference_params(law))
    assert out.shape == ()
    assert np.isfinite(out)
    if law.positive:
        assert out > 0


@pytest.mark.parametrize("name", LAWS)
def test_vector_inputs_match_elementwise_evaluation(name):
    law = bs.get_law(name)
    params = reference_params(law)
    scale = np.geomspace(0.1, 10.0, 5)
    inputs = {x: v * scale for x, v in _example(law).items()}
    out = _evaluate(law, inputs, params)
    assert out.shape == (5,)
    one_by_one = [_evaluate(law, {x: v[i] for x, v in inputs.items()}, params) for i in range(5)]
    np.testing.assert_allclose(out, one_by_one, rtol=1e-12)


@pytest.mark.parametrize("name", LAWS)
def test_inputs_broadcast_against_parameters(name):
    """Inputs of shape (4, 1) against parameters of shape (1, 3) give (4, 3); a scalar input broadcasts too."""
    law = bs.get_law(name)
    draws = _prior_draws(law, 3, seed=1)
    params = {p: v[None, :] for p, v in draws.items()}
    first, *rest = law.inputs
    example = _example(law)
    inputs = {first: example[first] * np.geomspace(0.1, 10.0, 4)[:, None], **{x: example[x] for x in rest}}
    out = _evaluate(law, inputs, params)
    assert out.shape == (4, 3)
    for i in range(4):
        for j in range(3):
            single = _evaluate(law, {x: np.ravel(v)[i] if x == first else v for x, v in inputs.items()},
                               {p: v[j] for p, v in draws.items()})
            np.testing.assert_allclose(out[i, j], single, rtol=1e-12)
    if law.log_fn is not None:
        assert _evaluate(law, inputs, params, log=True).shape == (4, 3)


# ---------------------------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", LAWS)
def test_gradients_are_finite_for_every_parameter_and_input(name):
    law = bs.get_law(name)
    params = reference_params(law)
    example = _example(law)
    names = list(law.inputs) + list(law.params)

    def value(args, log):
        inputs = [args[x] for x in law.inputs]
        kw = {p: args[p] for p in law.params}
        return law.log(*inputs, **kw) if log else law(*inputs, **kw)

    with jax.enable_x64(True):
        args = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in {**example, **params}.items()}
        for log in (False, True):
            grads = jax.grad(value)(args, log)
            for k in names:
                assert np.isfinite(float(grads[k])), f"d{'log ' if log else ''}{law.target}/d{k} = {grads[k]}"
            assert any(float(grads[x]) != 0 for x in law.inputs), "the law does not depend on its inputs"
            for k in names:  # against central differences with a relative step (the sampler trusts these)
                h = 1e-6 * max(abs(float(args[k])), 1e-3)
                up, down = ({**args, k: args[k] + s} for s in (h, -h))
                fd = (float(value(up, log)) - float(value(down, log))) / (2 * h)
                assert float(grads[k]) == pytest.approx(fd, rel=1e-5, abs=1e-8 * max(1.0, abs(float(value(args, log))))
                                                        / max(abs(float(args[k])), 1e-3)), \
                    f"d{'log ' if log else ''}{law.target}/d{k}: autodiff {float(grads[k]):.6g}, differences {fd:.6g}"


# ---------------------------------------------------------------------------------------------- monotonicity
@pytest.mark.parametrize(("name", "x", "sign"), MONOTONE, ids=[f"{n}-{x}" for n, x, _ in MONOTONE])
def test_monotone_as_declared(name, x, sign):
    """Finite differences along a 6-decade grid keep the declared sign, at the reference and 8 prior draws."""
    law = bs.get_law(name)
    example = _example(law)
    grid = example[x] * np.geomspace(1e-3, 1e3, 121)
    inputs = {**example, x: grid[:, None]}
    reference = {p: np.array([v]) for p, v in reference_params(law).items()}
    draws = _prior_draws(law, 8, seed=2)
    params = {p: np.concatenate([reference[p], draws[p]])[None, :] for p in law.params}
    values = _evaluate(law, inputs, params)
    assert values.shape == (121, 9)
    finite = np.isfinite(values).all(axis=0)
    assert finite[0], "the law is not finite along the grid at its reference parameters"
    assert finite.sum() >= 7, f"only {finite.sum() - 1} of 8 prior draws keep the law finite along the grid"
    along = sign * np.diff(values[:, finite], axis=0)  # >= 0 where the law moves the declared way
    slack = 1e-12 * np.abs(values[1:, finite])
    worst = np.unravel_index(np.argmin(along + slack), along.shape)
    assert (along >= -slack).all(), (
        f"{law.target} should {'fall' if sign < 0 else 'rise'} with {x}, but changes by {sign * along[worst]:.3g} "
        f"between {x} = {grid[worst[0]]:.3g} and {grid[worst[0] + 1]:.3g}"
    )
    assert sign * (values[-1, 0] - values[0, 0]) > 0, f"{law.target} does not change with {x}"


#: Laws whose direction in an input is the sign of a parameter the data decide (a power law's exponent: a learning
#: rate may rise or fall with D), so they declare no ``monotone``: law -> {input: that exponent}.
ELASTICITY = {"steplaw_lr": {"n": "p", "d": "q"}, "steplaw_batch": {"d": "r"}, "bcrit_power": {"n": "b_n", "d": "b_d"},
              "deepseek_lr": {"c": "exponent"}, "deepseek_batch": {"c": "exponent"}}
#: Laws with no direction in an input under every prior draw, and the condition under which they have one: law ->
#: (input, sign, condition on the parameters).
CONDITIONAL = {
    # exponent alpha below the break, alpha + delta above it: the loss rises past the break when delta < -alpha
    "broken_power_law": ("c", -1, lambda p: (p["alpha"] > 0) & (p["alpha"] + p["delta"] > 0)),
}
#: Inputs in which a law has an optimum rather than a direction (checked by the optimum and landscape tests).
OPTIMUM_INPUTS = {"lr_batch_landscape": {"n", "d", "lr", "batch"}}
ELASTIC = [(name, x, k) for name, xs in ELASTICITY.items() for x, k in xs.items()]


def test_every_input_has_a_direction_or_a_stated_reason():
    """A new law must declare ``monotone`` for each input or say here why it cannot (so every input is tested)."""
    for name in LAWS:
        law = bs.get_law(name)
        for x in law.inputs:
            reasons = [x in law.monotone, x in ELASTICITY.get(name, {}), CONDITIONAL.get(name, ("",))[0] == x,
                       x in OPTIMUM_INPUTS.get(name, set())]
            assert sum(reasons) == 1, f"{name}: input {x!r} has {sum(reasons)} declared directions or reasons"


@pytest.mark.parametrize(("name", "x", "exponent"), ELASTIC, ids=[f"{n}-{x}" for n, x, _ in ELASTIC])
def test_direction_is_the_sign_of_its_exponent(name, x, exponent):
    """Along a 6-decade grid, d log y / d log x is the exponent (so y moves the way its sign says), at the reference,
    8 prior draws, and the same draws with the exponent's sign flipped."""
    law = bs.get_law(name)
    grid = _example(law)[x] * np.geomspace(1e-3, 1e3, 121)
    inputs = {**_example(law), x: grid[:, None]}
    reference = {p: np.array([v]) for p, v in reference_params(law).items()}
    draws = _prior_draws(law, 8, seed=4)
    flipped = {**draws, exponent: -draws[exponent]}
    params = {p: np.concatenate([reference[p], draws[p], flipped[p]])[None, :] for p in law.params}
    values = _evaluate(law, inputs, params)
    assert np.isfinite(values).all() and (values > 0).all()
    slopes = np.diff(np.log(values), axis=0) / np.diff(np.log(grid))[:, None]
    np.testing.assert_allclose(slopes, np.broadcast_to(params[exponent], slopes.shape), rtol=1e-8, atol=1e-10)
    k = params[exponent][0]
    assert (k > 0).any() and (k < 0).any(), f"the draws of {exponent} should take both signs: {k}"
    moves = np.sign(np.diff(values, axis=0))
    assert (moves == np.sign(k)).all(), f"{law.target} does not move with {x} the way the sign of {exponent} says"


@pytest.mark.parametrize("name", list(CONDITIONAL))
def test_direction_under_its_condition(name):
    """Where the condition holds (the reference and prior draws that meet it), the law keeps the sign; and some
    draw that breaks it does not, or the condition would be a declared ``monotone``."""
    law = bs.get_law(name)
    x, sign, condition = CONDITIONAL[name]
    grid = _example(law)[x] * np.geomspace(1e-6, 1e6, 241)
    inputs = {**_example(law), x: grid[:, None]}
    reference = {p: np.array([v]) for p, v in reference_params(law).items()}
    draws = _prior_draws(law, 400, seed=5)
    params = {p: np.concatenate([reference[p], draws[p]])[None, :] for p in law.params}
    values = _evaluate(law, inputs, params)
    holds = np.asarray(condition({p: v[0] for p, v in params.items()}))
    finite = np.isfinite(values).all(axis=0)
    assert holds[0] and finite[0] and holds.sum() >= 100 and (~holds).sum() >= 10, (holds.sum(), finite.sum())
    along = sign * np.diff(values, axis=0)
    slack = 1e-12 * np.abs(values[1:])
    kept = (along >= -slack).all(axis=0)
    assert kept[holds & finite].all(), f"{(~kept[holds & finite]).sum()} draws meeting the condition break the sign"
    assert not kept[~holds & finite].all(), "no draw outside the condition changes direction: declare monotone"


# ---------------------------------------------------------------------------------------------- log_fn
@pytest.mark.parametrize("name", WITH_LOG_FN)
def test_log_fn_agrees_with_log_of_fn(name):
    law = bs.get_law(name)
    draws = _prior_draws(law, 50, seed=3)
    params = {p: v[None, :] for p, v in draws.items()}
    design = default_design(law)
    inputs = {x: design[x].to_numpy(float)[:, None] for x in law.inputs}
    values = _evaluate(law, inputs, params)
    logs = _evaluate(law, inputs, params, log=True)
    ok = np.isfinite(values) & (values > 0) & (values < 1e300)
    assert ok.mean() > 0.95
    np.testing.assert_allclose(logs[ok], np.log(values[ok]), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------------------------- spec round trip
@pytest.mark.parametrize("name", LAWS)
def test_spec_round_trip_through_json(name):
    law = bs.get_law(name)
    saved = json.loads(law.to_json())
    assert law_from_dict(saved) is law  # a registered law is found again by its statistical definition

    # under another name the law is rebuilt from its exported function and serialised priors
    rebuilt = law_from_dict({**saved, "name": f"{name}_reloaded"})
    assert rebuilt.input_names == law.input_names
    assert rebuilt.param_names == law.param_names
    assert rebuilt.target == law.target
    assert dict(rebuilt.monotone) == dict(law.monotone)
    for p in law.params:
        assert law_module._prior_to_dict(rebuilt.params[p]) == law_module._prior_to_dict(law.params[p])
    draws = _prior_draws(law, 4, seed=4)
    params = {p: v[None, :] for p, v in draws.items()}
    design = default_design(law)
    inputs = {x: design[x].to_numpy(float)[:, None] for x in law.inputs}
    np.testing.assert_allclose(_evaluate(rebuilt, inputs, params), _evaluate(law, inputs, params), rtol=1e-12)
    assert (rebuilt.floor is None) == (law.floor is None)  # the noise's growth away from an optimum, exported too
    if law.floor is not None:
        excess = [_x64(lambda f=f: np.asarray(f.excess(*[jnp.asarray(inputs[x], dtype=jnp.float64) for x in law.inputs],
                                                       **{p: jnp.asarray(v) for p, v in params.items()})))
                  for f in (rebuilt, law)]
        np.testing.assert_allclose(*excess, rtol=1e-10, atol=1e-12)  # a difference of logs near 0


def _user_law(**overrides):
    spec = {
        "name": "offset_power_law",
        "fn": lambda c, *, e, a, alpha: e + a * (c / 1e18) ** -alpha,
        "inputs": {"c": "FLOPs"},
        "target": "loss",
        "params": {"e": dist.LogNormal(0.5, 0.5), "a": dist.LogNormal(0.0, 1.0), "alpha": dist.Beta(2, 5)},
        "reference": "user",
    }
    return bs.Law(**{**spec, **overrides})


def test_user_law_round_trips_through_its_exported_function():
    """DESIGN.md's lambda law: JSON -> law_from_dict evaluates identically (values and gradients), twice over."""
    law = _user_law()
    assert not law.registered
    saved = json.loads(law.to_json())  # to_json sorts keys: the argument order must survive that
    assert saved["fn_export"] and "lambda c" in saved["fn_source"]
    rebuilt = law_from_dict(saved)
    again = law_from_dict(json.loads(rebuilt.to_json()))
    c = np.geomspace(1e16, 1e23, 8)[:, None]
    params = {"e": np.array([[1.7, 2.1]]), "a": np.array([[2.0, 0.5]]), "alpha": np.array([[0.3, 0.12]])}
    expected = _evaluate(law, {"c": c}, params)
    assert expected.shape == (8, 2)
    np.testing.assert_allclose(_evaluate(rebuilt, {"c": c}, params), expected, rtol=1e-14)
    np.testing.assert_allclose(_evaluate(again, {"c": c}, params), expected, rtol=1e-14)

    def grad_of(spec):
        return _x64(lambda: np.asarray(jax.grad(lambda a, alpha: spec(1e19, e=1.7, a=a, alpha=alpha),
                                                argnums=(0, 1))(2.0, 0.3)))

    np.testing.assert_allclose(grad_of(rebuilt), grad_of(law), rtol=1e-12)


def test_a_user_law_keeps_its_level_through_json():
    law = _user_law(centre={"a": ("c", "alpha")}, level=["e", "a"])
    assert law.level == ("e", "a")
    rebuilt = law_from_dict(json.loads(law.to_json()))
    assert rebuilt.level == ("e", "a")
    assert law_from_dict({k: v for k, v in json.loads(law.to_json()).items() if k != "level"}).level == ()


def test_unsaveable_prior_is_named():
    law = _user_law(params={"e": dist.LogNormal(0.5, 0.5), "a": dist.HalfNormal(1.0),
                            "alpha": dist.Kumaraswamy(2.0, 5.0)})
    with pytest.raises(bs.LawSpecError, match=r"prior Kumaraswamy cannot be saved; use one of .*register the law"):
        law.to_dict()


def test_a_law_read_back_from_a_file_predicts_but_is_not_refitted(tmp_path):
    law = law_from_dict(json.loads(_user_law().to_json()))
    runs = pd.DataFrame({"c": np.geomspace(1e18, 1e22, 12), "loss": np.linspace(3.5, 2.4, 12)})
    with pytest.raises(bs.LawSpecError, match=r"law 'offset_power_law' was read back from a saved fit: its function is "
                                              r"compiled code that predicts but cannot be fitted again; import the "
                                              r"module that defines the law"):
        bs.fit(law, runs, progress_bar=False)
    with pytest.raises(bs.LawSpecError, match="cannot be calibrated again"):
        bs.calibrate(law, num_simulations=2)


def test_unexported_unregistered_law_cannot_be_loaded():
    saved = {**json.loads(_user_law().to_json()), "fn_export": None}
    with pytest.raises(bs.LawSpecError, match=r"'offset_power_law' .* not registered here .* bs.register\(law\)"):
        law_from_dict(saved)


# ---------------------------------------------------------------------------------------------- prior predictive
@pytest.mark.parametrize("name", LAWS)
def test_prior_predictive_is_sane(name):
    law = bs.get_law(name)
    if law.target not in PLAUSIBLE:
        pytest.fail(f"add a plausible prior-predictive range for target {law.target!r} to PLAUSIBLE")
    low, high = PLAUSIBLE[law.target]
    draws = _prior_draws(law, 4000, seed=5)
    design = default_design(law)
    inputs = {x: design[x].to_numpy(float)[None, :] for x in law.inputs}
    values = _evaluate(law, inputs, {p: v[:, None] for p, v in draws.items()})
    assert values.shape == (4000, len(design))
    assert np.isfinite(values).mean() > 0.99
    median = np.median(values, axis=0)
    assert np.isfinite(median).all()
    assert (median > 0).all()
    spans = f"prior median {law.target} spans {median.min():.3g}..{median.max():.3g}"
    assert median.min() > low and median.max() < high, spans


# ---------------------------------------------------------------------------------------------- published values
DATABLATIONS = (6.255414, 7.3049974, 0.6254804, 0.3526596, 0.3526596, 15.387756, 5.309743)


def _datablations_readme(n, d, u):
    """The scaling law exactly as in the huggingface/datablations README (NumPy), independent of bayescale."""
    a, b, e, alpha, beta, rd_star, rn_star = DATABLATIONS
    big_a, big_b, big_e = np.exp(a), np.exp(b), np.exp(e)
    g = ((alpha * big_a) / (beta * big_b)) ** (1 / (alpha + beta))
    rd = np.maximum((d / u) - 1, 0)
    un = np.minimum(n, (u * g) ** (beta / alpha) * g)
    rn = np.maximum((n / un) - 1, 0)
    return (big_e + big_a / (un + un * rn_star * (1 - np.exp(-1 * rn / rn_star))) ** alpha
            + big_b / (u + u * rd_star * (1 - np.exp(-1 * rd / rd_star))) ** beta)


@pytest.mark.parametrize(("n", "d", "u", "loss"), [(6.34e9, 242e9, 25e9, 2.2256), (8.67e9, 178e9, 25e9, 2.2270)])
def test_data_constrained_published_forward_values(n, d, u, loss):
    """Muennighoff et al. 2023 worked examples (datablations README, LAWS.md F1.4), to the 4 printed decimals."""
    law = bs.get_law("data_constrained")
    value = float(_evaluate(law, {"n": n, "d": d, "u": u}, dict(law.published)))
    assert value == pytest.approx(loss, abs=5e-5)
    assert value == pytest.approx(_datablations_readme(n, d, u), rel=1e-12)


def test_data_constrained_matches_the_reference_code_wherever_unique_tokens_do_not_exceed_tokens():
    law = bs.get_law("data_constrained")
    rng = np.random.default_rng(0)
    n = 10 ** rng.uniform(7, 11, 200)
    d = n * 10 ** rng.uniform(0, 3, 200)
    u = d / 10 ** rng.uniform(0, 2.5, 200)  # 1 to 300 epochs
    np.testing.assert_allclose(_evaluate(law, {"n": n, "d": d, "u": u}, dict(law.published)),
                               _datablations_readme(n, d, u), rtol=1e-12)


def test_data_constrained_corpus_larger_than_the_run_counts_only_the_tokens_seen():
    """u > d: the run sees d unique tokens once; the reference code would credit all u (loss falling with u)."""
    law = bs.get_law("data_constrained")
    n, d = 1e9, 2e10
    bigger = _evaluate(law, {"n": n, "d": d, "u": np.array([d, 2 * d, 100 * d])}, dict(law.published))
    np.testing.assert_allclose(bigger, bigger[0], rtol=1e-14)
    assert _datablations_readme(n, d, 100 * d) < bigger[0] - 0.01


def test_published_values_are_stored_in_double_precision():
    law = bs.get_law("data_constrained")
    assert law.published["e"] == pytest.approx(np.exp(0.6254804), rel=1e-15)
    assert law.published["a"] == pytest.approx(np.exp(6.255414), rel=1e-15)
    assert law.published["b"] == pytest.approx(np.exp(7.3049974), rel=1e-15)


# ---------------------------------------------------------------------------------------------- optimum
HOFFMANN = {"e": 1.69, "a": 406.4, "b": 410.7, "alpha": 0.34, "beta": 0.28}


#: Parameter sets per law with a closed-form optimum (each law's published values, and one more).
OPTIMUM_PARAMS = {
    "chinchilla": {"published": None, "hoffmann": HOFFMANN},
    # Gadre et al.'s form: two illustrative parameter sets, the second steeper and hungrier for data
    "overtraining": {"c4": {"e": 1.6, "a": 60.0, "b": 400.0, "eta": 0.12},
                     "data_hungry": {"e": 1.9, "a": 30.0, "b": 3e3, "eta": 0.2}},
}


def test_every_closed_form_optimum_is_tested():
    assert set(WITH_OPTIMUM) == set(OPTIMUM_PARAMS)


@pytest.mark.parametrize(("name", "source"), [(n, s) for n, v in OPTIMUM_PARAMS.items() for s in v])
@pytest.mark.parametrize("c", [1e19, 5.76e23, 1e26])
def test_closed_form_optimum_matches_brute_force_minimisation(name, c, source):
    law = bs.get_law(name)
    assert set(law.inputs) == {"n", "d"}
    params = OPTIMUM_PARAMS[name][source] or dict(law.published)
    k = 6.0
    n_opt, d_opt, loss_opt = (float(v) for v in _x64(law.optimum, c, k, **params))
    assert k * n_opt * d_opt == pytest.approx(c, rel=1e-12)

    def loss_at(log_n):
        n = np.exp(log_n)
        return float(_evaluate(law, {"n": n, "d": c / (k * n)}, params))

    centre = np.log(np.sqrt(c / k))
    best = minimize_scalar(loss_at, bounds=(centre - 15, centre + 15), method="bounded",
                           options={"xatol": 1e-10})
    assert best.success
    assert n_opt == pytest.approx(np.exp(best.x), rel=1e-4)
    assert loss_opt == pytest.approx(best.fun, rel=1e-10)
    assert loss_opt <= best.fun * (1 + 1e-14)
    for factor in (0.5, 2.0):  # and it is a minimum along the frontier
        assert loss_at(np.log(n_opt * factor)) > loss_opt


# ---------------------------------------------------------------------------------------------- checks at creation
def _bad(**overrides):
    return lambda: _user_law(**overrides)


BAD_SPECS = {
    "fn missing a parameter": (
        _bad(fn=lambda c, *, e, a: e + a * c),
        r"fn signature \(c, \*, e, a\) does not match the spec; expected positional inputs \['c'\] and keyword "
        r"parameters \['a', 'alpha', 'e'\] \(missing \['alpha'\]\)"),
    "fn with an unknown parameter": (
        _bad(fn=lambda c, *, e, a, alpha, beta: e + a * c**-alpha),
        r"does not match the spec.*\(unexpected \['beta'\]\)"),
    "fn missing an input": (
        _bad(fn=lambda *, e, a, alpha: e + a),
        r"fn signature \(\*, e, a, alpha\) does not match the spec; expected positional inputs \['c'\]"),
    "log_fn mismatching": (
        _bad(log_fn=lambda c, *, e, a: jnp.log(e + a * c)),
        r"log_fn signature .* \(missing \['alpha'\]\)"),
    "floor mismatching": (
        _bad(floor=lambda c, *, e, a: e + 0.0 * c),
        r"floor signature .* \(missing \['alpha'\]\)"),
    "floor not callable": (_bad(floor=0.1), r"floor must be callable, got float"),
    "log_fn disagreeing": (
        _bad(log_fn=lambda c, *, e, a, alpha: jnp.log(e + a * (c / 1e18) ** -alpha) + 0.1),
        r"log_fn disagrees with log\(fn\)"),
    "prior not a distribution": (
        _bad(params={"e": "LogNormal(0.5, 0.5)", "a": dist.LogNormal(0.0, 1.0), "alpha": dist.Beta(2, 5)}),
        r"prior of 'e' must be a numpyro distribution \(e.g. dist.LogNormal\(0, 1\)\), got str"),
    "improper prior": (
        _bad(params={"e": dist.ImproperUniform(dist.constraints.positive, (), ()), "a": dist.LogNormal(0.0, 1.0),
                     "alpha": dist.Beta(2, 5)}),
        r"prior of 'e' is improper; give a proper distribution"),
    "vector prior": (
        _bad(params={"e": dist.LogNormal(jnp.zeros(2), 1.0), "a": dist.LogNormal(0.0, 1.0),
                     "alpha": dist.Beta(2, 5)}),
        r"prior of 'e' must be scalar, got batch shape \(2,\)"),
    "no parameters": (_bad(params={}), r"declare at least one parameter with its prior"),
    "parameter named like the likelihood's": (
        _bad(fn=lambda c, *, e, a, sigma: e + a * (c / 1e18) ** -sigma,
             params={"e": dist.LogNormal(0.5, 0.5), "a": dist.LogNormal(0.0, 1.0), "sigma": dist.Beta(2, 5)}),
        r"parameter name\(s\) \['sigma'\] are taken by the model bayescale builds"),
    "parameter named like a pooled parameter's site": (
        _bad(fn=lambda c, *, e, e_loc, alpha: e + e_loc * (c / 1e18) ** -alpha,
             params={"e": dist.LogNormal(0.5, 0.5), "e_loc": dist.LogNormal(0.0, 1.0), "alpha": dist.Beta(2, 5)}),
        r"parameter name\(s\) \['e_loc'\] are taken by the model bayescale builds .* rename them"),
    "no inputs": (_bad(inputs={}), r"declare at least one input, e.g. inputs=\{'n': 'parameters'\}"),
    "missing target": (_bad(target=None), r"target must name the predicted column .* target='loss'; got None"),
    "empty target": (_bad(target=""), r"target must name the predicted column"),
    "target is an input": (_bad(target="c"), r"target 'c' is also an input"),
    "input is a parameter": (
        _bad(inputs={"c": "FLOPs", "e": "nats"}), r"names used both as input and parameter: \['e'\]"),
    "bad input name": (_bad(inputs={"c flops": "FLOPs"}), r"input name 'c flops' is not an identifier"),
    "bad name": (_bad(name="offset power law"), r"name must be a Python identifier, got 'offset power law'"),
    "fn not callable": (_bad(fn="e + a * c**-alpha"), r"fn must be callable, got str"),
    "centre unknown parameter": (_bad(centre={"b": ("c", "alpha")}), r"centre names unknown parameter 'b'"),
    "centre unknown input": (_bad(centre={"a": ("n", "alpha")}), r"centre of 'a' names unknown input 'n'"),
    "centre unknown exponent": (
        _bad(centre={"a": ("c", "beta")}), r"centre of 'a' names unknown exponent parameter 'beta'"),
    "centre on a signed parameter": (
        _bad(params={"e": dist.LogNormal(0.5, 0.5), "a": dist.Normal(0.0, 1.0), "alpha": dist.Beta(2, 5)},
             centre={"a": ("c", "alpha")}),
        r"centred parameter 'a' needs a prior on \(0, inf\)"),
    "level of one parameter": (
        _bad(centre={"a": ("c", "alpha")}, level=("e",)),
        r"level must name two or more distinct parameters, got \['e'\]"),
    "level unknown parameter": (
        _bad(centre={"a": ("c", "alpha")}, level=("e", "b")), r"level names unknown parameter\(s\) \['b'\]"),
    "level of two uncentred parameters": (
        _bad(level=("e", "a")), r"level takes at most one parameter outside centre= \(the irreducible term\), first; "
                                r"\['e', 'a'\] are not centred"),
    "level's irreducible term signed": (
        _bad(params={"e": dist.Normal(0.5, 0.5), "a": dist.LogNormal(0.0, 1.0), "alpha": dist.Beta(2, 5)},
             centre={"a": ("c", "alpha")}, level=("e", "a")),
        r"level parameter 'e' needs a prior on \(0, inf\)"),
    "monotone bad sign": (_bad(monotone={"c": 0}), r"monotone must map inputs to -1 or \+1, got 'c': 0"),
    "monotone unknown input": (_bad(monotone={"n": -1}), r"monotone must map inputs to -1 or \+1, got 'n': -1"),
    "published unknown parameter": (
        _bad(published={"beta": 0.3}), r"published values name unknown parameters \['beta'\]"),
    "example unknown input": (_bad(example={"n": 1e9}), r"example names unknown inputs \['n'\]; inputs are \['c'\]"),
    "noise_scale not positive": (
        _bad(noise_scale=0.0), r"noise_scale \(the prior scale of the residual sd on the link scale\) must be a "
                               r"finite number > 0, got 0.0"),
    "fn returns several values": (
        _bad(fn=lambda c, *, e, a, alpha: jnp.stack([e, a, alpha])),
        r"fn must return one value per run; got shape \(3,\) for scalar inputs"),
    "fn fails": (
        _bad(fn=lambda c, *, e, a, alpha: e + a * c.no_such_method()),
        r"evaluating fn at \{'c': 1000000000.0\} with prior means failed"),
    "fn undefined at the example": (
        _bad(fn=lambda c, *, e, a, alpha: jnp.log(-e) + a * c**-alpha),
        r"fn returned nan at \{'c': 1000000000.0\} with prior means .*give example= inputs"),
    "fn written with NumPy": (
        _bad(fn=lambda c, *, e, a, alpha: e + a * np.power(np.asarray(c) / 1e18, -alpha)),
        r"fn fails when compiled and differentiated, as the sampler runs it \(.*\); write it with jax.numpy"),
    "fn branching in Python": (
        _bad(fn=lambda c, *, e, a, alpha: e + a * (c / 1e18) ** -alpha if c > 0 else e),
        r"fn fails when compiled and differentiated.*not NumPy, math or Python if/else on its arguments"),
    "fn summing over the runs": (
        _bad(fn=lambda c, *, e, a, alpha: e + jnp.sum(a * (c / 1e18) ** -alpha)),
        r"fn must return one value per run, broadcasting over its inputs; inputs of 3 runs gave shape \(\)"),
    "monotone the wrong way": (
        _bad(monotone={"c": 1}), r"monotone=\{'c': \+1\} promises it increases in 'c', but fn gives .* at c=5e\+08 "
                                 r"and .* at c=2e\+09 \(prior means\); correct the sign or the formula"),
    "published value outside the prior": (
        _bad(published={"alpha": 1.5}), r"published values \{'alpha': 1.5\} lie outside their priors' support"),
    "inputs as a list": (_bad(inputs=["c"]), r"inputs must be a mapping \(a dict\), got list \['c'\]; e.g. "
                                             r"inputs=\{'c': 'FLOPs'\}"),
    "input named like the likelihood's": (
        _bad(inputs={"sigma": "FLOPs"}, fn=lambda sigma, *, e, a, alpha: e + a * (sigma / 1e18) ** -alpha),
        r"input name\(s\) \['sigma'\] are taken by the model bayescale builds .* e.g. sigma_in"),
}


def _two_input_law(fn, **kw):
    return bs.Law(name="two_inputs_test", fn=fn, inputs={"n": "parameters", "d": "tokens"}, target="loss",
                  params={"e": dist.LogNormal(0.5, 0.5), "a": dist.LogNormal(6.0, 1.0), "alpha": dist.Beta(4, 10),
                          "b": dist.LogNormal(6.0, 1.0), "beta": dist.Beta(4, 10)},
                  reference="test", example={"n": 1e9, "d": 2e10}, **kw)


def _two(n, d, *, e, a, alpha, b, beta):
    return e + a / n**alpha + b / d**beta


def test_inputs_in_another_order_than_fn_takes_them_are_refused():
    """Inputs are passed by position: fn(d, n) with inputs declared (n, d) would swap the columns."""
    with pytest.raises(bs.LawSpecError, match=r"fn takes its inputs in the order \(d, n\), but inputs= declares them "
                                              r"as \(n, d\); the law passes inputs by position, so 'n' would receive "
                                              r"another column"):
        _two_input_law(lambda d, n, *, e, a, alpha, b, beta: _two(n, d, e=e, a=a, alpha=alpha, b=b, beta=beta))


def test_a_closed_form_optimum_is_checked_against_fn():
    chinchilla = bs.get_law("chinchilla")

    def shifted(n, d, *, e, a, b, alpha, beta):
        return chinchilla.fn(n, d, e=e, a=a, b=b, alpha=alpha, beta=beta) + 0.5

    with pytest.raises(bs.LawSpecError, match=r"optimum disagrees with fn at c=.* its loss .* is not fn's .* leave "
                                              r"optimum out"):
        dataclasses.replace(chinchilla, name="chinchilla_shifted_test", fn=shifted, log_fn=None, registered=False)
    ok = dataclasses.replace(chinchilla, name="chinchilla_copy_test", log_fn=None, registered=False)
    assert ok.optimum is chinchilla.optimum  # the catalogue's own optimum passes the same check


def test_an_infinite_prior_mean_starts_the_chains_at_the_median():
    import numpyro
    from numpyro import handlers

    from bayescale.engine import init_near_mean

    def model():
        numpyro.sample("e", dist.HalfCauchy(2.0))
        numpyro.sample("g", dist.InverseGamma(0.5, 1.0))  # no inverse CDF here: the median of fixed draws

    sites = {k: {**v, "value": None} for k, v in handlers.trace(handlers.seed(model, 0)).get_trace().items()}
    assert float(init_near_mean(sites["e"], radius=0.0)) == pytest.approx(2.0)  # HalfCauchy(2)'s median, not inf
    assert 3.6 < float(init_near_mean(sites["g"], radius=0.0)) < 5.4  # InverseGamma(0.5, 1)'s median is 4.40


@pytest.mark.parametrize("case", list(BAD_SPECS))
def test_bad_spec_is_refused_at_creation(case):
    make, message = BAD_SPECS[case]
    with pytest.raises(bs.LawSpecError, match=message) as err:
        make()
    assert "law 'offset_power_law'" in str(err.value) or case == "bad name"


def test_positional_parameters_and_extra_positional_inputs_are_accepted():
    law = _user_law(fn=lambda x, e, a, alpha: e + a * (x / 1e18) ** -alpha)  # names of positional inputs are free
    assert float(_evaluate(law, {"c": 1e18}, {"e": 1.0, "a": 2.0, "alpha": 0.5})) == pytest.approx(3.0)


# ---------------------------------------------------------------------------------------------- registry
def test_get_law_suggests_the_close_match():
    with pytest.raises(KeyError, match=r"unknown law 'chinchila'; did you mean 'chinchilla'\? Registered laws: "):
        bs.get_law("chinchila")
    with pytest.raises(KeyError, match=r"unknown law 'no_such_law'\. Registered laws: .*chinchilla"):
        bs.get_law("no_such_law")
    for wrong in (None, 123):  # neither a name nor a Law: a type error, not an unknown name
        with pytest.raises(TypeError, match=rf"a law is a registered name \(bs.laws\(\) lists them, e.g. "
                                            rf"'chinchilla'\) or a bs.Law, got {type(wrong).__name__} {wrong}"):
            bs.get_law(wrong)


def test_get_law_passes_a_law_through():
    law = _user_law()
    assert bs.get_law(law) is law


@pytest.fixture
def registry(monkeypatch):
    """The registry, restored after the test."""
    bs.laws()  # load the catalogue before taking the copy
    saved = dict(law_module._REGISTRY)
    yield law_module._REGISTRY
    law_module._REGISTRY.clear()
    law_module._REGISTRY.update(saved)


def test_register_refuses_duplicates_unless_overwrite(registry):
    first = bs.register(_user_law())
    assert first.registered and "offset_power_law" in bs.laws()
    assert bs.get_law("offset_power_law") is first
    with pytest.raises(bs.LawSpecError, match=r"a law named 'offset_power_law' is already registered; pass "
                                              r"overwrite=True to replace it"):
        bs.register(_user_law())
    assert bs.get_law("offset_power_law") is first
    second = bs.register(_user_law(reference="user, v2"), overwrite=True)
    assert bs.get_law("offset_power_law") is second
    with pytest.raises(bs.LawSpecError, match=r"'chinchilla' is already registered"):
        bs.register(_user_law(name="chinchilla"))


def test_registered_user_law_is_found_from_its_saved_spec(registry):
    law = bs.register(_user_law())
    assert law_from_dict(json.loads(law.to_json())) is law
    # the same name with another statistical definition is rebuilt from its export, not confused with the registry
    other = _user_law(params={"e": dist.LogNormal(0.0, 0.5), "a": dist.LogNormal(0.0, 1.0),
                              "alpha": dist.Beta(2, 5)})
    rebuilt = law_from_dict(json.loads(other.to_json()))
    assert rebuilt is not law
    assert law_module._prior_to_dict(rebuilt.params["e"]) == {"dist": "LogNormal", "args": {"loc": 0.0, "scale": 0.5}}


def test_a_saved_law_whose_function_differs_from_the_registered_one_keeps_its_own(registry):
    """A user law edited and registered again under its name and priors: a fit saved before keeps the function it
    was drawn under, with a warning, instead of predicting with the new formula."""
    saved = json.loads(_user_law().to_json())
    bs.register(_user_law(fn=lambda c, *, e, a, alpha: e + 2 * a * (c / 1e18) ** -alpha))
    with pytest.warns(UserWarning, match=r"law 'offset_power_law' is registered here with a function that differs "
                                         r"from the one saved with this fit \(its fn gives .* against the saved .*\); "
                                         r"the saved function is used"):
        rebuilt = law_from_dict(saved)
    assert not rebuilt.registered
    at = {"c": 1e20, "e": 1.5, "a": 2.0, "alpha": 0.3}
    with jax.enable_x64(True):  # the export computes in float64
        assert float(rebuilt(**at)) == pytest.approx(1.5 + 2.0 * 100 ** -0.3, rel=1e-12)
    # the same function registered again (a new process, a new lambda object) is the registry's, without a warning
    registry.pop("offset_power_law")
    again = bs.register(_user_law())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert law_from_dict(saved) is again


def test_a_user_law_named_as_a_built_in_one_keeps_its_function_when_loaded():
    """A variant of a built-in law under the built-in's name and priors: its saved fit predicts with its own
    function, not the built-in's."""
    chinchilla = bs.get_law("chinchilla")

    def shifted(n, d, *, e, a, b, alpha, beta):
        return chinchilla.fn(n, d, e=e, a=a, b=b, alpha=alpha, beta=beta) + 0.5

    variant = dataclasses.replace(chinchilla, fn=shifted, log_fn=None, optimum=None, registered=False)
    with pytest.warns(UserWarning, match=r"law 'chinchilla' is registered here with a function that differs from the "
                                         r"one saved with this fit"):
        rebuilt = law_from_dict(json.loads(variant.to_json()))
    at = {"n": 1e10, "d": 2e11, "e": 1.7, "a": 400.0, "b": 410.0, "alpha": 0.34, "beta": 0.28}
    with jax.enable_x64(True):
        assert float(rebuilt(**at)) == pytest.approx(float(chinchilla(**at)) + 0.5, rel=1e-9)


def test_registering_a_built_in_name_first_thing_is_refused_and_leaves_the_catalogue_whole():
    import subprocess
    import sys

    code = ("import bayescale as bs, numpyro.distributions as dist\n"
            "law = bs.Law(name='chinchilla', fn=lambda c, *, e: e + 0.0 * c, inputs={'c': 'FLOPs'}, target='loss',\n"
            "             params={'e': dist.LogNormal(0.5, 0.5)}, reference='test', example={'c': 1e20})\n"
            "try:\n    bs.register(law)\nexcept bs.LawSpecError as err:\n    print('refused:', err)\n"
            "print(len(bs.laws()), bs.get_law('kaplan').name)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "refused: a law named 'chinchilla' is already registered" in out.stdout and "kaplan" in out.stdout


def test_a_fit_whose_law_cannot_be_written_down_works_and_only_its_save_is_refused(tmp_path):
    runs = pd.DataFrame({"c": np.geomspace(1e18, 1e22, 12), "loss": 1.5 + 2.0 * (np.geomspace(1e18, 1e22, 12) / 1e18)
                         ** -0.3})
    law = _user_law(params={"e": dist.LogNormal(0.5, 0.5), "a": dist.LogNormal(0.0, 1.0),
                            "alpha": dist.Kumaraswamy(2.0, 5.0)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short fit: only its use and save are checked
        fit = bs.fit(law, runs, num_chains=1, num_warmup=50, num_samples=50, progress_bar=False, fallback=False)
    assert len(fit.predict(pd.DataFrame({"c": [1e23]}))) == 1
    with pytest.raises(bs.LawSpecError, match=r"this fit cannot be saved: prior Kumaraswamy cannot be saved"):
        fit.save(tmp_path / "fit.nc")
    assert not (tmp_path / "fit.nc").exists()


def test_a_fit_whose_function_cannot_be_exported_says_so_when_saved(tmp_path):
    """np.zeros(c.shape) compiles (the shape is known then) but does not export (the number of runs is symbolic):
    the file then loads only where the law is registered, which its save says, and its load does not call it
    damaged."""
    c = np.geomspace(1e18, 1e22, 12)
    runs = pd.DataFrame({"c": c, "loss": 1.5 + 2.0 * (c / 1e18) ** -0.3})
    law = _user_law(fn=lambda c, *, e, a, alpha: e + a * (c / 1e18) ** -alpha + np.zeros(c.shape))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short fit: only its save and load are checked
        fit = bs.fit(law, runs, num_chains=1, num_warmup=50, num_samples=50, progress_bar=False, fallback=False)
    with pytest.warns(UserWarning, match=r"law 'offset_power_law': its function could not be exported \(jax.export\), "
                                         r"so the saved fit loads only where the law is registered"):
        fit.save(tmp_path / "fit.nc")
    with pytest.raises(bs.FitFileError, match=r"fit.nc: law 'offset_power_law' in this file is not registered here") \
            as err:
        bs.load(tmp_path / "fit.nc")
    assert "damaged" not in str(err.value)


def test_user_law_undefined_on_the_runs_is_caught_before_sampling():
    from bayescale.fit import _check_law_on_runs

    runs = pd.DataFrame({"c": np.geomspace(1e18, 1e22, 12), "loss": np.linspace(3.5, 2.4, 12)})
    priors = {"e": dist.LogNormal(0.5, 0.5), "a": dist.LogNormal(0.0, 1.0), "alpha": dist.Beta(2, 5)}
    negative = bs.Law(name="negative_law_test", fn=lambda c, *, e, a, alpha: -e - a * (c / 1e18) ** -alpha,
                      inputs={"c": "FLOPs"}, target="loss", params=priors, reference="test", example={"c": 1e20})
    with pytest.raises(bs.LawSpecError, match=r"law 'negative_law_test' at its prior means is -\d.* on row 0, and not "
                                              r"finite and > 0 \(the likelihood is on its log\) on 12 of 12 runs"):
        bs.fit(negative, runs, progress_bar=False)
    partly = bs.Law(name="partly_negative_law_test", fn=lambda c, *, e, a, alpha: e - a * jnp.log(c / 1e20),
                    inputs={"c": "FLOPs"}, target="loss", params=priors, reference="test", example={"c": 1e20})
    with pytest.warns(bs.DataWarning, match=r"not finite and > 0 .* on \d+ of 12 runs .* the sampler must stay away"):
        _check_law_on_runs(partly, bs.validate_runs(runs, partly))


def test_catalogue_laws_are_recognised_however_the_catalogue_was_imported():
    import subprocess
    import sys

    code = ("import bayescale.models.loss_scaling, bayescale as bs; from bayescale.law import _is_built_in; "
            "print(_is_built_in(bs.get_law('chinchilla')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True", out.stderr  # else every fit of a catalogue law evaluates it eagerly
