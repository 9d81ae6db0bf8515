"""Members per second of an ensemble of M members (hebm_lib.training.ensemble) against the same M models
trained one after another, measured in the same run, per config and profile.

The separate run's step is timed once (``Trainer.step``, one model); an ensemble of M costs one
``EnsembleTrainer.step``. members/s = M / (ensemble step) against 1 / (separate step); their ratio is the
speed-up of training M models as one step. Random images of the config's shape; medians after warm-up
(a CUDA graph is captured in it in mode ``graph``).

    .venv/bin/python benchmarks/ensemble.py [--device cuda --mode graph] [--configs fmnist_ours fmnist_vlae]
        [--profiles cpu paper] [--members 1 3 6 12] [--repeats 5] [--step-times]

``--step-times`` records the ensemble step times in benchmarks/step_times.json ("ensemble": device type ->
config -> M -> ms per ensemble iteration), which ``hebm campaign --plan`` uses to price ensembles.
Prints a Markdown table (for benchmarks/RESULTS.md) and one JSON line per row.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from hebm_lib.configs import get_config  # noqa: E402
from hebm_lib.io import device_name, resolve_device  # noqa: E402
from hebm_lib.models import build_model  # noqa: E402
from hebm_lib.training import EnsembleTrainer, Member, Trainer  # noqa: E402
from train_step import timed  # noqa: E402  (benchmarks/: the median of timed calls after a warm-up)


def measure(name: str, profile: str, members: list[int], device, mode: str, repeats: int, warmup: int) -> list[dict]:
    cfg = get_config(name, profile)
    images = torch.randint(0, 256, (max(1000, cfg.train.batch_size), *cfg.nets.image_shape),
                           generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    torch.manual_seed(0)
    single = Trainer(cfg, build_model(cfg), images, 0, device, mode)
    separate_ms = timed(single.step, repeats, device, warmup)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        for m in members:
            ens = EnsembleTrainer([Member(cfg, s, images, Path(d) / str(s)) for s in range(m)], device, mode)
            ms = timed(ens.step, repeats, device, warmup)
            rows.append({"config": name, "profile": profile, "members": m, "device": device_name(device), "mode": mode,
                         "separate_ms_per_model": round(separate_ms, 2), "ensemble_ms": round(ms, 2),
                         "members_per_s": round(1000 * m / ms, 2), "separate_members_per_s": round(1000 / separate_ms, 2),
                         "speedup": round(separate_ms * m / ms, 2)})
            print(json.dumps(rows[-1]), flush=True)
            del ens
    return rows


def table(rows: list[dict]) -> str:
    out = ["| config | profile | M | separate run, ms / step | ensemble, ms / step | members / s, ensemble | "
           "members / s, one after another | speed-up |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| `{r['config']}` | `{r['profile']}` | {r['members']} | {r['separate_ms_per_model']} | "
                   f"{r['ensemble_ms']} | {r['members_per_s']} | {r['separate_members_per_s']} | **{r['speedup']}x** |")
    return "\n".join(out)


def record_step_times(rows: list[dict], device) -> None:
    path = ROOT / "benchmarks" / "step_times.json"
    times = json.loads(path.read_text())
    section = times.setdefault("ensemble", {}).setdefault(device.type, {})
    for r in rows:
        if r["profile"] == "paper":
            section.setdefault(r["config"], {})[str(r["members"])] = r["ensemble_ms"]
    path.write_text(json.dumps(times, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--mode", default="eager", choices=("eager", "compiled", "graph"))
    ap.add_argument("--configs", nargs="+", default=["fmnist_ours", "fmnist_vlae"])
    ap.add_argument("--profiles", nargs="+", default=["cpu", "paper"])
    ap.add_argument("--members", nargs="+", type=int, default=[1, 3, 6, 12])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--step-times", action="store_true", help="record the paper-profile rows in step_times.json")
    args = ap.parse_args()
    device = resolve_device(args.device)
    rows = [r for profile in args.profiles for name in args.configs
            for r in measure(name, profile, args.members, device, args.mode, args.repeats, args.warmup)]
    print(f"\n{device_name(device)}, mode {args.mode}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads\n\n{table(rows)}")
    if args.step_times:
        record_step_times(rows, device)


if __name__ == "__main__":
    main()
