"""bayescale: Bayesian scaling laws with hierarchical NumPyro models, NUTS, ArviZ diagnostics and decisions.

Examples
--------
>>> import bayescale as bs
>>> law = bs.get_law("chinchilla")
>>> sorted(law.inputs)
['d', 'n']
"""

from bayescale._devices import configure_cpu_dispatch as _configure_cpu_dispatch
from bayescale._devices import configure_host_devices as _configure_host_devices
from bayescale._devices import load_lazy_modules as _load_lazy_modules

_configure_host_devices()
_load_lazy_modules()  # after the host devices: loading JAX does not start its backend
_configure_cpu_dispatch()  # JAX is loaded, its backend not yet started

from bayescale import datasets  # noqa: E402
from bayescale.backtest import Backtest, backtest  # noqa: E402
from bayescale.calibration import CalibrationResult, CalibrationWarning, calibrate  # noqa: E402
from bayescale.chain import Chain, ChainFit, chain  # noqa: E402
from bayescale.compare import Comparison, compare  # noqa: E402
from bayescale.data import DataWarning, RunTableError, pareto_front, validate_runs  # noqa: E402
from bayescale.decide import (  # noqa: E402
    Allocation,
    BatchTradeoff,
    NextRun,
    Recommendation,
    Replay,
    ScaleComparison,
    allocate,
    batch_tradeoff,
    compare_at_scale,
    next_run,
    recommend,
    replay,
)
from bayescale.fit import (  # noqa: E402
    ConvergenceWarning,
    Fit,
    FitFileError,
    FitManyError,
    PriorWarning,
    fit,
    fit_many,
    load,
)
from bayescale.law import Law, LawSpecError, get_law, laws, register  # noqa: E402
from bayescale.simulate import simulate_ladder  # noqa: E402


def _enable_persistent_cache() -> None:
    """Turn JAX's persistent compilation cache on now (:func:`bayescale.engine.enable_persistent_cache`).

    Not only at a process's first fit: a process that loads a saved fit and predicts from it, checks or reports it,
    or an SBC that draws its simulations before its first fit, would otherwise compile its programs again in every
    process (a loaded fit's prediction, allocation and checks: 22 programs, 3.9 s of XLA compile in each new
    process until 2026-12-06). A bad ``BAYESCALE_JAX_CACHE_MAX_MB`` does not stop the import: it is a warning here,
    the cache stays off, and every fit raises the error (naming the variable) until it is fixed.
    """
    import warnings

    from bayescale.engine import enable_persistent_cache

    try:
        enable_persistent_cache()
    except ValueError as err:
        with warnings.catch_warnings():
            if _is_command():  # one plain line, as the command's other warnings (its own hook is not set yet)
                from bayescale._scripts import show_warning

                warnings.showwarning = show_warning
            warnings.warn(f"bayescale: {err}. Until it is fixed, the persistent compilation cache is off, and fits "
                          "raise this error.", RuntimeWarning, stacklevel=3)


def _is_command() -> bool:
    """Whether this process is the ``bayescale`` command: its console script, or ``python -m bayescale``."""
    import os
    import sys

    if os.path.basename(sys.argv[0] if sys.argv else "").split(".")[0] == "bayescale":
        return True
    argv = list(getattr(sys, "orig_argv", ()))
    return "-m" in argv and argv[argv.index("-m") + 1:argv.index("-m") + 2] in (["bayescale"], ["bayescale.cli"])


_enable_persistent_cache()

__version__ = "0.1.0"

#: Submodules loaded on first use as ``bs.<name>`` (matplotlib, the report's templates and the HTML writer stay out
#: of ``import bayescale``).
_LAZY_SUBMODULES = ("plots", "report", "check", "predict", "classical", "posterior", "engine", "build", "demo",
                    "models", "cli")


def __getattr__(name: str):
    """Import the submodule ``bayescale.<name>`` on first use (``bs.plots.plot_compare_at_scale(...)``)."""
    if name in _LAZY_SUBMODULES:
        import importlib

        return importlib.import_module(f"bayescale.{name}")
    raise AttributeError(f"module 'bayescale' has no attribute {name!r}")

__all__ = [
    "Allocation",
    "Backtest",
    "BatchTradeoff",
    "CalibrationResult",
    "CalibrationWarning",
    "Chain",
    "ChainFit",
    "Comparison",
    "ConvergenceWarning",
    "PriorWarning",
    "DataWarning",
    "Fit",
    "FitFileError",
    "FitManyError",
    "Law",
    "LawSpecError",
    "NextRun",
    "Recommendation",
    "Replay",
    "RunTableError",
    "ScaleComparison",
    "allocate",
    "backtest",
    "batch_tradeoff",
    "calibrate",
    "chain",
    "compare",
    "compare_at_scale",
    "datasets",
    "fit",
    "fit_many",
    "get_law",
    "laws",
    "load",
    "next_run",
    "pareto_front",
    "recommend",
    "replay",
    "register",
    "simulate_ladder",
    "validate_runs",
]
