"""Two notebooks at a time, one thread each (`make book`, `run-all --jobs 2`) against one at a time with
every core: the same two `cpu`-profile trainings run (a) one after the other, each process with all
cores' threads, and (b) side by side in two processes of cores / 2 threads. Prints one JSON line with
the trainers' own times (start-up and data loading left out) and `speedup` = (a) / (b), measured in
the same run (above 1: side by side is faster).

    .venv/bin/python benchmarks/side_by_side.py [--configs fmnist_ours svhn_fid_ours] [--iterations 150]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

TRAIN = """
import sys, tempfile, torch
from hebm_lib.configs import get_config
from hebm_lib.training import train_or_load
cfg = get_config(sys.argv[1], "cpu", {"train.iterations": int(sys.argv[2])})
tm = train_or_load(cfg, 0, "cpu", cache_dir=tempfile.mkdtemp(), progress=False)
print(tm.info["train_wall_time_s"])   # the trainer's own time: data loading and start-up left out
"""


def _launch(config: str, iterations: int, threads: int) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    return subprocess.Popen([sys.executable, "-c", TRAIN, config, str(iterations)], env=env,
                            stdout=subprocess.PIPE, text=True)


def _seconds(proc: subprocess.Popen) -> float:
    out, _ = proc.communicate()
    if proc.returncode:
        sys.exit("a training failed")
    return float(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", nargs=2, default=["fmnist_ours", "svhn_fid_ours"])
    ap.add_argument("--iterations", type=int, default=150)
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    # (a) one after the other, every core: the wall time is the sum of the two trainings
    alone = [_seconds(_launch(c, args.iterations, cores)) for c in args.configs]
    # (b) side by side, cores / 2 threads each: the wall time is the longer of the two (both start together)
    procs = [_launch(c, args.iterations, max(1, cores // 2)) for c in args.configs]
    together = [_seconds(p) for p in procs]
    print(json.dumps({"configs": args.configs, "iterations": args.iterations, "cores": cores,
                      "alone_s": alone, "side_by_side_s": together,
                      "speedup": round(sum(alone) / max(together), 2)}))

if __name__ == "__main__":
    main()
