"""What training an artefact's models costs, from the step times measured per config and device
(benchmarks/step_times.json): the figure each page prints and the campaign's plan adds up."""
from __future__ import annotations

import json

from .. import paths
from ..configs import ExperimentConfig, get_config
from . import manifest

STEP_TIMES = paths.STEP_TIMES_FILE


def ms_per_iteration(cfg: ExperimentConfig, device_type: str) -> tuple[float, str]:
    """Measured ms per iteration for this config on that device, else the nearest measured one."""
    table = json.loads(STEP_TIMES.read_text()).get(device_type, {})
    if cfg.name in table:
        return table[cfg.name], "measured"
    proxy = "fmnist_ours" if cfg.prior is not None else "fmnist_vlae"
    return table.get(proxy, float("nan")), f"as {proxy}"


def gpu_hours(artefact: str) -> float:
    """The GPU time (hours) of training the artefact's `paper` models from scratch, each model once."""
    art = manifest.get(artefact)
    models = {}
    for name, extra in art.models("paper"):
        cfg = get_config(name, "paper", extra)
        models.update({(cfg.hash, seed): cfg for seed in art.default_seeds("paper")})
    return sum(cfg.train.iterations * ms_per_iteration(cfg, "cuda")[0] for cfg in models.values()) / 1000 / 3600
