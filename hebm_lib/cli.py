"""Command line: ``python -m hebm_lib <command>`` (or ``hebm <command>``).

    list                                  artefacts, their notebooks and status
    run ARTEFACT --profile P [--device D] execute one notebook with papermill (one thread, as the book's build;
                                          --threads N), then its verdicts and every number against the recorded result
    data fetch [NAME ...]                 make datasets available (default: the offline ones)
    status --profile P --out FILE         write the book's status page
    status --readme [--record-build]      rewrite README.md's results table from results/ (--check: is it current?)
    run-all --profile P --out-dir DIR     every notebook of the manifest (what `make` runs; --jobs 2: two at once)
    train CONFIG --profile P --seed S     train (or resume) one model into the cache; torchrun-able
    train CONFIG [CONFIG ...] --seeds 0 1 2   the seeds (and configs) as one ensemble: one batched step
    configs [NAME]                        the config names, or one config resolved at a profile
    toc [--out FILE]                      the book's _toc.yml, generated from the manifest
    campaign --plan | --budget 90m        paper-profile models in order of value, resumable; stores finished artefacts
    campaign --cluster slurm|local        each ensemble a submitit job (Slurm, or local processes)

A wrong name, parameter or device is one line on stderr (``hebm: error: ...``, with the valid values)
and exit status 2, as argparse does for its own options. What can be checked without torch is checked before
torch is imported (it takes seconds to load): a wrong option costs a fraction of a second.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path

import yaml

from . import configs, paths
from .configs import PROFILES
from .errors import (DataError, NotebookFailed, SettingError, TrainingDiverged, TrainingStopped, UnreadableFile,
                     UsageError)
from .report import manifest
from .runs.execute import BOOK_THREADS, check_device, check_threads, run_notebook


def _parse_params(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"parameter {item!r} is not NAME=VALUE")
        parsed = yaml.safe_load(value)
        # YAML 1.1 reads 5e-5 (no dot) as a string; a number is meant
        if isinstance(parsed, str) and _EXPONENT_NUMBER.fullmatch(parsed.strip()):
            parsed = float(parsed)
        out[key] = parsed
    return out


_EXPONENT_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _seconds(text: str, option: str = "--budget") -> float:
    """'90m', '2h', '600s' or a number of minutes -> seconds (more than 0); ``option``: the one it came from."""
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        seconds = float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text) * 60
    except (ValueError, IndexError):
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise UsageError(f"{option} {text!r} is not a positive duration like 90m, 2h or 600s")
    return seconds


def _config(name: str, profile: str, overrides: dict) -> configs.ExperimentConfig:
    try:
        return configs.get_config(name, profile, overrides)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


DESCRIPTION = """The reproducible companion to "Learning Hierarchical Features with Joint Latent Space
Energy-Based Prior" (ICCV 2023): run one figure or table's notebook, train models, fetch data, write
the book's pages. A wrong name, parameter or device is one line on stderr (hebm: error: ...) with the
valid values, and exit status 2."""
PROFILE_HELP = "smoke (seconds, tests only), cpu (what the book runs), paper (the paper's settings; a GPU)"
DEVICE_HELP = "auto (a GPU when there is one), cpu, cuda or cuda:N"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hebm", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", help="every figure and table: data, claims holding, stored paper run")
    p = sub.add_parser("run", help="execute one artefact's notebook with papermill; compare with the recorded result",
                       description="Execute one artefact's notebook with papermill, its kernel on one thread (as "
                                   "`make book` runs each notebook, so that a cpu run gives the recorded build's numbers "
                                   "bit for bit). It ends with each claim's verdict, the result file's path and, where "
                                   "a recorded result of the profile exists (results/PROFILE/ARTEFACT.json), every "
                                   "number against it: identical, within the seed spread (|a - b| <= the two spreads "
                                   "together) or outside.")
    p.add_argument("artefact", help="an artefact id of `hebm list` (tab1, fig5, ...)")
    p.add_argument("--profile", default="cpu", choices=PROFILES, help=PROFILE_HELP)
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--output", type=Path, help="the executed notebook (default: build/executed/PROFILE/)")
    p.add_argument("--prepare-only", action="store_true", help="inject parameters, do not execute")
    p.add_argument("--store", action="store_true", help="keep the run under results/paper/ for every build to render")
    p.add_argument("--threads", default=str(BOOK_THREADS), metavar="N",
                   help=f"the kernel's threads (default {BOOK_THREADS}, the recorded build's; more may run faster, "
                        f"but then the numbers may differ from the recorded build's)")
    p.add_argument("-p", "--param", action="append", default=[], help="NAME=VALUE (YAML value), repeatable")
    p = sub.add_parser("run-all", help="execute every artefact's notebook (what `make book` runs)")
    p.add_argument("--profile", default="cpu", choices=PROFILES, help=PROFILE_HELP)
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--out-dir", type=Path, required=True, help="the folder of the executed notebooks")
    p.add_argument("--prepare-only", action="store_true", help="inject parameters, do not execute")
    p.add_argument("--jobs", type=int, default=1,
                   help="notebooks run side by side, each with cores / jobs threads (`make book` uses 2)")
    p = sub.add_parser("toc", help="write the book's table of contents from the manifest")
    p.add_argument("--out", type=Path, default=paths.REPO_ROOT / "_toc.yml", help="default: the repository's _toc.yml")
    p = sub.add_parser("campaign", help="train the paper-profile models in order of value, within a budget")
    p.add_argument("--plan", action="store_true", help="print what is done and left, with time estimates")
    p.add_argument("--budget", default="90m", help="wall time: 90m, 2h, 600s")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--profile", default="paper", choices=PROFILES, help=PROFILE_HELP)
    p.add_argument("--overrides", default="{}", help='JSON, as the notebooks take: {"mnist_ours": {"train.iterations": 1000}}')
    p.add_argument("--no-store", action="store_true", help="train only; do not run and store finished artefacts")
    p.add_argument("--workers", type=int, default=1,
                   help="train this many models side by side (processes); --cluster local: this many jobs at a time")
    p.add_argument("--members", type=int, default=16,
                   help="at most this many models in one ensemble (one batched step; on a GPU)")
    p.add_argument("--artefacts", nargs="+", metavar="ID", help="only these artefacts (ids of `hebm list`)")
    p.add_argument("--cluster", choices=("slurm", "local"),
                   help="each ensemble a job through submitit: slurm (sbatch), or local processes here")
    p.add_argument("--partition", help="--cluster slurm: the partition")
    p.add_argument("--gpus-per-job", type=int, default=1, help="--cluster slurm: GPUs per job (default 1)")
    p.add_argument("--time-limit", default="4h", help="--cluster: a job's time limit (then requeued): 4h, 90m")
    p.add_argument("--account", help="--cluster slurm: the account to charge")
    p.add_argument("--slurm-param", action="append", default=[], metavar="KEY=VALUE",
                   help="--cluster slurm: another sbatch option (repeatable), e.g. constraint=h100")
    # where data goes, as paths.data_dir decides it on this install (a checkout, or a pip install)
    home = ("the checkout's data/" if paths.IS_CHECKOUT else "data/ in $HEBM_HOME, else in the folder you run hebm in")
    where = f"$HEBM_DATA_DIR, else {home}; here: {paths.data_dir()}"
    p = sub.add_parser("data", help=f"fetch data sets into the data folder ({where})",
                       description=f"Fetch data sets and verify them by checksum. They go to --data-dir, else to the "
                                   f"data folder every command reads: {where}.")
    p.add_argument("action", choices=["fetch"], help="fetch: make the data sets available (checked by checksum)")
    p.add_argument("names", nargs="*", default=list(paths.OFFLINE_DATA),
                   help=f"data set names (default: the offline ones, {' '.join(paths.OFFLINE_DATA)})")
    p.add_argument("--data-dir", help=f"the data folder (default: $HEBM_DATA_DIR, else {home}); the other commands "
                                      f"read $HEBM_DATA_DIR, so set that to use a folder of your own")
    p = sub.add_parser("status", help="write the status page")
    p.add_argument("--profile", default="cpu", choices=PROFILES, help="the profile of this build's results")
    p.add_argument("--out", type=Path, help="the page to write (Markdown); needed unless --readme")
    p.add_argument("--readme", action="store_true",
                   help="rewrite README.md's results table from the result files committed under results/")
    p.add_argument("--record-build", action="store_true",
                   help="with --readme: first copy this build's results (build/results/PROFILE) into results/PROFILE")
    p.add_argument("--check", action="store_true",
                   help="with --readme: write nothing; exit 1 when README.md's table is not what the results give")
    p = sub.add_parser("train", help="train models into the model cache (several: as one ensemble)")
    p.add_argument("configs", nargs="+", metavar="CONFIG",
                   help="config names of `hebm configs`; several train together when they differ only in their data set")
    p.add_argument("--profile", default="cpu", choices=PROFILES, help=PROFILE_HELP)
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seed", type=int, default=None, help="a non-negative integer (default 0)")
    seeds.add_argument("--seeds", type=int, nargs="+", metavar="SEED",
                       help="several seeds, trained as one ensemble (every kernel batched over the members)")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--mode", default="auto", choices=("auto", "eager", "compiled", "graph"),
                   help="auto: a CUDA graph on a GPU, eager on a CPU")
    p.add_argument("-o", "--override", action="append", default=[], help="dotted.key=VALUE, repeatable")
    p.add_argument("--stop-after", type=float, default=None,
                   help="seconds: then write a checkpoint and exit (0), to be resumed by the same command")
    p = sub.add_parser("configs", help="config names, or one config resolved")
    p.add_argument("name", nargs="?", help="a config to print resolved (default: list the names)")
    p.add_argument("--profile", default="paper", choices=PROFILES, help=PROFILE_HELP)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(args)
    except BrokenPipeError:   # `hebm list | head`
        sys.stderr.close()
        return 0
    except (UsageError, SettingError, DataError, UnreadableFile, TrainingDiverged, OSError) as exc:
        parser.exit(2, f"hebm: error: {_one_line(exc)}\n")   # bad input or a bad file: the line names the fix
    except TrainingStopped as exc:
        parser.exit(1, f"hebm: stopped: {exc}\n")
    except NotebookFailed as exc:
        parser.exit(1, f"hebm: {exc}\n")


def _one_line(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, OSError):
        text += _disk_fix(exc.errno, exc.filename, type(exc).__name__)
    return text


def _disk_fix(errno_: int | None, filename, kind: str = "OSError") -> str:
    """What to do about a failed write (``errno_`` of ``filename``; ``kind``: the OSError's class), after "; ": free
    space or make the folder writable, or move that folder by the variable that moves it; "" for another error."""
    import errno
    var = paths.moved_by(filename) if filename else None
    elsewhere = f"point {var} elsewhere" if var else "write to another folder"
    if errno_ in (errno.ENOSPC, errno.EDQUOT):   # the line names the file (hebm_lib.io)
        return f"; free space on that disk, or {elsewhere}"
    if kind in ("PermissionError", "NotADirectoryError", "IsADirectoryError", "FileExistsError") or \
            errno_ in (errno.EROFS, errno.EACCES, errno.EPERM):   # a folder that cannot be written
        return f"; make it writable, or {elsewhere}"
    return ""


# bad parameters, data, settings or files reach a notebook's cell as these: the user's to fix, exit 2
USER_ERRORS = ("ValueError", "SettingError", "DataError", "TrainingDiverged", "UnreadableFile")
DISK_ERRORS = ("OSError", "PermissionError", "NotADirectoryError", "IsADirectoryError", "FileExistsError")


def _cell_error(artefact: str, exc) -> Exception:
    """The one line of a notebook cell's error (papermill's PapermillExecutionError): UsageError (exit 2) for the
    user's to fix, a folder that cannot be written among them (with the fix, as `hebm train` says it), else
    NotebookFailed (exit 1)."""
    text = f"{artefact} failed in cell {exc.exec_count}: {exc.ename}: {' '.join(exc.evalue.split())}"
    written = re.match(r"\[Errno (\d+)\] [^:]*: '(.*)'", exc.evalue) if exc.ename in DISK_ERRORS else None
    fix = _disk_fix(int(written.group(1)), written.group(2), exc.ename) if written else ""
    return UsageError(text + fix) if exc.ename in USER_ERRORS or fix else NotebookFailed(text)


def _dispatch(args) -> int:
    if args.command == "list":
        from .report.status import artefact_table
        print(artefact_table())
    elif args.command == "run":
        _run(args)
    elif args.command == "run-all":
        from .runs.execute import run_all
        run_all(args.profile, args.device, args.out_dir, args.prepare_only, args.jobs,
                log=lambda line: print(line, flush=True))
    elif args.command == "campaign":
        try:
            overrides = json.loads(args.overrides)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--overrides is not JSON ({exc})") from None
        if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
            raise UsageError(f"--overrides must map config names (or '*') to overrides, got {args.overrides}")
        for option, value in (("--workers", args.workers), ("--members", args.members)):
            if value < 1:
                raise UsageError(f"{option} must be at least 1, got {value}")
        budget_s = _seconds(args.budget)
        from .runs import campaign
        from .training.cache import ensemble_policy
        ensemble_policy()   # $HEBM_ENSEMBLE, before anything is read, submitted or trained
        unknown = sorted(set(args.artefacts or ()) - set(campaign.ORDER))
        if unknown:
            raise UsageError(f"unknown artefact(s) {', '.join(unknown)}; valid: {', '.join(campaign.ORDER)}")
        artefacts = tuple(a for a in campaign.ORDER if a in args.artefacts) if args.artefacts else campaign.ORDER
        try:   # every override resolves before anything is read or trained
            campaign.plan(args.profile, overrides, artefacts, progress=False)
        except ValueError as exc:
            raise UsageError(f"--overrides: {exc}") from None
        if args.cluster:
            from .runs import cluster
            opts = cluster.ClusterOptions(args.cluster, args.partition, args.gpus_per_job,
                                          max(1, round(_seconds(args.time_limit, "--time-limit") / 60)), args.account,
                                          _parse_params(args.slurm_param))
            if not args.plan:
                cluster.run(opts, args.profile, overrides, args.device, args.members, not args.no_store, artefacts,
                            workers=args.workers)
            print(campaign.format_plan(campaign.plan(args.profile, overrides, artefacts)))
            print(cluster.format_jobs())
        elif args.plan:
            print(campaign.format_plan(campaign.plan(args.profile, overrides, artefacts)))
        else:
            check_device(args.device)
            jobs = campaign.run(budget_s, args.device, args.profile, overrides, not args.no_store,
                                workers=args.workers, max_members=args.members, artefacts=artefacts)
            print(campaign.format_plan(jobs))
    elif args.command == "toc":
        from .io import atomic_write_text
        from .report.book import toc_yaml
        atomic_write_text(args.out, toc_yaml())
        print(f"wrote {args.out}")
    elif args.command == "data":
        from . import data
        failed = False
        for name in args.names:
            try:
                print(data.fetch(name, args.data_dir))
            except DataError as exc:
                print(f"{name}: {exc}", file=sys.stderr)
                failed = True
        return 2 if failed else 0   # a missing or corrupt data set: one line each, naming the fix
    elif args.command == "status":
        if args.readme:
            return _readme(args)
        if args.out is None or args.record_build or args.check:
            raise UsageError("status: --out FILE writes the status page; --record-build and --check go with --readme")
        from .io import atomic_write_text
        from .report.status import glance, render
        atomic_write_text(args.out, render(args.profile))
        atomic_write_text(args.out.parent / "glance.md", glance(args.profile))   # the landing page's table
        print(f"wrote {args.out} and {args.out.parent / 'glance.md'}")
    elif args.command == "train":
        _train(args)
    elif args.command == "configs":
        if args.name is None:
            print("\n".join(configs.config_names()))
        else:
            print(json.dumps(_config(args.name, args.profile, {}).to_dict(), indent=2, default=str))
    return 0


def _run(args) -> None:
    """`hebm run`: the notebook, then its verdicts, its result's path and its numbers against the recorded build's."""
    threads = check_threads(args.threads)
    if threads != BOOK_THREADS:
        print(f"hebm: --threads {threads}: the recorded build ran each notebook on {BOOK_THREADS}; this run's numbers "
              f"may differ from it", file=sys.stderr)
    try:
        artefact = manifest.get(args.artefact).id
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    import papermill
    from .report.results import stored_dir
    from .runs.execute import read_recorded, run_report
    # read before the run: a --store run replaces it
    recorded, refused = (None, None) if args.prepare_only else read_recorded(artefact, args.profile)
    try:
        out = run_notebook(args.artefact, args.profile, args.device, args.output, _parse_params(args.param),
                           args.prepare_only, args.store, threads)
    except papermill.PapermillExecutionError as exc:
        raise _cell_error(args.artefact, exc) from None
    print(f"wrote {out}")
    if args.prepare_only:
        return
    result_path = (stored_dir(args.profile) if args.store else paths.results_dir(args.profile)) / f"{artefact}.json"
    result = json.loads(result_path.read_text())
    if refused:
        print(f"the recorded result was refused: {refused}")
    print("\n".join(run_report(artefact, result, result_path, recorded, threads)))


def _readme(args) -> int:
    if args.out is not None:
        raise UsageError("status --readme rewrites README.md; --out is for the status page")
    readme = paths.REPO_ROOT / "README.md"
    if not readme.is_file():
        raise UsageError(f"no README.md in {paths.REPO_ROOT}; run this in the book's checkout")
    from .io import atomic_write_text
    from .report import status
    if args.record_build:
        for path in status.record_build(args.profile):
            print(f"recorded {path}")
    try:
        text = readme.read_text()
        new = status.replace_readme_block(text, status.readme_table(paths.stored_root()))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.check:
        if new != text:
            print("README.md's results table is stale: run `hebm status --readme` and commit it", file=sys.stderr)
            return 1
        print("README.md's results table is current")
        return 0
    atomic_write_text(readme, new)
    print(f"wrote {readme}" + (" (unchanged)" if new == text else ""))
    return 0


def _train(args) -> None:
    seeds = args.seeds if args.seeds is not None else [0 if args.seed is None else args.seed]
    if any(seed < 0 for seed in seeds) or len(set(seeds)) < len(seeds):
        raise UsageError(f"--seed / --seeds must be distinct non-negative integers, got {' '.join(map(str, seeds))}")
    if args.stop_after is not None and not 0 <= args.stop_after < float("inf"):   # nan too: it never passes
        raise UsageError(f"--stop-after {args.stop_after:g} is not a number of seconds, 0 or more")
    overrides = _parse_params(args.override)
    cfgs = [_config(name, args.profile, overrides) for name in dict.fromkeys(args.configs)]
    import torch
    from .training import train_or_load, train_or_load_many
    check_device(args.device)
    if "LOCAL_RANK" in os.environ and not torch.distributed.is_initialized():  # under torchrun
        if len(cfgs) * len(seeds) > 1:
            raise UsageError("under torchrun train one model (one config, --seed); ensembles train in one process")
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        torch.distributed.init_process_group(backend)
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
            args.device = f"cuda:{os.environ['LOCAL_RANK']}"
    import time
    from .training import stop_at
    callback = stop_at(time.monotonic() + args.stop_after) if args.stop_after is not None else None
    try:
        if len(cfgs) * len(seeds) == 1:
            trained = [train_or_load(cfgs[0], seeds[0], args.device, mode=args.mode, callback=callback)]
        else:
            trained = train_or_load_many([(cfg, seed) for cfg in cfgs for seed in seeds], args.device, mode=args.mode,
                                         callback=callback, log=lambda line: print(f"hebm: {line}", file=sys.stderr),
                                         ensemble="always")   # asked for by name: batched on any device
    except TrainingStopped as exc:
        if str(exc):   # a signal: said by the trainer, exit 1 (main)
            raise
        print(f"{', '.join(c.name for c in cfgs)}/{args.profile} seeds {' '.join(map(str, seeds))}: stopped after "
              f"{args.stop_after:g} s; checkpoints kept")
        return
    for tm in trained:
        info = {k: v for k, v in tm.info.items() if k != "history"}
        print(f"{tm.cfg.name}/{tm.cfg.profile} seed {tm.seed}: {tm.run_dir} ({info})"[:2000])
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
