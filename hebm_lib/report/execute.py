"""Executing an artefact's notebook: jupytext (MyST text -> .ipynb), then papermill with validated
parameters; a stored run keeps the executed notebook and its result under results/<profile>/."""
from __future__ import annotations

import os
from pathlib import Path

from .. import paths
from ..io import resolve_device
from . import manifest


class UsageError(Exception):
    """A bad name or value from the user: reported in one line, exit status 2."""


class NotebookFailed(Exception):
    """A notebook of `run-all --jobs` raised: reported in one line with its log's place, exit status 1."""


def _notebook_to_ipynb(artefact: manifest.Artefact, dest: Path) -> Path:
    import jupytext
    nb = jupytext.read(artefact.notebook_path, fmt="md:myst")
    dest.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(nb, dest, fmt="ipynb")
    return dest


def run_notebook(artefact_id: str, profile: str, device: str = "auto", output: Path | None = None,
                 parameters: dict | None = None, prepare_only: bool = False, store: bool = False) -> Path:
    """jupytext (text source -> .ipynb) then papermill with validated parameters.

    ``store``: a run made once to be rendered by every later build: the executed notebook and its
    results JSON go to results/<profile>/ (never checkpoints), and its provenance is checked.
    """
    import papermill
    art = _artefact(artefact_id)
    if not art.notebook:
        raise UsageError(f"{artefact_id} ({art.label}) has no notebook yet: {art.status}. {art.note}")
    check_device(device)
    source = _notebook_to_ipynb(art, paths.build_dir() / "notebooks" / f"{art.notebook}.ipynb")
    params = {"profile": profile, "device": device, **(parameters or {})}
    known = papermill.inspect_notebook(str(source))
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise UsageError(f"unknown parameter(s) {', '.join(unknown)} for {art.notebook}; "
                         f"valid parameters: {', '.join(known)}")
    if store:
        if profile != "paper" or prepare_only:
            raise UsageError("--store keeps paper-profile runs (the cpu profile is what every build runs)")
        return _run_and_store(art, profile, source, params)
    output = Path(output or paths.build_dir() / "executed" / profile / f"{art.notebook}.ipynb")
    output.parent.mkdir(parents=True, exist_ok=True)
    _execute(source, output, params, prepare_only)
    return output


def _execute(source: Path, output: Path, params: dict, prepare_only: bool = False, env: dict | None = None) -> None:
    import papermill
    import sys
    # on a terminal: papermill's bar of the cells, and the kernel's training bars, which it writes to this
    # terminal's device (HEBM_PROGRESS; the kernel's own stderr is the page); logs and pages stay quiet otherwise
    terminal = sys.stderr.isatty() and not prepare_only
    env = {**(env or {}), "HEBM_PROGRESS": os.ttyname(sys.stderr.fileno()) if terminal else ""}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)   # the kernel inherits it
    try:
        papermill.execute_notebook(str(source), str(output), parameters=params, kernel_name="python3",
                                   language="python", cwd=str(paths.REPO_ROOT), prepare_only=prepare_only,
                                   progress_bar=terminal, log_output=False,
                                   # the kernel's own log (ipykernel 7 warns at every start that its local
                                   # TCP sockets are unencrypted): errors only, so a log stays quiet
                                   extra_arguments=["--IPKernelApp.log_level=ERROR"])
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    if not prepare_only:
        _fold_injected_parameters(output)


def _run_and_store(art: manifest.Artefact, profile: str, source: Path, params: dict) -> Path:
    """A stored run: executed into a scratch folder, its result checked for provenance, and only then the
    notebook and the result moved into results/<profile>/ together, so a crash or a failing notebook
    leaves the stored run that was there untouched."""
    import shutil
    import tempfile
    from .results import read_stored, stored_dir
    final = stored_dir(profile)
    paths.build_dir().mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"store-{art.id}-", dir=paths.build_dir()))
    try:
        output = scratch / f"{art.notebook}.ipynb"
        _execute(source, output, params, env={"HEBM_RESULTS_DIR": str(scratch)})
        read_stored(art.id, profile, scratch)   # refuses a result without its provenance
        final.mkdir(parents=True, exist_ok=True)
        histories = scratch / f"{art.id}-histories"   # the models' training curves
        if histories.exists():
            shutil.rmtree(final / histories.name, ignore_errors=True)
            shutil.move(str(histories), final / histories.name)
        os.replace(scratch / f"{art.id}.json", final / f"{art.id}.json")
        os.replace(output, final / output.name)
        return final / output.name
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _fold_injected_parameters(path: Path) -> None:
    """papermill's injected-parameters cell is folded like the other code cells of a page."""
    import nbformat
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if "injected-parameters" in tags and "hide-input" not in tags:
            tags.append("hide-input")
    nbformat.write(nb, path)


def _artefact(artefact_id: str) -> manifest.Artefact:
    try:
        return manifest.get(artefact_id)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_device(device: str) -> None:
    try:
        resolve_device(device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None




def run_all(profile: str, device: str, out_dir: Path, prepare_only: bool = False, jobs: int = 1,
            log=print) -> None:
    """Every notebook of the manifest. With ``jobs`` > 1 that many run side by side, each kernel with
    cores / jobs threads (measured on the 2-core machine, `benchmarks/side_by_side.py`: two trainings side
    by side, one thread each, finish 1.5x sooner than one after the other with two threads each).

    Longest first (``expected_cpu_minutes``), so the last to finish are short. Notebooks needing the same
    model share it through the cache: a lock per model makes the second wait for the first's training
    and then load it, never train it again."""
    import time
    check_device(device)
    arts = manifest.runnable()
    if jobs <= 1 or prepare_only:
        for art in arts:
            start = time.perf_counter()
            log(f"== {art.id} ({profile})")
            run_notebook(art.id, profile, device, out_dir / f"{art.notebook}.ipynb", prepare_only=prepare_only)
            log(f"   {art.id} took {time.perf_counter() - start:.0f} s")
        return
    _run_side_by_side(longest_first(arts), profile, device, out_dir, jobs, log)


def longest_first(arts: list[manifest.Artefact]) -> list[manifest.Artefact]:
    """By expected cpu minutes, longest first; ties keep the manifest's order."""
    return sorted(arts, key=lambda a: -(a.expected_cpu_minutes or 1.0))


def _run_side_by_side(arts, profile, device, out_dir, jobs, log) -> None:
    import subprocess
    import sys
    import time
    from concurrent.futures import ThreadPoolExecutor
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    logs = paths.build_dir() / "logs" / profile
    logs.mkdir(parents=True, exist_ok=True)

    def run_one(art) -> bool:
        start = time.perf_counter()
        log(f"== {art.id} ({profile}, {threads} thread(s))")
        with open(logs / f"{art.id}.log", "w") as out:
            rc = subprocess.call([sys.executable, "-m", "hebm_lib", "run", art.id, "--profile", profile,
                                  "--device", device, "--output", str(out_dir / f"{art.notebook}.ipynb")],
                                 stdout=out, stderr=subprocess.STDOUT, env=env, cwd=str(paths.REPO_ROOT))
        if rc:
            tail = (logs / f"{art.id}.log").read_text().strip().splitlines()[-15:]
            log(f"   {art.id} FAILED (exit {rc}); its log, {logs / f'{art.id}.log'}, ends:\n     " + "\n     ".join(tail))
        else:
            log(f"   {art.id} took {time.perf_counter() - start:.0f} s")
        return rc == 0

    with ThreadPoolExecutor(jobs) as pool:   # the pool takes the notebooks in the order given
        ok = list(pool.map(run_one, arts))
    failed = [a.id for a, good in zip(arts, ok) if not good]
    if failed:
        raise NotebookFailed(f"notebook(s) failed: {', '.join(failed)} (logs in {logs})")
