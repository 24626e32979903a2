"""Run-table validation: every row of the bad-input table (issue 2) gives an error or a warning with a clear message.

Errors name the column, the rows and the fix, and are all reported together in one RunTableError; warnings are
DataWarnings recorded in the table's notes. The caller's frame is never modified: every call goes through
``_validate``, which checks that.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import bayescale as bs
from bayescale.data import parse_size


def _validate(runs, law="chinchilla", **kwargs):
    """``bs.validate_runs`` that also asserts the caller's frame is left exactly as it was, even on error."""
    before = runs.copy(deep=True) if isinstance(runs, pd.DataFrame) else None
    try:
        return bs.validate_runs(runs, law, **kwargs)
    finally:
        if before is not None:
            pd.testing.assert_frame_equal(runs, before)
            assert runs.attrs == before.attrs


def _no_warnings(runs, law="chinchilla", **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return _validate(runs, law, **kwargs)


def _warns_once(runs, match, law="chinchilla", **kwargs):
    """Validate, expecting exactly one DataWarning, matching ``match``, which is also recorded in the notes."""
    with pytest.warns(bs.DataWarning, match=match) as record:
        table = _validate(runs, law, **kwargs)
    assert len(record) == 1, [str(w.message) for w in record]
    assert str(record[0].message) in table.notes
    return table


@pytest.fixture
def runs():
    """A clean Chinchilla ladder: 6 model sizes (3e7..3e9) x 5 token multipliers (5..80), rows 0..29."""
    frame = bs.simulate_ladder("chinchilla", seed=0)
    frame.attrs.clear()
    return frame


def _with(frame, column, rows, value):
    out = frame.copy()
    out[column] = out[column].astype(object) if isinstance(value, str) else out[column]
    for r in rows:
        out.loc[r, column] = value
    return out


def test_clean_ladder_passes_silently(runs):
    table = _no_warnings(runs)
    assert len(table) == 30 and table.notes == ()
    assert list(table.frame.columns) == ["n", "d", "loss"]
    assert (table.frame.dtypes == "float64").all()


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_loss(runs, bad):
    with pytest.raises(bs.RunTableError, match=r"column 'loss' has 2 missing or infinite value\(s\) "
                                               r"\(rows 3, 17\); drop those runs or fill them in"):
        _validate(_with(runs, "loss", [3, 17], bad))


@pytest.mark.parametrize(("column", "bad"), [("n", np.nan), ("d", np.inf), ("n", None)])
def test_nan_or_inf_size(runs, column, bad):
    frame = runs.astype({column: object}) if bad is None else runs
    with pytest.raises(bs.RunTableError, match=rf"column '{column}' has 1 missing or infinite value\(s\) "
                                               r"\(row 5\); drop those runs or fill them in"):
        _validate(_with(frame, column, [5], bad))


@pytest.mark.parametrize("bad", [0.0, -2.3])
def test_loss_not_positive(runs, bad):
    with pytest.raises(bs.RunTableError, match=r"column 'loss' has 2 non-positive value\(s\) \(rows 4, 9\); values "
                                               r"of 'loss' must be > 0 \(the likelihood is on the log of the "
                                               r"target\); correct or drop those runs"):
        _validate(_with(runs, "loss", [4, 9], bad))


@pytest.mark.parametrize(("column", "words"), [("n", "model sizes"), ("d", "token counts")])
def test_size_not_positive(runs, column, words):
    frame = _with(_with(runs, column, [0], 0.0), column, [29], -1e9)
    with pytest.raises(bs.RunTableError, match=rf"column '{column}' has 2 non-positive value\(s\) \(rows 0, 29\); "
                                               rf"{words} must be > 0; correct or drop those runs"):
        _validate(frame)


@pytest.mark.parametrize(
    ("rename", "message"),
    [
        ({"loss": "val_loss"}, r"column 'loss' \(target of law 'chinchilla'\) is missing; did you mean 'val_loss'\? "
                               r"Rename with runs.rename\(columns=\{'val_loss': 'loss'\}\)"),
        ({"n": "N"}, r"column 'n' \(input \[parameters\] of law 'chinchilla'\) is missing; did you mean 'N'\?"),
        ({"n": "params"}, r"column 'n' .* is missing; did you mean 'params'\? .*\{'params': 'n'\}"),
        ({"d": "tokens"}, r"column 'd' \(input \[tokens\] of law 'chinchilla'\) is missing; did you mean 'tokens'\?"),
        ({"d": "xyz"}, r"column 'd' .* is missing; the table has columns \['n', 'xyz', 'loss'\]"),
    ],
    ids=["val_loss", "N", "params", "tokens", "no-match"],
)
def test_missing_column_suggests_close_matches(runs, rename, message):
    with pytest.raises(bs.RunTableError, match=message):
        _validate(runs.rename(columns=rename))


def test_missing_group_and_noise_columns(runs):
    with pytest.raises(bs.RunTableError, match=r"2 problem\(s\)") as err:
        _validate(runs.assign(Family="a", loss_sd=0.02), groups="family", noise="noise_sd")
    assert err.value.problems[0].startswith("column 'family' (group column of law 'chinchilla') is missing; did you "
                                            "mean 'Family'?")
    assert err.value.problems[1].startswith("column 'noise_sd' (noise column of law 'chinchilla') is missing; did "
                                            "you mean 'loss_sd'?")


def test_a_column_the_law_reads_is_never_suggested_for_another(runs):
    # 'd' is close to 'sd', but it is the law's tokens: renaming it would lose them
    with pytest.raises(bs.RunTableError) as err:
        _validate(runs, noise="sd")
    (problem,) = err.value.problems
    assert "did you mean" not in problem and "the table has columns ['n', 'd', 'loss']" in problem, problem


@pytest.mark.parametrize(("sep", "word"), [(";", "semicolons"), ("\t", "tabs")])
def test_a_table_read_with_the_wrong_separator_says_so(runs, sep, word, tmp_path):
    path = tmp_path / "runs.csv"
    runs.to_csv(path, sep=sep, index=False)
    with pytest.raises(bs.RunTableError) as err:
        _validate(pd.read_csv(path))  # one column, "n;d;loss"
    assert err.value.problems == (f"the table has one column, {sep.join(runs.columns)!r}: its file looks separated "
                                  f"by {word}, not commas; read it with pandas.read_csv(path, sep={sep!r}), or save "
                                  "it comma-separated",)
    with pytest.raises(bs.RunTableError, match="column 'n' .* is missing"):  # one column, without the law's names
        _validate(pd.DataFrame({"model size": runs["n"]}))


def test_size_strings_are_accepted(runs):
    frame = runs.head(4).copy()
    frame["n"] = ["70M", "350m", "1.4B", "7 b"]
    frame["d"] = ["1.4b", "7e9", "28B", "1.5T"]
    frame["loss"] = ["3.1", 2.9, "2.7", 2.5]
    table = _no_warnings(frame)
    np.testing.assert_array_equal(table.frame["n"], [70e6, 350e6, 1.4e9, 7e9])
    np.testing.assert_array_equal(table.frame["d"], [1.4e9, 7e9, 28e9, 1.5e12])
    np.testing.assert_array_equal(table.frame["loss"], [3.1, 2.9, 2.7, 2.5])


@pytest.mark.parametrize(("value", "expected"), [("350M", 3.5e8), ("7B", 7e9), ("1.5T", 1.5e12), ("20k", 2e4),
                                                 ("1,000", 1e3), ("3e9", 3e9), (3e9, 3e9), ("seven", np.nan),
                                                 ("7 billion", np.nan), (True, np.nan), (None, np.nan)])
def test_parse_size(value, expected):
    np.testing.assert_equal(parse_size(value), expected)


def test_garbage_cells_name_the_column_rows_and_values(runs):
    frame = _with(_with(runs, "n", [4], "seven"), "n", [9], "7 billion")
    with pytest.raises(bs.RunTableError, match=r"column 'n' has 2 non-numeric value\(s\) \(rows 4, 9: 'seven', "
                                               r"'7 billion'\); use numbers or sizes like '350M', '7B', '1.5T'"):
        _validate(frame)


def test_size_suffix_is_not_a_loss(runs):
    with pytest.raises(bs.RunTableError, match=r"column 'loss' has 1 non-numeric value\(s\) \(row 2: '2.5B'\); use "
                                               r"plain numbers"):
        _validate(_with(runs, "loss", [2], "2.5B"))


def test_boolean_column_is_refused(runs):
    with pytest.raises(bs.RunTableError, match=r"^1 problem\(s\) with the runs table:\n  - column 'loss' is boolean; "
                                               r"it must hold numbers$"):  # one problem, not also 30 missing values
        _validate(runs.assign(loss=True))


def test_fewer_than_three_runs(runs):
    with pytest.raises(bs.RunTableError, match=r"only 2 distinct run\(s\) \(rows 0, 1\); a law needs at least 3 "
                                               r"runs to fit: add runs"):
        _validate(runs.head(2))


def test_fewer_than_three_runs_after_dropping_duplicates(runs):
    frame = runs.iloc[[0, 1, 1]]
    with pytest.raises(bs.RunTableError, match=r"only 2 distinct run\(s\) \(rows 0, 1, 1\), after dropping 1 exact "
                                               r"duplicate\(s\); a law needs at least 3 runs"):
        _validate(frame)


def test_empty_table(runs):
    with pytest.raises(bs.RunTableError, match=r"only 0 distinct run\(s\) \(the table is empty\)"):
        _validate(runs.iloc[:0])


def test_empty_group_labels(runs):
    frame = runs.assign(family=["a", "b", "c"] * 10)
    frame.loc[[2, 7], "family"] = None
    with pytest.raises(bs.RunTableError, match=r"group column 'family' has 2 empty label\(s\) \(rows 2, 7\); give "
                                               r"every run a group"):
        _validate(frame, groups="family")


def test_a_fraction_input_may_be_zero_or_one_and_is_refused_in_percent():
    """A level input (a unit naming a fraction) lies in [0, 1]; one naming a chance level stops short of 1."""
    import numpyro.distributions as dist

    law = bs.Law(name="code_share_loss", fn=lambda n, f, *, e, a, alpha, k: e + a * (n / 1e9) ** -alpha * (1 + k * f),
                 inputs={"n": "parameters", "f": "fraction of code in the data"}, target="loss",
                 params={"e": dist.LogNormal(0.5, 0.3), "a": dist.LogNormal(0.0, 0.5), "alpha": dist.Beta(3, 7),
                         "k": dist.LogNormal(-1.0, 0.5)}, reference="test", example={"n": 1e9, "f": 0.5})
    runs = pd.DataFrame({"n": [1e8, 3e8, 1e9, 3e9], "f": [0.0, 0.5, 1.0, 1.0], "loss": [3.1, 2.8, 2.7, 2.5]})
    assert list(_validate(runs, law).frame["f"]) == [0.0, 0.5, 1.0, 1.0]
    with pytest.raises(bs.RunTableError, match=r"column 'f' has 2 value\(s\) outside \[0, 1\] \(rows 1, 2\); it is "
                                               r"'fraction of code in the data' .* from 0 up to 1: it looks like a "
                                               r"percentage: divide by 100"):
        _validate(runs.assign(f=[0.0, 50.0, 100.0, 1.0]), law)


def test_bad_noise_column(runs):
    frame = runs.assign(noise_sd=0.02)
    frame.loc[[1, 2], "noise_sd"] = [0.0, np.nan]
    with pytest.raises(bs.RunTableError, match=r"noise column 'noise_sd' has 2 missing, infinite or non-positive "
                                               r"value\(s\) \(rows 1, 2\); it is a known sd of the log of the "
                                               r"target \(the likelihood.s scale\)"):
        _validate(frame, noise="noise_sd")


def test_several_problems_are_reported_together(runs):
    frame = _with(_with(_with(runs, "loss", [3], np.nan), "n", [6], -5.0), "d", [8], "lots")
    with pytest.raises(bs.RunTableError, match=r"^4 problem\(s\) with the runs table:\n  - ") as err:
        _validate(frame, groups="family")
    problems = err.value.problems
    assert len(problems) == 4
    for pattern in (r"column 'family' \(group column", r"column 'd' has 1 non-numeric value\(s\) \(row 8: 'lots'\)",
                    r"column 'n' has 1 non-positive value\(s\) \(row 6\)",
                    r"column 'loss' has 1 missing or infinite value\(s\) \(row 3\)"):
        assert any(re.match(pattern, p) for p in problems), (pattern, problems)


def test_mapping_of_columns_or_of_one_runs_values():
    table = bs.validate_runs({"n": 7e10, "d": "1.4T"}, "chinchilla", require_target=False)
    assert table.frame[["n", "d"]].to_numpy().tolist() == [[7e10, 1.4e12]]
    table = bs.validate_runs({"n": [1e8, 1e9], "d": 2e10}, "chinchilla", require_target=False)  # a scalar broadcasts
    assert table.frame["d"].tolist() == [2e10, 2e10]
    with pytest.raises(bs.RunTableError, match=r"^1 problem\(s\) with the table of new inputs:\n  - its columns have "
                                               r"different lengths \(\{'n': 2, 'd': 3\}\); give every column"):
        bs.validate_runs({"n": [1e8, 1e9], "d": [1e10, 2e10, 3e10]}, "chinchilla", require_target=False)
    with pytest.raises(bs.RunTableError, match=r"^1 problem\(s\) with the table of new inputs:\n  - column 'n' has 1 "
                                               r"non-positive"):
        bs.validate_runs(pd.DataFrame({"n": [-1.0], "d": [1e10]}), "chinchilla", require_target=False)


def test_rows_are_named_by_the_callers_labels(runs):
    frame = runs.set_axis([f"run{i}" for i in range(30)])
    with pytest.raises(bs.RunTableError, match=r"\(rows run3, run17\)"):
        _validate(_with(frame, "loss", ["run3", "run17"], np.nan))


def test_repeated_row_labels_are_named_with_the_fix(runs):
    # two ladders joined by pd.concat: labels 0..29 twice, so "row 5" could be either
    frame = pd.concat([runs, runs.assign(loss=np.where(runs.index == 5, np.nan, runs["loss"] * 1.01))])
    with pytest.raises(bs.RunTableError) as err:
        _validate(frame)
    assert err.value.problems[0].startswith("column 'loss' has 1 missing or infinite value(s) (row 5)")
    assert err.value.problems[1] == ("rows are named by their labels, and 30 label(s) repeat in this table (0, 1, 2, "
                                     "3, 4, 5, 6, 7, ... (22 more), e.g. after pd.concat): a row named above may be "
                                     "any of those with its label; runs.reset_index(drop=True) names each row by its "
                                     "position")
    with pytest.raises(bs.RunTableError) as err:  # unique labels: no such note
        _validate(frame.reset_index(drop=True))
    assert len(err.value.problems) == 1 and "(row 35)" in err.value.problems[0]


def test_long_row_lists_are_shortened(runs):
    with pytest.raises(bs.RunTableError, match=r"\(rows 0, 1, 2, 3, 4, 5, 6, 7, \.\.\. \(4 more\)\)"):
        _validate(_with(runs, "loss", range(12), -1.0))


def test_runs_must_be_a_table():
    with pytest.raises(TypeError, match=r"runs must be a pandas DataFrame \(one row per run\), got list"):
        bs.validate_runs([[1e9, 2e10, 2.5]], "chinchilla")
    one = pd.DataFrame({"n": [1e9, 2e9], "d": [2e10, 4e10], "loss": [2.5, 2.4]}).iloc[0]  # a row, as a Series
    with pytest.raises(TypeError, match=r"got Series; a Series is one row or one column of a table: pass one run as "
                                        r"runs\.iloc\[\[i\]\] of the table"):
        bs.validate_runs(one, "chinchilla")
    with pytest.raises(TypeError, match=r"new_runs must be a pandas DataFrame .* got Series; .* new_runs\.iloc"):
        bs.validate_runs(one.drop("loss"), "chinchilla", require_target=False)


def test_a_mapping_of_columns_is_accepted(runs):
    columns = {k: v.to_numpy().copy() for k, v in runs.items()}
    table = _no_warnings(columns)
    assert len(table) == 30
    np.testing.assert_array_equal(columns["loss"], runs["loss"].to_numpy())


# ---------------------------------------------------------------------------------------------- warnings
def test_exact_duplicates_are_dropped_and_recorded(runs):
    frame = pd.concat([runs, runs.iloc[[4, 11]]], ignore_index=True)
    table = _warns_once(frame, r"^2 exact duplicate run\(s\) \(rows 30, 31\) were dropped; each run is counted "
                               r"once$")
    assert len(table) == 30
    assert list(table.frame.index) == list(range(30))


def test_same_inputs_with_different_loss_are_replicates(runs):
    replicate = runs.iloc[[4]].assign(loss=runs.loc[4, "loss"] * 1.01)
    table = _no_warnings(pd.concat([runs, replicate], ignore_index=True))
    assert len(table) == 31
    assert table.notes == ("2 runs share their inputs with another run but differ in 'loss' (rows 4, 30); kept as "
                           "replicates (they inform the noise level)",)


def test_replicates_in_different_groups_are_not_replicates(runs):
    frame = pd.concat([runs.assign(family="a"), runs.assign(family="b")], ignore_index=True)
    table = _no_warnings(frame, groups="family")
    assert len(table) == 60 and table.notes == ()
    assert table.groups == ("family",)


def test_a_label_column_telling_replicates_apart_suggests_groups(runs):
    # two families at the same sizes, fitted without groups=: one law for both, each pair of runs as replicates
    frame = pd.concat([runs.assign(family="a"), runs.assign(family="b", loss=runs["loss"] * 1.1)], ignore_index=True)
    table = _warns_once(frame, r"60 runs share their inputs with another run \(rows 0, 1, .*\) and column 'family' "
                               r"tells them apart: if 'family' names separate families .*, pass groups='family' for a "
                               r"hierarchical fit, or fit each apart \(bs.fit_many\(..., by='family'\)\)")
    assert len(table) == 60
    # seeds of one setup are replicates: a column named for them, or one with a value per run, says nothing
    for name in ("seed", "run_id", "Replicate"):
        _no_warnings(frame.rename(columns={"family": name}))
    _warns_once(frame.rename(columns={"family": "data_name"}), "column 'data_name' tells them apart")
    _no_warnings(frame.assign(family=[f"r{i}" for i in range(60)]))


def test_one_group_is_no_hierarchy(runs):
    _warns_once(runs.assign(family="main"), r"groups='family' holds one group \('main'\): a hierarchical fit learns "
                                            r"how the law's parameters vary across groups, which one group cannot show",
                groups="family")


def test_perplexities_given_as_losses_are_named(runs):
    assert np.exp(runs["loss"]).max() > 20
    _warns_once(runs.assign(loss=np.exp(runs["loss"])),
                r"column 'loss' reaches \S+, above any cross-entropy in nats .* if these are perplexities, "
                r"fit their log, runs\['loss'\] = np.log\(runs\['loss'\]\)")
    assert 10 < 3 * runs["loss"].max() < 20
    _no_warnings(runs.assign(loss=runs["loss"] * 3))  # losses up to 20 nats are losses


def test_group_with_one_run(runs):
    frame = pd.concat([runs.assign(family="main"), runs.iloc[[3]].assign(family="solo")], ignore_index=True)
    table = _warns_once(frame, r"1 group\(s\) of 'family' have only one run \(solo; row 30\); their group-level "
                               r"parameters come from the population prior", groups="family")
    assert len(table) == 31


def test_group_with_one_run_over_two_group_columns(runs):
    frame = pd.concat([runs.assign(family="a", data="web"), runs.iloc[[3]].assign(family="a", data="code")],
                      ignore_index=True)
    _warns_once(frame, r"1 group\(s\) of \['family', 'data'\] have only one run \(\('a', 'code'\); row 30\)",
                groups=["family", "data"])


def test_inputs_spanning_under_one_decade(runs):
    n = np.repeat(np.geomspace(1e9, 5e9, 6), 5)
    frame = runs.assign(n=n, d=n * runs["d"] / runs["n"])
    _warns_once(frame, r"input 'n' spans under one decade \(1e\+09 to 5e\+09\); a power law's exponent in 'n' is "
                       r"weakly identified from such a range \(and a floor hardly at all\)")


@pytest.mark.parametrize(("scale", "largest"), [(1e-6, "3000"), (1e-9, "3")], ids=["millions", "billions"])
def test_sizes_that_look_like_millions_or_billions(runs, scale, largest):
    _warns_once(runs.assign(n=runs["n"] * scale),
                rf"column 'n' looks like it is in millions or billions \(largest value {largest}\); model sizes are "
                r"raw counts: multiply, e.g. runs\['n'\] \* 1e6 for millions or \* 1e9 for billions")


def test_a_single_run_in_billions_among_raw_counts(runs):
    """One run's size written in billions (70 for 70B) among raw counts is named, with the fix."""
    frame = runs.assign(n=np.where(runs.index == 4, 70.0, runs["n"]))
    _warns_once(frame, r"1 run\(s\) have 'n' below 100000 \(row 4; smallest 70\) while the others reach "
                       r"[0-9.e+]+: if those rows are in millions or billions, write them as raw counts \(model "
                       r"sizes\), e.g. 70B or 7e10 for 70 billion")


def test_a_column_mostly_in_millions_is_said_as_the_column(runs):
    """Most of a column below a run's floor (tokens in millions, the largest still above 1e5) is the column's units,
    not a few rows': the fix is to multiply the column."""
    with pytest.warns(bs.DataWarning) as record:  # and fewer tokens than parameters, as they then read
        _validate(runs.assign(d=runs["d"] / 1e6))
    said = [str(w.message) for w in record if "below 100000" in str(w.message)]
    assert len(said) == 1 and re.match(r"column 'd' looks like it is in millions or billions: 2\d of 30 runs are below "
                                       r"100000 \(rows .*; largest of all [0-9.e+]+\); token counts are raw counts: "
                                       r"multiply, e.g. runs\['d'\] \* 1e6", said[0]), said


def test_tokens_in_billions(runs):
    frame = runs.assign(d=runs["d"] * 1e-9, n=runs["n"] * 1e-9)
    with pytest.warns(bs.DataWarning) as record:
        _validate(frame)
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    assert messages[0].startswith("column 'd' looks like it is in millions or billions")
    assert "token counts are raw counts: multiply, e.g. runs['d'] * 1e6" in messages[0]
    assert messages[1].startswith("column 'n' looks like it is in millions or billions")


def test_compute_that_is_not_in_flops():
    frame = pd.DataFrame({"c": np.geomspace(1e-3, 10, 8), "loss": np.linspace(4, 2.5, 8)})  # PF-days
    _warns_once(frame, r"column 'c' does not look like FLOPs \(largest value 10\); compute budgets are raw FLOPs: "
                       r"from PF-days multiply by 8.64e19", "power_law_c")


def test_tokens_fewer_than_parameters(runs):
    frame = runs.copy()
    frame.loc[[0, 1], "d"] = frame.loc[[0, 1], "n"] / 2
    _warns_once(frame, r"2 run\(s\) have fewer training tokens than parameters \(rows 0, 1\); check that 'd' is in "
                       r"tokens and 'n' in parameters")


def test_compute_column_inconsistent_with_6nd(runs):
    frame = runs.assign(c=6 * runs["n"] * runs["d"])
    frame.loc[[3, 7], "c"] *= 3
    _warns_once(frame, r"column 'c' is inconsistent with 6\*n\*d in 2 run\(s\) \(rows 3, 7; ratio 3\); check the "
                       r"units or pass flops_per_param_token= for another FLOPs convention")


def test_compute_column_with_another_flops_convention(runs):
    frame = runs.assign(c=2 * runs["n"] * runs["d"])  # forward-pass FLOPs only
    _no_warnings(frame, flops_per_param_token=2.0)
    _warns_once(frame, r"inconsistent with 6\*n\*d in 30 run\(s\) .*ratio 0.333")
    _no_warnings(runs.assign(c=1.4 * 6 * runs["n"] * runs["d"]))  # within the 1.5x tolerance


def test_compute_law_checks_n_and_d_columns_after_dropping_duplicates():
    """A compute law with n and d columns too: duplicates dropped, then n/d/c checks run on the remaining rows."""
    n = np.geomspace(1e7, 1e9, 6)
    d = 20 * n
    d[0] = n[0] / 2
    frame = pd.DataFrame({"n": n, "d": d, "c": 6 * n * d, "loss": np.linspace(4.0, 2.6, 6)})
    frame = pd.concat([frame, frame.iloc[[2]]], ignore_index=True)
    with pytest.warns(bs.DataWarning) as record:
        table = _validate(frame, "power_law_c")
    messages = [str(w.message) for w in record]
    assert len(messages) == 2, messages
    assert messages[0].startswith("1 exact duplicate run(s) (row 6) were dropped")
    assert messages[1].startswith("1 run(s) have fewer training tokens than parameters (row 0)")
    assert len(table) == 6


def test_prediction_tables_need_only_the_inputs(runs):
    table = _no_warnings(runs[["n", "d"]].head(1), require_target=False)
    assert len(table) == 1 and not table.has_target


def test_warnings_point_at_the_caller(runs):
    frame = pd.concat([runs, runs.iloc[[0]]], ignore_index=True)
    with pytest.warns(bs.DataWarning) as record:
        _validate(frame)
    assert record[0].filename == __file__


def test_repeated_row_labels_from_concat_are_checked_by_position(runs):
    # pd.concat keeps the labels: the appended copies repeat rows 0-2, and the compute column is unused by the law
    frame = pd.concat([runs.assign(c=6 * runs["n"] * runs["d"]), runs.iloc[:3].assign(c=6 * runs["n"] * runs["d"])])
    table = _warns_once(frame, r"3 exact duplicate run\(s\) \(rows 0, 1, 2\) were dropped")
    assert len(table) == len(runs)


def test_repeated_column_names(runs):
    frame = pd.concat([runs, runs[["loss"]]], axis=1)
    with pytest.raises(bs.RunTableError, match=r"column\(s\) \['loss'\] appear more than once; rename or drop"):
        _validate(frame)


def test_group_or_noise_column_that_is_an_input_or_the_target(runs):
    with pytest.raises(bs.RunTableError, match=r"group column\(s\) \['n'\] are also the law's inputs or target"):
        _validate(runs, groups="n")
    with pytest.raises(bs.RunTableError, match="noise column 'loss' is the law's input, target or a group column"):
        _validate(runs, noise="loss")


def test_blank_group_labels_are_empty(runs):
    frame = runs.assign(task=["a"] * 15 + ["b"] * 14 + ["  "])
    with pytest.raises(bs.RunTableError, match=r"group column 'task' has 1 empty label\(s\) \(row 29\)"):
        _validate(frame, groups="task")


def test_batch_column_is_suggested_for_b():
    frame = pd.DataFrame({"n": [1e8, 1e9, 1e10], "d": [2e9, 2e10, 2e11], "batch": [1e5, 1e6, 1e7]})
    with pytest.raises(bs.RunTableError, match=r"did you mean 'batch'\? Rename with runs.rename\(columns=\{'batch': "
                                               r"'b'\}\)"):
        _validate(frame, "mccandlish", require_target=False)


def test_a_header_with_a_stray_space_or_capital_is_suggested(runs):
    with pytest.raises(bs.RunTableError, match=r"column 'n' .* is missing; did you mean 'N '\? Rename with "
                                               r"runs.rename\(columns=\{'N ': 'n'\}\)"):
        _validate(runs.rename(columns={"n": "N "}))


def test_a_misspelt_group_column_is_respelt_in_groups_not_renamed_in_the_table(runs):
    """The law's column names are fixed, so the table is renamed; a group column's name is the caller's."""
    with pytest.raises(bs.RunTableError, match=r"column 'Task' \(group column of law 'chinchilla'\) is missing; did "
                                               r"you mean 'task'\? Spell it in groups= as the table does \('task'\)"):
        _validate(runs.assign(task="a"), groups="Task")


def test_group_labels_that_differ_only_in_case_or_spaces_are_said(runs):
    frame = runs.assign(task=np.where(runs.index < 15, "a", "b"))
    frame.loc[3, "task"], frame.loc[20, "task"] = "a ", "B"
    with pytest.warns(bs.DataWarning) as record:
        _validate(frame, groups="task")
    said = [str(w.message) for w in record if "case or spaces" in str(w.message)]
    assert said == ["group column 'task' has labels that differ only in case or spaces ('a' and 'a '; 'b' and 'B'; "
                    "the rarer spelling in rows 3, 20): they are fitted as different groups; if they are one group, "
                    "write its label alike"], said


def test_prediction_table_without_rows(runs):
    with pytest.raises(bs.RunTableError, match="the table has no rows; give at least one row of inputs"):
        _validate(runs[["n", "d"]].iloc[:0], require_target=False)


def test_group_key_spells_labels_as_fit_levels_do():
    from bayescale.build import group_codes, group_key

    frame = pd.DataFrame({"fam": ["A", "A", "B"], "data": ["x", "y", "x"], "size": [1, 1, 2]})
    assert list(group_key(frame, ["size"])) == ["1", "1", "2"]
    assert list(group_key(frame, ["fam", "data"])) == ["A | x", "A | y", "B | x"]
    assert group_codes(frame, ["fam", "data"])[1] == ("A | x", "A | y", "B | x")


def test_group_labels_that_read_the_same_are_refused(runs):
    frame = runs.assign(task=pd.Series([1] * 10 + ["1"] * 10 + [2] * 10, dtype=object))
    with pytest.raises(bs.RunTableError, match=r"group column 'task' has different labels that read the same as text "
                                               r"or compare equal \(1 and '1'\), so they would be one group"):
        _validate(frame, groups="task")
    frame = runs.assign(task=pd.Series([1] * 10 + [1.0] * 10 + [True] * 10, dtype=object))  # one key to pandas
    with pytest.raises(bs.RunTableError, match=r"compare equal \(1 and 1.0 and True\), so they would be one group; "
                                               r"give each group one label of one type"):
        _validate(frame, groups="task")


def test_group_labels_with_the_joining_separator_are_refused(runs):
    frame = runs.assign(a=["x | y"] * 15 + ["x"] * 15, b=["z"] * 15 + ["y | z"] * 15)
    with pytest.raises(bs.RunTableError, match=r"group column 'a' has 15 label\(s\) containing ' \| '"):
        _validate(frame, groups=["a", "b"])


def test_groups_argument_and_column_shapes_are_checked(runs):
    with pytest.raises(TypeError, match=r"groups= names the group column\(s\): a column name or a list of them, got 3"):
        _validate(runs, groups=3)
    with pytest.raises(ValueError, match=r"groups= names a column twice: \['task', 'task'\]"):
        _validate(runs.assign(task="a"), groups=["task", "task"])
    for noise in (0.05, ["sd"]):  # a noise level, or a list, where noise= names a column
        with pytest.raises(TypeError, match=r"noise= names the column of each run's known noise .* e\.g\. "
                                            r"noise='sd'; got " + re.escape(repr(noise))):
            _validate(runs.assign(sd=0.05), noise=noise)
    wide = runs.copy()
    wide.columns = pd.MultiIndex.from_tuples([(c, "x") for c in runs.columns])
    with pytest.raises(bs.RunTableError, match=r"MultiIndex \(several-level\) columns; flatten them"):
        _validate(wide)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"params": {"e": np.nan, "a": 400.0, "b": 400.0, "alpha": 0.34, "beta": 0.28}},
      r"params\['e'\] = nan is not a finite value in the support of its prior \(LogNormal"),
     ({"params": {"e": 1.8, "a": 400.0, "b": 400.0, "alpha": 5.0, "beta": 0.28}},
      r"params\['alpha'\] = 5.0 is not a finite value in the support of its prior \(Beta"),
     ({"noise_sd": np.nan}, "noise_sd must be a finite number >= 0"),
     ({"noise_sd": np.inf}, "noise_sd must be a finite number >= 0"),
     ({"df": 0}, r"df must be a finite number > 0 \(Student-t noise\) or None"),
     ({"df": np.inf}, r"df must be a finite number > 0 \(Student-t noise\) or None \(normal noise: the limit"),
     ({"group_sd": {"alpha": 0.5}}, "group_sd= spreads parameters across groups: give num_groups= too"),
     ({"num_groups": 2, "group_sd": [0.1]}, r"group_sd must map parameters to sds, e.g. \{'e': 0.1\}, got \[0.1\]"),
     ({"num_groups": 2, "group_sd": {"e": "big"}}, r"group_sd \{'e': 'big'\}: it maps parameters"),
     ({"num_groups": 2.5}, "num_groups must be a positive integer or None, got 2.5"),
     ({"num_groups": 2, "group_sd": {"E": 0.1}}, r"group_sd \{'E': 0.1\}: it maps parameters of law 'chinchilla'"),
     ({"design": pd.DataFrame({"n": [1e8, -1e9], "d": [2e9, 2e10]})},
      r"problem\(s\) with the design:\n  - column 'n' has 1 non-positive value\(s\) \(row 1\)")],
)
def test_simulate_ladder_checks_its_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bs.simulate_ladder("chinchilla", **kwargs)


def test_simulate_ladder_keeps_a_designs_other_columns():
    """A design's label columns were dropped, silently; a target column in it is replaced by the simulated one."""
    design = pd.DataFrame({"family": ["a", "b", "c"], "n": ["70M", 1e9, 3e9], "d": [2e9, 2e10, 6e10],
                           "loss": [9.0, 9.0, 9.0]}, index=[5, 6, 7])
    sims = bs.simulate_ladder("chinchilla", design=design, seed=0)
    assert list(sims.columns) == ["family", "n", "d", "loss"] and list(sims["family"]) == ["a", "b", "c"]
    assert list(sims["n"]) == [7e7, 1e9, 3e9] and (sims["loss"] < 4).all()
    grouped = bs.simulate_ladder("chinchilla", design=design.drop(columns="loss"), num_groups=2, seed=0)
    assert list(grouped.columns) == ["family", "n", "d", "group", "loss"] and len(grouped) == 6


def test_an_index_level_named_like_a_column_is_no_ambiguity():
    """``runs.set_index("group", drop=False)`` crashed bs.fit and bs.fit_many with pandas' "'group' is both an index
    level and a column label, which is ambiguous"."""
    from bayescale.fit import _prepare, _split

    sims = bs.simulate_ladder("chinchilla", num_groups=3, seed=0)
    for runs, row in ((sims.set_index("group", drop=False), "g2"),
                      (sims.set_index(["group", sims.index], drop=False), r"\('g2', 60\)")):
        with pytest.warns(bs.DataWarning, match=rf"1 group\(s\) of 'group' have only one run \(g2; row {row}\)"):
            table = bs.validate_runs(runs.iloc[:61], "chinchilla", groups="group")  # g2's one run, named by its row
        assert list(table.frame.index) == list(runs.index[:61])
        prep = _prepare(bs.get_law("chinchilla"), runs, groups="group", pool={"e": "partial"}, pooling="auto",
                        likelihood="student_t", noise=None, sigma_scale=None, group_scale=0.5,
                        flops_per_param_token=6.0)
        assert prep.data.n_groups == 3
        assert list(_split(runs, "group")) == ["g0", "g1", "g2"]


def test_warnings_naming_rows_say_when_the_row_labels_repeat():
    """After pd.concat without ignore_index, "row 5" in a warning may be either table's row 5: the errors said so,
    the warnings did not."""
    a, b = bs.simulate_ladder(seed=0), bs.simulate_ladder(seed=1)
    runs = pd.concat([a, b.assign(n=b["n"] / 1e6)])
    with pytest.warns(bs.DataWarning, match=r"30 run\(s\) have 'n' below 100000 \(rows 0, 1, .*; the rows are named "
                                            r"by their labels, which repeat in this table .*reset_index\(drop=True\)"):
        bs.validate_runs(runs, "chinchilla")
    with pytest.warns(bs.DataWarning) as said:
        bs.validate_runs(runs.reset_index(drop=True), "chinchilla")
    assert not any("repeat" in str(w.message) for w in said)
