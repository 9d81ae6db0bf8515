"""Training: Algorithm 1 (trainer), the KL schedules, data parallelism, and the model cache.

    trainer      one iteration of Algorithm 1, capture-safe; eager / compiled / CUDA-graph modes; train()
    schedules    KL weight over training: constant, warm-up, pro-VLAE's progressive steps, REWO / GECO
    distributed  torchrun data parallelism
    ensemble     many models (seeds, same-shaped configs) in one vmapped training step
    cache        train_or_load(_many): the trained model of (config, seed, data, code), trained once
"""
from .cache import (HISTORY_FILE, TrainedModel, history_csv, run_dir_for, run_key, train_or_load, train_or_load_many,
                    training_mode)
from .ensemble import EnsembleTrainer, Member, ensemble_key, ensemble_unsupported, train_ensemble
from .trainer import MODES, Trainer, TrainingDiverged, TrainingStopped, epoch_permutation, stop_at, train

__all__ = ["HISTORY_FILE", "history_csv", "MODES", "Trainer", "TrainingDiverged", "TrainingStopped", "stop_at",
           "TrainedModel", "epoch_permutation", "run_dir_for", "run_key", "train", "train_or_load", "train_or_load_many",
           "training_mode", "EnsembleTrainer", "Member", "ensemble_key", "ensemble_unsupported", "train_ensemble"]
