"""The campaign: the `paper`-profile models of every artefact, trained into the model cache in a fixed
order of value within a time budget, resumed by the next invocation; and the artefacts whose models are
all trained, run and stored (results/paper/).

    hebm campaign --plan                         what is done, what is left, estimated time per job
    hebm campaign --budget 90m [--device cuda]   run the next jobs; stop cleanly before the budget ends

A job is one (config, seed) a notebook trains; a job interrupted by the budget keeps a checkpoint and
continues where it stopped. On a GPU an artefact's jobs train as ensembles (hebm_lib.training.ensemble): the
seeds of a config, and configs that differ only in their data set, in one batched step each. The notebooks remain the truth about which models an artefact needs: the
campaign trains the same configs with the same overrides, so the notebook then loads them from the cache.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import data as data_lib
from ..configs import ExperimentConfig, get_config
from ..io import resolve_device
from ..training import TrainingStopped, ensemble_key, ensemble_unsupported, run_dir_for, stop_at, train_or_load_many
from ..training.cache import _checkpoint_iteration
from ..report import manifest
from ..report.estimates import STEP_TIMES, ms_per_iteration
from ..report.results import changed_since, read_stored

# most valuable first (each record's priority): the paper's main claims (Table 1, Figure 5), then the rest
ORDER = tuple(a.id for a in manifest.by_priority())
STOP_WAIT_S = 120   # for a worker's trainer, on a signal, to finish its iteration and write its checkpoint


@dataclass
class Job:
    artefact: str
    cfg: ExperimentConfig
    seed: int
    done_iterations: int = 0
    blocked: str = ""                                 # why it cannot run here (missing data)
    estimate_s: dict = field(default_factory=dict)    # device type -> seconds left
    label: str = ""                                   # config name and the artefact's own overrides
    shared_with: str = ""                             # an earlier artefact trains the same model

    @property
    def state(self) -> str:
        if self.shared_with:
            return f"same model as {self.shared_with}"
        if self.blocked:
            return f"blocked: {self.blocked}"
        total = self.cfg.train.iterations
        if self.done_iterations >= total:
            return "done"
        return f"partial {self.done_iterations}/{total}" if self.done_iterations else "to do"


def _resolve(name: str, profile: str, overrides: dict, extra: dict) -> ExperimentConfig:
    return get_config(name, profile, overrides.get("*", {}) | overrides.get(name, {}) | extra)


def _run_dir(cfg: ExperimentConfig, seed: int, fingerprint: str) -> Path:
    return run_dir_for(cfg, seed, fingerprint)


def _progress(cfg: ExperimentConfig, seed: int, fingerprints: dict | None = None,
              splits: dict | None = None) -> tuple[int, str]:
    """(iterations already trained, why blocked) of one model. ``fingerprints`` (by data config) and ``splits``
    (data_lib.training_set's ``loaded``): what earlier calls of one plan read, so that a plan reads each data set
    once, not once a model."""
    fingerprints = {} if fingerprints is None else fingerprints
    if repr(cfg.data) not in fingerprints:
        try:
            fingerprints[repr(cfg.data)] = data_lib.training_set(cfg.data, loaded=splits).fingerprint
        except data_lib.DataError as exc:
            fingerprints[repr(cfg.data)] = exc
    fingerprint = fingerprints[repr(cfg.data)]
    if isinstance(fingerprint, data_lib.DataError):
        return 0, f"{cfg.data.name} not available ({str(fingerprint).split('. To get it')[0][:120]}); " \
                  f"pass an override to use a substitute"
    run_dir = _run_dir(cfg, seed, fingerprint)
    if (run_dir / "model.pt").exists():
        return cfg.train.iterations, ""
    return _checkpoint_iteration(run_dir / "checkpoint.pt") or 0, ""


def plan(profile: str = "paper", overrides: dict | None = None, artefacts=ORDER, progress: bool = True) -> list[Job]:
    """Every (config, seed) the artefacts train at ``profile``, in order; ``progress`` False: every job as
    still to do, without reading data or the model cache (a quick estimate)."""
    overrides = overrides or {}
    jobs, first, fingerprints, splits = [], {}, {}, {}
    for artefact in artefacts:
        art = manifest.get(artefact)
        for name, extra in art.models(profile):
            cfg = _resolve(name, profile, overrides, extra)
            label = name + "".join(f" {k.split('.')[-1]}={v}" for k, v in extra.items())
            for seed in art.default_seeds(profile):
                if (cfg.hash, seed) in first:
                    jobs.append(Job(artefact, cfg, seed, label=label, shared_with=first[cfg.hash, seed],
                                    estimate_s={"cuda": 0.0, "cpu": 0.0}))
                    continue
                first[cfg.hash, seed] = artefact
                done, blocked = _progress(cfg, seed, fingerprints, splits) if progress else (0, "")
                job = Job(artefact, cfg, seed, done, blocked, label=label)
                left = max(0, cfg.train.iterations - done)
                for dev in ("cuda", "cpu"):
                    ms, _ = ms_per_iteration(cfg, dev)
                    job.estimate_s[dev] = left * ms / 1000
                jobs.append(job)
    return jobs


def format_plan(jobs: list[Job]) -> str:
    """The plan as a table: one row per job, with the time left on a GPU and on this CPU."""
    lines = [f"{'artefact':12s} {'config':30s} {'seed':>4s}  {'state':30s} {'GPU (H100)':>11s} {'CPU (2 cores)':>14s}"]
    totals = {"cuda": 0.0, "cpu": 0.0}
    for j in jobs:
        counted = not (j.blocked or j.shared_with or j.state == "done")
        est = {d: (_human(j.estimate_s[d]) if counted else "-") for d in totals}
        if counted:
            for d in totals:
                totals[d] += j.estimate_s[d]
        how = ms_per_iteration(j.cfg, "cuda")[1]
        note = f" (time est. {how})" if counted and how != "measured" else ""
        lines.append(f"{j.artefact:12s} {j.label[:30]:30s} {j.seed:4d}  {j.state[:30]:30s} {est['cuda']:>11s} "
                     f"{est['cpu']:>14s}{note}")
    lines += ensemble_lines(jobs)
    totals["cuda"] = sum(ensemble_estimate(g)[0] for g in ensembles(jobs))   # as the campaign trains them
    arts = list(dict.fromkeys(j.artefact for j in jobs))
    states = {a: _stored_state(a) for a in arts}
    stored, stale = [a for a in arts if states[a] == "current"], [a for a in arts if states[a] == "earlier"]
    lines.append(f"left (unblocked jobs): {_human(totals['cuda'])} on a GPU (in ensembles), {_human(totals['cpu'])} "
                 f"on this CPU (one after another); "
                 f"stored runs: {', '.join(stored) or 'none'}"
                 + (f"; stored runs of earlier settings, to redo: {', '.join(stale)}" if stale else ""))
    return "\n".join(lines)


def ensembles(jobs: list[Job], max_members: int = 16) -> list[list[Job]]:
    """The unblocked jobs left, per artefact, grouped as the campaign trains them on a GPU: the models that can
    share an ensemble (hebm_lib.training.ensemble_key), at most ``max_members`` each."""
    groups: dict[tuple, list[list[Job]]] = {}
    for j in jobs:
        if j.blocked or j.shared_with or j.state == "done":
            continue
        alone = (j.cfg.hash, j.seed) if ensemble_unsupported(j.cfg) else ()   # its family trains one by one
        chunks = groups.setdefault((j.artefact, ensemble_key(j.cfg), j.done_iterations, *alone), [[]])
        if len(chunks[-1]) >= max_members:
            chunks.append([])
        chunks[-1].append(j)
    return [chunk for chunks in groups.values() for chunk in chunks]


def ensemble_estimate(group: list[Job]) -> tuple[float, str]:
    """(GPU seconds left, how estimated) of training ``group`` as one ensemble: from step_times.json's measured
    "ensemble" step of the smallest size that holds it, else the separate runs' sum (said so)."""
    measured = json.loads(STEP_TIMES.read_text()).get("ensemble", {}).get("cuda", {})
    first, m = group[0], len(group)
    proxy = first.cfg.name if first.cfg.name in measured else ("fmnist_ours" if first.cfg.prior else "fmnist_vlae")
    sizes = {int(k): v for k, v in measured.get(proxy, {}).items()}
    fits = [k for k in sizes if k >= m]
    if m > 1 and fits:
        left = first.cfg.train.iterations - first.done_iterations
        return left * sizes[min(fits)] / 1000, f"an ensemble of {min(fits)} measured, as {proxy}"
    return sum(j.estimate_s["cuda"] for j in group), "as separate runs" + ("" if m == 1 else "; no ensemble measured")


def ensemble_lines(jobs: list[Job], max_members: int = 16) -> list[str]:
    """One line per ensemble of several models, with its GPU time."""
    lines = []
    for group in ensembles(jobs, max_members):
        if len(group) > 1:
            seconds, how = ensemble_estimate(group)
            names = ", ".join(dict.fromkeys(j.cfg.name for j in group))
            lines.append(f"ensemble: {group[0].artefact} {names} seeds {sorted({j.seed for j in group})} "
                         f"({len(group)} models, one step): {_human(seconds)} on a GPU ({how})")
    return lines


def _stored_state(artefact: str) -> str | None:
    """"current" (a stored run of today's models), "earlier" (made with earlier settings: to redo) or None."""
    try:
        stored = read_stored(artefact)
    except ValueError:
        return None
    return None if stored is None else ("earlier" if changed_since(stored) else "current")


def _stored(artefact: str) -> bool:
    return _stored_state(artefact) == "current"


def _human(seconds: float) -> str:
    if seconds != seconds:
        return "?"
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


def run_parallel(jobs: list[Job], workers: int, deadline: float, device: str, overrides: dict, log=print) -> None:
    """Train ``jobs`` in ``workers`` processes side by side (one model each; on a GPU their small kernels
    overlap); a process still running at the deadline writes its checkpoint and exits. A signal to this process
    is handed on to the workers, whose trainers checkpoint; TrainingStopped then says what each kept."""
    import signal
    import subprocess
    pending, running = list(jobs), []
    try:
        while pending or running:
            while pending and len(running) < workers and time.monotonic() < deadline:
                job = pending.pop(0)
                cmd = [sys.executable, "-m", "hebm_lib", "train", job.cfg.name, "--profile", job.cfg.profile,
                       "--seed", str(job.seed), "--device", device,
                       "--stop-after", str(max(1, int(deadline - time.monotonic())))]
                for key, value in _flat_overrides(job, overrides).items():
                    cmd += ["-o", f"{key}={json.dumps(value)}"]
                log(f"{job.artefact}: training {job.label} seed {job.seed} ({job.state}) in a worker")
                running.append((job, subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                                      text=True)))
            time.sleep(2)
            for job, proc in list(running):
                if proc.poll() is not None:
                    running.remove((job, proc))
                    if proc.returncode != 0:
                        log(f"{job.artefact}: {job.label} seed {job.seed} failed: {proc.stderr.read()[-500:]}")
            if not running and time.monotonic() >= deadline:
                break
    except BaseException as exc:
        if isinstance(exc, Exception) or not running:
            raise
        signal_name = str(exc) if str(exc).startswith("SIG") else "SIGINT"   # hebm_lib.__main__'s, or Ctrl-C
        kept = []
        for job, proc in running:   # a Ctrl-C to the group reached them too; a SIGTERM to this process did not
            proc.send_signal(signal.SIGTERM)
        for job, proc in running:
            try:
                said = proc.communicate(timeout=STOP_WAIT_S)[1]
            except subprocess.TimeoutExpired:
                proc.kill()
                said = proc.communicate()[1]
            said = said.strip().splitlines()   # the worker's own `hebm: stopped: ...` line
            kept.append(said[-1].removeprefix("hebm: stopped: ") if said else f"{job.label} seed {job.seed}: ended")
        running.clear()
        raise TrainingStopped(f"{signal_name}: " + "; ".join(kept)) from None
    finally:
        for job, proc in running:   # never left training behind this process
            proc.kill()
            proc.wait()


def _flat_overrides(job: Job, overrides: dict) -> dict:
    """The job's overrides as dotted keys (what `hebm train -o` takes); sections stay whole."""
    name = job.cfg.name
    extra = next((e for n, e in manifest.get(job.artefact).models(job.cfg.profile)
                  if n == name and _resolve(n, job.cfg.profile, overrides, e).hash == job.cfg.hash), {})
    return overrides.get("*", {}) | overrides.get(name, {}) | extra


def run(budget_s: float, device: str = "auto", profile: str = "paper", overrides: dict | None = None,
        store: bool = True, log=print, workers: int = 1, artefacts=ORDER, max_members: int = 16) -> list[Job]:
    """Train the next jobs until ``budget_s`` is spent (a job cut short keeps a checkpoint), an artefact's jobs
    as ensembles of at most ``max_members`` on a GPU; run and store each artefact whose models are all trained.
    With ``workers`` > 1 the jobs train in that many processes side by side first. Returns the plan as it
    stands at the end."""
    overrides = overrides or {}
    deadline = time.monotonic() + budget_s
    dev = resolve_device(device)
    if workers > 1:
        todo = [j for j in plan(profile, overrides, artefacts) if not (j.blocked or j.shared_with or j.state == "done")]
        run_parallel(todo, workers, deadline, str(dev), overrides, log)


    try:
        for artefact in artefacts:
            jobs = plan(profile, overrides, [artefact])
            todo = [j for j in jobs if not (j.blocked or j.shared_with or j.state == "done")]
            if todo:
                log(f"{artefact}: training " + ", ".join(f"{j.label} seed {j.seed} ({j.state})" for j in todo))
                train_or_load_many([(j.cfg, j.seed) for j in todo], dev, progress=sys.stderr.isatty(),
                                   callback=stop_at(deadline), log=log, max_members=max_members)
            ready = all(_progress(j.cfg, j.seed) == (j.cfg.train.iterations, "") for j in jobs)
            if store and profile == "paper" and ready and not _stored(artefact):
                from .execute import run_notebook
                log(f"{artefact}: every model trained; running and storing its notebook")
                run_notebook(artefact, profile, str(dev), parameters={"overrides": overrides} if overrides else None,
                             store=True)
    except TrainingStopped as exc:
        if str(exc):   # a signal (SIGTERM, Ctrl-C), said by the trainer: not a spent budget (exit 1, hebm_lib.cli)
            raise
        log("budget spent: the running job kept a checkpoint; the next `hebm campaign` continues from it")
    return plan(profile, overrides, artefacts)
