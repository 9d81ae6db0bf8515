"""The few lines every artefact notebook shares: parameters -> resolved run, banner, watermark."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from . import data as data_lib
from . import paths
from .configs import PROFILES, ExperimentConfig, get_config
from .manifest import get as get_artefact
from .results import Result, profile_banner, write
from .train import TrainedModel, resolve_device, train_or_load

DEFAULT_SEEDS = {"smoke": [0], "cpu": [0, 1], "paper": [0, 1, 2]}


@dataclass
class NotebookRun:
    artefact: str
    profile: str
    device: str
    seeds: list[int]
    data_dir: Path
    out_dir: Path | None
    cache_dir: Path
    overrides: dict
    result: Result = None
    started: float = field(default_factory=time.perf_counter)

    def config(self, name: str, extra: dict | None = None) -> ExperimentConfig:
        """Config ``name`` at this profile with the user's overrides, then ``extra`` (ablations)."""
        cfg = get_config(name, self.profile,
                         self.overrides.get("*", {}) | self.overrides.get(name, {}) | (extra or {}))
        self.result.add_config(cfg)
        return cfg

    def model(self, cfg: ExperimentConfig, seed: int, train_set=None) -> TrainedModel:
        # no progress bar: papermill would keep every refresh of it in the page
        tm = train_or_load(cfg, seed, self.device, self.data_dir, self.cache_dir, progress=False,
                           train_set=train_set)
        how = "loaded from cache" if tm.info["cached"] else f"trained in {tm.info['train_wall_time_s']:.0f} s"
        print(f"{cfg.name} seed {seed}: {how} ({tm.info['iterations']} iterations on {tm.info['dataset']}, "
              f"run {tm.run_dir.name})")
        return tm

    def load(self, name: str, split: str) -> data_lib.ImageSet:
        ds = data_lib.load(name, split, self.data_dir)
        sub = ds.spec.substitute_for
        label = ds.spec.display_name + (f" (substitute for {sub})" if sub else "")
        if label not in self.result.datasets:
            self.result.datasets.append(label)
        return ds

    def watermark(self, fig) -> None:
        """Stamp the profile on a figure; smoke figures get a large diagonal warning."""
        if self.profile == "smoke":
            fig.text(0.5, 0.5, "SMOKE TEST\nnot a paper result", ha="center", va="center", fontsize=28,
                     color="red", alpha=0.35, rotation=20, transform=fig.transFigure)
        fig.text(0.995, 0.005, f"profile: {self.profile}", ha="right", va="bottom", fontsize=8, color="gray")

    def finish(self) -> Path:
        self.result.wall_time_s = round(time.perf_counter() - self.started, 1)
        path = write(self.result, self.out_dir)
        print(f"results written to {path}")
        return path


def setup(artefact: str, profile: str, device: str = "auto", seeds=None, data_dir=None, out_dir=None,
          cache_dir=None, overrides: dict | None = None, default_seeds: dict | None = None) -> NotebookRun:
    """``default_seeds`` (profile -> seeds) replaces DEFAULT_SEEDS for artefacts that need more seeds."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    art = get_artefact(artefact)
    seeds = list((DEFAULT_SEEDS | (default_seeds or {}))[profile] if seeds is None else seeds)
    if not seeds or any(not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of non-negative integers, got {seeds!r}")
    dev = str(resolve_device(device))
    run = NotebookRun(artefact, profile, dev, seeds, paths.data_dir(data_dir),
                      Path(out_dir) if out_dir else None, paths.cache_dir(cache_dir), dict(overrides or {}))
    run.result = Result(artefact=artefact, title=f"{art.label}: {art.title}", profile=profile, datasets=[],
                        seeds=seeds, device=dev)
    print(profile_banner(profile))
    print(f"artefact {artefact} ({art.label}) | profile {profile} | device {dev} | seeds {seeds}")
    return run
