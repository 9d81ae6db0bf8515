"""Faults and bad input: a signal keeps the finished iterations, a finished model loads from a cache that
cannot be locked, a truncated file is one line naming it and the fix, and bad input is exit 2."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hebm_lib.configs import get_config
from hebm_lib.io import UnreadableFile
from hebm_lib.training import cache, train_or_load


def _hebm(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "hebm_lib", *args], capture_output=True, text=True,
                          env=dict(os.environ, **(env or {})), timeout=600, **kw)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])   # SIGINT: Ctrl-C
def test_a_signal_during_training_checkpoints_and_says_so(tmp_path, sig):
    env = dict(os.environ, HEBM_CACHE_DIR=str(tmp_path))
    # a checkpoint after every iteration: its file is the sign that the loop (and its handler) is running,
    # however slowly the machine starts the process
    proc = subprocess.Popen([sys.executable, "-m", "hebm_lib", "train", "fmnist_vlae", "--profile", "smoke",
                             "-o", "train.iterations=100000", "-o", "train.checkpoint_every=1"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while not list(tmp_path.glob("models/*/checkpoint.pt")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 1, err
    last = err.strip().splitlines()[-1]   # after the progress bar
    assert last.startswith(f"hebm: stopped: fmnist_vlae (seed 0): {sig.name} at iteration"), err
    ckpt = next(tmp_path.glob("models/*/checkpoint.pt"))
    done = torch.load(ckpt, weights_only=False)["iteration"]
    assert done > 0 and f"{sig.name} at iteration {done:,};" in last   # the iterations before the signal are kept


# The signal arrives while `import torch` runs (where a loaded machine spends its first seconds): the
# process sends it to itself from an import hook, so the test does not depend on timing.
SIGNAL_DURING_IMPORT = """
import importlib.abc, os, signal, sys
class SignalOnTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torch":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.{sig})
        return None
sys.meta_path.insert(0, SignalOnTorch())
from hebm_lib.__main__ import main
sys.exit(main(["train", "fmnist_vlae", "--profile", "smoke"]))
"""


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_signal_during_start_up_is_one_line(tmp_path, sig):
    proc = subprocess.run([sys.executable, "-c", SIGNAL_DURING_IMPORT.format(sig=sig)], capture_output=True,
                          text=True, env=dict(os.environ, HEBM_CACHE_DIR=str(tmp_path)), timeout=300)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"hebm: stopped: {sig} (no training iteration was under way") and \
        "run the same command again" in proc.stderr
    assert not list(tmp_path.glob("models/*"))   # it stopped before anything was written


def test_a_finished_model_loads_without_the_lock(tmp_path, monkeypatch):
    cfg = get_config("fmnist_vlae", "smoke", {"train.iterations": 2})
    images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8)
    from hebm_lib import data
    ds = data.ImageSet(images, torch.zeros(64, dtype=torch.int64), data.spec("fmnist"), "train", "test-fp")
    first = train_or_load(cfg, 0, "cpu", cache_dir=tmp_path, progress=False, train_set=ds)

    def no_lock(*a, **k):
        raise PermissionError("read-only cache")
    monkeypatch.setattr(cache, "_training_lock", no_lock)
    again = train_or_load(cfg, 0, "cpu", cache_dir=tmp_path, progress=False, train_set=ds)
    assert again.info["cached"] and again.run_dir == first.run_dir


def test_a_truncated_model_file_is_one_line_naming_it(tmp_path):
    cfg = get_config("fmnist_vlae", "smoke", {"train.iterations": 2})
    images = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8)
    from hebm_lib import data
    ds = data.ImageSet(images, torch.zeros(64, dtype=torch.int64), data.spec("fmnist"), "train", "test-fp")
    tm = train_or_load(cfg, 0, "cpu", cache_dir=tmp_path, progress=False, train_set=ds)
    path = tm.run_dir / "model.pt"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(UnreadableFile, match=f"{path} cannot be read .*delete it"):
        train_or_load(cfg, 0, "cpu", cache_dir=tmp_path, progress=False, train_set=ds)


def test_a_truncated_checkpoint_is_exit_2_with_one_line(tmp_path):
    env = {"HEBM_CACHE_DIR": str(tmp_path)}
    _hebm("train", "fmnist_vlae", "--profile", "smoke", "-o", "train.iterations=4", "-o", "train.checkpoint_every=2",
          "--stop-after", "0", env=env)
    ckpt = next(tmp_path.glob("models/*/checkpoint.pt"))
    ckpt.write_bytes(ckpt.read_bytes()[:300])
    proc = _hebm("train", "fmnist_vlae", "--profile", "smoke", "-o", "train.iterations=4",
                 "-o", "train.checkpoint_every=2", env=env)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert f"{ckpt} cannot be read" in proc.stderr and "delete it to train from the start" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["train", "fmnist_vlae", "--profile", "smoke", "--seed", "-1"], "--seed / --seeds must be distinct non-negative integers"),
    (["train", "fmnist_vlae", "--profile", "smoke", "-o", "train.nosuch=1"], "unknown config parameter 'train.nosuch'"),
    (["data", "fetch", "nosuch"], "unknown dataset 'nosuch'; valid datasets:"),
])
def test_bad_input_is_exit_2_with_one_line(tmp_path, args, message):
    proc = _hebm(*args, env={"HEBM_CACHE_DIR": str(tmp_path)})
    assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


@pytest.mark.parametrize("args, message", [
    (["run", "tab1", "--profile", "smoke", "-p", "seeds=[-1]"],
     "seeds must be a non-empty list of distinct non-negative integers"),
    (["train", "mnist_ours", "--profile", "smoke", "-o", "data.name=svhn"], "SVHN file train_32x32.mat not found"),
    (["train", "mnist_ours", "--profile", "smoke", "-o", "prior.lr=1000", "-o", "train.max_tilt_ratio=2",
      "-o", "train.iterations=40"], "diverged at iteration"),
])
def test_bad_settings_and_data_are_exit_2_with_one_line(tmp_path, args, message):
    proc = _hebm(*args, env={"HEBM_CACHE_DIR": str(tmp_path / "cache"), "HEBM_RESULTS_DIR": str(tmp_path / "res"),
                             "HEBM_BUILD_DIR": str(tmp_path / "build")})
    last = proc.stderr.strip().splitlines()[-1]   # after a progress bar
    assert proc.returncode == 2 and last.startswith("hebm: error: ") and message in last, proc.stderr[-2000:]


def test_a_cache_folder_that_cannot_be_made_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = _hebm("train", "fmnist_vlae", "--profile", "smoke", env={"HEBM_CACHE_DIR": str(blocker)})
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert str(blocker) in proc.stderr and "point HEBM_CACHE_DIR" in proc.stderr
