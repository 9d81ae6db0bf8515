"""Forward + backward of every convolution of the benchmark model (the authors' SVHN HS nets, batch 100),
each alone, in fp32: the floor under the training step, whatever else is made faster.

Prints one JSON line per layer and a summary line with the sum over the model's 18 convolutions and
its ratio to the step target of ``train_step.py``.

    .venv/bin/python benchmarks/conv_layers.py [--repeats 20]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

STEP_TARGET_MS = 150.0
N = 100
# (net, kind, c_in, c_out, kernel, stride, input side, needs input grad, copies in the model)
LAYERS = [
    ("encoder r1 / z1 head", "conv", 3, 32, 4, 2, 32, False, 2),
    ("encoder r1 / z1 head", "conv", 32, 32, 3, 1, 16, True, 2),
    ("encoder r2 / z2 head", "conv", 32, 64, 4, 2, 16, True, 2),
    ("encoder r2 / z2 head", "conv", 64, 64, 3, 1, 8, True, 2),
    ("encoder r3 / z3 head", "conv", 64, 64, 4, 2, 8, True, 2),
    ("encoder r3 / z3 head", "conv", 64, 64, 3, 1, 4, True, 2),
    ("generator 4 -> 8", "convT", 64, 64, 4, 2, 4, True, 1),
    ("generator 8", "conv", 64, 64, 3, 1, 8, True, 1),
    ("generator 8 -> 16", "convT", 64, 64, 4, 2, 8, True, 1),
    ("generator 16", "conv", 64, 32, 3, 1, 16, True, 1),
    ("generator 16 -> 32", "convT", 32, 32, 4, 2, 16, True, 1),
    ("generator image", "convT", 32, 3, 3, 1, 32, True, 1),
]


def time_layer(kind, cin, cout, k, s, side, need_input_grad, layout, repeats):
    x = torch.randn(N, cin, side, side)
    w = torch.randn(*((cout, cin) if kind == "conv" else (cin, cout)), k, k) * 0.05
    if layout == "nhwc":
        x, w = x.contiguous(memory_format=torch.channels_last), w.contiguous(memory_format=torch.channels_last)
    x.requires_grad_(need_input_grad)
    w.requires_grad_(True)
    f = F.conv2d if kind == "conv" else F.conv_transpose2d
    pad = 1
    g = torch.randn_like(f(x, w, None, s, pad))

    def once():
        f(x, w, None, s, pad).backward(g)
    for _ in range(3):
        once()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        once()
        times.append(1000 * (time.perf_counter() - t0))
    out_side = g.shape[-1]
    macs = N * cin * cout * k * k * (side if kind == "convT" else out_side) ** 2
    return statistics.median(times), 2 * macs * (3 if need_input_grad else 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    total_ms, total_flop = 0.0, 0.0
    for net, kind, cin, cout, k, s, side, need, copies in LAYERS:
        ms = {lay: time_layer(kind, cin, cout, k, s, side, need, lay, args.repeats)[0] for lay in ("nhwc", "nchw")}
        flop = time_layer(kind, cin, cout, k, s, side, need, "nhwc", 1)[1]
        best = min(ms.values())
        total_ms += copies * best
        total_flop += copies * flop
        print(json.dumps({"layer": f"{net}: {kind} {cin}->{cout} k{k} s{s} at {side}", "copies": copies,
                          "nhwc_ms": round(ms["nhwc"], 2), "nchw_ms": round(ms["nchw"], 2),
                          "gflops_per_s": round(flop / best / 1e6, 1)}))
    print(json.dumps({"convs_alone_ms": round(total_ms, 1), "conv_gflop": round(total_flop / 1e9, 2),
                      "mean_gflops_per_s": round(total_flop / total_ms / 1e6, 1),
                      "convs_alone_over_step_target": round(total_ms / STEP_TARGET_MS, 2),
                      "threads": torch.get_num_threads(), "torch": torch.__version__}))


if __name__ == "__main__":
    main()
