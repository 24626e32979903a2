"""Data-set registry: every table loads tidy and complete, files are verified, errors are clear."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pooch
import pytest

from bayescale import datasets
from bayescale.datasets import DatasetChecksumError, DatasetInfo, DatasetNotFoundError, FileInfo

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
DATA = Path(os.environ.get("BAYESCALE_DATA_DIR") or SHARED)
HAVE_DATA = DATA.is_dir()
needs_data = pytest.mark.skipif(not HAVE_DATA, reason=f"no data directory at {DATA}")
if not HAVE_DATA and os.environ.get("CI") == "true":  # CI provides the data: a skip there would hide a broken path
    raise RuntimeError(f"CI=true but no data directory at {DATA}: set BAYESCALE_DATA_DIR to the shared data")


@pytest.fixture(autouse=True)
def _data_dir(monkeypatch):
    """Point BAYESCALE_DATA_DIR at the project's shared data unless the caller set it."""
    if not os.environ.get("BAYESCALE_DATA_DIR"):
        monkeypatch.setenv("BAYESCALE_DATA_DIR", str(SHARED))


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No data directory, an empty user cache and no network: every file lookup must fail."""
    calls = []

    def no_network(url, *args, **kwargs):
        calls.append(url)
        raise ConnectionError(f"no network in the tests ({url})")

    monkeypatch.delenv("BAYESCALE_DATA_DIR", raising=False)
    monkeypatch.setattr(pooch, "os_cache", lambda project: tmp_path / "cache" / project)
    monkeypatch.setattr(pooch, "retrieve", no_network)
    return calls


# Rows and main columns of every table. Row counts are those in each PROVENANCE.md, except where the count
# there was a line count of a file without a final newline (one row short): cherti arch_info (28), ColPret's
# datablations_losses (9261 = 4855 c4 + 4406 oscar) and datablations_code_losses (296), obsscaling emergent
# (84) and post-training (96). Long tables: rows = models x tasks.
EXPECTED = {
    ("cherti_openclip", "zeroshot"): (1312, "model arch dataset downstream_dataset n d c acc1"),
    ("cherti_openclip", "runs"): (29, "model arch dataset n d c batch lr"),
    ("cherti_openclip", "learning_curves"): (3359, "model epoch n d c acc1 acc5"),
    ("cherti_openclip", "archs"): (28, "arch n gmacs"),
    ("chinchilla_epoch", "points"): (245, "n d c loss"),
    ("chinchilla_epoch", "svg"): (245, "n d c loss x y"),
    ("critical_batch_zhang2024", "steps"): (45, "model n batch steps d c target_loss"),
    ("critical_batch_zhang2024", "fits"): (5, "model n fit_a fit_b cbs"),
    ("datablations_muennighoff", "final"): (229, "name n d u c epochs loss"),
    ("datablations_muennighoff", "all_named"): (316, "name loss unfinished is_seed_run in_final"),
    ("datablations_muennighoff", "curves"): (9261, "dataset n d u c epochs loss"),
    ("datablations_muennighoff", "code_curves"): (296, "seed n d c loss"),
    ("datablations_muennighoff", "colpret_final"): (229, "name n d u c loss"),
    ("gadre_overtraining", "runs"): (104, "name dataset model n d c m loss batch err_avg17"),
    ("gadre_overtraining", "losses"): (104 * 8, "name dataset n d c split loss"),
    ("gadre_overtraining", "tasks"): (104 * 46, "name dataset n d c task metric value"),
    ("gadre_overtraining", "grid"): (435, "width depth heads d lr loss"),
    ("gadre_overtraining", "task_info"): (51, "task random_baseline in_avg17"),
    ("gemstones", "hot_100b+"): (770, "run model width depth n d c step loss"),
    ("gemstones", "hot"): (220, "run model n d c step loss"),
    ("gemstones", "hot_477"): (1100, "run n d c step loss"),
    ("gemstones", "hot_100b+_477"): (3850, "run n d c step loss"),
    ("gemstones", "hot_100b+_512x"): (175, "run n d c step loss"),
    ("gemstones", "hot_120b+_only"): (528, "run n d c step loss"),
    ("gemstones", "hot_120b+_only_477"): (2552, "run n d c step loss"),
    ("gemstones", "cool_begin"): (199, "run n d c step loss"),
    ("gemstones", "cool_end"): (199, "run n d c step loss"),
    ("gemstones", "lr_ablation_hot"): (200, "run n d c step loss"),
    ("gemstones", "lr_ablation_hot_477"): (1000, "run n d c step loss"),
    ("gemstones", "hot_sampled_like_chinchilla"): (24, "run n d c step loss"),
    ("gemstones", "lr_ablation_hot_sampled_like_chinchilla"): (23, "run n d c step loss"),
    ("gemstones", "slim_chinchilla"): (28, "n d c loss"),
    ("gemstones", "lr_ablation_slim_chinchilla"): (27, "n d c loss"),
    ("gemstones", "fineweb_edu"): (770, "run n d c step loss"),
    ("gemstones", "fineweb_dclm"): (770, "run n d c step loss"),
    ("gemstones", "light_eval"): (770 * 9, "run model step n d c task value stderr"),
    ("gemstones", "public_models"): (21, "model n loss"),
    ("gemstones", "fits"): (None, "file approach target subset param value"),
    ("laion_clip_mammut_comparison", "best"): (2686, "family arch dataset eval_dataset metric n d c value"),
    ("laion_clip_mammut_comparison", "segmentation"): (1431, "family arch dataset n d c miou lr batch"),
    ("laion_clip_mammut_comparison", "models"): (56, "arch family n"),
    ("loss_to_loss_brandfonbrener", "runs"): (529, "id dataset n d c loss loss_c4"),
    ("loss_to_loss_brandfonbrener", "losses"): (529 * 8, "id dataset n d c eval_set loss"),
    ("multipower_lr_schedules", "curves"): (None, "model n schedule split step lr loss"),
    ("obsscaling_ruan", "base"): (148, "model family n d c mmlu"),
    ("obsscaling_ruan", "base_long"): (148 * 8, "model family n d c task value"),
    ("obsscaling_ruan", "sub_10b"): (92, "model family n d c mmlu"),
    ("obsscaling_ruan", "emergent"): (84 * 8, "model family n d c task value"),
    ("obsscaling_ruan", "leaderboard_v2"): (72 * 6, "model family n d c task value"),
    ("obsscaling_ruan", "post_training"): (96 * 234, "model family n d c task filter value"),
    ("obsscaling_ruan", "instruct"): (27, "model family n d c arena_elo"),
    ("obsscaling_ruan", "agent"): (27 * 29, "model family task value"),
    ("olmo_ladder", "final"): (30, "run size n d c loss steps lr batch loss_c4_en"),
    ("olmo_ladder", "tasks"): (None, "run size n d c task metric value"),
    ("olmo_ladder", "losses"): (30 * 11, "run size n d c eval_set loss"),
    ("olmo_ladder", "curves"): (None, "run size n d c step loss lr batch"),
    ("porian_discrepancies", "isoflop"): (1745, "dataset label n d c loss"),
    ("porian_discrepancies", "compute_optimal"): (177, "dataset label n d c loss"),
    ("porian_discrepancies", "fits"): (15, "dataset label a_n_exponent"),
    ("pythia_evals", "evals"): (11936, "variant size step n d c task metric value"),
    ("steplaw_lr_bs", "dense"): (1746, "n d c lr batch steps loss"),
    ("steplaw_lr_bs", "moe"): (708, "n n_active d c lr batch steps loss"),
}
SIZES = ("n", "d", "c", "u", "batch", "steps", "n_active")
LAW_COLUMNS = SIZES + ("loss", "lr", "step", "value")
# (data set, table) -> law columns allowed to hold NaN (missing upstream), never silently dropped
_OBS_TABLES = (
    "base",
    "base_long",
    "sub_10b",
    "emergent",
    "leaderboard_v2",
    "post_training",
    "instruct",
    "agent",
)
MAY_BE_NAN = {
    ("datablations_muennighoff", "all_named"): {"loss"},
    ("porian_discrepancies", "compute_optimal"): {"n", "d", "loss"},
    **{("obsscaling_ruan", t): {"n", "d", "c", "value"} for t in _OBS_TABLES},
}


def _sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------------------- registry


def test_names_sorted_and_complete():
    expected = [
        "cherti_openclip",
        "chinchilla_epoch",
        "critical_batch_zhang2024",
        "datablations_muennighoff",
        "gadre_overtraining",
        "gemstones",
        "laion_clip_mammut_comparison",
        "loss_to_loss_brandfonbrener",
        "multipower_lr_schedules",
        "obsscaling_ruan",
        "olmo_ladder",
        "porian_discrepancies",
        "pythia_evals",
        "steplaw_lr_bs",
    ]
    assert datasets.names() == expected
    assert {(n, t) for n in expected for t in datasets.info(n).tables} == set(EXPECTED)


@pytest.mark.parametrize("name", datasets.names())
def test_info_record(name):
    rec = datasets.info(name)
    assert isinstance(rec, DatasetInfo) and rec.name == name
    assert rec.tables[0] == rec.default_table and len(set(rec.tables)) == len(rec.tables)
    assert re.fullmatch(r"[0-9a-f]{40}", rec.commit) and rec.url.startswith("https://github.com/")
    assert rec.title and rec.licence and rec.citation and rec.description
    assert "n" in rec.units and all(isinstance(v, str) and v for v in rec.units.values())
    for t in rec.tables:
        assert f"``{t}``" in rec.description  # every table is described
    assert len({f.path for f in rec.files}) == len(rec.files)
    for f in rec.files:
        assert isinstance(f, FileInfo) and re.fullmatch(r"[0-9a-f]{64}", f.sha256)
        if f.url is not None:
            assert f.url.startswith("https://raw.githubusercontent.com/")
            assert re.search(r"/[0-9a-f]{40}/", f.url), f"{f.url} is not pinned to a commit"
        else:
            assert f.derived, f"{f.path}: only a derived file may lack a URL"
    verbatim = [f for f in rec.files if not f.derived]
    assert all(rec.commit in f.url for f in verbatim if not f.path.startswith("colpret_tabulation/"))
    # the record is a copy: changing it does not change the registry
    rec.units["n"] = "changed"
    assert datasets.info(name).units["n"] != "changed"


def test_pinned_urls_follow_provenance():
    files = {f.path: f for f in datasets.info("olmo_ladder").files}
    assert files["ladder-runs/1B-1xC.csv"].url == (
        "https://raw.githubusercontent.com/allenai/OLMo-ladder/67a3f440f787d020da35e3ca8eeae475fae754f5/"
        "src/scripts/paper/data/ladder-runs/1B-1xC.csv"
    )
    assert files["ladder_final_checkpoints.csv"].derived and files["ladder_final_checkpoints.csv"].url is None
    chin = {f.path: f for f in datasets.info("chinchilla_epoch").files}
    src = (
        "https://raw.githubusercontent.com/epoch-research/analyzing-chinchilla/"
        "92258837425e1b5f2851d624287f0120583a3d0e/data/svg_extracted_data.csv"
    )
    assert chin["svg_extracted_data.csv"].url == src and not chin["svg_extracted_data.csv"].derived
    assert chin["chinchilla_NDCloss.csv"].url == src and chin["chinchilla_NDCloss.csv"].derived
    colpret = {f.path: f for f in datasets.info("datablations_muennighoff").files}
    assert colpret["colpret_tabulation/datablations_losses.csv"].url == (
        "https://raw.githubusercontent.com/IBM/ColPret/16f23bbe054277ddc4afd07a972dd7cfbe3f48c3/"
        "aggregated_eval/datablations_losses.csv"
    )
    l2l = datasets.info("loss_to_loss_brandfonbrener").files[0]
    assert l2l.url == (
        "https://raw.githubusercontent.com/KempnerInstitute/loss-to-loss-notebooks/"
        "457ce81a019019bc3981937c20a70c52f5fad436/data/sweep.csv"
    )


@needs_data
@pytest.mark.parametrize("name", datasets.names())
def test_manifest_matches_data_dir(name):
    """Every file of the data folder is registered with its true sha256, and nothing else is."""
    folder = DATA / name
    on_disk = {
        p.relative_to(folder).as_posix(): p
        for p in folder.rglob("*")
        if p.is_file() and p.name != "PROVENANCE.md"
    }
    registered = {f.path: f.sha256 for f in datasets.info(name).files}
    assert set(registered) == set(on_disk)
    for rel, digest in registered.items():
        assert _sha256(on_disk[rel]) == digest, rel


def test_unknown_names_suggest_close_matches():
    with pytest.raises(KeyError, match="chinchilla_epoch") as err:
        datasets.load("chinchila_epoch")
    assert "did you mean" in str(err.value)
    with pytest.raises(KeyError, match="did you mean 'olmo_ladder'"):
        datasets.info("olmo_lader")
    with pytest.raises(KeyError, match="'chinchilla'"):  # the short names are suggested too
        datasets.load("chinchila")
    with pytest.raises(KeyError, match="'tasks'"):
        datasets.load("olmo_ladder", table="task")
    with pytest.raises(KeyError, match="svg_extracted_data.csv"):
        datasets.path("chinchilla_epoch", "svg_extracted.csv")


# ------------------------------------------------------------------------------------------------ every table


@needs_data
@pytest.mark.parametrize(("name", "table"), sorted(EXPECTED))
def test_table_loads_tidy(name, table):
    rows, cols = EXPECTED[(name, table)]
    df = datasets.load(name, table=table)
    assert isinstance(df, pd.DataFrame)
    if rows is not None:
        assert len(df) == rows
    assert len(df) > 0
    missing = set(cols.split()) - set(df.columns)
    assert not missing, f"missing columns {missing}"
    declared = datasets._REGISTRY[name].tables[table].columns
    assert set(declared) <= set(df.columns), set(declared) - set(df.columns)
    assert df.columns.is_unique
    assert all(re.fullmatch(r"[a-z0-9_+]+", c) for c in df.columns), [
        c for c in df.columns if not re.fullmatch(r"[a-z0-9_+]+", c)
    ]
    assert df.index.equals(pd.RangeIndex(len(df)))
    allowed_nan = MAY_BE_NAN.get((name, table), set())
    for col in LAW_COLUMNS:
        if col not in df.columns:
            continue
        values = df[col]
        assert pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values), col
        if col not in allowed_nan:
            assert values.notna().all(), f"{col} has {int(values.isna().sum())} NaN"
        finite = values.dropna()
        assert np.isfinite(finite).all(), col
        if col in ("n", "d", "c", "u"):
            assert finite.dtype == np.float64, col
        if col in SIZES:
            if name == "pythia_evals" and col in ("d", "c"):
                assert (finite >= 0).all() and (finite[df.loc[finite.index, "step"] > 0] > 0).all()
            else:
                assert (finite > 0).all(), f"{col} has non-positive values"
        if col in ("loss", "lr"):
            assert (finite >= 0).all(), col
    if "n" in df.columns:
        assert df["n"].dropna().min() > 1e5, "n must be a raw parameter count"


@needs_data
@pytest.mark.parametrize("name", datasets.names())
def test_default_table(name):
    rec = datasets.info(name)
    default = datasets.load(name)
    pd.testing.assert_frame_equal(default, datasets.load(name, table=rec.default_table))
    # every default table has the model size and the quantity its case studies fit, with finite values
    target = DEFAULT_TARGETS[name]
    assert {"n", target} <= set(default.columns), (name, target, list(default.columns))
    assert np.isfinite(default[target].to_numpy(dtype=float)).any(), (name, target)


#: The quantity each data set's default table is fitted on (what a law's target column reads).
DEFAULT_TARGETS = {
    "cherti_openclip": "acc1", "chinchilla_epoch": "loss", "critical_batch_zhang2024": "steps",
    "datablations_muennighoff": "loss", "gadre_overtraining": "loss", "gemstones": "loss",
    "laion_clip_mammut_comparison": "value", "loss_to_loss_brandfonbrener": "loss", "multipower_lr_schedules": "loss",
    "obsscaling_ruan": "mmlu", "olmo_ladder": "loss", "porian_discrepancies": "loss", "pythia_evals": "value",
    "steplaw_lr_bs": "loss",
}


def test_default_targets_name_every_data_set():
    assert set(DEFAULT_TARGETS) == set(datasets.names())


# --------------------------------------------------------------------------------------------- content checks


@needs_data
def test_chinchilla_points():
    df = datasets.load("chinchilla_epoch")
    assert list(df.columns) == ["n", "d", "c", "loss"] and len(df) == 245
    np.testing.assert_allclose(df["d"], df["c"] / (6 * df["n"]), rtol=1e-12)
    assert df["loss"].between(2.0, 5.1).all()
    assert (df["loss"] > 3.4).sum() >= 5  # Epoch's 5 outliers are kept; the case study drops them
    derived = pd.read_csv(datasets.path("chinchilla_epoch", "chinchilla_NDCloss.csv"))
    np.testing.assert_allclose(
        df[["n", "d", "c", "loss"]].to_numpy(), derived[["N", "D", "C", "loss"]], rtol=1e-6
    )
    pd.testing.assert_frame_equal(datasets.load("chinchilla"), df)  # the short name of DESIGN.md
    assert datasets.info("chinchilla") == datasets.info("chinchilla_epoch")


@needs_data
def test_datablations_final():
    df = datasets.load("datablations_muennighoff")
    assert len(df) == 229
    np.testing.assert_allclose(df["c"], 6 * df["n"] * df["d"])
    np.testing.assert_allclose(df["epochs"], df["d"] / df["u"], rtol=1e-6)  # stored rounded
    assert df["n"].nunique() == 20 and df["u"].nunique() == 40
    named = datasets.load("datablations_muennighoff", table="all_named")
    assert named["in_final"].sum() == 229
    assert named.loc[named["unfinished"], "loss"].isna().all()


@needs_data
def test_olmo_ladder_tables():
    final = datasets.load("olmo_ladder")
    assert len(final) == 30 and final["run"].is_unique
    assert (final["loss"] == final["loss_c4_en"]).all()
    ratio = final["c"] / (final["n"] * final["d"])
    assert ratio.between(7.0, 10.1).all()  # upstream compute counts attention: not 6 n d
    tasks = datasets.load("olmo_ladder", table="tasks")
    assert {"bpb", "acc"} <= set(tasks["metric"])
    hs = tasks[(tasks.task == "hellaswag") & (tasks.metric == "bpb")]
    assert len(hs) == 30
    curves = datasets.load("olmo_ladder", table="curves")
    assert len(curves) == final["n_eval_rows"].sum()
    last = curves.groupby("run").tail(1).set_index("run").loc[final["run"]]
    np.testing.assert_allclose(last["d"], final["d"].to_numpy())
    np.testing.assert_allclose(last["c"], final["c"].to_numpy(), rtol=1e-12)


@needs_data
def test_gadre_and_gemstones_consistency():
    runs = datasets.load("gadre_overtraining")
    np.testing.assert_allclose(runs["c"], 6 * runs["n"] * runs["d"], rtol=1e-9)
    grid_csv = pd.read_csv(datasets.path("gadre_overtraining", "gadre_grid_search.csv"))
    grid = datasets.load("gadre_overtraining", table="grid")
    merged = grid.merge(grid_csv, on="key", suffixes=("", "_csv"))
    assert len(merged) == 435 and (merged["loss"] == merged["loss_csv"]).all()
    hot = datasets.load("gemstones", table="hot")
    big = datasets.load("gemstones")
    assert len(hot.merge(big, on=["run", "step", "loss"])) == len(hot)  # hot is the <=100B part of hot_100b+
    assert hot["model"].nunique() == 22


@needs_data
def test_critical_batch_and_steplaw_units():
    cbs = datasets.load("critical_batch_zhang2024")
    assert (cbs["batch"] == cbs["batch_seqs"] * 512).all()
    np.testing.assert_allclose(cbs["d"], cbs["steps"] * cbs["batch"])
    dense = datasets.load("steplaw_lr_bs")
    np.testing.assert_allclose(dense["d"], dense["steps"] * dense["batch"], rtol=0.01)
    assert dense["n"].max() < 1e9


# ------------------------------------------------------------------------------------------------- resolution


@needs_data
def test_fresh_frame_each_call():
    first = datasets.load("chinchilla_epoch")
    first.loc[:, "loss"] = -1.0
    first["extra"] = 1
    second = datasets.load("chinchilla_epoch")
    assert len(second) == 245 and "extra" not in second.columns and (second["loss"] > 0).all()
    second.iloc[0, 0] = 0.0
    assert datasets.load("chinchilla_epoch").iloc[0, 0] > 0


@needs_data
def test_data_dir_argument_comes_first(tmp_path, monkeypatch):
    rel = "svg_extracted_data.csv"
    (tmp_path / "chinchilla_epoch").mkdir()
    shutil.copy(DATA / "chinchilla_epoch" / rel, tmp_path / "chinchilla_epoch" / rel)
    assert datasets.path("chinchilla_epoch", rel, data_dir=tmp_path) == tmp_path / "chinchilla_epoch" / rel
    assert datasets.path("chinchilla_epoch") == DATA / "chinchilla_epoch" / rel  # from BAYESCALE_DATA_DIR
    assert len(datasets.load("chinchilla_epoch", data_dir=str(tmp_path))) == 245
    # a data_dir that is not a folder (a typo) is said when the file comes from elsewhere
    with pytest.warns(UserWarning, match=r"data_dir='.*typo' is not a folder: read 'chinchilla_epoch' from .* instead"):
        assert len(datasets.load("chinchilla_epoch", data_dir=tmp_path / "typo")) == 245


@needs_data
def test_a_named_place_passed_over_is_said(tmp_path, monkeypatch):
    """A data_dir without the data set, or that is the data set's own folder, and a $BAYESCALE_DATA_DIR that is
    not a folder, are each named in a warning when the file is read from further down the search."""
    rel = "svg_extracted_data.csv"
    (tmp_path / "other").mkdir()
    with pytest.warns(UserWarning, match=r"data_dir='.*other' holds no chinchilla_epoch/svg_extracted_data.csv: "
                                         r"read 'chinchilla_epoch' from .* instead"):
        datasets.load("chinchilla_epoch", data_dir=tmp_path / "other")
    with pytest.warns(UserWarning, match=r"is the data set's own folder; pass the folder above it, which holds "
                                         r"chinchilla_epoch/"):
        datasets.load("chinchilla_epoch", data_dir=DATA / "chinchilla_epoch")
    # $BAYESCALE_DATA_DIR with a typo: the copy in the user cache is read, and the typo said
    cache = tmp_path / "cache"
    (cache / "bayescale" / "chinchilla_epoch").mkdir(parents=True)
    shutil.copy(DATA / "chinchilla_epoch" / rel, cache / "bayescale" / "chinchilla_epoch" / rel)
    monkeypatch.setattr(pooch, "os_cache", lambda project: cache / project)
    monkeypatch.setenv("BAYESCALE_DATA_DIR", str(tmp_path / "typo"))
    with pytest.warns(UserWarning, match=r"\$BAYESCALE_DATA_DIR='.*typo' is not a folder: read 'chinchilla_epoch' "
                                         r"from .*cache.* instead"):
        assert len(datasets.load("chinchilla_epoch")) == 245
    # a folder of some data sets (others in the cache) is a normal set-up: passed over without a word
    monkeypatch.setenv("BAYESCALE_DATA_DIR", str(tmp_path / "other"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(datasets.load("chinchilla_epoch")) == 245


@needs_data
def test_a_file_rewritten_in_place_is_checked_again(tmp_path):
    """A copy that keeps the size and the mtime (``cp -p``, ``os.utime``) is still hashed again, not trusted."""
    rel = "svg_extracted_data.csv"
    copy = tmp_path / "chinchilla_epoch" / rel
    copy.parent.mkdir()
    shutil.copy(DATA / "chinchilla_epoch" / rel, copy)
    assert len(datasets.load("chinchilla_epoch", data_dir=tmp_path)) == 245
    before = copy.stat()
    copy.write_bytes(copy.read_bytes().replace(b"5.005581996196243", b"5.105581996196243", 1))
    os.utime(copy, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert copy.stat().st_size == before.st_size and copy.stat().st_mtime_ns == before.st_mtime_ns
    with pytest.raises(DatasetChecksumError, match="replace it with the pinned copy"):
        datasets.load("chinchilla_epoch", data_dir=tmp_path)


@needs_data
def test_a_damaged_derived_file_is_restored_from_its_folder_not_its_source(tmp_path):
    rel = "datablations_final_losses.csv"
    bad = tmp_path / "datablations_muennighoff" / rel
    bad.parent.mkdir()
    bad.write_bytes((DATA / "datablations_muennighoff" / rel).read_bytes()[:2000])
    with pytest.raises(DatasetChecksumError) as err:
        datasets.load("datablations", data_dir=tmp_path)
    assert "has no upstream copy: restore it from the data folder it came from." in str(err.value)
    assert ".ipynb" not in str(err.value)  # its upstream notebook never matches the digest


@needs_data
def test_corrupted_copy_raises_checksum_error(tmp_path):
    rel = "svg_extracted_data.csv"
    good = (DATA / "chinchilla_epoch" / rel).read_bytes()
    (tmp_path / "chinchilla_epoch").mkdir()
    bad = tmp_path / "chinchilla_epoch" / rel
    bad.write_bytes(good.replace(b"5.005581996196243", b"5.105581996196243", 1))
    with pytest.raises(DatasetChecksumError) as err:
        datasets.load("chinchilla_epoch", data_dir=tmp_path)
    msg = str(err.value)
    assert isinstance(err.value, ValueError)
    assert rel in msg and str(bad) in msg
    assert _sha256(DATA / "chinchilla_epoch" / rel) in msg and _sha256(bad) in msg


@needs_data
def test_corrupted_file_in_a_subfolder(tmp_path):
    rel = "ladder-runs/190M-1xC.csv"
    bad = tmp_path / "olmo_ladder" / rel
    bad.parent.mkdir(parents=True)
    bad.write_text("_step\n1\n")
    with pytest.raises(DatasetChecksumError, match="190M-1xC.csv"):
        datasets.path("olmo_ladder", rel, data_dir=tmp_path)


def test_nothing_reachable_raises_not_found(offline, tmp_path):
    empty = tmp_path / "empty"
    with pytest.raises(DatasetNotFoundError) as err:
        datasets.load("chinchilla_epoch", data_dir=empty)
    msg = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    assert "BAYESCALE_DATA_DIR" in msg and "svg_extracted_data.csv" in msg
    assert str(empty / "chinchilla_epoch" / "svg_extracted_data.csv") in msg
    assert str(tmp_path / "cache") in msg and "ConnectionError" in msg
    assert "download" in msg and "allow the download (network access to raw.githubusercontent.com;" in msg
    files = {f.path: f for f in datasets.info("chinchilla_epoch").files}
    assert offline == [files["svg_extracted_data.csv"].url]


def test_a_failed_download_leaves_no_folder_and_says_why(offline, tmp_path, monkeypatch):
    """A download that fails leaves no empty folder in the cache; one that failed writing there (not reaching the
    server) says so, with how to move the cache, rather than asking for the network."""
    with pytest.raises(DatasetNotFoundError):
        datasets.load("olmo_ladder", table="curves")
    assert not (tmp_path / "cache" / "bayescale" / "olmo_ladder").exists()

    def read_only(url, known_hash, fname, path, **kwargs):
        Path(path).mkdir(parents=True, exist_ok=True)
        raise OSError(errno.EROFS, "Read-only file system", str(Path(path) / fname))

    monkeypatch.setattr(pooch, "retrieve", read_only)
    monkeypatch.setenv("BAYESCALE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(DatasetNotFoundError) as err:
        datasets.load("chinchilla_epoch")
    msg = str(err.value)
    assert f"Fix: point BAYESCALE_DATA_DIR (now {str(tmp_path / 'nowhere')!r}) at a directory" in msg
    assert "the user cache" in msg and "cannot be written (Read-only file system); make it writable or move it " \
        "(it follows XDG_CACHE_HOME on Linux)" in msg
    assert "network access" not in msg
    assert not (tmp_path / "cache" / "bayescale" / "chinchilla_epoch").exists()


def test_derived_file_is_never_downloaded(offline):
    with pytest.raises(DatasetNotFoundError, match="only available from a data directory") as err:
        datasets.load("datablations_muennighoff")
    assert "BAYESCALE_DATA_DIR: not set" in str(err.value)
    assert str(err.value).endswith("or pass data_dir=... (this file cannot be downloaded; the tables of "
                                   "'datablations_muennighoff' that download: 'curves', 'code_curves', "
                                   "'colpret_final').")  # no download advice
    assert datasets.info("datablations").downloadable == ("curves", "code_curves", "colpret_final")
    with pytest.raises(DatasetNotFoundError, match=r"no table of 'olmo_ladder' downloads\)\.$"):
        datasets.load("olmo_ladder")
    assert offline == []


@needs_data
def test_verified_download_into_user_cache(monkeypatch, tmp_path):
    """Without a data directory, pooch.retrieve fetches the pinned URL with its sha256 into the cache."""
    monkeypatch.delenv("BAYESCALE_DATA_DIR", raising=False)
    monkeypatch.setattr(pooch, "os_cache", lambda project: tmp_path / "cache" / project)
    calls = []

    def fake_retrieve(url, known_hash, fname, path, **kwargs):
        calls.append((url, known_hash))
        target = Path(path) / fname
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / "loss_to_loss_brandfonbrener" / "sweep.csv", target)
        assert known_hash == "sha256:" + _sha256(target)
        return str(target)

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    df = datasets.load("loss_to_loss_brandfonbrener")
    fi = datasets.info("loss_to_loss_brandfonbrener").files[0]
    assert len(df) == 529 and calls == [(fi.url, "sha256:" + fi.sha256)]
    cached = tmp_path / "cache" / "bayescale" / "loss_to_loss_brandfonbrener" / "sweep.csv"
    assert cached.is_file()

    def no_network(*args, **kwargs):
        raise AssertionError("a verified cached file must not be downloaded again")

    monkeypatch.setattr(pooch, "retrieve", no_network)
    assert datasets.path("loss_to_loss_brandfonbrener") == cached
    assert len(datasets.load("loss_to_loss_brandfonbrener", table="losses")) == 529 * 8
