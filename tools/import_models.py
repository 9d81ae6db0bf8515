"""Put models trained elsewhere (tools/gpu_train_models.sh: <cache folder>.pt files) into the model cache.

    python tools/import_models.py FOLDER    # where the device tool put the <cache folder>.pt files

(and the <cache folder>~progress-<iteration>.pt files, the weights kept part-way, when it brought them)

A file is accepted only if its name is a cache folder name and its saved info carries the same key, so a
notebook loads it exactly as if it had been trained here (same config, seed, data, TRAINING_VERSION).
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch

from hebm_lib import paths


def main(src: str) -> int:
    models = paths.cache_dir() / "models"
    for f in sorted(Path(src).glob("*-seed*-*.pt")):
        if "~" in f.name:   # a progress file, below
            continue
        key = f.stem.rsplit("-", 1)[-1]
        info = torch.load(f, map_location="cpu", weights_only=False)["info"]
        if info.get("key") != key:
            print(f"{f.name}: its saved key {info.get('key')} differs from its name; skipped")
            continue
        dest = models / f.stem / "model.pt"
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest)
        print(f"{f.stem}: {info['iterations']} iterations on {info.get('device_name')} -> {dest}")
    # the weights kept part-way (PROGRESS=1): beside the model.pt of their folder, never without one
    for f in sorted(Path(src).glob("*-seed*-*~progress-*.pt")):
        folder, name = f.stem.split("~")
        if not (models / folder / "model.pt").exists():
            print(f"{f.name}: no model {folder} in the cache; skipped")
            continue
        shutil.copy2(f, models / folder / f"{name}.pt")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
