"""The examples of the README, the docs and the case studies' READMEs name only what exists: every ``bs.`` name,
every keyword of a ``bs.`` call or of a fit's method, and every command and option of the ``bayescale`` command line
they show.

The examples are read, not run (running them would fit every law they name); what this catches is an example left
behind by a renamed function, keyword or option.
"""

from __future__ import annotations

import ast
import inspect
import re
import shlex
from pathlib import Path

import pytest

import bayescale as bs

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
         *sorted((ROOT / "case_studies").glob("*/README.md"))]
#: The classes whose methods the examples call on a fit (``fit.predict(...)``, a chain's ``fit.plugin_predict``).
FIT_CLASSES = ("Fit", "ChainFit")


def _blocks(lang: str) -> list[tuple[Path, int, str]]:
    """Every fenced block of ``lang`` in the pages: (page, line of its first line, code)."""
    out = []
    for page in PAGES:
        text = page.read_text()
        for m in re.finditer(rf"^```{lang}\n(.*?)^```", text, re.S | re.M):
            out.append((page, text[:m.start()].count("\n") + 2, m.group(1)))
    return out


def _dotted(node: ast.AST) -> tuple[str, list[str]] | None:
    """``bs.a.b`` as ``("bs", ["a", "b"])``; None for anything not rooted at a plain name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return (node.id, parts[::-1]) if isinstance(node, ast.Name) else None


def _unknown_keywords(fn, call: ast.Call) -> list[str]:
    """The keywords of ``call`` that ``fn`` does not take (none when it takes ``**kwargs`` or has no signature)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return []
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return []
    return [kw.arg for kw in call.keywords if kw.arg is not None and kw.arg not in params]


def python_problems(code: str) -> list[str]:
    """What one example names that bayescale lacks, each with the example's line (1-based)."""
    try:
        tree = ast.parse(code)
    except SyntaxError as err:
        return [f"line {err.lineno}: not Python ({err.msg})"]
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and not isinstance(getattr(node, "ctx", None), ast.Store):
            named = _dotted(node)
            if named and named[0] == "bs":
                obj = bs
                for i, part in enumerate(named[1]):
                    if not hasattr(obj, part):
                        problems.append(f"line {node.lineno}: bs.{'.'.join(named[1][:i + 1])} does not exist")
                        break
                    obj = getattr(obj, part)
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        named = _dotted(node.func)
        if named is None:
            continue
        root, parts = named
        if root == "bs":
            try:
                fn = bs
                for part in parts:
                    fn = getattr(fn, part)
            except AttributeError:
                continue  # reported above
            bad = _unknown_keywords(fn, node)
        elif root == "fit" and len(parts) == 1:  # a fit's method: of a Fit or a ChainFit
            owners = [getattr(bs, c) for c in FIT_CLASSES if hasattr(getattr(bs, c), parts[0])]
            if not owners:
                problems.append(f"line {node.lineno}: no fit has a method {parts[0]}")
                continue
            bad = min((_unknown_keywords(getattr(c, parts[0]), node) for c in owners), key=len)
        else:
            continue
        problems += [f"line {node.lineno}: {root}.{'.'.join(parts)}() takes no keyword {k}" for k in bad]
    return problems


def _command_lines() -> list[tuple[Path, str]]:
    """Every ``bayescale ...`` command the pages show: inline code, or a line of a shell block."""
    out = []
    for page in PAGES:
        text = page.read_text()
        out += [(page, m.group(1)) for m in re.finditer(r"`(bayescale [^`]+)`", text)]
    for page, _, code in _blocks("bash"):
        out += [(page, ln.split("#")[0].strip()) for ln in code.splitlines() if ln.strip().startswith("bayescale ")]
    return out


def cli_problems(line: str) -> list[str]:
    """What one shown command names that the command line lacks: its subcommand, or an option of it."""
    import typer

    from bayescale.cli import app

    group = typer.main.get_command(app)
    words = [w.strip("[]") for w in shlex.split(line)[1:]]
    if not words or words[0].startswith("-") or words[0].startswith("<"):
        return []  # `bayescale --help`, `bayescale <command> --help`
    command = group.commands.get(words[0])
    if command is None:
        return [f"no command {words[0]!r} (commands: {', '.join(sorted(group.commands))})"]
    options = {"--help"} | {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    return [f"{words[0]} has no option {w}" for w in words[1:]
            if w.startswith("-") and w.split("=")[0] not in options]


@pytest.mark.parametrize(("page", "line", "code"), _blocks("python"),
                         ids=lambda v: v.name if isinstance(v, Path) else str(v) if isinstance(v, int) else "")
def test_python_examples_name_only_what_exists(page, line, code):
    problems = python_problems(code)
    assert not problems, f"{page.relative_to(ROOT)}, example from line {line}: " + "; ".join(problems)


def test_command_lines_shown_name_only_commands_and_options_that_exist():
    shown = _command_lines()
    assert len(shown) >= 20  # the README's list of commands, the docs' examples
    problems = [f"{page.relative_to(ROOT)}: `{line}`: {p}" for page, line in shown for p in cli_problems(line)]
    assert not problems, "\n".join(problems)


def test_the_checks_catch_a_renamed_name_keyword_method_command_and_option():
    """The checks above fail on the drift they are for (so that their passing means something)."""
    assert python_problems("bs.fit_the_law('chinchilla', runs)") == ["line 1: bs.fit_the_law does not exist"]
    assert python_problems("bs.fit('chinchilla', runs, sead=0)") == ["line 1: bs.fit() takes no keyword sead"]
    assert python_problems("fit.predict(new, kinds='mean')") == ["line 1: fit.predict() takes no keyword kinds"]
    assert python_problems("fit.forecast(new)") == ["line 1: no fit has a method forecast"]
    assert python_problems("fit.plugin_predict(new)") == []  # a ChainFit's
    assert python_problems("x = (") == ["line 1: not Python ('(' was never closed)"]
    assert cli_problems("bayescale fitt runs.csv")[0].startswith("no command 'fitt'")
    assert cli_problems("bayescale fit runs.csv --laws chinchilla") == ["fit has no option --laws"]
    assert cli_problems("bayescale cache [--clear]") == []
