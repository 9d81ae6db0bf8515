#!/usr/bin/env bash
# GPU session, part 2 of issue #10/#11: CUDA checks, benchmarks, and one tiny stored paper run end to end.
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl > $OUT/pip.log 2>&1 || { tail -5 $OUT/pip.log; exit 1; }
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HEBM_GIT_COMMIT=${COMMIT} HEBM_GIT_DIRTY=0
python3 -m hebm_lib data fetch fmnist mnist5k
timeout 200 python3 benchmarks/gpu_check.py > $OUT/check.json 2> $OUT/check.err; echo "check rc=$?"
cat $OUT/check.json; tail -4 $OUT/check.err
for c in svhn_ours fmnist_ours; do
  timeout 120 python3 benchmarks/train_step.py --device cuda --config $c --modes eager,graph >> $OUT/bench.jsonl 2>> $OUT/bench.err
done
timeout 60 python3 benchmarks/train_step.py --device cuda --config fmnist_vlae --modes eager,graph --no-reference >> $OUT/bench.jsonl 2>> $OUT/bench.err
cat $OUT/bench.jsonl; tail -4 $OUT/bench.err
# iterations per second of one model in graph mode, and of four side by side
timeout 100 python3 -m hebm_lib train fmnist_ours --profile paper --device cuda -o train.iterations=3000 > $OUT/one.log 2>&1
tail -c 400 $OUT/one.log
for s in 1 2 3 4; do timeout 150 python3 -m hebm_lib train fmnist_ours --profile paper --device cuda --seed $s -o train.iterations=3000 > $OUT/par$s.log 2>&1 & done; wait
tail -c 300 $OUT/par1.log
timeout 200 python3 -m hebm_lib run tab1 --profile paper --device cuda --store -p 'datasets=[fmnist]' -p 'seeds=[0]' -p 'overrides={"*": {"train.iterations": 200}}' > $OUT/store.log 2>&1; echo "store rc=$?"; tail -5 $OUT/store.log
ls -la results/paper/ && cp results/paper/tab1.json $OUT/ 2>/dev/null
