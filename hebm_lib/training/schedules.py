"""The weight of the KL term over training, one object per schedule, with the state a resume needs.

    loss = reconstruction + w_t * [KL(q || N(0, I)) - f(z+)],  KL per latent dim weighted by d_t

* :class:`Constant`: w_t = 1, d_t = beta (the ELBO at beta = 1, beta-VAE above it).
* :class:`Warmup`: w_t rising from 0 to 1 (linear, or VLAE's 1 - exp(-t / T)).
* :class:`ProgressiveSchedule`: pro-VLAE; layers become active top-down, each fading in, d_t = beta on
  active layers and gamma on the others; it also sets the model's layer gates.
* :class:`ConstrainedSchedule`: w_t = beta from the reconstruction constraint (REWO or GECO, VHP
  paper Sec. 2); needs the batch's reconstruction error on the host, so it is not capture-safe.
"""
from __future__ import annotations

import math

import torch

from ..configs import Constrained, ConstantKL, KLWarmup, Progressive
from .distributed import rank_and_world


class Schedule:
    # the KL weight of an iteration depends on its own batch's forward pass (batch_kl_weight; a host read,
    # so not capture-safe); otherwise kl_weight(it) is known before the step
    reads_batch = False

    def kl_weight(self, it: int, c_batch: float | None = None) -> float:
        return 1.0

    def batch_kl_weight(self, it: int, model, terms, x: torch.Tensor) -> float:
        """The KL weight of iteration ``it`` from its batch's terms (schedules with ``reads_batch``)."""
        raise NotImplementedError(f"{type(self).__name__} sets its KL weight before the step")

    def dim_weights(self, it: int, model, device) -> torch.Tensor | None:
        """Per-dim KL weights for iteration ``it`` (None = all 1); may set the model's layer gates."""
        return None

    def freezable(self, model) -> list:
        """The parameters this schedule may hold back from an update (none by default)."""
        return []

    def holds_back(self) -> bool:
        """Whether ``freezable`` is held back in this iteration's update (asked after its KL weight is set)."""
        return False

    def stage(self, it: int) -> int:
        """pro-VLAE step (1..L) of iteration ``it``; 0 for the other schedules."""
        return 0

    def files_due(self, it: int, model) -> dict[str, dict]:
        """Files the schedule keeps beside the checkpoint after iteration ``it`` (name -> contents)."""
        return {}

    def logged_state(self) -> dict:
        """What the training history records of the schedule's state."""
        return {}

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class Constant(Schedule):
    def __init__(self, cfg: ConstantKL, n_dims: int):
        self.beta, self.n_dims = cfg.beta, n_dims

    def dim_weights(self, it, model, device):
        return None if self.beta == 1 else torch.full((self.n_dims,), float(self.beta), device=device)


class Warmup(Schedule):
    def __init__(self, cfg: KLWarmup):
        self.cfg = cfg

    def kl_weight(self, it, c_batch=None):
        t, T = it + 1, self.cfg.iterations
        return min(1.0, t / T) if self.cfg.shape == "linear" else 1.0 - math.exp(-t / T)


class ProgressiveSchedule(Schedule):
    """At step s the top s layers are active (KL weight beta), the others are cut from x (gate 0) and
    get gamma = pre_kl; the layer added at step s fades in over ``fade_in`` iterations."""

    def __init__(self, cfg: Progressive, latent_dims: tuple[int, ...], iterations: int, capture: bool = False):
        self.cfg, self.dims, self.per_stage, self.iterations = cfg, latent_dims, iterations // cfg.steps, iterations
        self.capture = capture   # a CUDA graph: the gates are applied always, since they change under replay

    def stage(self, it):
        return min(self.cfg.steps, it // self.per_stage + 1)

    def gates(self, it: int) -> tuple[list[float], list[float], list[float]]:
        """(generator gates, encoder gates, per-dim KL weights) at iteration ``it``, bottom layer first."""
        c, L, s = self.cfg, len(self.dims), self.stage(it)
        alpha = min(1.0, (it - (s - 1) * self.per_stage + 1) / c.fade_in) if c.fade_in and s > 1 else 1.0
        gen, enc, weights = [], [], []
        for i in range(L):                       # bottom first; active = the top s layers
            active, new = i >= L - s, i == L - s and s > 1
            gen.append(alpha if new else float(active))
            enc.append(alpha if new else 1.0)
            weights += [c.beta if active else c.pre_kl] * self.dims[i]
        return gen, enc, weights

    def dim_weights(self, it, model, device):
        gen, enc, weights = self.gates(it)
        model.set_layer_gates(gen, enc, always_apply=self.capture)
        return torch.tensor(weights, device=device)

    def files_due(self, it, model):
        """The model at the end of each step (stage-s.pt), which pro-VLAE's per-step results read."""
        if it % self.per_stage and it != self.iterations:
            return {}
        s = self.stage(it - 1)
        return {f"stage-{s}.pt": {"model": model.state_dict(), "iteration": it, "stage": s,
                                  "gates": (model.generator.gates.tolist(), model.encoder.gates.tolist())}}


class ConstrainedSchedule(Schedule):
    """One step of the VHP paper's beta schedule per iteration from the batch's constraint value C:
    smooth C, then REWO (Alg. 1 with Eqs. 11-12: beta is held in the initial phase, which ends the
    first time C_t < kappa^2; the prior's nets are not trained in it) or GECO (Eq. 5 for beta = 1 / lambda)."""
    reads_batch = True

    def __init__(self, cfg: Constrained):
        self.cfg = cfg
        self.state = {"beta": cfg.beta_init, "c_hat": None, "initial_phase": True}

    def kl_weight(self, it, c_batch=None):
        c, st = self.cfg, self.state
        c_hat = c_batch if st["c_hat"] is None else (1 - c.ema) * c_batch + c.ema * st["c_hat"]
        delta = c_hat - c.kappa ** 2
        if c.method == "rewo":
            if delta < 0:
                st["initial_phase"] = False
            if not st["initial_phase"]:
                f = -1.0 if delta > 0 else math.tanh(c.tau * (st["beta"] - 1.0))
                # the paper imposes beta in (0, 1]; one multiplicative step can overshoot 1 when
                # C_t is far below kappa^2, so the step is capped there
                st["beta"] = min(1.0, st["beta"] * math.exp(c.lr * f * delta))
        else:  # geco: lambda grows while the constraint is violated, so beta = 1 / lambda shrinks
            st["beta"] *= math.exp(-c.lr * delta)
        st["c_hat"] = c_hat
        return st["beta"]

    def batch_kl_weight(self, it, model, terms, x):
        """beta after this batch's C (the model's reconstruction_constraint), averaged over ranks."""
        c_batch = model.reconstruction_constraint(terms, x).clone()
        if rank_and_world()[1] > 1:
            torch.distributed.all_reduce(c_batch)
            c_batch /= rank_and_world()[1]
        return self.kl_weight(it, c_batch.item())

    def logged_state(self):
        return {"beta": self.state["beta"], "c_hat": self.state["c_hat"]}

    def freezable(self, model):
        return list(model.prior_parameters()) if self.cfg.method == "rewo" else []

    def holds_back(self):
        return self.cfg.method == "rewo" and self.state["initial_phase"]   # REWO's initial phase: theta, phi only

    def state_dict(self):
        return dict(self.state)

    def load_state_dict(self, state):
        self.state = dict(state)


def build_schedule(cfg, latent_dims: tuple[int, ...], iterations: int, capture: bool = False) -> Schedule:
    """The schedule of config ``cfg``; ``capture``: the step is replayed from a CUDA graph."""
    if isinstance(cfg, ConstantKL):
        return Constant(cfg, sum(latent_dims))
    if isinstance(cfg, KLWarmup):
        return Warmup(cfg)
    if isinstance(cfg, Progressive):
        return ProgressiveSchedule(cfg, latent_dims, iterations, capture)
    return ConstrainedSchedule(cfg)
