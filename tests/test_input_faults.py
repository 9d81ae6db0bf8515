"""Bad input and failing disks: a failed write leaves no temp file, a corrupt data file of any split is named,
override types and values are checked against the config's fields, a wrong file in place of a checkpoint,
a read-only or full cache and bad campaign options are one line and exit 2."""
import errno
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hebm_lib import io, paths
from hebm_lib.configs import get_config
from hebm_lib.io import UnreadableFile


def _hebm(*args, tmp_path, python=None, env=None):
    """``python -m hebm_lib ARGS`` (or ``python -c PYTHON``) with every writable place under tmp_path."""
    env = {**os.environ, "HEBM_CACHE_DIR": str(tmp_path / "cache"), "HEBM_RESULTS_DIR": str(tmp_path / "res"),
           "HEBM_BUILD_DIR": str(tmp_path / "build"), **(env or {})}
    cmd = [sys.executable, "-c", python] if python else [sys.executable, "-m", "hebm_lib", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def _one_error_line(proc, start="hebm: error: ") -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(start), proc.stderr[-3000:]
    return lines[0]


def _run_folders(tmp_path) -> list[Path]:
    return [p for p in (tmp_path / "cache" / "models").glob("*") if p.name != ".locks"]


# ---------------------------------------------------------------------------------------------
# 3b: an atomic write that fails removes its temp file and keeps the old file

def _temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if ".tmp" in p.name]


def test_a_failed_atomic_write_leaves_no_temp_file_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    io.atomic_save({"iteration": 1}, path)

    def disk_full(obj, f):
        f.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(OSError) as caught:
        io.atomic_save({"iteration": 2}, path)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(path)   # the line names the file
    assert _temp_files(tmp_path) == []
    monkeypatch.undo()
    assert torch.load(path, weights_only=False) == {"iteration": 1}


def test_a_short_write_that_torch_reports_as_runtime_error_is_the_disk_error(tmp_path):
    """torch.save on a full disk raises RuntimeError('unexpected pos ...') with the OSError as its context."""
    path = tmp_path / "model.pt"

    def short_write(f):
        try:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598") from None

    with pytest.raises(OSError) as caught:
        io._atomic_write(path, short_write)
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(path)
    assert _temp_files(tmp_path) == [] and not path.exists()


# ---------------------------------------------------------------------------------------------
# 4: `hebm data fetch` verifies every split's files, not only the test split's

_IDX_FOLDER = {"fmnist": "fashion-mnist", "mnist": "mnist"}


@pytest.mark.parametrize("name", ["fmnist", "mnist"])
def test_data_fetch_names_a_truncated_training_file(tmp_path, name):
    source = paths.data_dir() / _IDX_FOLDER[name]
    if not (source / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"{name} is not fetched here")
    data_dir = tmp_path / "data"
    target = data_dir / _IDX_FOLDER[name]
    target.mkdir(parents=True)
    for f in source.glob("*-ubyte.gz"):
        if f.name.startswith("train-images"):
            (target / f.name).write_bytes(f.read_bytes()[:4096])   # truncated: the test split is intact
        else:
            shutil.copy(f, target / f.name)
    proc = _hebm("data", "fetch", name, tmp_path=tmp_path, env={"HEBM_DATA_DIR": str(data_dir)})
    line = _one_error_line(proc, start=f"{name}: ")
    assert str(target / "train-images-idx3-ubyte.gz") in line and "elete it" in line, line


# ---------------------------------------------------------------------------------------------
# 6: override types checked and normalised against the config's fields

def test_an_integral_number_for_an_int_field_is_the_int():
    as_float = get_config("fmnist_vlae", "smoke", {"train.iterations": 6e0})
    assert as_float.train.iterations == 6 and type(as_float.train.iterations) is int
    assert as_float.hash == get_config("fmnist_vlae", "smoke", {"train.iterations": 6}).hash
    section = get_config("fmnist_vlae", "smoke", {"train": {"iterations": 6.0}})   # a whole section too
    assert type(section.train.iterations) is int


def test_a_number_for_a_float_field_is_a_float_and_a_list_the_declared_tuple():
    one = get_config("fmnist_ours", "smoke", {"train.lr": 1, "prior.lr": 0, "train.betas": [0, 0.9],
                                              "nets.latent_dims": [2, 2.0, 2]})
    assert type(one.train.lr) is float and type(one.prior.lr) is float
    assert one.train.betas == (0.0, 0.9) and all(type(b) is float for b in one.train.betas)
    assert one.nets.latent_dims == (2, 2, 2) and all(type(d) is int for d in one.nets.latent_dims)
    assert one.hash == get_config("fmnist_ours", "smoke", {"train.lr": 1.0, "prior.lr": 0.0, "train.betas": [0.0, 0.9],
                                                          "nets.latent_dims": [2, 2, 2]}).hash


@pytest.mark.parametrize("key, value, expected", [
    ("train.iterations", 2.5, "an integer"),
    ("train.iterations", "abc", "an integer"),
    ("train.iterations", True, "an integer"),
    ("train.lr", "abc", "a number"),
    ("prior.spectral_norm", 1, "true or false"),
    ("train.kl", 3, "a string"),
    ("train.betas", [0.5], "a list of 2 numbers"),
    ("nets.latent_dims", [2, 2.5, 2], "a list of integers"),
    ("train.free_nats", "x", "None or a list of 3"),
    ("nets.gate_init", "x", "None or a number"),
])
def test_an_override_of_the_wrong_type_names_key_value_and_type(key, value, expected):
    with pytest.raises(ValueError) as caught:
        get_config("fmnist_ours", "smoke", {key: value})
    message = str(caught.value)
    assert f"{key}={value!r}" in message and expected in message and "\n" not in message, message


# ---------------------------------------------------------------------------------------------
# 7: values checked in the config; a batch larger than the data set; no run folder before that

@pytest.mark.parametrize("key, value", [
    ("train.iterations", 0), ("train.batch_size", 0), ("train.lr", 0.0), ("train.lr", -1.0), ("train.lr", math.nan),
    ("train.lr", math.inf), ("train.betas", [0.5, 1.0]), ("train.betas", [-0.1, 0.9]), ("train.weight_decay", -1.0),
    ("train.weight_decay", math.nan), ("train.lr_decay_per_epoch", 0.0), ("train.lr_decay_per_epoch", 1.5),
    ("train.checkpoint_every", 0), ("train.snapshot_epochs", -1), ("train.max_energy_gap", math.nan),
    ("train.max_tilt_ratio", 1.0), ("train.free_nats", [math.nan, 1, 1]), ("train.free_nats", [1.0, -1, 1]),
    ("prior.hidden", 0), ("prior.layers", 0), ("prior.lr", -1e-3), ("prior.lr", math.nan), ("prior.langevin_steps", -1),
    ("prior.langevin_step_size", 0.0), ("prior.langevin_step_size", math.inf), ("prior.posterior_langevin", [0, 0.1]),
    ("prior.posterior_langevin", [5, math.nan]),
])
def test_a_bad_training_or_prior_value_names_its_key(key, value):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        get_config("fmnist_ours", "smoke", {key: value})


@pytest.mark.parametrize("schedule, key, value", [
    ({"kind": "constant"}, "beta", 0.0), ({"kind": "constant"}, "beta", math.nan),
    ({"kind": "warmup", "iterations": 10}, "iterations", 0),
    ({"kind": "constrained", "method": "geco"}, "kappa", 0.0), ({"kind": "constrained", "method": "geco"}, "lr", 0.0),
    ({"kind": "constrained", "method": "geco"}, "lr", math.nan), ({"kind": "constrained", "method": "geco"}, "ema", 1.0),
    ({"kind": "constrained", "method": "geco"}, "tau", -1.0), ({"kind": "constrained", "method": "geco"}, "beta_init", 0.0),
])
def test_a_bad_schedule_value_names_its_key(schedule, key, value):
    with pytest.raises(ValueError, match=rf"schedule\.{key}"):
        get_config("fmnist_vlae", "smoke", {"schedule": {**schedule, key: value}})


@pytest.mark.parametrize("key, value, shown", [
    ("steps", 0, "schedule.steps"), ("beta", 0.0, "schedule.beta"), ("pre_kl", -1.0, "schedule.pre_kl"),
    ("fade_in", -1, "schedule.fade_in"),
])
def test_a_bad_progressive_value_names_its_key(key, value, shown):
    with pytest.raises(ValueError, match=shown):
        get_config("shapes3d_provlae", "smoke", {f"schedule.{key}": value})


@pytest.mark.parametrize("override, shown", [
    ("train.lr=.nan", "train.lr"), ("train.lr=-1", "train.lr"), ("train.lr=abc", "train.lr='abc'"),
    ("train.iterations=abc", "train.iterations='abc'"), ("train.iterations=2.5", "train.iterations=2.5"),
    ("train.batch_size=1000", "train.batch_size=1000"),
])
def test_a_bad_override_is_one_line_and_makes_no_run_folder(tmp_path, override, shown):
    proc = _hebm("train", "fmnist_vlae", "--profile", "smoke", "-o", override, tmp_path=tmp_path)
    line = _one_error_line(proc)
    assert shown in line, line
    if "batch_size" in override:
        assert "256 training images" in line, line
    assert _run_folders(tmp_path) == []


_CHECKED_BEFORE_TORCH = """
import contextlib, io, json, sys
from hebm_lib.cli import main
seen = []
for argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as exc:
            seen.append([exc.code, err.getvalue(), "torch" in sys.modules])
print(json.dumps(seen))
"""


def test_a_bad_option_is_refused_before_torch_is_imported(tmp_path):
    """torch takes seconds to import: what the command line alone decides is one line before that (in order: each
    call would import it for good)."""
    bad = [["run", "fig7", "--threads", "0"], ["run", "nosuch"], ["train", "fmnist_vlae", "-o", "train.lr=abc"],
           ["train", "fmnist_vlae", "--stop-after", "nan"], ["train", "fmnist_vlae", "--seeds", "1", "1"],
           ["campaign", "--workers", "0"], ["campaign", "--budget", "soon"], ["campaign", "--overrides", "[]"],
           ["status", "--record-build", "--out", "x.md"], ["status", "--readme", "--out", "x.md"], ["--help"]]
    proc = subprocess.run([sys.executable, "-c", _CHECKED_BEFORE_TORCH, json.dumps(bad)], capture_output=True,
                          text=True, timeout=600, env={**os.environ, "HEBM_BUILD_DIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = json.loads(proc.stdout.splitlines()[-1])
    assert [code for code, _, _ in seen] == [2] * (len(bad) - 1) + [0]
    assert all(err.startswith("hebm: error: ") and err.count("\n") == 1 for _, err, _ in seen[:-1]), seen
    assert [torch for _, _, torch in seen] == [False] * len(bad), seen


# ---------------------------------------------------------------------------------------------
# 9a: a model.pt copied over checkpoint.pt

_SMALL = ["-o", "train.iterations=4", "-o", "train.checkpoint_every=2"]


@pytest.fixture(scope="module")
def two_seeds_checkpointed(tmp_path_factory) -> Path:
    """A cache with seeds 0 and 1 of one config each stopped at its first checkpoint (trained once for the module;
    each test copies it)."""
    made = tmp_path_factory.mktemp("two-seeds")
    for seed in ("0", "1"):
        proc = _hebm("train", "fmnist_vlae", "--profile", "smoke", "--seed", seed, *_SMALL, "--stop-after", "0",
                     tmp_path=made)
        assert proc.returncode == 0, proc.stderr[-3000:]
    return made / "cache"


def test_a_model_file_in_place_of_the_checkpoint_is_one_line(tmp_path, two_seeds_checkpointed):
    shutil.copytree(two_seeds_checkpointed, tmp_path / "cache")   # seed 0 stopped at its first checkpoint
    _hebm("train", "fmnist_vlae", "--profile", "smoke", "-o", "train.iterations=2", tmp_path=tmp_path)
    model = next((tmp_path / "cache").glob("models/*/model.pt"))
    ckpt = next(p for p in (tmp_path / "cache").glob("models/*-seed0-*/checkpoint.pt")
                if not (p.parent / "model.pt").exists())
    shutil.copy(model, ckpt)
    proc = _hebm("train", "fmnist_vlae", "--profile", "smoke", *_SMALL, tmp_path=tmp_path)
    line = _one_error_line(proc)
    assert str(ckpt) in line and "delete it to train from the start" in line, line


def test_a_checkpoint_without_the_trainer_state_is_unreadable(tmp_path, tiny_cfg, tiny_images):
    from hebm_lib.models import build_model
    from hebm_lib.training.trainer import Trainer
    trainer = Trainer(tiny_cfg, build_model(tiny_cfg.nets, tiny_cfg.prior), tiny_images, 0, torch.device("cpu"))
    trainer.run_dir = tmp_path
    state = trainer.state_dict()
    del state["opt_gi"]
    with pytest.raises(UnreadableFile, match=f"{tmp_path / 'checkpoint.pt'}.*opt_gi.*delete it to train from the start"):
        trainer.load_state_dict(state)
    with pytest.raises(UnreadableFile, match="another config or seed.*delete it to train from the start"):
        trainer.load_state_dict(dict(trainer.state_dict(), seed=1))


@pytest.mark.parametrize("seeds", [["--seed", "0"], ["--seeds", "0", "1"]], ids=["one model", "an ensemble"])
def test_a_checkpoint_of_another_seed_in_a_models_folder_is_one_line_naming_it(tmp_path, seeds,
                                                                               two_seeds_checkpointed):
    """#45 item 5: another model's checkpoint copied into a model's folder, read alone or by an ensemble."""
    shutil.copytree(two_seeds_checkpointed, tmp_path / "cache")
    ckpt = {p.parent.name.split("-seed")[1][0]: p for p in (tmp_path / "cache").glob("models/*/checkpoint.pt")}
    shutil.copy(ckpt["1"], ckpt["0"])
    proc = _hebm("train", "fmnist_vlae", "--profile", "smoke", *seeds, *_SMALL, tmp_path=tmp_path)
    line = _one_error_line(proc)
    assert f"{ckpt['0']} was written for another config or seed" in line, line
    assert "delete it to train from the start" in line, line


# ---------------------------------------------------------------------------------------------
# 9c: a read-only or full cache names the path and the fix

_PATCHED_CLI = """
import errno, os, sys
cache = os.environ["HEBM_CACHE_DIR"]
{patch}
from hebm_lib.cli import main
sys.exit(main(["train", "fmnist_vlae", "--profile", "smoke", "-o", "train.iterations=2"]))
"""
_DISK_FULL = """
def fsync(fd):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
os.fsync = fsync
"""
_READ_ONLY = """
real_mkdir = os.mkdir
def mkdir(path, *args, **kw):
    if str(path).startswith(cache):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
    return real_mkdir(path, *args, **kw)
os.mkdir = mkdir
"""


@pytest.mark.parametrize("patch, fix", [pytest.param(_DISK_FULL, "free space", id="disk-full"),
                                        pytest.param(_READ_ONLY, "make it writable", id="read-only")])
def test_a_full_or_read_only_cache_names_the_path_and_the_fix(tmp_path, patch, fix):
    proc = _hebm(tmp_path=tmp_path, python=_PATCHED_CLI.format(patch=patch))
    line = _one_error_line(proc)
    assert str(tmp_path / "cache") in line and fix in line and "HEBM_CACHE_DIR" in line, line


# ---------------------------------------------------------------------------------------------
# 10: campaign options; --plan without decoding every data set once per model

@pytest.mark.parametrize("options, shown", [(["--workers", "0"], "--workers"), (["--members", "0"], "--members"),
                                             (["--budget=-5m"], "--budget"),
                                             (["--cluster", "local", "--time-limit", "0"], "--time-limit '0'")])
def test_a_bad_campaign_option_is_one_line(tmp_path, options, shown):
    proc = _hebm("campaign", "--budget", "2s", "--no-store", *options, tmp_path=tmp_path)
    line = _one_error_line(proc)
    assert shown in line, line


def test_campaign_plan_decodes_each_data_file_at_most_once(tmp_path, monkeypatch):
    from hebm_lib.data import images
    from hebm_lib.runs import campaign
    monkeypatch.setenv("HEBM_CACHE_DIR", str(tmp_path))
    reads: dict[str, int] = {}
    real = images._read_idx

    def counted(path):
        reads[str(path)] = reads.get(str(path), 0) + 1
        return real(path)
    monkeypatch.setattr(images, "_read_idx", counted)
    jobs = campaign.plan("paper")
    assert jobs and all(n == 1 for n in reads.values()), reads


# ---------------------------------------------------------------------------------------------
# a run without its data: every missing data set named before anything trains, with the command of this route

def test_a_run_missing_one_of_its_data_sets_is_refused_before_training(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "mnist").symlink_to(paths.data_dir() / "mnist")   # Table 1's MNIST half is there, not Fashion-MNIST
    proc = _hebm("run", "tab1", "--profile", "smoke", tmp_path=tmp_path, env={"HEBM_DATA_DIR": str(data_dir)})
    line = _one_error_line(proc)
    assert f"tab1 needs data not present in {data_dir}: fmnist (Fashion-MNIST);" in line, line
    assert "run `make data` (or `hebm data fetch fmnist`)" in line and "HEBM_DATA_DIR" in line, line
    assert "mnist (MNIST)" not in line
    assert _run_folders(tmp_path) == []   # nothing trained


def test_the_notebook_itself_checks_every_data_set_first(tmp_path, monkeypatch):
    from hebm_lib.data import DataError
    from hebm_lib.report import notebook
    monkeypatch.setenv("HEBM_DATA_DIR", str(tmp_path))   # papermill or Jupyter without `hebm run`
    with pytest.raises(DataError, match=r"supp_tab1 needs data not present in .*: fmnist \(Fashion-MNIST\), "
                                        r"mnist \(MNIST\); run `make data`"):
        notebook.setup("supp_tab1", "smoke")   # MNIST: its out-of-distribution test set


def test_the_fetch_command_is_the_one_of_the_route(monkeypatch):
    from hebm_lib import data
    assert data.fetch_hint(["fmnist"]) == "run `make data` (or `hebm data fetch fmnist`)"   # a checkout
    assert data.fetch_hint(["svhn"]) == "run `hebm data fetch svhn`"   # not among `make data`'s
    monkeypatch.setattr(paths, "IS_CHECKOUT", False)   # a pip install: no Makefile to run
    assert data.fetch_hint(["fmnist", "mnist"]) == "run `hebm data fetch fmnist mnist`"
    assert data.fetch_hint(["omniglot"]).startswith("omniglot: put chardata.mat")


def test_optional_data_is_not_needed():
    from hebm_lib.report import manifest
    assert manifest.get("tab1").data_needed("cpu") == ["mnist", "fmnist"]   # SVHN's rows only where it is
    assert manifest.get("tab1").data_needed("cpu", {"*": {"data.name": "mnist"}}) == ["mnist"]
    assert manifest.get("vhp_tab2").data_needed("cpu") == ["mnist", "fmnist"]


# ---------------------------------------------------------------------------------------------
# #45 item 2: a part-way snapshot (progress-*.pt) missing or swapped is named, never skipped

@pytest.mark.parametrize("damage", ["deleted", "swapped"])
def test_a_missing_or_swapped_progress_snapshot_is_named_not_skipped(tmp_path, monkeypatch, damage):
    from hebm_lib.training import train_or_load
    monkeypatch.setenv("HEBM_CACHE_DIR", str(tmp_path))
    cfg = get_config("mnist012_ours", "smoke")
    tm = train_or_load(cfg, 0, "cpu", progress=False)
    assert [it for it, _ in tm.progress()] == [2, 3, 4, 6]   # a quarter, half, three quarters, the end
    snapshot = tm.run_dir / "progress-00000003.pt"
    if damage == "deleted":   # as the corrupt-file message used to advise
        snapshot.unlink()
        expected = f"{tm.run_dir} lacks the part-way weights of iteration(s) 3 (progress-*.pt)"
    else:
        shutil.copy(tm.run_dir / "checkpoint.pt", snapshot)
        expected = f"{snapshot} holds the weights of iteration 6, not 3"
    again = train_or_load(cfg, 0, "cpu", progress=False)
    with pytest.raises(UnreadableFile) as caught:
        list(again.progress())
    assert expected in str(caught.value) and f"delete the model folder {tm.run_dir} to train it again" in str(caught.value)


def test_a_model_of_before_the_progress_list_reads_the_snapshots_it_has(tmp_path, monkeypatch):
    from hebm_lib.training import train_or_load
    monkeypatch.setenv("HEBM_CACHE_DIR", str(tmp_path))
    cfg = get_config("mnist012_ours", "smoke")
    tm = train_or_load(cfg, 0, "cpu", progress=False)
    saved = torch.load(tm.run_dir / "model.pt", weights_only=False)
    del saved["info"]["progress"]
    torch.save(saved, tm.run_dir / "model.pt")
    for p in tm.run_dir.glob("progress-*.pt"):
        p.unlink()
    assert [it for it, _ in train_or_load(cfg, 0, "cpu", progress=False).progress()] == [6]   # just the end


# ---------------------------------------------------------------------------------------------
# #45 items 8, 9: a bad training mode or ensemble policy, by option or environment variable: one line, nothing written

@pytest.mark.parametrize("args, env, expected", [
    (["--mode", "graph", "--device", "cpu"], {}, "--mode=graph (CUDA graphs) needs a CUDA device, not cpu"),
    (["--device", "cpu"], {"HEBM_TRAIN_MODE": "bogus"},
     "HEBM_TRAIN_MODE='bogus' is not a training mode; valid: auto, eager, compiled, graph"),
    (["--device", "cpu"], {"HEBM_TRAIN_MODE": "graph"}, "HEBM_TRAIN_MODE=graph (CUDA graphs) needs a CUDA device"),
])
def test_a_bad_training_mode_is_one_line_and_leaves_no_run_folder(tmp_path, args, env, expected):
    proc = _hebm("train", "fmnist_vlae", "--profile", "smoke", *args, tmp_path=tmp_path, env=env)
    line = _one_error_line(proc)
    assert expected in line, line
    assert not (tmp_path / "cache").exists(), list((tmp_path / "cache").rglob("*"))


def test_a_bad_ensemble_policy_is_one_line_before_a_campaign_starts(tmp_path):
    proc = _hebm("campaign", "--profile", "smoke", "--artefacts", "fig6", "--budget", "5m", tmp_path=tmp_path,
                 env={"HEBM_ENSEMBLE": "bogus"})
    line = _one_error_line(proc)
    assert "HEBM_ENSEMBLE='bogus'; valid: auto, always, never" in line, line
    assert not (tmp_path / "cache").exists()


# ---------------------------------------------------------------------------------------------
# #45 items 11, 13: a folder that cannot be written, in a notebook's cell too, names the variable that moves it

def test_a_cache_that_cannot_be_written_under_hebm_run_is_one_line_with_the_fix(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")   # a file where the cache should be: no folder can be made in it (root writes read-only ones)
    proc = _hebm("run", "fig6", "--profile", "smoke", tmp_path=tmp_path, env={"HEBM_CACHE_DIR": str(blocker / "cache")})
    lines = [line for line in proc.stderr.splitlines() if not line.startswith("hebm: fig6_")]   # less the progress
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-3000:]
    assert lines[0].startswith("hebm: error: fig6 failed in cell") and str(blocker) in lines[0], lines[0]
    assert lines[0].endswith("make it writable, or point HEBM_CACHE_DIR elsewhere"), lines[0]


@pytest.mark.parametrize("errno_, where, fix", [
    (errno.EROFS, "cache/models/.locks/abc", "make it writable, or point HEBM_CACHE_DIR elsewhere"),
    (errno.EACCES, "res/fig6.json", "make it writable, or point HEBM_RESULTS_DIR elsewhere"),
    (errno.ENOSPC, "stored/paper/fig6.json", "free space on that disk, or point HEBM_STORED_DIR elsewhere"),
    (errno.EROFS, "data/mnist/train.gz", "make it writable, or point HEBM_DATA_DIR elsewhere"),
    (errno.EROFS, "build/executed/cpu/x.ipynb", "make it writable, or point HEBM_BUILD_DIR elsewhere"),
    (errno.EROFS, "elsewhere/status.md", "make it writable, or write to another folder"),
])
def test_a_write_error_in_a_cell_names_the_variable_of_its_folder(tmp_path, monkeypatch, errno_, where, fix):
    import papermill
    from hebm_lib import cli
    for var, folder in (("HEBM_CACHE_DIR", "cache"), ("HEBM_RESULTS_DIR", "res"), ("HEBM_STORED_DIR", "stored"),
                        ("HEBM_DATA_DIR", "data"), ("HEBM_BUILD_DIR", "build")):
        monkeypatch.setenv(var, str(tmp_path / folder))
    kind = {errno.EACCES: PermissionError}.get(errno_, OSError)
    error = kind(errno_, os.strerror(errno_), str(tmp_path / where))
    caught = cli._cell_error("fig6", papermill.PapermillExecutionError(3, 3, "", type(error).__name__, str(error), []))
    assert isinstance(caught, cli.UsageError) and str(caught).endswith(fix), caught
    assert cli._one_line(error).endswith(fix)   # the same words from a command's own write


@pytest.mark.parametrize("value", ["-5", "nan", "inf"])
def test_a_stop_after_that_is_not_a_duration_is_one_line(tmp_path, value):
    """#45 item 12: -5 trained one iteration and exited 0; nan never stopped."""
    proc = _hebm("train", "fmnist_vlae", "--profile", "smoke", "--stop-after", value, tmp_path=tmp_path)
    line = _one_error_line(proc)
    assert f"--stop-after {value} is not a number of seconds, 0 or more" in line, line
    assert not (tmp_path / "cache").exists()
