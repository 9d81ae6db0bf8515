"""The campaign on a cluster through submitit (hebm_lib.runs.cluster), with submitit's local executor: the
jobs train into the shared cache, the artefacts then run; a killed job resumes from its checkpoint when
submitted again; no Slurm is one line."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

pytest.importorskip("submitit")


def _env(tmp_path):
    return dict(os.environ, HEBM_CACHE_DIR=str(tmp_path / "cache"), HEBM_BUILD_DIR=str(tmp_path / "build"),
                HEBM_RESULTS_DIR=str(tmp_path / "results"))


def _campaign(*args, artefacts):
    return [sys.executable, "-m", "hebm_lib", "campaign", "--cluster", "local", "--profile", "smoke",
            "--artefacts", *artefacts, *args]


# The killed job: long enough that it cannot reach its end between its first checkpoint and the moment the test
# freezes it (580 iterations, some seconds on an idle 2-core machine), short enough that its resumption is a bounded
# amount of work; a checkpoint every 20 iterations, not every one (a synced write each)
ITERATIONS, CHECKPOINT_EVERY = 600, 20
STARTUP_S = 600     # a campaign's start: imports, the data, the first CHECKPOINT_EVERY iterations (on a loaded machine)
CAMPAIGN_S = 1800   # the resumed training (< ITERATIONS iterations) and two smoke notebooks, on a loaded machine


def test_a_local_cluster_trains_resumes_a_killed_job_and_runs_the_artefacts(tmp_path, processes):
    """Figures 6 and 7 share one model, trained in a submitit job; the job is killed after a checkpoint (its
    trainer keeps it), the next campaign resubmits it and it resumes there; then both artefacts run here."""
    longer = json.dumps({"mnist012_ours": {"train.iterations": ITERATIONS, "train.checkpoint_every": CHECKPOINT_EVERY}})
    cmd = _campaign("--overrides", longer, artefacts=("fig6", "fig7"))
    env = _env(tmp_path)
    models = tmp_path / "cache" / "models"
    proc = processes.start(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + STARTUP_S
    while proc.poll() is None and time.monotonic() < deadline and not list(models.glob("mnist012_ours*/checkpoint.pt")):
        time.sleep(0.05)
    assert proc.poll() is None and list(models.glob("mnist012_ours*/checkpoint.pt")), "no checkpoint, or it ended"
    os.killpg(proc.pid, signal.SIGSTOP)   # the campaign, its job's controller and the trainer: frozen where they are
    assert not list(models.glob("mnist012_ours*/model.pt")), f"the job trained {ITERATIONS} iterations before the " \
                                                              f"test could stop it: raise ITERATIONS"
    job = next(j for j in json.loads((tmp_path / "cache" / "cluster" / "jobs.json").read_text())
               if j["artefact"] == "fig6")
    os.kill(int(job["job_id"]), signal.SIGTERM)   # a local job's id is its process: its trainer checkpoints
    os.killpg(proc.pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=STARTUP_S)
    assert "fig6: job" in out + err and "failed" in out + err, out + err
    kept = torch.load(next(models.glob("mnist012_ours*/checkpoint.pt")), weights_only=False)["iteration"]
    assert 0 < kept < ITERATIONS
    again = processes.run(cmd + ["--plan"], env=env, timeout=STARTUP_S)
    assert again.returncode == 0 and "cluster jobs (submitit):" in again.stdout and " failed " in again.stdout
    again = processes.run(cmd, env=env, timeout=CAMPAIGN_S)
    assert again.returncode == 0, again.stderr[-3000:]
    info = torch.load(next(models.glob("mnist012_ours*/model.pt")), weights_only=False)["info"]
    assert info["resumed_from_iteration"] >= kept and info["iterations"] == ITERATIONS
    for artefact in ("fig6", "fig7"):   # run here once their model was in the cache
        assert json.loads((tmp_path / "results" / f"{artefact}.json").read_text())["profile"] == "smoke"
    assert " done " in processes.run(cmd + ["--plan"], env=env, timeout=STARTUP_S).stdout


def test_slurm_without_sbatch_is_one_line(tmp_path, processes):
    env = _env(tmp_path)
    env["PATH"] = os.path.dirname(sys.executable)   # no sbatch here
    proc = processes.run([sys.executable, "-m", "hebm_lib", "campaign", "--cluster", "slurm", "--profile", "smoke",
                          "--artefacts", "fig6"], env=env, timeout=300)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("hebm: error: --cluster slurm: no sbatch on this machine")
