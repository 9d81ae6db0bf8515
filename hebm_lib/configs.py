"""One named config per model x dataset, resolved at one of three profiles.

    get_config("mnist_ours", "cpu")                         # resolved, frozen
    get_config("mnist_ours", "cpu", {"train.iterations": 10})  # validated overrides

* ``paper``: the paper's hyperparameters where it gives them, else the authors' SVHN code
  (``official-code-facts.md``); meant for a GPU.
* ``cpu``: what ``make book`` runs on a 2-core machine: smaller nets, fewer iterations, and a
  larger EBM learning rate so the prior moves within a few thousand steps (stated on every page).
* ``smoke``: seconds, for the tests. Its numbers mean nothing.
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

PROFILES = ("smoke", "cpu", "paper")


@dataclass(frozen=True)
class DataConfig:
    name: str                      # key of hebm_lib.data.DATASETS
    split: str = "train"           # split the model is trained on
    n_train: int | None = None     # first n of a fixed shuffle of that split; None = all
    held_out: int | None = None    # anomaly protocol (Table 3): train on the 80% split without this class


@dataclass(frozen=True)
class ModelConfig:
    image_shape: tuple[int, int, int]
    latent_dims: tuple[int, ...]   # bottom (z_1) -> top (z_L)
    channels: tuple[int, ...]      # conv channels per resolution level (each level halves H, W)
    top_hidden: int                # width of the dense path / top MLP
    arch: str = "conv-ladder"      # "conv-ladder" (authors' SVHN code), "dense-ladder" (VLAE's MNIST nets),
                                   # "conditional" (top-down p(z_i | z_{i+1}): the HVAE baseline),
                                   # "vhp" (MLP VAE with the variational hierarchical prior, hebm_lib.vhp)
    injection: str = "concat"      # how z_i enters the generator: "concat" (Eq. 5) or "add" (authors' SVHN HS code)
    prior: str = "ebm"             # "ebm" (joint EBM prior, Eq. 3) or "gaussian" (VLAE)
    ebm_hidden: int = 50           # nef
    ebm_layers: int = 4            # hidden layers of f_alpha
    ebm_spectral_norm: bool = True
    sigma: float = 0.408           # observation noise std; authors' Gfactor g means sigma^2 = 1/(2g)
    zeta_dim: int = 0              # VHP (arch "vhp"): dim of the hierarchical prior's latent zeta
    mlp_layers: int = 4            # VHP: hidden layers of each of its four MLPs (width top_hidden)
    iw_samples: int = 16           # VHP: K, importance samples of zeta in the bound on log p(z)


@dataclass(frozen=True)
class TrainConfig:
    iterations: int
    batch_size: int = 100
    lr_gen: float = 3e-4           # generator + inference (one Adam, as in the authors' code)
    lr_ebm: float = 2e-6
    betas: tuple[float, float] = (0.0, 0.9)
    weight_decay: float = 5e-4     # on generator + inference only
    lr_decay_per_epoch: float = 0.998
    langevin_steps: int = 60       # K
    langevin_step_size: float = 0.4  # s
    kl: str = "analytic"           # KL(q || N(0,I)) term: "analytic" or "mc" (authors' single-sample estimate)
    kl_warmup: int = 0             # KL(q || p) weight rises linearly from 0 to 1 over this many iterations
    amp: str = "off"               # "off" | "bf16" | "fp16" (CUDA); Langevin always runs in fp32
    checkpoint_every: int = 500
    snapshot_epochs: int = 0       # keep the weights at the end of each of the last N epochs (Table 3 averages them)
    beta: float = 1.0              # KL weight of active layers (beta-VAE, pro-VLAE)
    progressive_steps: int = 0     # pro-VLAE: 0 = off, else L steps of iterations / L each, layers added top-down
    pre_kl: float = 0.0            # pro-VLAE's gamma: KL weight on layers not yet active
    fade_in: int = 0               # pro-VLAE: iterations over which a new layer's paths ramp from 0 to 1
    max_energy_gap: float = 1e3    # |mean f(z+) - mean f(z-)| above this is divergence
    # constrained optimisation of the KL weight beta (VHP paper, Sec. 2): "none" (beta = 1 or kl_warmup),
    # "rewo" (its Algorithm 1) or "geco" (Rezende & Viola's update, Eq. 5). The constraint is on
    # C = per-pixel squared error with pixels in [0, 1], smoothed as C_t = (1 - alpha) C_batch + alpha C_{t-1}.
    constraint: str = "none"
    kappa: float = 0.02            # the constraint is C_t <= kappa^2
    constraint_lr: float = 1.0     # nu
    constraint_ema: float = 0.99   # alpha
    rewo_tau: float = 3.0          # tau, the slope that brings beta back to 1 once the constraint holds
    beta_init: float = 1.0         # beta at iteration 0 under a constraint (REWO: << 1)


@dataclass(frozen=True)
class ExperimentConfig:
    name: str
    profile: str
    description: str
    data: DataConfig
    model: ModelConfig
    train: TrainConfig

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def hash(self) -> str:
        """Hash of everything that changes what is trained (not the prose description)."""
        d = self.to_dict()
        d.pop("description")
        d.pop("name")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    @property
    def n_layers(self) -> int:
        return len(self.model.latent_dims)


# ---------------------------------------------------------------------------------------------
# Paper-profile bases. MNIST/F-MNIST: L = 3 with 2-d codes on VLAE's MNIST ladder (the paper reuses
# VLAE's nets for Table 1): conv 64 -> 128, dense width 1024. SVHN: the authors' HS config.
_GRAY28 = dict(image_shape=(1, 28, 28), latent_dims=(2, 2, 2), channels=(64, 128), top_hidden=1024,
               arch="dense-ladder")
_SVHN_HS = dict(image_shape=(3, 32, 32), latent_dims=(2, 2, 2, 10), channels=(32, 64, 64),
                top_hidden=256, injection="add")
# MNIST/F-MNIST training length is not given by the paper; 100 epochs as in the authors' SVHN HS run.
_EPOCHS_100 = {"mnist": 60_000, "fmnist": 60_000, "svhn": 531_100}

_BASES: dict[str, dict[str, Any]] = {}
for _ds, _arch, _desc in [
    ("mnist", _GRAY28, "MNIST"),
    ("fmnist", _GRAY28, "Fashion-MNIST"),
    ("svhn", _SVHN_HS, "SVHN (train on 'extra', as the authors' code)"),
]:
    for _model, _prior in [("ours", "ebm"), ("vlae", "gaussian")]:
        _BASES[f"{_ds}_{_model}"] = dict(
            description=f"{'Joint EBM prior (ours)' if _prior == 'ebm' else 'VLAE (same nets, N(0,I) prior)'} on {_desc}",
            data=dict(name=_ds, split="extra" if _ds == "svhn" else "train"),
            model=dict(_arch, prior=_prior),
            train=dict(iterations=_EPOCHS_100[_ds]),
        )

# Single-layer baselines on the same nets (issue #3): a VAE (N(0, I) prior) and LEBM (Pang et al. 2020:
# one latent group under the EBM prior), with as many latent dimensions as Ours has in total.
for _ds, _desc in [("mnist", "MNIST"), ("fmnist", "Fashion-MNIST")]:
    for _model, _prior, _what in [("vae", "gaussian", "VAE (one latent layer, N(0,I) prior)"),
                                  ("lebm", "ebm", "LEBM (one latent layer, latent EBM prior)")]:
        _BASES[f"{_ds}_{_model}"] = dict(
            description=f"{_what} on {_desc}", data=dict(name=_ds, split="train"),
            model=dict(_GRAY28, latent_dims=(sum(_GRAY28["latent_dims"]),), prior=_prior),
            train=dict(iterations=_EPOCHS_100[_ds]))

    # LEBM's own energy net and sampler settings (baselines-facts.md, section 4): f = MLP 200-200
    # (LeakyReLU, the shipped grid's choice), no spectral norm, sigma 0.3, K = 60, s = 0.4, Adam (0.5, 0.999)
    # with lr_E 2e-5 and lr_G 1e-4. Inference stays the shared amortised encoder (LEBM itself uses
    # 20 steps of posterior Langevin), so that every row of Table 3 is scored the same way.
    _BASES[f"{_ds}_lebm"]["model"].update(ebm_hidden=200, ebm_layers=2, ebm_spectral_norm=False, sigma=0.3)
    _BASES[f"{_ds}_lebm"]["train"].update(lr_ebm=2e-5, lr_gen=1e-4, betas=(0.5, 0.999))
    _BASES[f"{_ds}_lebm"]["cpu"] = {"train.betas": (0.5, 0.999), "train.lr_ebm": 2e-4}

    _BASES[f"{_ds}_hvae"] = dict(
        description=f"Conditional hierarchical VAE (HVAE: top-down Gaussian p(z_i | z_{{i+1}})) on {_desc}",
        data=dict(name=_ds, split="train"), model=dict(_GRAY28, arch="conditional", prior="gaussian"),
        train=dict(iterations=_EPOCHS_100[_ds]))

# Table 3 (MNIST anomaly detection, one digit held out; the held-out digit is set per run with
# data.held_out): the four rows on the same nets. Training length is not given by MEG/LEBM/the paper:
# 100 epochs of the 80% split (50.4k images), keeping the last 10 epochs' weights, which the paper
# averages over. The `cpu` budget is short (60 models: 5 digits x 4 rows x 3 seeds).
for _model in ("ours", "vae", "lebm", "hvae"):
    _base = copy.deepcopy(_BASES[f"mnist_{_model}"])
    _base["description"] = _base["description"].replace("on MNIST", "on MNIST without one digit (Table 3)")
    _base["data"].update(held_out=1)
    _base["train"].update(iterations=50_400, snapshot_epochs=10)
    _base["cpu"] = dict(_base.get("cpu", {}), **{"train.iterations": 250, "train.batch_size": 64,
                                                 "train.kl_warmup": 125, "train.langevin_steps": 20,
                                                 "train.checkpoint_every": 125})
    _BASES[f"anomaly_{_model}"] = _base

# Disentanglement (issue #4, Supp. Fig. 1 / Table 2 and pro-VLAE's comparisons). Nets: our conv ladder
# at pro-VLAE's sizes (3 levels of 32 channels, dense 256; its nets add ELU + BatchNorm, ours use
# LeakyReLU, no normalisation), concatenated injection, the same for every model. `paper`: pro-VLAE's
# settings (Adam 5e-4, 15 epochs per step on 3DShapes with beta 8, 30 on dSprites with beta 1, gamma 0.5,
# fade-in 5000 iterations) on the real files; Ours takes the authors' EBM settings. pro-VLAE's
# Bernoulli likelihood is replaced by our Gaussian one (sigma below) for every model alike.
_FACTOR_NETS = {"shapes3d": dict(image_shape=(3, 64, 64), latent_dims=(3, 3, 3)),
                "dsprites": dict(image_shape=(1, 64, 64), latent_dims=(2, 2, 2))}
_FACTOR_TRAIN = {"shapes3d": dict(batch_size=100, beta=8.0, epochs_per_step=15, n=480_000),
                 "dsprites": dict(batch_size=128, beta=1.0, epochs_per_step=30, n=737_280)}
for _ds, _nets in _FACTOR_NETS.items():
    _tr = _FACTOR_TRAIN[_ds]
    _its = 3 * _tr["epochs_per_step"] * _tr["n"] // _tr["batch_size"]   # same length for every model
    _common_train = dict(iterations=_its, batch_size=_tr["batch_size"], lr_gen=5e-4, betas=(0.9, 0.999),
                         weight_decay=0.0, lr_decay_per_epoch=1.0)
    _model = dict(_nets, channels=(32, 32, 32), top_hidden=256, arch="conv-ladder", injection="concat")
    _name = {"shapes3d": "3DShapes", "dsprites": "dSprites"}[_ds]
    for _key, _desc, _m, _t in [
        ("ours", "Joint EBM prior (ours)", dict(prior="ebm"), {}),
        ("vlae", "VLAE (same nets, N(0,I) prior)", dict(prior="gaussian"), {}),
        ("provlae", "pro-VLAE (progressive VLAE, Li et al. 2020)", dict(prior="gaussian"),
         dict(progressive_steps=3, beta=_tr["beta"], pre_kl=0.5, fade_in=5000)),
        ("betavae", "beta-VAE (one layer with all the latent dims)",
         dict(prior="gaussian", latent_dims=(sum(_nets["latent_dims"]),)), dict(beta=_tr["beta"])),
    ]:
        _BASES[f"{_ds}_{_key}"] = dict(
            description=f"{_desc} on {_name}", data=dict(name=_ds, split="train"),
            model=dict(_model, **_m), train=dict(_common_train, **_t),
            own_profiles=True,  # cpu / smoke below are complete: no dataset-wide profile overrides
            cpu={"data.name": f"{_ds}_proc32", "data.n_train": 20_000,
                 "model.image_shape": (_nets["image_shape"][0], 32, 32), "model.channels": (8, 16, 16),
                 "model.top_hidden": 64, "train.iterations": 600, "train.batch_size": 32, "train.lr_gen": 1e-3,
                 "train.lr_ebm": 1e-3, "train.langevin_steps": 20, "train.checkpoint_every": 300,
                 **({"train.fade_in": 100} if _key == "provlae" else {})},
            smoke={"data.name": f"{_ds}_proc32", "data.n_train": 256, "model.image_shape": (_nets["image_shape"][0], 32, 32),
                   "model.channels": (4, 8, 8), "model.top_hidden": 16, "train.iterations": 6,
                   "train.batch_size": 32, "train.langevin_steps": 3, "model.ebm_hidden": 8, "model.ebm_layers": 2,
                   **({"train.fade_in": 1} if _key == "provlae" else {})})

# pro-VLAE's information-flow tables on MNIST (its Table 1 / Table 7: L = 3, z_dim = 3)
for _key, _t in (("vlae", {}), ("provlae", dict(progressive_steps=3, pre_kl=0.5, fade_in=5000))):
    _BASES[f"mnist_{_key}_z3"] = dict(
        description=f"{'pro-VLAE' if _t else 'VLAE'} with 3 layers of 3 dims on MNIST (pro-VLAE's Table 1)",
        data=dict(name="mnist", split="train"),
        model=dict(image_shape=(1, 28, 28), latent_dims=(3, 3, 3), channels=(32, 32), top_hidden=256,
                   arch="conv-ladder", injection="concat", prior="gaussian"),
        train=dict(iterations=3 * 15 * 600, batch_size=100, lr_gen=5e-4, betas=(0.9, 0.999), weight_decay=0.0,
                   lr_decay_per_epoch=1.0, **_t),
        own_profiles=True,
        cpu={"data.name": "mnist5k", "model.channels": (8, 16), "model.top_hidden": 64, "train.iterations": 600,
             "train.batch_size": 32, "train.lr_gen": 1e-3, "train.checkpoint_every": 300,
             **({"train.fade_in": 100} if _t else {})},
        smoke={"data.name": "mnist5k", "data.n_train": 256, "model.channels": (4, 8), "model.top_hidden": 16,
               "train.iterations": 6,
               "train.batch_size": 32, **({"train.fade_in": 1} if _t else {})})

# VHP + REWO (Klushyn et al. 2019) on the pendulum (its Sec. 4.1, Table 1; App. F): MLPs 4 x 256 ReLU,
# z and zeta 2-d (the paper gives "latents 2"; zeta's size is ours), Gaussian p(x | z), Adam 1e-4,
# kappa 0.02, nu 5, K 16. Not given: batch size, training length, alpha, tau, initial beta, sigma, the
# scale of C (we take per-pixel squared error on [0, 1]); ours are stated here and on the page.
_PENDULUM_MODEL = dict(image_shape=(1, 16, 16), latent_dims=(2,), channels=(), top_hidden=256, arch="vhp",
                       prior="gaussian", zeta_dim=2, mlp_layers=4, iw_samples=16, sigma=0.1)
_PENDULUM_TRAIN = dict(iterations=50_000, batch_size=100, lr_gen=1e-4, betas=(0.9, 0.999), weight_decay=0.0,
                       lr_decay_per_epoch=1.0, kl="mc", kappa=0.02, constraint_lr=5.0, constraint_ema=0.99,
                       rewo_tau=3.0, checkpoint_every=5000)
_EPOCH_PENDULUM = 150  # iterations per epoch at batch 100 (15,000 images)
for _key, _desc, _t in [
    ("vhp_rewo", "VHP + REWO", dict(constraint="rewo", beta_init=1e-3)),
    ("vhp_geco", "VHP + GECO", dict(constraint="geco", beta_init=1.0)),
    ("vhp_elbo", "VHP* (VAE objective, beta = 1 throughout)", {}),
    ("vhp_wu20", "VHP* + warm-up over 20 epochs", dict(kl_warmup=20 * _EPOCH_PENDULUM)),
    ("vhp_wu200", "VHP* + warm-up over 200 epochs", dict(kl_warmup=200 * _EPOCH_PENDULUM)),
]:
    _cpu_wu = {"vhp_wu20": 60, "vhp_wu200": 600}.get(_key)
    _BASES[f"pendulum_{_key}"] = dict(
        description=f"{_desc} on the pendulum (rendered here; the paper's set is not published)",
        data=dict(name="pendulum", split="train"), model=dict(_PENDULUM_MODEL), train=dict(_PENDULUM_TRAIN, **_t),
        own_profiles=True,
        # cpu: what fits the book's time budget (about 6 s per model): 600 iterations, 1/80 of the
        # paper profile's, on nets of width 64 with K = 8; warm-ups over 60 and 600 of them stand for
        # 20 and 200 epochs. Far too short for REWO to leave its initial phase at kappa = 0.02.
        cpu={"model.top_hidden": 64, "model.iw_samples": 8, "train.iterations": 600, "train.lr_gen": 1e-3,
             "train.checkpoint_every": 300, **({"train.kl_warmup": _cpu_wu} if _cpu_wu else {})},
        smoke={"data.n_train": 256, "model.top_hidden": 16, "model.mlp_layers": 2, "model.iw_samples": 4,
               "train.iterations": 6, "train.batch_size": 32, "train.checkpoint_every": 3,
               **({"train.kl_warmup": 3} if _cpu_wu else {})})

# Profile overrides, applied on top of the base. Keys are dotted paths.
_CPU_GRAY28 = {
    "data.name": None,  # filled per dataset below
    "model.channels": (16, 32), "model.top_hidden": 128,
    "train.iterations": 1500, "train.batch_size": 100, "train.lr_gen": 1e-3,
    # a short run: the EBM learning rate is raised so its cumulative step (lr x iterations) is of the
    # order of the paper's 2e-6 x 531k, and the KL weight is warmed up (as VLAE's code does) because
    # without it the top layer collapses to the prior in 1.5k iterations, for Ours and VLAE alike
    "train.lr_ebm": 1e-3, "train.kl_warmup": 750,
    "train.langevin_steps": 30, "train.checkpoint_every": 250,
}
_SMOKE = {
    "data.n_train": 256, "model.channels": (4, 8), "model.top_hidden": 16, "model.ebm_hidden": 8,
    "model.ebm_layers": 2, "train.iterations": 6, "train.batch_size": 32, "train.langevin_steps": 3,
    "train.checkpoint_every": 3,
}
_SMOKE_SVHN = dict(_SMOKE, **{"model.channels": (4, 8, 8)})


def _profile_overrides(name: str, profile: str) -> dict[str, Any]:
    """The dataset's profile overrides, then the config's own (a base's "cpu" / "smoke" entry)."""
    ds = _BASES[name]["data"]["name"]
    own = _BASES[name].get(profile, {})
    if profile == "paper":
        return {}
    if _BASES[name].get("own_profiles"):
        return dict(own)
    if profile == "smoke":
        o = dict(_SMOKE_SVHN if ds == "svhn" else _SMOKE)
        if ds == "mnist":
            o["data.name"] = "mnist5k"   # offline data; reported as "MNIST-5k subset"
        return o
    if ds == "svhn":
        return {"model.channels": (16, 32, 32), "model.top_hidden": 128, "train.iterations": 1500,
                "train.lr_gen": 1e-3, "train.lr_ebm": 1e-4, "train.langevin_steps": 30} | own
    o = dict(_CPU_GRAY28)
    o["data.name"] = "mnist5k" if ds == "mnist" else ds
    return o | own


def config_names() -> list[str]:
    return sorted(_BASES)


def _set_dotted(d: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = d
    for p in parts[:-1]:
        if p not in node or not isinstance(node[p], dict):
            raise KeyError(p)
        node = node[p]
    node[parts[-1]] = value


def _field_names(cls) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def get_config(name: str, profile: str, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Resolve config ``name`` at ``profile``; ``overrides`` maps dotted keys to values."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; valid profiles: {', '.join(PROFILES)}")
    if name not in _BASES:
        raise ValueError(f"unknown config {name!r}; valid configs: {', '.join(config_names())}")
    raw = copy.deepcopy({k: v for k, v in _BASES[name].items() if k not in PROFILES and k != "own_profiles"})
    sections = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
    for key, value in {**_profile_overrides(name, profile), **(overrides or {})}.items():
        section, _, leaf = key.partition(".")
        if section not in sections or leaf not in _field_names(sections[section]):
            valid = sorted(f"{s}.{f}" for s, c in sections.items() for f in _field_names(c))
            raise ValueError(f"unknown config parameter {key!r}; valid parameters: {', '.join(valid)}")
        _set_dotted(raw, key, value)

    def build(cls, d):
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**kw)

    cfg = ExperimentConfig(
        name=name, profile=profile, description=raw["description"],
        data=build(DataConfig, raw["data"]), model=build(ModelConfig, raw["model"]),
        train=build(TrainConfig, raw["train"]),
    )
    validate(cfg)
    return cfg


def validate(cfg: ExperimentConfig) -> None:
    m, t = cfg.model, cfg.train
    L = len(m.latent_dims)
    if L < 1 or any(d < 1 for d in m.latent_dims):
        raise ValueError(f"{cfg.name}: latent_dims must be positive, got {m.latent_dims}")
    if m.arch == "conv-ladder" and len(m.channels) < max(1, L - 1):
        raise ValueError(f"{cfg.name}: {L} latent layers need at least {L - 1} conv levels, got channels={m.channels}")
    size = m.image_shape[1]
    if m.image_shape[1] != m.image_shape[2] or size % (2 ** len(m.channels)):
        raise ValueError(f"{cfg.name}: image {m.image_shape} must be square with side divisible by 2^{len(m.channels)}")
    for key, value, allowed in [("model.injection", m.injection, ("concat", "add")),
                                ("model.prior", m.prior, ("ebm", "gaussian")),
                                ("train.kl", t.kl, ("analytic", "mc")),
                                ("train.amp", t.amp, ("off", "bf16", "fp16"))]:
        if value not in allowed:
            raise ValueError(f"{cfg.name}: {key}={value!r} not in {allowed}")
    if t.progressive_steps:
        if m.arch != "conv-ladder" or t.progressive_steps != L:
            raise ValueError(f"{cfg.name}: progressive training needs the conv-ladder and progressive_steps = "
                             f"{L} (one step per layer), got arch {m.arch!r}, steps {t.progressive_steps}")
        if t.iterations < t.progressive_steps:
            raise ValueError(f"{cfg.name}: {t.iterations} iterations cannot be split into {t.progressive_steps} steps")
    for key, value, allowed in [("model.arch", m.arch, ("conv-ladder", "dense-ladder", "conditional", "vhp")),
                                ("train.constraint", t.constraint, ("none", "rewo", "geco"))]:
        if value not in allowed:
            raise ValueError(f"{cfg.name}: {key}={value!r} not in {allowed}")
    if t.constraint == "rewo" and m.arch != "vhp":
        raise ValueError(f"{cfg.name}: train.constraint='rewo' is VHP's schedule (its initial phase freezes "
                         f"the hierarchical prior); use 'geco' for other models")
    if (m.arch == "vhp") != (m.zeta_dim > 0):
        raise ValueError(f"{cfg.name}: model.zeta_dim > 0 goes with model.arch='vhp' and only with it")
    if m.arch == "vhp" and (t.kl != "mc" or t.beta != 1 or t.progressive_steps or m.iw_samples < 1):
        raise ValueError(f"{cfg.name}: VHP needs train.kl='mc' (no closed-form KL), beta 1, no progressive "
                         f"training and iw_samples >= 1")
    if t.constraint != "none" and (t.kappa <= 0 or t.beta_init <= 0 or not 0 <= t.constraint_ema < 1
                                   or t.kl_warmup):
        raise ValueError(f"{cfg.name}: train.constraint={t.constraint!r} needs kappa > 0, beta_init > 0, "
                         f"0 <= constraint_ema < 1 and no kl_warmup (beta is set by the constraint)")
    if m.arch == "conditional" and (t.beta != 1 or t.progressive_steps):
        raise ValueError(f"{cfg.name}: the conditional HVAE supports neither train.beta != 1 nor progressive training")
    if t.beta <= 0 or t.pre_kl < 0 or t.fade_in < 0 or t.progressive_steps < 0:
        raise ValueError(f"{cfg.name}: beta must be > 0; pre_kl, fade_in, progressive_steps >= 0")
    if t.snapshot_epochs < 0:
        raise ValueError(f"{cfg.name}: train.snapshot_epochs must be >= 0, got {t.snapshot_epochs}")
    if t.iterations < 1 or t.batch_size < 1 or m.sigma <= 0 or t.langevin_step_size <= 0:
        raise ValueError(f"{cfg.name}: iterations, batch_size, sigma and langevin_step_size must be positive")
