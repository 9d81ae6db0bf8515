#!/usr/bin/env bash
# GPU session, part 3 (issues #10/#11): graph-mode checks, then the stored paper-profile runs of Table 1
# (Fashion-MNIST, Ours and VLAE, 3 seeds) and Figure 5 (MNIST-5k substitute, seed 0), N iterations each.
set -u
N=${N:-10000}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl > /tmp/pip.log 2>&1 || { tail -5 /tmp/pip.log; exit 1; }
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HEBM_GIT_COMMIT=${COMMIT} HEBM_GIT_DIRTY=0 OMP_NUM_THREADS=2
python3 -m hebm_lib data fetch fmnist mnist5k > /dev/null
MODE=eager
timeout 150 python3 benchmarks/gpu_check.py > $OUT/check.json 2> /tmp/check.err && MODE=graph
echo "mode $MODE"; cat $OUT/check.json; tail -3 /tmp/check.err
export HEBM_TRAIN_MODE=$MODE
T0=$(date +%s)
for s in 0 1 2; do for m in ours vlae; do
  python3 -m hebm_lib train fmnist_$m --profile paper --device cuda --mode $MODE --seed $s -o train.iterations=$N > /tmp/train_fmnist_${m}_$s.log 2>&1 &
done; done
for m in ours vlae; do
  python3 -m hebm_lib train mnist_$m --profile paper --device cuda --mode $MODE --seed 0 -o train.iterations=$N -o data.name=mnist5k > /tmp/train_mnist_${m}_0.log 2>&1 &
done
wait
echo "training took $(( $(date +%s) - T0 )) s"
for f in /tmp/train_*.log; do echo "$f: $(grep -o "'iterations': [0-9]*, 'train_wall_time_s': [0-9.]*" $f) $(grep -o "kl_layers': \[[^]]*\]" $f | tail -1)"; tail -2 $f | grep -i error; done | tee $OUT/train.log
O='{"*": {"train.iterations": '$N'}}'
timeout 240 python3 -m hebm_lib run tab1 --profile paper --device cuda --store -p 'datasets=[fmnist]' -p "overrides=$O" > /tmp/store_tab1.log 2>&1; echo "tab1 rc=$?"
OF='{"*": {"train.iterations": '$N'}, "mnist_ours": {"data.name": "mnist5k"}, "mnist_vlae": {"data.name": "mnist5k"}}'
timeout 150 python3 -m hebm_lib run fig5 --profile paper --device cuda --store -p 'seeds=[0]' -p "overrides=$OF" > /tmp/store_fig5.log 2>&1; echo "fig5 rc=$?"
tail -3 /tmp/store_tab1.log /tmp/store_fig5.log | tee $OUT/store.log
cp results/paper/* $OUT/ 2>/dev/null; ls -la $OUT
