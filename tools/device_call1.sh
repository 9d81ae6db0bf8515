#!/usr/bin/env bash
# First GPU session of issue #10: CUDA-path checks, benchmarks, and the top-layer sweep (fmnist, paper nets).
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
nvidia-smi -L
git rev-parse HEAD 2>/dev/null || true
MODE=eager
timeout 180 python3 benchmarks/gpu_check.py > $OUT/check.json 2> $OUT/check.err && MODE=graph
cat $OUT/check.json; tail -5 $OUT/check.err
for c in svhn_ours fmnist_ours fmnist_vlae; do
  timeout 150 python3 benchmarks/train_step.py --device cuda --config $c --modes eager,$MODE >> $OUT/bench.jsonl 2>> $OUT/bench.err
done
cat $OUT/bench.jsonl; tail -3 $OUT/bench.err
W='schedule={"kind": "warmup", "iterations": 2000, "shape": "exp"}'
S=${SWEEP_SECONDS:-230}
sweep() { timeout $((S+150)) python3 tools/top_layer_sweep.py "$@" --seconds $S --every 4000 --mode $MODE >> $OUT/sweep.jsonl 2>> $OUT/sweep.err; }
sweep fmnist_ours --label ours_authors &
sweep fmnist_ours --label ours_wd0 -o train.weight_decay=0 &
sweep fmnist_ours --label ours_wd0_warm -o train.weight_decay=0 -o "$W" &
sweep fmnist_vlae --label vlae_authors &
sweep fmnist_vlae --label vlae_wd0 -o train.weight_decay=0 &
sweep fmnist_vlae --label vlae_wd0_warm -o train.weight_decay=0 -o "$W" &
wait
cat $OUT/sweep.jsonl; tail -5 $OUT/sweep.err
