"""How far CPU rounding alone moves the pinned training statistics: the numbers behind the tolerances of
tests/test_train.py::test_training_numerics_are_pinned and tests/test_objectives.py.

Another machine of CI's kind differs from the one that pinned the numbers in its instruction set (AVX-512 or
AVX2), in how MKL and oneDNN dispatch on it (Intel or AMD) and in its thread count. Each of those is a switch
here, so one machine can run the pinned runs the way several kinds of CPU would:

    ATEN_CPU_CAPABILITY       PyTorch's own vectorised kernels (default / avx2 / avx512)
    MKL_ENABLE_INSTRUCTIONS   MKL's matmuls (SSE4_2 / AVX2 / AVX512)
    ONEDNN_MAX_CPU_ISA        oneDNN's convolutions (SSE41 / AVX2 / AVX512_CORE)
    threads                   how sums are split

Prints, per pinned quantity, the largest relative deviation from the default setting over all the settings
(JSON), for the float64 runs that are pinned (--float32: the same runs in float32, to see why they are not).
Run: python tools/rounding_spread.py [--float32]  (a few minutes).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# the CPU kinds imitated: name -> environment (threads via HEBM_SPREAD_THREADS)
SETTINGS = {
    "default": {},
    "threads-1": {"HEBM_SPREAD_THREADS": "1"},
    "threads-4": {"HEBM_SPREAD_THREADS": "4"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "avx2-threads-1": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2",
                       "ONEDNN_MAX_CPU_ISA": "AVX2", "HEBM_SPREAD_THREADS": "1"},
    "sse": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2", "ONEDNN_MAX_CPU_ISA": "SSE41"},
    "mkl-compatible": {"MKL_CBWR": "COMPATIBLE"},
}

CHILD = r"""
import json, os, sys, tempfile, torch
sys.path.insert(0, sys.argv[1] + "/tools")
if os.environ.get("HEBM_SPREAD_THREADS"):
    torch.set_num_threads(int(os.environ["HEBM_SPREAD_THREADS"]))
import contextlib, smoke_losses
if os.environ.get("HEBM_SPREAD_FLOAT32"):
    smoke_losses.float64 = contextlib.nullcontext
out = {f"pinned/{name}/{k}": v for name, nets in smoke_losses.PINNED_NETS.items()
       for k, v in smoke_losses.pinned_run(nets).items()}
for name, over in smoke_losses.BRANCHES.items():
    for it, row in enumerate(smoke_losses.losses(name, over)):
        for j, v in enumerate(row):
            out[f"objectives/{name}/{it}/{j}"] = v
print(json.dumps(out))
"""


def measure(env: dict, float32: bool) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(ROOT)], capture_output=True, text=True,
                          env={**os.environ, **env, **({"HEBM_SPREAD_FLOAT32": "1"} if float32 else {})},
                          check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def relative(a: float, b: float) -> float:
    return abs(a - b) / max(abs(b), 1e-12)


def main() -> None:
    float32 = "--float32" in sys.argv[1:]
    runs = {name: measure(env, float32) for name, env in SETTINGS.items()}
    base = runs["default"]
    worst: dict[str, dict] = {}
    for name, got in runs.items():
        for key, v in got.items():
            group = key.split("/")[0] if key.startswith("objectives") else key
            d = relative(v, base[key])
            if d > worst.get(group, {"rel": -1})["rel"]:
                worst[group] = {"rel": d, "abs": abs(v - base[key]), "setting": name, "where": key}
    print(json.dumps(worst, indent=1))


if __name__ == "__main__":
    main()
