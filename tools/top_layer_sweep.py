"""Why does the top layer stay unused? Train one variant of a Table 1 config for a time budget and
record, every ``--every`` iterations, the KL of each layer (on 1,000 test images) and the latent
classifier's accuracy per layer. One JSON line per milestone goes to stdout.

    python tools/top_layer_sweep.py fmnist_ours --label wd0 -o train.weight_decay=0 --seconds 300

Run several variants side by side (one process each) and compare; the Table 1 page reports what
these runs found.
"""
from __future__ import annotations

import argparse
import json
import time

import torch
import yaml

from hebm_lib import data
from hebm_lib.configs import get_config
from hebm_lib.distributions import kl_to_standard_per_dim, to_unit_range
from hebm_lib.evaluation import metrics
from hebm_lib.training import train
from hebm_lib.training.cache import training_mode


class Budget(Exception):
    pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("config")
    ap.add_argument("--label", required=True)
    ap.add_argument("--profile", default="paper")
    ap.add_argument("-o", "--override", action="append", default=[])
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--every", type=int, default=5000)
    ap.add_argument("--mode", default="auto", help="eager | compiled | graph; auto: a CUDA graph on a GPU, else eager")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=20, help="latent classifier epochs")
    ap.add_argument("--run-dir", default="build/sweep")   # inside the ignored build folder
    args = ap.parse_args()
    overrides = {k: yaml.safe_load(v) for k, v in (o.split("=", 1) for o in args.override)}
    cfg = get_config(args.config, args.profile, overrides)
    train_set = data.training_set(cfg.data)
    clf_train = data.load(cfg.data.name, "train").subset(20_000)
    test = data.load(cfg.data.name, "test")
    x_kl = to_unit_range(test.images[:1000])
    start = time.perf_counter()

    def milestone(trainer, final=False):
        m = trainer.model
        m.eval()
        with torch.no_grad():
            mu, lv = m.encode(x_kl.to(trainer.device))
            kl = [round(v.sum(1).mean().item(), 3) for v in m.split(kl_to_standard_per_dim(mu, lv))]
        acc = metrics.per_layer_accuracy(m, clf_train, test, args.epochs, args.seed)
        m.train()
        print(json.dumps({"label": args.label, "iteration": trainer.iteration, "final": final,
                          "seconds": round(time.perf_counter() - start, 1), "kl_layers": kl,
                          "accuracy": [round(100 * a, 1) for a in acc], "overrides": overrides}), flush=True)

    def callback(trainer, stats):
        if trainer.iteration % args.every == 0:
            milestone(trainer)
        if time.perf_counter() - start > args.seconds:
            milestone(trainer, final=True)
            raise Budget

    run_dir = f"{args.run_dir}/{args.label}"
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        trainer = train(cfg, args.seed, run_dir, train_set.images, device, progress=False, callback=callback,
                        mode=training_mode(cfg, device, args.mode))
    except Budget:
        return
    milestone(trainer, final=True)


if __name__ == "__main__":
    main()
