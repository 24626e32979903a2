"""Host-device set-up: how many NUTS chains run in parallel on CPU (must happen before JAX starts).

On CPU the engine splits a run's chains into one share per host device and runs each share in its own thread
(:func:`bayescale.engine.threaded`). Measured on a 2-core machine: chains in parallel over host devices sample 2-3x
faster than vectorized chains.
bayescale asks XLA for ``max(4, cpu_count)`` host devices (enough for the default 4 chains) unless the user set
``--xla_force_host_platform_device_count`` already or ``BAYESCALE_HOST_DEVICES`` says otherwise. It has no effect
if JAX's backend was started before bayescale was imported; the chains of a fit then run one after another.
"""

from __future__ import annotations

import os
import sys

_FLAG = "--xla_force_host_platform_device_count"


def configure_host_devices() -> int | None:
    """Request host devices for parallel chains; returns the count requested, or None if left unchanged."""
    flags = os.environ.get("XLA_FLAGS", "")
    if _FLAG in flags:
        return None
    if _backend_started():
        return None
    n = int(os.environ.get("BAYESCALE_HOST_DEVICES", max(4, os.cpu_count() or 1)))
    os.environ["XLA_FLAGS"] = f"{flags} {_FLAG}={n}".strip()
    return n


_ASYNC = "BAYESCALE_CPU_ASYNC_DISPATCH"


def configure_cpu_dispatch() -> bool:
    """Run JAX's CPU computations on the calling thread (``jax_cpu_enable_async_dispatch=False``); True if set.

    With asynchronous dispatch, JAX's default, each call hands its computation to an XLA thread and waits for it.
    bayescale makes tens of thousands of small calls in a row (the Huber fit's L-BFGS: about 44,000 for its 243
    starts), and each handoff costs a trip through the scheduler. Measured on a 2-core machine (2026-12-03), the
    243 starts of a Huber fit to 192 Chinchilla runs took 10.9 s in place of 18.0 s, and 33.7 s in place of 114.6
    s while another process sampled. A fit's chains still run at once, one thread per host device. Like the host
    devices it must be set before JAX's backend starts (it is left alone if the backend has started); set
    ``BAYESCALE_CPU_ASYNC_DISPATCH=1`` to keep JAX's default.
    """
    if os.environ.get(_ASYNC, "0") not in ("", "0") or _backend_started():
        return False
    try:
        import jax

        jax.config.update("jax_cpu_enable_async_dispatch", False)
    except (ImportError, AttributeError):  # the option is gone: keep JAX's default
        return False
    return True


def _backend_started() -> bool:
    """Whether JAX's backend has started, after which XLA's flags and the CPU client's options are fixed.

    False if JAX is not imported, or if its private API moved (setting an option that may be too late is
    harmless).
    """
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):
        return False


def load_lazy_modules(names: tuple[str, ...] = ("jax", "numpyro")) -> None:
    """Finish importing the packages that ``lazy_loader`` registered but has not loaded yet.

    ArviZ (``arviz_base``) registers ``jax`` and ``numpyro`` with ``lazy_loader``: a placeholder module sits in
    ``sys.modules`` until an attribute is first read. If ``import numpyro.distributions`` comes first, Python
    imports the submodules against the placeholder and ``numpyro.distributions`` is left without its
    ``distribution`` attribute, which NumPyro itself needs (``numpyro.factor``), so every fit failed with
    ``AttributeError`` when ArviZ was imported before bayescale. Reading an attribute runs the package's own
    ``__init__`` first, as a plain import would.
    """
    from importlib.util import _LazyModule

    for name in names:
        module = sys.modules.get(name)
        if isinstance(module, _LazyModule):
            getattr(module, "__version__", None)
