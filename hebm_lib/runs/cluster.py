"""The campaign on a cluster: each ensemble of the campaign (hebm_lib.runs.campaign.ensembles) submitted as one
job through submitit (Slurm's sbatch; or submitit's local executor, which runs the same jobs as processes
here: what the tests use), the trained models written into the shared model cache.

    hebm campaign --cluster slurm --partition gpu --time-limit 4h    submit the jobs not yet submitted
    hebm campaign --cluster slurm --plan                              each job: submitted / running / done / failed
    hebm campaign --cluster local [--workers N]                       the same jobs as local processes, N at a time
                                                                      (default 1), waited for; Ctrl-C stops them

A job that reaches its time limit (or is preempted) is requeued by submitit's checkpointing protocol: Slurm's
warning signal makes submitit requeue the call (``TrainModels.checkpoint``), the kill that follows reaches the
trainer, which writes its checkpoints (SIGTERM), and the requeued job resumes from them. The jobs submitted are
recorded in the cache (``cluster/jobs.json``) with submitit's ids; an artefact whose models are all in the
cache is run and stored here (``--store``), by the invocation that finds them done.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import submitit

from .. import paths
from ..io import atomic_write_text
from ..training import TrainingStopped
from . import campaign
from .execute import UsageError

KINDS = ("slurm", "local")


@dataclass
class ClusterOptions:
    kind: str                              # slurm | local
    partition: str | None = None
    gpus_per_job: int = 1
    time_limit_min: int = 240
    account: str | None = None
    extra: dict = field(default_factory=dict)   # --slurm-param KEY=VALUE: sbatch options submitit passes on


def executor(opts: ClusterOptions, folder: Path):
    """A submitit executor for ``opts``, its logs under ``folder``."""
    if opts.kind not in KINDS:
        raise UsageError(f"unknown --cluster {opts.kind!r}; valid: {', '.join(KINDS)}")
    if opts.kind == "slurm":
        if shutil.which("sbatch") is None:
            raise UsageError("--cluster slurm: no sbatch on this machine (submitit submits through Slurm); run it on "
                             "the cluster's login node, or use --cluster local to run the jobs here")
        ex = submitit.AutoExecutor(folder=folder, cluster="slurm")
        ex.update_parameters(name="hebm", timeout_min=opts.time_limit_min, gpus_per_node=opts.gpus_per_job,
                             slurm_partition=opts.partition, slurm_account=opts.account,
                             slurm_additional_parameters=dict(opts.extra))
        return ex
    ex = submitit.LocalExecutor(folder=folder)
    ex.update_parameters(timeout_min=opts.time_limit_min)
    return ex


class TrainModels(submitit.helpers.Checkpointable):
    """One job: train (or resume) these models into the shared cache, as one ensemble on a GPU
    (hebm_lib.training.train_or_load_many). Checkpointable: at its time limit submitit requeues the same call,
    which resumes from the checkpoints the trainer writes when Slurm stops it."""

    def __call__(self, requests: list, device: str, cache_dir: str) -> list[str]:
        from ..training import train_or_load_many
        trained = train_or_load_many(requests, device, cache_dir=cache_dir, progress=False)
        return [str(t.run_dir) for t in trained]


def _jobs_file(cache_dir: Path) -> Path:
    return cache_dir / "cluster" / "jobs.json"


def _read_jobs(cache_dir: Path) -> list[dict]:
    f = _jobs_file(cache_dir)
    return json.loads(f.read_text()) if f.exists() else []


def _key(group: list) -> str:
    return ",".join(sorted(f"{j.cfg.hash}-{j.seed}" for j in group))


def submit(opts: ClusterOptions, profile: str = "paper", overrides: dict | None = None, device: str = "auto",
           max_members: int = 16, log=print, artefacts=campaign.ORDER, workers: int = 1) -> list[dict]:
    """Submit every ensemble of the plan that has no live job yet; returns the job records (also written to the
    cache's cluster/jobs.json). Local jobs are this process's children: at most ``workers`` run at a time, and
    they are waited for; a signal stops them (their trainers checkpoint) and raises TrainingStopped, which
    says what each kept."""
    cache_dir = paths.cache_dir()
    folder = cache_dir / "cluster" / "logs"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".writable"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UsageError(f"the shared model cache {cache_dir} is not writable ({exc.strerror}); make it writable or "
                         f"point HEBM_CACHE_DIR at a shared folder every node can write") from None
    ex = executor(opts, folder)
    records = _read_jobs(cache_dir)
    live = {r["key"] for r in records if job_state(r, opts)[0] in ("submitted", "running")}
    jobs = campaign.plan(profile, overrides or {}, artefacts)
    device = "cuda" if device == "auto" and opts.kind == "slurm" else device
    pending = [g for g in campaign.ensembles(jobs, max_members) if _key(g) not in live]

    def submit_one(group: list) -> tuple[dict, object]:
        with _sigint_ignored():   # a local job's controller: the terminal's Ctrl-C is this process's to hand on
            job = ex.submit(TrainModels(), [(j.cfg, j.seed) for j in group], device, str(cache_dir))
        return {"key": _key(group), "job_id": str(job.job_id), "kind": opts.kind, "folder": str(folder),
                "artefact": group[0].artefact, "models": [f"{j.label} seed {j.seed}" for j in group],
                "submitted": time.strftime("%Y-%m-%d %H:%M:%S")}, job

    def record(submitted: dict) -> None:
        nonlocal records
        records = [r for r in records if r["key"] != submitted["key"]] + [submitted]
        atomic_write_text(_jobs_file(cache_dir), json.dumps(records, indent=1))
        log(f"{submitted['artefact']}: submitted job {submitted['job_id']} ({len(submitted['models'])} models: "
            f"{', '.join(submitted['models'])})")

    if opts.kind == "slurm":   # Slurm schedules them
        for group in pending:
            record(submit_one(group)[0])
        return records
    running: list[tuple[dict, object]] = []
    try:
        while pending or running:
            while pending and len(running) < workers:
                running.append(submit_one(pending.pop(0)))   # in `running` first: a signal now still stops it
                record(running[-1][0])
            for record, job in list(running):
                if job.done():
                    running.remove((record, job))
                    try:
                        job.result()
                    except Exception as exc:   # a job's failure is reported, the others go on
                        log(failure_line(record, exc))
            time.sleep(POLL_S)
    except BaseException as exc:
        if isinstance(exc, Exception) or not running:
            raise
        # SIGTERM or Ctrl-C (hebm_lib.__main__'s Interrupted, else KeyboardInterrupt)
        signal_name = str(exc) if str(exc).startswith("SIG") else "SIGINT"
        raise TrainingStopped(_stop_local(running, signal_name, pending)) from None
    finally:
        for record, job in running:   # never left running behind this process (a local job is its child)
            _end_local(record, job)
    return records


POLL_S = 0.5


@contextlib.contextmanager
def _sigint_ignored():
    """SIGINT ignored for the block, and by the processes started in it (an ignored signal stays so across exec; a
    trainer takes it again while it trains); only the main thread can change a handler."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop_local(running: list, signal_name: str, pending: list) -> str:
    """SIGTERM to each running local job (its controller hands it to the trainer, which checkpoints), waited for;
    the line that says what each kept, in the trainers' words."""
    parts = []
    with _sigint_ignored():   # a second Ctrl-C would leave the trainers' checkpoints half-reported
        for record, job in running:
            _signal_tree(int(record["job_id"]), signal.SIGTERM)
        for record, job in running:
            _end_local(record, job)
            line = failure_line(record).split(" failed: ", 1)[-1]
            kept = line.split("TrainingStopped: ", 1)[-1] if "TrainingStopped: " in line else \
                f"stopped before any checkpoint of this run ({line})"
            parts.append(f"{record['artefact']}: job {record['job_id']}: {kept}")
    running.clear()
    if pending:
        parts.append(f"not started: {', '.join(g[0].artefact for g in pending)}")
    return f"{signal_name}: " + "; ".join(parts)


def _end_local(record: dict, job, wait_s: float = campaign.STOP_WAIT_S) -> None:
    """A local job ended: SIGTERM (its trainer checkpoints), then after ``wait_s`` SIGKILL to it and its task."""
    deadline = time.monotonic() + wait_s
    if not job.done():
        _signal_tree(int(record["job_id"]), signal.SIGTERM)
    while not job.done() and time.monotonic() < deadline:
        time.sleep(POLL_S)
    if not job.done():
        _signal_tree(int(record["job_id"]), signal.SIGKILL)


def _signal_tree(pid: int, sig: int) -> None:
    """``sig`` to process ``pid``'s children, then to it (a local job's controller and its task: a controller hands
    SIGTERM on to its task, and takes one more while it waits for it)."""
    try:
        children = [int(c) for c in (Path("/proc") / str(pid) / "task" / str(pid) / "children").read_text().split()]
    except OSError:   # gone, or no /proc
        children = []
    for p in children + [pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, sig)


def failure_line(record: dict, exc: Exception | None = None) -> str:
    """A failed job in one line: its error's last line and submitit's log path."""
    err = Path(record["folder"]) / f"{record['job_id']}_0_log.err"
    last = ""
    if err.exists():
        lines = [ln for ln in err.read_text(errors="replace").splitlines() if ln.strip()]
        last = lines[-1] if lines else ""
    if not last and exc is not None:
        last = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return f"{record['artefact']}: job {record['job_id']} failed: {last[:300]} (log: {err})"


def job_state(record: dict, opts: ClusterOptions | None = None) -> tuple[str, str]:
    """(submitted | running | done | failed | unknown, detail) of a recorded job, from submitit."""
    try:
        job = submitit.SlurmJob(record["folder"], record["job_id"]) if record["kind"] == "slurm" \
            else None
        if job is None:   # a local job lives as long as the process that waited for it: read its result file
            result = Path(record["folder"]) / f"{record['job_id']}_0_result.pkl"
            if not result.exists():
                return "unknown", "no result (local jobs end with the command that ran them)"
            outcome, _ = submitit.core.utils.pickle_load(result)
            return ("done", "") if outcome == "success" else ("failed", failure_line(record))
        state = job.state
    except Exception as exc:   # sacct unreachable: say so rather than guess
        return "unknown", str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    if state in ("PENDING", "REQUEUED", "CONFIGURING"):
        return "submitted", state
    if state in ("RUNNING", "COMPLETING"):
        return "running", state
    if state == "COMPLETED":
        return "done", ""
    return "failed", failure_line(record)


def format_jobs(cache_dir: Path | None = None) -> str:
    """The recorded jobs with their states (for ``hebm campaign --plan``)."""
    records = _read_jobs(cache_dir or paths.cache_dir())
    if not records:
        return "cluster jobs: none submitted"
    lines = ["cluster jobs (submitit):"]
    for r in records:
        state, detail = job_state(r)
        lines.append(f"  {r['artefact']:12s} job {r['job_id']:>10s} {state:9s} {len(r['models'])} models"
                     + (f": {detail}" if detail and state != "failed" else "") + (f"\n    {detail}" if state == "failed" else ""))
    return "\n".join(lines)


def run(opts: ClusterOptions, profile: str = "paper", overrides: dict | None = None, device: str = "auto",
        max_members: int = 16, store: bool = True, artefacts=campaign.ORDER, log=print, workers: int = 1) -> None:
    """Submit the ensembles not yet submitted (local: and wait for them), then run each artefact whose models are
    all in the cache: at `paper` stored (once), at the other profiles into the build's results."""
    from .execute import run_notebook
    submit(opts, profile, overrides, device, max_members, log, artefacts, workers)
    params = {"overrides": overrides} if overrides else None
    for artefact in artefacts:
        jobs = campaign.plan(profile, overrides or {}, [artefact])
        if not jobs or any(j.blocked or (j.state != "done" and not j.shared_with) for j in jobs):
            continue
        if profile == "paper":
            if store and not campaign._stored(artefact):
                log(f"{artefact}: every model trained; running and storing its notebook")
                run_notebook(artefact, profile, "auto", parameters=params, store=True)
        else:
            log(f"{artefact}: every model trained; running its notebook")
            run_notebook(artefact, profile, "auto", parameters=params)
