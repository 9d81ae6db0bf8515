"""Faults of `hebm run`: a signal stops the kernel's training with a checkpoint and one line; a stored run is
replaced all or nothing on any file-system layout and leaves no scratch folder; a corrupt history or result
file is one line naming it; a failed run leaves no result a build counts; -p values are checked."""
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from hebm_lib import cli
from hebm_lib.report import manifest, results, status
from hebm_lib.runs import execute

FIG6_NOTEBOOK = "fig6_joint_prior_2d_mnist012.ipynb"


def _env(tmp_path, **extra):
    return dict(os.environ, HEBM_CACHE_DIR=str(tmp_path / "cache"), HEBM_RESULTS_DIR=str(tmp_path / "res"),
                HEBM_BUILD_DIR=str(tmp_path / "build"), **extra)


def _hebm(*args, env):
    return subprocess.run([sys.executable, "-m", "hebm_lib", *args], capture_output=True, text=True, env=env,
                          timeout=600, stdin=subprocess.DEVNULL)


def _not_progress(stderr: str) -> list[str]:
    """stderr's lines less the progress lines of a run off a terminal (`hebm: NOTEBOOK: ...`)."""
    return [line for line in stderr.strip().splitlines() if not line.startswith(f"hebm: {FIG6_NOTEBOOK[:-6]}: ")]


# 1. a signal to the process group of `hebm run` (the shell's Ctrl-C, a batch system's SIGTERM)

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_notebook_run_checkpoints_and_says_so(tmp_path, sig):
    # a checkpoint after every iteration of a long training: its file says the kernel's loop is running
    overrides = json.dumps({"mnist012_ours": {"train.iterations": 100000, "train.checkpoint_every": 1}})
    proc = subprocess.Popen([sys.executable, "-m", "hebm_lib", "run", "fig6", "--profile", "smoke",
                             "-p", f"overrides={overrides}"], env=_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    models = tmp_path / "cache" / "models"
    deadline = time.monotonic() + 300
    while not list(models.glob("*/checkpoint.pt")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, sig)   # the whole group, as a terminal or a batch system sends it
    _, err = proc.communicate(timeout=300)
    lines = _not_progress(err)
    assert proc.returncode == 1 and len(lines) == 1, err
    assert lines[0].startswith(f"hebm: stopped: mnist012_ours (seed 0): {sig.name} at iteration"), err
    assert lines[0].endswith("run the same command again to resume"), err
    done = torch.load(next(models.glob("*/checkpoint.pt")), weights_only=False)["iteration"]
    assert done > 0 and f"{sig.name} at iteration {done:,};" in lines[0]   # the kept iterations are named
    assert not (tmp_path / "res" / "fig6.json").exists()


# 2 and 3a. --store: all or nothing, on any layout, and no scratch folder left

def _stored_run(stored: Path, label: str) -> None:
    """A stored fig5 run whose result names its history CSV, and its notebook; ``label`` tells runs apart."""
    r = results.Result("fig5", "Figure 5", "paper", [label], [0], "cuda (H100)")
    r.models.append({"config": "mnist_ours", "config_hash": "h", "seed": 0, "iterations": 1, "train_wall_time_s": 1,
                     "device_name": "H100", "torch": "2", "history": f"fig5-histories/mnist_ours-{label}-seed0.csv"})
    results.write(r, stored)
    (stored / "fig5-histories").mkdir(parents=True, exist_ok=True)
    (stored / "fig5-histories" / f"mnist_ours-{label}-seed0.csv").write_text(f"iteration,loss\n1,{len(label)}\n")
    (stored / "fig5_hierarchical_sampling_mnist.ipynb").write_text(json.dumps({"run": label}))


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def store_layout(tmp_path, monkeypatch):
    """A stored run under stored/, a build folder on another (simulated) file system, and the notebook run
    faked: it writes what a real one writes, a new seed's history."""
    monkeypatch.setenv("HEBM_STORED_DIR", str(tmp_path / "stored"))
    monkeypatch.setenv("HEBM_BUILD_DIR", str(tmp_path / "build"))
    _stored_run(tmp_path / "stored" / "paper", "old")

    def fake_execute(source, output, params, prepare_only=False, env=None):
        _stored_run(Path(env["HEBM_RESULTS_DIR"]), "new")
        output.write_text(json.dumps({"run": "new"}))
    monkeypatch.setattr(execute, "_execute", fake_execute)
    return tmp_path


def _fail_renames(monkeypatch, fails):
    """os.rename / os.replace that raise where ``fails(src, dst)`` says (a file system's refusal)."""
    for name in ("rename", "replace"):
        real = getattr(os, name)

        def fake(src, dst, *a, _real=real, **kw):
            if fails(Path(src), Path(dst)):
                raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), str(src), None, str(dst))
            return _real(src, dst, *a, **kw)
        monkeypatch.setattr(os, name, fake)


def test_a_store_works_when_the_build_folder_is_on_another_file_system(store_layout, monkeypatch):
    tmp = store_layout
    device = lambda p: "build" if tmp / "build" in p.parents else "stored"
    _fail_renames(monkeypatch, lambda src, dst: device(src) != device(dst))
    execute._run_and_store(manifest.get("fig5"), "paper", tmp / "src.ipynb", {})
    stored = tmp / "stored" / "paper"
    assert sorted(_tree(stored)) == ["fig5-histories/mnist_ours-new-seed0.csv", "fig5.json",
                                     "fig5_hierarchical_sampling_mnist.ipynb"]
    assert results.read_stored("fig5", directory=stored)["datasets"] == ["new"]
    assert not list((tmp / "build").glob("store-*")) and sorted(os.listdir(tmp / "stored")) == ["paper"]


def test_a_store_that_fails_midway_leaves_the_stored_run_whole(store_layout, monkeypatch):
    tmp = store_layout
    stored = tmp / "stored" / "paper"
    before = _tree(stored)
    _fail_renames(monkeypatch, lambda src, dst: dst == stored / "fig5.json")   # the result's own move fails
    with pytest.raises(OSError):
        execute._run_and_store(manifest.get("fig5"), "paper", tmp / "src.ipynb", {})
    assert _tree(stored) == before   # the old result, its history and its notebook, together
    assert not list((tmp / "build").glob("store-*")) and sorted(os.listdir(tmp / "stored")) == ["paper"]


def test_the_scratch_folder_of_a_killed_store_run_is_removed_by_the_next_run(store_layout, monkeypatch):
    tmp = store_layout
    gone = subprocess.Popen(["true"])
    gone.wait()   # a process that no longer exists: a run killed with SIGKILL
    stale = tmp / "build" / f"store-fig5-{gone.pid}-abc123"
    stale.mkdir(parents=True)
    (stale / "fig5.json").write_text("{}")
    live = tmp / "build" / f"store-fig5-{os.getppid()}-def456"   # a run still going: kept
    live.mkdir()

    def failing(*args, **kw):
        raise RuntimeError("the notebook failed")
    monkeypatch.setattr(execute, "_execute", failing)
    with pytest.raises(RuntimeError):
        execute._run_and_store(manifest.get("fig5"), "paper", tmp / "src.ipynb", {})
    assert sorted(p.name for p in (tmp / "build").glob("store-*")) == [live.name]


# 5. a corrupt training history in the model cache

def test_a_corrupt_history_is_one_line_and_the_failed_run_leaves_no_result(tmp_path):
    env = _env(tmp_path)
    seeds = map(str, manifest.get("fig6").default_seeds("smoke"))
    trained = _hebm("train", "mnist012_ours", "--profile", "smoke", "--seeds", *seeds, env=env)
    assert trained.returncode == 0, trained.stderr
    history = next((tmp_path / "cache" / "models").glob("mnist012_ours-smoke-seed0-*/history.csv"))
    history.write_text(history.read_text() + "garbage, not numbers\n")
    proc = _hebm("run", "fig6", "--profile", "smoke", env=env)
    lines = _not_progress(proc.stderr)
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("hebm: error: fig6 failed in cell") and str(history) in lines[0], lines[0]
    assert f"delete the model folder {history.parent} to train it again" in lines[0], lines[0]
    res = tmp_path / "res"
    assert not (res / "fig6.json").exists()
    assert not any("garbage" in p.read_text() for p in res.glob("fig6-histories/*.csv"))
    row = next(line for line in status.render("smoke", res).splitlines() if line.startswith("| {doc}`Figure 6 <"))
    assert "not run in this build" in row, row


def test_a_result_written_by_a_run_that_then_fails_is_removed(tmp_path, monkeypatch):
    monkeypatch.setenv("HEBM_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.setenv("HEBM_RESULTS_DIR", str(tmp_path / "res"))

    def writes_then_fails(source, output, params, prepare_only=False, env=None):
        results.write(results.Result("fig3", "Figure 3", "smoke", [], [0], "cpu"))
        raise RuntimeError("a cell after finish() failed")
    monkeypatch.setattr(execute, "_execute", writes_then_fails)
    with pytest.raises(RuntimeError):
        execute.run_notebook("fig3", "smoke", "cpu")
    assert not (tmp_path / "res" / "fig3.json").exists()


# 8. -p values

SEEDS = "seeds must be a non-empty list of distinct non-negative integers, e.g. -p 'seeds=[0,1]' (null: the profile's)"


@pytest.mark.parametrize("param, message", [
    ("profile=paper", "use --profile paper, not -p profile=paper"),
    ("device=cuda", "use --device cuda, not -p device=cuda"),
    ("seeds=5", f"{SEEDS}; got 5"),
    ("seeds=[0,-1]", f"{SEEDS}; got [0, -1]"),
    ("seeds=[1,1]", f"{SEEDS}; got [1, 1]"),
    ("overrides=3", "overrides takes a dict like its default in fig3_model_diagram ({}); got 3"),
    ("config=3", "config takes a str like its default in fig3_model_diagram (\"fmnist_ours\"); got 3"),
])
def test_bad_notebook_parameters_are_one_line_with_exit_status_2(param, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HEBM_BUILD_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "fig3", "--profile", "smoke", "--prepare-only", "-p", param])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1 and err[0].startswith("hebm: error: ") and message in err[0], err


def test_good_notebook_parameters_pass(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HEBM_BUILD_DIR", str(tmp_path))
    assert cli.main(["run", "fig3", "--profile", "smoke", "--prepare-only", "-p", "seeds=[0,1]", "-p", "seeds=null",
                     "-p", "config=mnist_vlae", "-p", 'overrides={"*": {"train.iterations": 2}}']) == 0


# 9b. a corrupt result of this build

def test_hebm_list_names_a_corrupt_build_result_and_does_not_show_the_recorded_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HEBM_BUILD_DIR", str(tmp_path))
    monkeypatch.delenv("HEBM_RESULTS_DIR", raising=False)
    broken = tmp_path / "results" / "cpu" / "fig6.json"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"schema": "hebm-res')   # truncated
    assert cli.main(["list"]) == 0
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"hebm: warning: {broken}: not a readable results file"), err
    assert lines[0].endswith("delete it and run the artefact again (`hebm run fig6 --profile cpu`)"), err
    fig6 = next(line for line in out.splitlines() if line.startswith("fig6 "))
    assert "refused" in fig6 and "(recorded)" not in fig6, fig6


# #45 items 3 and 4: a signal to a campaign says what each job kept, never that the budget was spent

LONG = {"train.iterations": 100000, "train.checkpoint_every": 20}   # a training that is still going when signalled


def _wait_for_checkpoint(proc, models: Path, n: int = 1) -> None:
    deadline = time.monotonic() + 600   # the start (imports, data) and 20 iterations, on a loaded machine
    while len(list(models.glob("*/checkpoint.pt"))) < n and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()


def _stopped_line(err: str) -> str:
    assert "Traceback" not in err and "budget spent" not in err and "no training iteration" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("hebm: stopped: ")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_on_a_campaign_exits_1_and_names_the_checkpoint_not_a_spent_budget(tmp_path, processes, workers):
    overrides = json.dumps({"mnist012_ours": LONG})
    proc = processes.start([sys.executable, "-m", "hebm_lib", "campaign", "--profile", "smoke", "--artefacts", "fig6",
                            "--budget", "60m", "--workers", str(workers), "--overrides", overrides],
                           env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    models = tmp_path / "cache" / "models"
    _wait_for_checkpoint(proc, models)
    proc.send_signal(signal.SIGTERM)   # a scheduler's: to the campaign alone (its workers are its to stop)
    _, err = proc.communicate(timeout=600)
    line = _stopped_line(err)
    assert proc.returncode == 1, err
    kept = torch.load(next(models.glob("*/checkpoint.pt")), weights_only=False)["iteration"]
    assert f"mnist012_ours (seed 0): SIGTERM at iteration {kept:,}; checkpoint written to" in line, line


def test_ctrl_c_on_a_local_cluster_campaign_says_what_each_job_kept_and_honours_workers(tmp_path, processes):
    pytest.importorskip("submitit")
    overrides = json.dumps({"mnist012_ours": LONG, "mnist012_lebm": LONG})
    proc = processes.start([sys.executable, "-m", "hebm_lib", "campaign", "--cluster", "local", "--profile", "smoke",
                            "--artefacts", "fig2", "fig6", "--workers", "1", "--overrides", overrides],
                           env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    models = tmp_path / "cache" / "models"
    _wait_for_checkpoint(proc, models)
    os.killpg(proc.pid, signal.SIGINT)   # the terminal's Ctrl-C: the whole group
    _, err = proc.communicate(timeout=600)
    line = _stopped_line(err)
    assert proc.returncode == 1, err
    jobs = json.loads((tmp_path / "cache" / "cluster" / "jobs.json").read_text())
    assert len(jobs) == 1, jobs   # --workers 1: the second job was never started
    (ckpt,) = models.glob("*/checkpoint.pt")
    kept = torch.load(ckpt, weights_only=False)["iteration"]
    assert line.startswith(f"hebm: stopped: SIGINT: {jobs[0]['artefact']}: job {jobs[0]['job_id']}: "), line
    assert f"SIGINT at iteration {kept:,}; checkpoint written to {ckpt}" in line, line
    other = ({"fig2", "fig6"} - {jobs[0]["artefact"]}).pop()
    assert f"not started: {other}" in line, line


# #45 items 1, 7, 10: a notebook's parameters, checked on every route (papermill directly: notebook.setup)

def test_papermill_with_a_repeated_seed_fails_and_leaves_no_result(tmp_path):
    """#45 item 1: one seed counted twice made a spread of 0 and claims 'beyond the spread'."""
    cmd = (f"{Path(sys.executable).parent}/jupytext --to ipynb -o - notebooks/tab3_anomaly_mnist.md | "
           f"{Path(sys.executable).parent}/papermill - {tmp_path / 'out.ipynb'} -p profile smoke "
           f"-y 'seeds: [0, 0]' -y 'held_out: [1]'")
    proc = subprocess.run(cmd, shell=True, capture_output=True, text=True, env=_env(tmp_path), timeout=600,
                          cwd=Path(__file__).parent.parent, stdin=subprocess.DEVNULL)
    assert proc.returncode != 0, proc.stderr[-2000:]
    assert "seeds must be a non-empty list of distinct non-negative integers" in proc.stderr, proc.stderr[-2000:]
    assert not (tmp_path / "res" / "tab3.json").exists()


@pytest.mark.parametrize("seeds, overrides, message", [
    ([0, 0], {}, "seeds must be a non-empty list of distinct non-negative integers, e.g. papermill ... -y 'seeds: "
                 "[0, 1]' (its -p passes a list as text) (null: the profile's); got [0, 0]"),
    (5, {}, "got 5"),   # papermill's -p seeds 5
    ("[0, 1]", {}, "-y 'seeds: [0, 1]' (its -p passes a list as text) (null: the profile's); got '[0, 1]'"),
    (None, '{"*": {}}', "overrides must map config names (or '*') to settings, e.g. papermill ... -y 'overrides: "
                        "{\"*\": {\"train.iterations\": 100}}' (its -p passes a dict as text); got '{\"*\": {}}'"),
])
def test_the_notebooks_setup_refuses_seeds_and_overrides_papermill_passed_as_text(seeds, overrides, message):
    """#45 item 7: -p seeds 5 was a TypeError inside the check; text was split into characters."""
    from hebm_lib.report import notebook
    with pytest.raises(ValueError) as caught:
        notebook.setup("tab3", "smoke", "cpu", seeds, overrides)
    assert message in str(caught.value), caught.value


def test_a_parameter_standing_for_a_profile_setting_takes_its_type(tmp_path, monkeypatch, capsys):
    """#45 item 10: `hebm run tab3 -p held_out=5` failed in cell 3 with a TypeError (held_out's default is None:
    the profile's held-out digits, a list)."""
    monkeypatch.setenv("HEBM_BUILD_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "tab3", "--profile", "smoke", "--prepare-only", "-p", "held_out=5"])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and len(err) == 1, err
    assert err[0] == "hebm: error: held_out takes a list like its default in tab3_anomaly_mnist (the profile's " \
                     "held_out [1, 4]); got 5", err
    assert cli.main(["run", "tab3", "--profile", "smoke", "--prepare-only", "-p", "held_out=[2]"]) == 0


# #45 item 6: a results file that parses but is not a result

@pytest.mark.parametrize("text", ["[]", "null", '{"schema": "hebm-result/1", "profile": "cpu"}',
                                  '{"schema": "hebm-result/1", "profile": "cpu", "rows": 3}'])
@pytest.mark.parametrize("where", ["build", "stored"])
def test_a_results_file_of_the_wrong_shape_is_named_by_list_and_status(tmp_path, monkeypatch, capsys, text, where):
    monkeypatch.setenv("HEBM_BUILD_DIR", str(tmp_path / "build"))
    monkeypatch.delenv("HEBM_RESULTS_DIR", raising=False)
    monkeypatch.setenv("HEBM_STORED_DIR", str(tmp_path / "stored"))
    broken = tmp_path / ("build/results/cpu" if where == "build" else "stored/paper") / "fig6.json"
    broken.parent.mkdir(parents=True)
    broken.write_text(text.replace('"cpu"', '"paper"') if where == "stored" else text)
    assert cli.main(["list"]) == 0
    out, err = capsys.readouterr()
    assert f"{broken}: not a readable results file" in err, err
    assert cli.main(["status", "--profile", "cpu", "--out", str(tmp_path / "status.md")]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in err and str(broken) in (tmp_path / "status.md").read_text() + err


# #45 item 14: what a kill -9 leaves behind is removed by the next run

def _dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def test_the_temp_files_of_a_killed_writer_in_a_model_folder_go_with_the_next_run(tmp_path):
    env = _env(tmp_path)
    small = ["-o", "train.iterations=4", "-o", "train.checkpoint_every=2"]
    stopped = _hebm("train", "fmnist_vlae", "--profile", "smoke", *small, "--stop-after", "0", env=env)
    assert stopped.returncode == 0, stopped.stderr
    run_dir = next((tmp_path / "cache" / "models").glob("fmnist_vlae-*"))
    stale = run_dir / f".checkpoint.pt.tmp{_dead_pid()}"   # a writer killed mid-write
    live = run_dir / f".progress-00000001.pt.tmp{os.getpid()}"   # a writer still going: kept
    for f in (stale, live):
        f.write_bytes(b"half a file")
    done = _hebm("train", "fmnist_vlae", "--profile", "smoke", *small, env=env)
    assert done.returncode == 0 and (run_dir / "model.pt").exists(), done.stderr
    assert not stale.exists() and live.exists()


def test_the_progress_log_of_a_killed_run_goes_with_the_next_run(tmp_path, monkeypatch):
    import tempfile
    import nbformat
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    source = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]), source)
    stale = tmp_path / f"hebm-progress-fig6_joint_prior_2d_mnist012-{_dead_pid()}-abc123.log"
    live = tmp_path / f"hebm-progress-fig6_joint_prior_2d_mnist012-{os.getppid()}-def456.log"
    for f in (stale, live):
        f.write_text("fig6: iteration 10\n")
    relay = execute._Relay("fig7_langevin_transitions", source)
    assert not stale.exists() and live.exists()
    assert relay.path.name.startswith(f"hebm-progress-fig7_langevin_transitions-{os.getpid()}-")
    with relay:
        pass
    assert not relay.path.exists()
