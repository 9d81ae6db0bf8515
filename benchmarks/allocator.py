"""The notebook kernels' allocator settings (`runs.execute.KEEP_FREED_MEMORY`) against glibc's defaults: the
same `cpu`-profile training run in fresh one-thread processes, alternately with and without them, on the 2-core
machine. Prints one JSON line with the trainers' own times (start-up and data loading left out), `speedup` =
default / kept (above 1: the settings help), measured in the same run, and `same_weights` (they must be).

    .venv/bin/python benchmarks/allocator.py [--configs fmnist_ours fmnist_hvae_oodd] [--iterations 150] [--pairs 2]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

TRAIN = """
import sys, tempfile, time, torch
from hebm_lib.configs import get_config
from hebm_lib.training import cache
cfg = get_config(sys.argv[1], "cpu", {"train.iterations": int(sys.argv[2])})
with tempfile.TemporaryDirectory() as d:
    tm = cache.train_or_load(cfg, 0, "cpu", cache_dir=d, progress=False)
    print(tm.info["train_wall_time_s"], sum(float(p.detach().double().sum()) for p in tm.model.parameters()))
"""


def train(config: str, iterations: int, keep: bool) -> tuple[float, float]:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from hebm_lib.runs.execute import KEEP_FREED_MEMORY
    env = {k: v for k, v in os.environ.items() if k not in KEEP_FREED_MEMORY}
    env |= {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"} | (KEEP_FREED_MEMORY if keep else {})
    out = subprocess.run([sys.executable, "-c", TRAIN, config, str(iterations)], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--configs", nargs="+", default=["fmnist_ours", "fmnist_hvae_oodd"])
    ap.add_argument("--iterations", type=int, default=150)
    ap.add_argument("--pairs", type=int, default=2)
    args = ap.parse_args()
    line = {}
    for config in args.configs:
        runs = {True: [], False: []}
        for p in range(args.pairs):                     # alternate, so a slower minute hits both alike
            for keep in ((True, False) if p % 2 else (False, True)):
                runs[keep].append(train(config, args.iterations, keep))
        default, kept = (sum(t for t, _ in runs[k]) for k in (False, True))
        line[config] = {"default_s": round(default, 2), "kept_s": round(kept, 2), "speedup": round(default / kept, 3),
                        "same_weights": len({w for k in runs for _, w in runs[k]}) == 1}
    print(json.dumps(line))


if __name__ == "__main__":
    main()
