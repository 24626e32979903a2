"""Sphinx configuration for the bayescale documentation.

Build with ``python -m sphinx -W --keep-going -b html docs docs/_build/html``. The build needs no network: no
intersphinx inventories are fetched, and the law catalogue and data-set pages are generated at build time from
the package's registries by ``docs/_ext/bayescale_catalogue.py``.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
# autodoc imports the package: keep JAX on the CPU (no accelerator is needed to build the docs)
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import bayescale  # noqa: E402

project = "bayescale"
author = "the bayescale developers"
copyright = "the bayescale developers"  # noqa: A001 - Sphinx's name
release = bayescale.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_parser",
    "bayescale_catalogue",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

# -- MyST ------------------------------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# -- autodoc / napoleon (numpy-style docstrings) ---------------------------------------------------------------
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_preprocess_types = False
# numpydoc allows "a, b : float" in Attributes; render Attributes like Parameters so such entries stay whole
# (napoleon's attribute/ivar styles would turn "a, b" into one mangled name)
napoleon_custom_sections = [("Attributes", "params_style")]
autodoc_member_order = "bysource"
# the numpy docstrings state every type; signatures stay short and readable
autodoc_typehints = "none"
autoclass_content = "class"

# -- HTML -------------------------------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"bayescale {release}"
html_static_path: list[str] = []
html_theme_options = {
    "description": "Bayesian scaling laws: hierarchical NumPyro models, NUTS fits, honest uncertainty",
    "fixed_sidebar": True,
}
