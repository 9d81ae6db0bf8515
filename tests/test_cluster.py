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


def _campaign(*args, artefacts=("fig6", "fig2")):
    return [sys.executable, "-m", "hebm_lib", "campaign", "--cluster", "local", "--profile", "smoke",
            "--artefacts", *artefacts, *args]


def test_a_local_cluster_trains_the_models_and_runs_the_artefacts(tmp_path):
    done = subprocess.run(_campaign(), env=_env(tmp_path), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    jobs = json.loads((tmp_path / "cache" / "cluster" / "jobs.json").read_text())
    assert sorted(j["artefact"] for j in jobs) == ["fig2", "fig6"]
    for config in ("mnist012_ours", "mnist012_lebm"):
        assert list((tmp_path / "cache" / "models").glob(f"{config}-smoke-seed0-*/model.pt"))
    for artefact in ("fig6", "fig2"):   # run here once their models were in the cache
        assert json.loads((tmp_path / "results" / f"{artefact}.json").read_text())["profile"] == "smoke"
    plan = subprocess.run(_campaign("--plan"), env=_env(tmp_path), capture_output=True, text=True,
                          timeout=600)
    assert plan.returncode == 0 and "cluster jobs (submitit):" in plan.stdout and " done " in plan.stdout, plan.stdout


def test_a_killed_job_resumes_from_its_checkpoint_when_submitted_again(tmp_path):
    longer = json.dumps({"mnist012_ours": {"train.iterations": 4000, "train.checkpoint_every": 1}})
    cmd = _campaign("--overrides", longer, artefacts=("fig6",))   # one artefact, one job
    proc = subprocess.Popen(cmd, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    jobs_file = tmp_path / "cache" / "cluster" / "jobs.json"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and not (
            jobs_file.exists() and list((tmp_path / "cache" / "models").glob("mnist012_ours*/checkpoint.pt"))):
        time.sleep(0.2)
    job_pid = int(json.loads(jobs_file.read_text())[0]["job_id"])
    os.kill(job_pid, signal.SIGTERM)   # the job's trainer writes its checkpoint and stops
    out, err = proc.communicate(timeout=300)
    assert "fig6: job" in out + err and "failed" in out + err, out + err
    ckpt = next((tmp_path / "cache" / "models").glob("mnist012_ours*/checkpoint.pt"))
    kept = torch.load(ckpt, weights_only=False)["iteration"]
    assert 0 < kept < 4000
    again = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-3000:]
    info = torch.load(next((tmp_path / "cache" / "models").glob("mnist012_ours*/model.pt")), weights_only=False)["info"]
    assert info["resumed_from_iteration"] >= kept and info["iterations"] == 4000


def test_slurm_without_sbatch_is_one_line(tmp_path):
    env = _env(tmp_path)
    env["PATH"] = os.path.dirname(sys.executable)   # no sbatch here
    proc = subprocess.run([sys.executable, "-m", "hebm_lib", "campaign", "--cluster", "slurm", "--profile", "smoke",
                           "--artefacts", "fig6"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith("hebm: error: --cluster slurm: no sbatch on this machine")
