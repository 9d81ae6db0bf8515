"""The campaign on a cluster through submitit (hebm_lib.report.cluster), with submitit's local executor: the
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


def test_a_local_cluster_trains_resumes_a_killed_job_and_runs_the_artefacts(tmp_path):
    """Figures 6 and 7 share one model, trained in a submitit job; the job is killed after a checkpoint (its
    trainer keeps it), the next campaign resubmits it and it resumes there; then both artefacts run here."""
    longer = json.dumps({"mnist012_ours": {"train.iterations": 1500, "train.checkpoint_every": 1}})
    cmd = _campaign("--overrides", longer, artefacts=("fig6", "fig7"))
    proc = subprocess.Popen(cmd, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    jobs_file = tmp_path / "cache" / "cluster" / "jobs.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not (
            jobs_file.exists() and list((tmp_path / "cache" / "models").glob("mnist012_ours*/checkpoint.pt"))):
        time.sleep(0.2)
    job = next(j for j in json.loads(jobs_file.read_text()) if j["artefact"] == "fig6")
    os.kill(int(job["job_id"]), signal.SIGTERM)   # a local job's id is its process: its trainer checkpoints
    out, err = proc.communicate(timeout=300)
    assert "fig6: job" in out + err and "failed" in out + err, out + err
    ckpt = next((tmp_path / "cache" / "models").glob("mnist012_ours*/checkpoint.pt"))
    kept = torch.load(ckpt, weights_only=False)["iteration"]
    assert 0 < kept < 1500
    again = subprocess.run(cmd + ["--plan"], env=_env(tmp_path), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "cluster jobs (submitit):" in again.stdout and " failed " in again.stdout
    again = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    info = torch.load(next((tmp_path / "cache" / "models").glob("mnist012_ours*/model.pt")), weights_only=False)["info"]
    assert info["resumed_from_iteration"] >= kept and info["iterations"] == 1500
    for artefact in ("fig6", "fig7"):   # run here once their model was in the cache
        assert json.loads((tmp_path / "results" / f"{artefact}.json").read_text())["profile"] == "smoke"
    assert " done " in subprocess.run(cmd + ["--plan"], env=_env(tmp_path), capture_output=True, text=True,
                                      timeout=600).stdout


def test_slurm_without_sbatch_is_one_line(tmp_path):
    env = _env(tmp_path)
    env["PATH"] = os.path.dirname(sys.executable)   # no sbatch here
    proc = subprocess.run([sys.executable, "-m", "hebm_lib", "campaign", "--cluster", "slurm", "--profile", "smoke",
                           "--artefacts", "fig6"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("hebm: error: --cluster slurm: no sbatch on this machine")
