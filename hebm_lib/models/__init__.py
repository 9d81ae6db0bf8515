"""Models: every system behind one protocol (:class:`LatentModel`), built from its config by
:func:`build_model`.

    blocks    layers the nets are made of
    base      the LatentModel protocol and what all models share
    priors    N(0, I) and the joint latent EBM prior (Eq. 3)
    samplers  short-run Langevin (Eqs. 13-14), layer resampling
    ladder    the paper's generator (Eq. 5) and ladder inference net (Eq. 8): Ours, VLAE, VAE, LEBM, pro-VLAE
    hvae      the conditional hierarchical VAE (HVAE) with L^{>k} and LLR^{>k}
    hvae_conv Havtorn et al.'s HVAE (conv z_1, Bernoulli), importance-weighted L^{>k} (Supp. Table 1)
    vhp       VHP: a VAE with a variational hierarchical prior
    mlp_vae   VHP's Table 2 baselines: IWAE (L = 1, 2) and the VampPrior VAE

Each system owns its training objective (``training_terms``); the trainer calls it and nothing else.
"""
from __future__ import annotations

from ..configs import NETS_CLASSES, ConditionalNets, ConvLatentNets, EBMPrior, ExperimentConfig, LadderNets, MLPVAENets, VHPNets
from .base import LatentModel, LatentModelBase
from .hvae import ConditionalHVAE
from .hvae_conv import ConvLatentHVAE
from .ladder import LadderModel
from .mlp_vae import MLPVAE
from .vhp import VHPVAE

# The system families, one row each: nets kind -> (its nets config, the model those nets build). A new
# family is its model file, its nets class in configs.py (a NetsFamily, with its rules) and a row here.
FAMILIES: dict[str, tuple[type, type]] = {nets.kind: (nets, model) for nets, model in (
    #  nets config      model            systems
    (LadderNets,       LadderModel),     # Ours, VLAE, VAE, LEBM, beta-VAE, pro-VLAE (ladder.py)
    (ConditionalNets,  ConditionalHVAE),  # the conditional hierarchical VAE, LLR>k (hvae.py)
    (ConvLatentNets,   ConvLatentHVAE),   # Havtorn et al.'s HVAE for OOD detection (hvae_conv.py)
    (MLPVAENets,       MLPVAE),           # IWAE (L = 1, 2) and the VampPrior VAE (mlp_vae.py)
    (VHPNets,          VHPVAE),           # VHP, trained with REWO or GECO (vhp.py)
)}
assert FAMILIES.keys() == NETS_CLASSES.keys() and all(NETS_CLASSES[k] is n for k, (n, _) in FAMILIES.items()), \
    "every nets class of configs.py (NETS_CLASSES) needs its row in FAMILIES"


def build_model(nets, prior: EBMPrior | None = None) -> LatentModel:
    """The model ``nets`` build (FAMILIES, by the nets' kind), with ``prior`` where the family takes one
    (the config's rules allow it only there); given a whole ExperimentConfig, its nets and prior."""
    if isinstance(nets, ExperimentConfig):
        nets, prior = nets.nets, nets.prior
    model_class = FAMILIES[nets.kind][1]
    return model_class(nets) if prior is None else model_class(nets, prior)


def count_parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["FAMILIES", "LatentModel", "LatentModelBase", "LadderModel", "ConditionalHVAE", "ConvLatentHVAE", "MLPVAE",
           "VHPVAE", "build_model", "count_parameters"]
