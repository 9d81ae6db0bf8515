"""Executing an artefact's notebook: jupytext (MyST text -> .ipynb), then papermill with validated
parameters; a stored run keeps the executed notebook and its result under results/<profile>/."""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from .. import paths
from ..errors import NotebookFailed, UsageError
from ..report import manifest


def _notebook_to_ipynb(artefact: manifest.Artefact, dest: Path) -> Path:
    import jupytext
    nb = jupytext.read(artefact.notebook_path, fmt="md:myst")
    dest.parent.mkdir(parents=True, exist_ok=True)
    jupytext.write(nb, dest, fmt="ipynb")
    return dest


BOOK_THREADS = 1   # what `make book` gives each notebook (two side by side on its 2 cores): the recorded build's


def check_threads(threads) -> int:
    """``--threads`` as a number of threads, 1 or more; a UsageError naming the fix otherwise."""
    try:
        n = int(threads)
    except (TypeError, ValueError):
        n = 0
    if n < 1 or str(threads).strip() != str(n):
        raise UsageError(f"--threads {threads}: give a whole number of threads, 1 or more "
                         f"({BOOK_THREADS}, the default, is what the recorded build ran each notebook on)")
    return n


# glibc malloc keeps freed memory for the next tensor instead of handing it back to the kernel and taking it
# again, page fault by page fault: the same numbers, a one-thread training step 3-8% sooner on the 2-core
# machine (a Fashion-MNIST ladder 3%, Havtorn's conv HVAE 8%); a value already in the environment is kept
KEEP_FREED_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20), "MALLOC_TRIM_THRESHOLD_": str(16 << 30),
                     "MALLOC_TOP_PAD_": str(256 << 20)}


def thread_env(threads: int) -> dict:
    """The kernel's thread count, set before torch starts in it (torch takes OMP_NUM_THREADS at import), and
    its allocator's settings (glibc reads them as the process starts)."""
    return {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
            **{k: v for k, v in KEEP_FREED_MEMORY.items() if k not in os.environ}}


def run_notebook(artefact_id: str, profile: str, device: str = "auto", output: Path | None = None,
                 parameters: dict | None = None, prepare_only: bool = False, store: bool = False,
                 threads: int = BOOK_THREADS) -> Path:
    """jupytext (text source -> .ipynb) then papermill with validated parameters, the kernel on ``threads``
    threads (default: the book's build's one, whose numbers it then reproduces bit for bit).

    ``store``: a run made once to be rendered by every later build: the executed notebook and its
    results JSON go to results/<profile>/ (never checkpoints), and its provenance is checked.
    """
    import papermill
    threads = check_threads(threads)
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
    check_parameters(parameters or {}, known, art.notebook, art.settings(profile))
    if not prepare_only:   # before the kernel starts: all the data, or one line saying what to fetch
        _check_data(art, profile, params.get("overrides"))
    if store:
        if profile != "paper" or prepare_only:
            raise UsageError("--store keeps paper-profile runs (the cpu profile is what every build runs)")
        return _run_and_store(art, profile, source, params, threads)
    output = Path(output or paths.build_dir() / "executed" / profile / f"{art.notebook}.ipynb")
    output.parent.mkdir(parents=True, exist_ok=True)
    result = paths.results_dir(profile) / f"{art.id}.json"
    before = _file_state(result)
    try:
        _execute(source, output, params, prepare_only, env=thread_env(threads))
    except BaseException:
        if _file_state(result) != before:   # written by this run, which then failed: no build may count it
            result.unlink(missing_ok=True)
        raise
    return output


def check_parameters(parameters: dict, known: dict, notebook: str, settings: dict | None = None) -> None:
    """The -p values against the notebook's parameter cell: never the profile or the device (their flags
    check them), seeds a list of distinct non-negative integers, any other value of its default's type; a None
    default stands for the profile's evaluation setting of that name (``settings``), whose type it takes, else
    for what the notebook itself checks."""
    import ast
    from ..report.notebook import seeds_error
    settings = settings or {}
    for key, value in parameters.items():
        if key in ("profile", "device"):
            raise UsageError(f"use --{key} {value}, not -p {key}={value} (-p would bypass the flag's checks)")
        if key == "seeds":
            wrong = seeds_error(value, "-p 'seeds=[0,1]'")
            if wrong:
                raise UsageError(wrong)
            continue
        written = known[key]["default"]
        try:
            default = ast.literal_eval(written)
        except (ValueError, SyntaxError):   # an expression: the notebook checks its own value
            continue
        if default is None and settings.get(key) is not None:   # None: the profile's setting of that name
            default, written = settings[key], f"the profile's {key} {settings[key]!r}"
        if default is None:
            continue
        kind = (int, float) if type(default) is float else type(default)
        if type(value) is bool and type(default) is not bool or not isinstance(value, kind):
            raise UsageError(f"{key} takes a {type(default).__name__} like its default in {notebook} ({written}); "
                             f"got {value!r}")


def _check_data(art: manifest.Artefact, profile: str, overrides) -> None:
    from .. import data
    from ..report.notebook import overrides_error
    wrong = overrides_error(overrides, "-p 'overrides={\"*\": {\"train.iterations\": 100}}'")
    if wrong:
        raise UsageError(wrong)
    try:
        needed = art.data_needed(profile, overrides if isinstance(overrides, dict) else None)
    except ValueError as exc:   # an override that does not resolve
        raise UsageError(f"overrides: {exc}") from None
    data.require(needed, art.id)


def _file_state(path: Path):
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _execute(source: Path, output: Path, params: dict, prepare_only: bool = False, env: dict | None = None) -> None:
    import papermill
    import sys
    import time
    from ..training import TrainingStopped
    # on a terminal: papermill's bar of the cells, and the kernel's training bars, which it writes to this
    # terminal's device (HEBM_PROGRESS; the kernel's own stderr is the page). Off a terminal (`make book`'s logs,
    # CI): lines on stderr, the kernel's relayed from a file it appends to; the page gets none of them
    terminal = sys.stderr.isatty()
    relay = None if terminal or prepare_only else _Relay(output.stem, source)
    where = os.ttyname(sys.stderr.fileno()) if terminal and not prepare_only else (relay.path if relay else "")
    env = {**(env or {}), "HEBM_PROGRESS": str(where)}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)   # the kernel inherits it
    start = time.perf_counter()
    try:
        with _Kernel() as kernel, (relay or contextlib.nullcontext()):
            def on_cell_start(**cell) -> None:
                kernel.stop_if_signalled(**cell)
                if relay:
                    relay.cell(cell["cell"])
            try:
                papermill.execute_notebook(str(source), str(output), parameters=params, kernel_name="python3",
                                           language="python", cwd=str(paths.REPO_ROOT), prepare_only=prepare_only,
                                           progress_bar=terminal, log_output=False,
                                           # the kernel's own log (ipykernel 7 warns at every start that its local
                                           # TCP sockets are unencrypted): errors only, so a log stays quiet
                                           extra_arguments=["--IPKernelApp.log_level=ERROR"],
                                           kernel_manager_class=kernel.manager_class(),
                                           on_cell_start=on_cell_start)
            except BaseException as exc:
                stopped = kernel.stopped(exc)
                if stopped is None:
                    raise
                raise TrainingStopped(stopped) from None
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    if not prepare_only:
        _fold_injected_parameters(output)
    if relay:
        relay.say(f"finished in {time.perf_counter() - start:.0f} s")


PROGRESS_LOG = re.compile(r"hebm-progress-.+-(\d+)-[^-]+\.log")   # a relay's file, by the process that reads it


class _Relay:
    """Progress off a terminal: the notebook's start, each code cell as it starts (n of m) and its end, and the
    kernel's lines (which models train, every tenth of their iterations), which it appends to a file of its own
    (HEBM_PROGRESS) since its stderr is the page: all as `hebm: NOTEBOOK: ...` lines on this process's stderr."""

    POLL_S = 0.5

    def __init__(self, name: str, source: Path):
        import nbformat
        import tempfile
        self.name = name
        # the code cells papermill runs: the source's and the parameters it injects
        self.cells = 1 + sum(c.cell_type == "code" and bool(c.source.strip())
                             for c in nbformat.read(source, as_version=4).cells)
        self.started = 0
        # its process id in its name: a later relay removes it if this run is killed before it can
        from ..io import remove_orphans
        remove_orphans(Path(tempfile.gettempdir()), "hebm-progress-*.log", PROGRESS_LOG)
        fd, path = tempfile.mkstemp(prefix=f"hebm-progress-{name}-{os.getpid()}-", suffix=".log")
        os.close(fd)
        self.path = Path(path)

    def say(self, text: str) -> None:
        import sys
        print(f"hebm: {self.name}: {text}", file=sys.stderr, flush=True)

    def cell(self, cell) -> None:
        if cell.cell_type == "code" and cell.source.strip():   # nbclient calls this for every cell
            self.started += 1
            self.say(f"cell {self.started} of {self.cells}")

    def __enter__(self):
        import threading
        self.say("started")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()
        return self

    def _follow(self) -> None:
        with open(self.path) as stream:
            while True:
                stopping = self._stop.wait(self.POLL_S)
                for line in stream.read().splitlines():   # the kernel writes whole lines
                    self.say(line)
                if stopping:
                    return

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.path.unlink(missing_ok=True)
        return False


class _Stop(BaseException):
    """A signal before the kernel runs: the run ends (a BaseException, so that papermill passes it on)."""


class _Kernel:
    """The kernel papermill starts, and SIGTERM / Ctrl-C while it runs.

    The kernel runs in a session of its own (jupyter_client starts it so), which a signal to this process
    group does not reach; and a signal raised here would leave papermill mid-cell and the kernel torn down at
    exit, in mid-reply. So a signal is handed on to the kernel: its trainer checkpoints and ends the cell with
    TrainingStopped, and papermill ends the run as after any failing cell. A kernel outside a cell ignores
    Ctrl-C, so the next cell does not start; before there is a kernel, the signal ends the run. A kernel left
    running by a failure of papermill's is stopped, never left writing into a folder being cleaned up."""

    STOP_WAIT_S = 120   # for the trainer to finish its iteration and write the checkpoint

    def __init__(self):
        self.process = None   # the kernel's Popen, once started
        self.signals: list[str] = []
        self._previous = {}

    def manager_class(self):
        from jupyter_client.manager import AsyncKernelManager
        kernel = self

        class KernelManager(AsyncKernelManager):
            async def start_kernel(self, **kw):
                await super().start_kernel(**kw)
                kernel.process = getattr(self.provisioner, "process", None)

            async def _async_interrupt_kernel(self):
                # papermill shuts the kernel down idle, after its last or failing cell; the interrupt that
                # jupyter_client sends first only makes the kernel log a KeyboardInterrupt on the terminal
                if not self.shutting_down:
                    await super()._async_interrupt_kernel()
        return KernelManager

    def __enter__(self):
        import logging
        import signal
        import threading
        if threading.current_thread() is threading.main_thread():   # only the main thread takes signals
            self._previous = {sig: signal.signal(sig, self._forward) for sig in (signal.SIGTERM, signal.SIGINT)}
        # after a signal, papermill's word on the kernel it stopped ("Kernel died ...") is not news
        logging.getLogger("papermill").addFilter(self._quiet_after_signal)
        return self

    def __exit__(self, *exc) -> None:
        import logging
        import signal
        try:
            self._end()
        finally:
            logging.getLogger("papermill").removeFilter(self._quiet_after_signal)
            for sig, handler in self._previous.items():
                signal.signal(sig, handler)

    def _quiet_after_signal(self, record) -> bool:
        return not self.signals

    def stop_if_signalled(self, **cell) -> None:
        if self.signals:
            raise _Stop

    def _forward(self, signum, frame) -> None:
        import signal
        self.signals.append(signal.Signals(signum).name)
        if self.process is not None and self.process.returncode is None:
            os.kill(self.process.pid, signum)
        else:
            raise _Stop

    def _end(self) -> None:
        import subprocess
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()   # its trainer, if training, checkpoints
        try:
            self.process.wait(self.STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def stopped(self, exc: BaseException) -> str | None:
        """The line that says how a signal stopped the run (``exc``: how papermill ended), None for a failure."""
        import papermill
        if isinstance(exc, papermill.PapermillExecutionError) and exc.ename == "TrainingStopped":
            return " ".join(exc.evalue.split())   # the trainer's: which model, the iteration kept, how to resume
        if not self.signals:
            return None
        return (f"{self.signals[0]} (no training iteration was under way; files are written whole or not at "
                f"all); run the same command again to go on")


def _run_and_store(art: manifest.Artefact, profile: str, source: Path, params: dict,
                   threads: int = BOOK_THREADS) -> Path:
    """A stored run: executed into a scratch folder of the build, its result checked for provenance, and only
    then swapped into results/<profile>/ (:func:`_swap_in`), so that a crash, a failing notebook or a file
    system that refuses a step leaves the stored run that was there whole."""
    import shutil
    import tempfile
    from ..report.results import read_stored, stored_dir
    final = stored_dir(profile)
    build = paths.build_dir()
    build.mkdir(parents=True, exist_ok=True)
    _remove_orphaned_scratch(build)
    # its process id in its name: a later run removes it if this one is killed before it can
    scratch = Path(tempfile.mkdtemp(prefix=f"store-{art.id}-{os.getpid()}-", dir=build))
    try:
        output = scratch / f"{art.notebook}.ipynb"
        _execute(source, output, params, env={"HEBM_RESULTS_DIR": str(scratch), **thread_env(threads)})
        read_stored(art.id, profile, scratch)   # refuses a result without its provenance
        names = [n for n in (f"{art.id}-histories", output.name) if (scratch / n).exists()]   # + training curves
        final.mkdir(parents=True, exist_ok=True)
        _swap_in(scratch, names + [f"{art.id}.json"], final)
        return final / output.name
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _swap_in(source: Path, names: list[str], dest: Path) -> None:
    """The files and folders ``names`` of ``source`` replace those of ``dest``, all or none, on any layout:
    copied first into a staging folder beside ``dest`` (a rename cannot cross file systems, and the build
    may be on another), then renamed into place, the last name (the result, which names the others) last
    and atomically; a failure before it renames the old files back."""
    import shutil
    import tempfile
    stage = Path(tempfile.mkdtemp(prefix=f".store-{dest.name}-", dir=dest.parent))
    try:
        new, old = stage / "new", stage / "old"
        new.mkdir()
        old.mkdir()
        for name in names:
            (shutil.copytree if (source / name).is_dir() else shutil.copy2)(source / name, new / name)
        done = []   # the renames made, to undo
        try:
            for name in names[:-1]:
                if (dest / name).exists():
                    os.rename(dest / name, old / name)
                    done.append((dest / name, old / name))
                os.rename(new / name, dest / name)
                done.append((new / name, dest / name))
            os.replace(new / names[-1], dest / names[-1])
        except BaseException:
            for was, now in reversed(done):
                os.rename(now, was)
            raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _remove_orphaned_scratch(build: Path) -> None:
    """The scratch folders of store runs whose process is gone (killed by SIGKILL, which no cleanup sees)."""
    from ..io import remove_orphans
    remove_orphans(build, "store-*", re.compile(r"store-.+-(\d+)-[^-]+"))


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
        from ..io import resolve_device   # torch: imported once a device is asked for
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
            run_notebook(art.id, profile, device, out_dir / f"{art.notebook}.ipynb", prepare_only=prepare_only,
                         threads=_serial_threads())
            log(f"   {art.id} took {time.perf_counter() - start:.0f} s")
        return
    _run_side_by_side(longest_first(arts), profile, device, out_dir, jobs, log)


def _serial_threads() -> int:
    """Notebooks one after another: each on every core, as torch would take them, or on $OMP_NUM_THREADS when set."""
    try:
        return check_threads(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    except UsageError:
        return os.cpu_count() or 1


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
                                  "--device", device, "--output", str(out_dir / f"{art.notebook}.ipynb"),
                                  "--threads", threads],
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


# -- after `hebm run`: the verdicts, and every number against the recorded build's -----------------------------

IDENTICAL, WITHIN, OUTSIDE = "identical", "within the seed spread", "outside"
ONLY_HERE, ONLY_RECORDED = "not in the recorded result", "missing from this run"


def _row_keys(rows: list[dict]) -> dict[tuple, dict]:
    """Rows by (metric, setting, n-th of that pair): a pair a notebook reports twice is matched in order."""
    keyed, seen = {}, {}
    for row in rows:
        pair = (row["metric"], row["setting"])
        seen[pair] = seen.get(pair, 0) + 1
        keyed[pair + (seen[pair],)] = row
    return keyed


def _spread(row: dict) -> float:
    sd = row.get("spread")
    return 0.0 if sd is None or sd != sd else float(sd)


def row_verdict(now: dict, then: dict) -> str:
    """One row of this run against the recorded one: identical (value and spread equal as written: the notebook
    rounds both runs alike), within the seed spread (|a - b| <= the two spreads together), or outside."""
    a, b = now.get("reproduced"), then.get("reproduced")
    if a == b and now.get("spread") == then.get("spread"):
        return IDENTICAL
    if a is None or b is None or a != a or b != b:
        return OUTSIDE
    return WITHIN if abs(a - b) <= _spread(now) + _spread(then) else OUTSIDE


def compare_rows(result: dict, recorded: dict) -> list[dict]:
    """Every row of ``result`` and of the ``recorded`` result (both as read from their JSON), each with its
    verdict: identical, within the seed spread, outside, or on one side only."""
    now, then = _row_keys(result.get("rows", [])), _row_keys(recorded.get("rows", []))
    out = []
    for key in list(now) + [k for k in then if k not in now]:
        here, there = now.get(key), then.get(key)
        verdict = ONLY_RECORDED if here is None else ONLY_HERE if there is None else row_verdict(here, there)
        out.append({"metric": key[0], "setting": key[1], "now": here, "recorded": there, "verdict": verdict})
    return out


def _number(row: dict | None) -> str:
    if row is None or row.get("reproduced") is None:
        return "–"
    return f"{row['reproduced']:g}" + ("" if row.get("spread") is None else f" ± {row['spread']:g}")


def recorded_label(recorded: dict) -> str:
    """"commit 2823a83, 2026-12-05": which build a recorded result came from."""
    prov = recorded.get("provenance") or {}
    commit = (prov.get("git") or {}).get("commit") or "?"
    return f"commit {commit[:7]}, {(prov.get('created') or '?')[:10]}"


def run_report(artefact: str, result: dict, result_path: Path, recorded: dict | None, threads: int,
               max_rows: int = 15) -> list[str]:
    """What `hebm run` prints at its end: each claim's verdict, the result file, and, with a ``recorded`` result
    of the same profile (results/<profile>/), every number against it, ending in one line of counts."""
    from ..report.results import claim_verdict
    lines = ["claims:"] + [f"  {claim_verdict(c.get('holds'))}: {c['claim']}" for c in result.get("claims", [])]
    if not result.get("claims"):
        lines.append("  (this notebook tests no claim)")
    lines.append(f"result: {result_path}")
    profile = result.get("profile", "?")
    if recorded is None:
        lines.append(f"{artefact}: no recorded result of profile {profile} (results/{profile}/{artefact}.json) "
                     f"to compare with")
        return lines
    rows = compare_rows(result, recorded)
    label = recorded_label(recorded)
    shown = rows if len(rows) <= max_rows else [r for r in rows if r["verdict"] != IDENTICAL][:max_rows]
    if shown:
        lines.append(f"against the recorded build ({label})" +
                     ("" if shown is rows else f", the {len(shown)} rows that differ first") + ":")
        width = min(60, max(len(f"{r['metric']} / {r['setting']}") for r in shown))
        for r in shown:
            name = _row_name(r["metric"], r["setting"], width)
            lines.append(f"  {name:<{width}}  {_number(r['recorded']):>20} -> {_number(r['now']):<20} {r['verdict']}")
    then_claims = {c["claim"]: c.get("holds") for c in recorded.get("claims", [])}
    changed = [c for c in result.get("claims", []) if c["claim"] in then_claims and c.get("holds") != then_claims[c["claim"]]]
    for c in changed:
        lines.append(f"  verdict changed: {claim_verdict(then_claims[c['claim']])} -> {claim_verdict(c.get('holds'))}: "
                     f"{c['claim']}")
    # what may explain a difference: threads, seeds or overrides other than the recorded build's
    then_threads = (recorded.get("provenance") or {}).get("threads", BOOK_THREADS)
    for what, a, b in (("threads", threads, then_threads), ("seeds", result.get("seeds"), recorded.get("seeds")),
                       ("overrides", result.get("overrides"), recorded.get("overrides"))):
        if a != b:
            lines.append(f"  note: this run's {what} {a} are not the recorded build's ({b}): its numbers may differ")
    count = {v: sum(r["verdict"] == v for r in rows) for v in (IDENTICAL, WITHIN, OUTSIDE, ONLY_HERE, ONLY_RECORDED)}
    lines.append(f"{artefact}: {count[IDENTICAL]} numbers identical to the recorded build ({label}), "
                 f"{count[WITHIN]} within the seed spread, {count[OUTSIDE]} outside" +
                 "".join(f", {count[v]} {v}" for v in (ONLY_HERE, ONLY_RECORDED) if count[v]) +
                 (f"; {len(changed)} claim verdict(s) changed" if changed else ""))
    return lines


def _row_name(metric: str, setting: str, width: int) -> str:
    """"metric / setting" in ``width`` characters: the metric cut first, since the setting tells rows apart."""
    name = f"{metric} / {setting}"
    if len(name) <= width:
        return name
    keep = width - len(setting) - 4   # "… / "
    return f"{metric[:keep]}… / {setting}" if keep >= 8 else name[:width - 1] + "…"


def read_recorded(artefact: str, profile: str) -> tuple[dict | None, str | None]:
    """The recorded result of ``artefact`` at ``profile`` (results/<profile>/, or $HEBM_STORED_DIR/<profile>/),
    read before a run (a --store run replaces it); (None, why) when there is none or it is refused."""
    from ..report.results import read_stored
    try:
        return read_stored(artefact, profile), None
    except ValueError as exc:
        return None, " ".join(str(exc).split())
