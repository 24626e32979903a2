"""Sphinx extension: the law catalogue and the data-set pages, generated from bayescale's registries.

``docs/laws.md`` and ``docs/data.md`` hold only a hand-written introduction. When Sphinx reads them, this
extension appends (on ``source-read``) a Markdown catalogue built from the registries:

* laws: every name in ``bs.laws()``, grouped by the module of ``bayescale.models`` that declares it, with its
  formula, inputs and units, target, parameters with default priors, supports and published values, reference,
  description and reparameterisation (``centre``), followed by the module's own docstring and law functions;
* data sets: every name in ``bayescale.datasets.names()`` with its ``info()`` record (source, pinned commit,
  licence, citation, tables, units, description).

Nothing is written to disk, so no generated file can be committed by mistake, and both pages are re-read on every
build (``env-get-outdated``) so they always match the installed package.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections import defaultdict

LAWS_DOC = "laws"
DATA_DOC = "data"


# ------------------------------------------------------------------------------------------------- formatting


def _cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", r"\|").replace("\n", " ").strip()


def _num(x) -> str:
    x = float(x)
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.6g}"
    return f"{x:.4g}"


def _prior(d) -> str:
    """``LogNormal(loc=0.5, scale=0.5)`` for a NumPyro distribution."""
    args = []
    for name in getattr(d, "arg_constraints", {}):
        try:
            value = getattr(d, name)
            args.append(f"{name}={_num(value)}")
        except (AttributeError, TypeError, ValueError):
            continue
    return f"{type(d).__name__}({', '.join(args)})"


def _support(d) -> str:
    s = d.support
    lo = getattr(s, "lower_bound", None)
    hi = getattr(s, "upper_bound", None)
    if lo is None and hi is None:
        return "real line"
    lo_s = "-inf" if lo is None else _num(lo)
    hi_s = "inf" if hi is None else _num(hi)
    return f"({lo_s}, {hi_s})"


def _centre(param: str, spec) -> str:
    x, expo = spec
    if isinstance(expo, (tuple, list)):
        term = f"- {_num(expo[1])} {expo[0]} log {x}0"
    elif isinstance(expo, str):
        term = f"- {expo} log {x}0"
    else:
        term = f"- {_num(expo)} log {x}0" if float(expo) >= 0 else f"+ {_num(-float(expo))} log {x}0"
    return f"`{param}` is sampled as log {param} {term}"


def _family(module_name: str) -> tuple[str, str]:
    """Title (first docstring line) and module name of the module that declares a law."""
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return module_name, module_name
    doc = inspect.getdoc(module) or module_name
    return doc.strip().splitlines()[0].rstrip("."), module_name


# ---------------------------------------------------------------------------------------------- law catalogue


def law_catalogue() -> str:
    """Markdown for every registered law, grouped by the module that declares it."""
    import bayescale as bs

    names = bs.laws()
    by_module: dict[str, list] = defaultdict(list)
    for name in names:
        law = bs.get_law(name)
        by_module[getattr(law.fn, "__module__", None) or "user"].append(law)

    out = [
        "## Overview",
        "",
        f"{len(names)} registered laws (`bs.laws()`).",
        "",
        "| law | inputs [units] | target | parameters | reference |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        law = bs.get_law(name)
        ins = ", ".join(f"`{x}` [{_cell(u)}]" for x, u in law.inputs.items())
        pars = ", ".join(f"`{p}`" for p in law.params)
        out.append(
            f"| {{ref}}`{name} <law-{name}>` | {ins} | `{law.target}` | {pars} | {_cell(law.reference)} |"
        )
    out.append("")

    for module_name in sorted(by_module):
        title, mod = _family(module_name)
        out += [f"## {title}", "", f"Declared in `{mod}`.", ""]
        for law in by_module[module_name]:
            out += _law_section(law)
        if module_name.startswith("bayescale.models"):
            out += [
                "### Law functions and prior choices",
                "",
                "```{eval-rst}",
                f".. automodule:: {module_name}",
                "   :members:",
                "```",
                "",
            ]
    return "\n".join(out) + "\n"


def _law_section(law) -> list[str]:
    out = [f"(law-{law.name})=", f"### `{law.name}`", ""]
    if law.description:
        out += [law.description, ""]
    if law.formula:
        out += ["```{math}", law.formula, "```", ""]
    scale = f"likelihood on log {law.target}" if law.positive else f"likelihood on {law.target}"
    rows = [
        ("inputs", ", ".join(f"`{x}` ({_cell(u)})" for x, u in law.inputs.items())),
        ("target", f"`{law.target}` ({scale})"),
        ("reference", _cell(law.reference)),
    ]
    if law.monotone:
        words = {-1: "decreasing", 1: "increasing"}
        rows.append(("monotone", ", ".join(f"{words[s]} in `{x}`" for x, s in law.monotone.items())))
    if law.centre:
        x0 = ", ".join(sorted({f"{x}0" for x, _ in law.centre.values()}))
        rows.append((
            "reparameterisation",
            "; ".join(_centre(p, v) for p, v in law.centre.items())
            + f" ({x0}: geometric mean of the data; priors stay on the natural parameters)",
        ))
    if law.level:
        terms = " + ".join(f"`{p}`" if p not in law.centre else f"exp(`{p}_c`)" for p in law.level)
        rows.append((
            "level",
            f"with {', '.join(f'`{p}`' for p in law.level)} shared, the sampler moves in log({terms}), the terms' "
            "total at the data's centre, and their log ratios (site `log_terms`; same priors)",
        ))
    rows.append(("fused log", "yes (`log_fn`)" if law.log_fn is not None else "no (log of `fn`)"))
    rows.append(("residual sd prior", f"HalfNormal({_num(law.noise_scale)}) on the {law.link} scale (`noise_scale`; "
                                      "`bs.fit(sigma_scale=)` overrides it)"))
    if law.floor is not None:
        from bayescale.build import SIGMA_SLOPE_SCALE

        growth = (f"the residual sd is `sigma + sigma_slope * excess`, "
                  f"`sigma_slope ~ HalfNormal({_num(SIGMA_SLOPE_SCALE)})`, with a run's "
                  f"excess over the law's floor (`{law.floor.__name__}`) on the {law.link} scale")
        rows.append(("noise growth", growth))
    if law.optimum is not None:
        rows.append(("compute-optimal allocation", "closed form (`Fit.optimal_allocation`)"))
    elif {"n", "d"} <= set(law.inputs):
        rows.append(("compute-optimal allocation", "numeric, along iso-FLOP lines (`Fit.optimal_allocation`)"))
    if law.example:
        rows.append(("typical inputs", ", ".join(f"`{x}` = {_num(v)}" for x, v in law.example.items())))
    out += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows] + [""]

    out += ["| parameter | default prior | support | published value |", "|---|---|---|---|"]
    for p, prior in law.params.items():
        pub = law.published.get(p)
        pub_s = _num(pub) if pub is not None and math.isfinite(pub) else "-"
        out.append(f"| `{p}` | {_cell(_prior(prior))} | {_support(prior)} | {pub_s} |")
    out.append("")
    if law.published:
        out += [f"Published values are those of the reference ({_cell(law.reference)}).", ""]
    return out


# ------------------------------------------------------------------------------------------------- data sets


def dataset_catalogue() -> str:
    """Markdown for every registered data set, from ``bayescale.datasets.info``."""
    from bayescale import datasets

    names = datasets.names()
    out = [
        "## Overview",
        "",
        "| data set | title | default table | tables that download | licence |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        rec = datasets.info(name)
        down = ("all" if rec.downloadable == rec.tables
                else ", ".join(f"`{t}`" for t in rec.downloadable) or "none (a data directory only)")
        out.append(
            f"| {{ref}}`{name} <dataset-{name}>` | {_cell(rec.title)} | `{rec.default_table}` | {down} | "
            f"{_cell(rec.licence)} |"
        )
    out.append("")
    for name in names:
        rec = datasets.info(name)
        out += [f"(dataset-{name})=", f"## `{name}`", "", "*" + rec.title.replace("*", r"\*") + "*", ""]
        derived = sum(f.derived for f in rec.files)
        files = f"{len(rec.files)}" + (f" ({derived} derived: read from a data directory only)" if derived else "")
        pinned = sum(bool(f.url) and not f.derived for f in rec.files)
        files += (", each with a pinned URL and sha256 digest" if pinned == len(rec.files)
                  else f", each with a sha256 digest; {pinned} with a pinned URL to download")
        rows = [
            ("source", f"<{rec.url}> at commit `{rec.commit}`"),
            ("licence", _cell(rec.licence)),
            ("citation", _cell(rec.citation)),
            ("files", files),
            ("tables", ", ".join(f"`{t}`" + (" (default)" if t == rec.default_table else "") for t in rec.tables)),
            ("load", f'`datasets.load("{name}")`, or `datasets.load("{name}", table=...)`'),
        ]
        out += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows] + [""]
        out += ["```{eval-rst}", inspect.cleandoc(rec.description), "```", ""]
        out += ["| column | unit |", "|---|---|"]
        out += [f"| `{c}` | {_cell(u)} |" for c, u in rec.units.items()]
        out.append("")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------------------- Sphinx


_GENERATORS = {LAWS_DOC: law_catalogue, DATA_DOC: dataset_catalogue}


def _append_generated(app, docname, source):
    gen = _GENERATORS.get(docname)
    if gen is not None:
        source[0] = source[0].rstrip("\n") + "\n\n" + gen()


def _always_reread(app, env, added, changed, removed):
    return [d for d in _GENERATORS if d in env.found_docs and d not in added | changed]


def setup(app):
    """Register the Sphinx event handlers."""
    app.connect("source-read", _append_generated)
    app.connect("env-get-outdated", _always_reread)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
