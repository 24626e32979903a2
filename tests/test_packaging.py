"""The wheel builds, holds the package (with ``bayescale.models``) and nothing else, and works once installed.

The installed check runs in a temporary venv, from a temporary working directory outside the source tree, so
that only the wheel's copy of bayescale can be imported. The venv gets the test environment's third-party
packages through a ``.pth`` file (no downloads), written *after* the wheel is installed so that pip never sees
the developer's editable bayescale; site directories listed in a ``.pth`` file are not themselves scanned for
``.pth`` files, so the editable install's import hook does not leak in either.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Not copied into the build tree: local environments, build outputs, caches, VCS data.
_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", ".ci-venv", "venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
    ".hypothesis", "_build", "out", "*.nc", "wheelhouse", "device_out",
)


def _run(cmd, *, cwd, env=None, timeout=600) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, (
        f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
        f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
    )
    return proc


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV"}}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    return env


def _build_wheel(src: Path, out: Path) -> Path:
    """Build the wheel from a copy of the source tree (so the checkout gets no build/ or egg-info)."""
    env = _clean_env()
    if find_spec("setuptools") is not None:
        # Offline: the build backend is already in this environment.
        cmd = [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-w", out]
    else:
        # pip fetches the build backend (setuptools) from the package index into an isolated build env.
        cmd = [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-w", out]
    _run(cmd, cwd=src, env=env)
    wheels = sorted(out.glob("bayescale-*.whl"))
    assert len(wheels) == 1, f"expected one bayescale wheel in {out}, found {wheels}"
    return wheels[0]


def _venv_paths(venv: Path) -> tuple[Path, Path, Path]:
    """(python, scripts dir, purelib) of a venv made by this interpreter."""
    scheme_vars = {"base": str(venv), "platbase": str(venv)}
    scripts = Path(sysconfig.get_path("scripts", scheme="venv", vars=scheme_vars))
    purelib = Path(sysconfig.get_path("purelib", scheme="venv", vars=scheme_vars))
    python = scripts / ("python.exe" if os.name == "nt" else "python")
    return python, scripts, purelib


def _dependency_dirs() -> list[str]:
    """This interpreter's site-packages directories (where the test environment's dependencies live)."""
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE and site.getusersitepackages():
        dirs.append(site.getusersitepackages())
    return [d for d in dict.fromkeys(dirs) if Path(d).is_dir()]


SMOKE = textwrap.dedent(
    """
    import os, sys, warnings
    from pathlib import Path

    venv = Path(sys.argv[1]).resolve()
    import bayescale as bs
    import bayescale.models

    for mod in (bs, bayescale.models):
        where = Path(mod.__file__).resolve()
        assert where.is_relative_to(venv), f"{mod.__name__} imported from {where}, not from the venv {venv}"
    assert not Path.cwd().resolve().is_relative_to(Path(sys.argv[2]).resolve()), "cwd is inside the source tree"

    names = list(bs.laws())
    assert "chinchilla" in names, names
    runs = bs.simulate_ladder("chinchilla", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bs.ConvergenceWarning)
        fit = bs.fit("chinchilla", runs, num_chains=2, num_warmup=200, num_samples=200, seed=0,
                     progress_bar=False)
    import pandas as pd
    pred = fit.predict(pd.DataFrame({"n": [1e10], "d": [2e11]}), quantiles=(0.05, 0.5, 0.95))
    assert len(pred) == 1, pred
    numeric = pred.select_dtypes("number").to_numpy()
    assert numeric.size and (numeric == numeric).all(), pred
    row = pred.iloc[0]
    assert 0 < row["q05"] <= row["q50"] <= row["q95"] < 10, pred
    print("LAWS", ",".join(names))
    print("RUNS", len(runs))
    print("PREDICTION", pred.to_dict("records"))
    print("CLI_MODULE", __import__("importlib.util").util.find_spec("bayescale.cli") is not None)
    """
)


@pytest.mark.slow
def test_wheel_installs_and_fits_outside_source_tree(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=_IGNORE, symlinks=True)
    wheel = _build_wheel(src, tmp_path / "dist")

    # --- contents
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    for required in ("bayescale/__init__.py", "bayescale/models/__init__.py", "bayescale/models/loss_scaling.py"):
        assert required in names, f"{required} missing from {wheel.name}"
    top = {n.split("/", 1)[0] for n in names}
    assert top <= {"bayescale", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}, (
        f"unexpected top-level entries in the wheel: {sorted(top)}")
    for stray in ("tests/", "case_studies/", "benchmarks/", "docs/", "models/"):
        assert not any(n.startswith(stray) for n in names), f"{stray} leaked into {wheel.name}"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    with zipfile.ZipFile(wheel) as zf:
        assert "bayescale = bayescale.cli:main" in zf.read(entry_points).decode(), "console script not declared"

    # --- temporary venv with the wheel (offline), then the test env's dependencies via .pth
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", venv], cwd=tmp_path)
    python, scripts, purelib = _venv_paths(venv)
    assert python.exists(), f"venv python missing at {python}"
    env = _clean_env()
    _run([python, "-m", "pip", "install", "--no-deps", "--no-index", wheel], cwd=tmp_path, env=env)
    assert (purelib / "bayescale" / "models" / "loss_scaling.py").is_file()
    (purelib / "zz_bayescale_test_deps.pth").write_text("\n".join(_dependency_dirs()) + "\n")

    script = scripts / ("bayescale.exe" if os.name == "nt" else "bayescale")
    assert script.is_file(), f"console script not installed at {script}"

    # --- import, simulate, fit and predict from a directory outside the source tree
    work = tmp_path / "elsewhere"
    work.mkdir()
    env["BAYESCALE_HOST_DEVICES"] = "2"
    proc = _run([python, "-c", SMOKE, venv, ROOT], cwd=work, env=env, timeout=900)
    assert "LAWS" in proc.stdout and "chinchilla" in proc.stdout, proc.stdout
    assert "PREDICTION" in proc.stdout, proc.stdout

    # --- the console script runs
    assert "CLI_MODULE True" in proc.stdout, proc.stdout
    out = _run([script, "--help"], cwd=work, env=env, timeout=300)
    assert "fit" in out.stdout, out.stdout


def test_import_leaves_heavy_modules_to_first_use():
    """``import bayescale`` does not import what only fitting, saving or downloading needs (docs/speed.md)."""
    heavy = ("xarray", "pooch", "scipy.stats", "arviz_stats", "matplotlib")
    code = f"import sys, bayescale; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout


def test_submodules_are_attributes_loaded_on_first_use():
    """``bs.plots.<function>`` works after ``import bayescale as bs`` alone, which has not imported the module."""
    code = textwrap.dedent("""
        import sys, bayescale as bs
        before = "bayescale.plots" in sys.modules
        print(before, bs.plots.plot_compare_at_scale.__name__, "bayescale.plots" in sys.modules, bs.report.__name__)
        try:
            bs.no_such_module
        except AttributeError as err:
            print(err)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.splitlines() == ["False plot_compare_at_scale True bayescale.report",
                                       "module 'bayescale' has no attribute 'no_such_module'"], out.stdout


def test_fits_after_arviz_was_imported_first():
    """ArviZ registers numpyro lazily; importing it before bayescale once broke every fit (``numpyro.factor``)."""
    code = textwrap.dedent("""
        import arviz, warnings
        import bayescale as bs, jax
        warnings.simplefilter("ignore")
        fit = bs.fit("chinchilla", bs.simulate_ladder(seed=0), num_warmup=20, num_samples=20, progress_bar=False)
        print(fit.tree.posterior["alpha"].shape, jax.local_device_count() >= 4)
    """)
    env = {**os.environ, "BAYESCALE_JAX_CACHE": "off"}
    env.pop("BAYESCALE_HOST_DEVICES", None)
    env.pop("XLA_FLAGS", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["(4,", "20)", "True"], out.stdout
