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
    iwae      VHP's Table 2 baselines: IWAE (L = 1, 2) and the VampPrior VAE
"""
from __future__ import annotations

from ..configs import ConditionalNets, ConvLatentNets, EBMPrior, ExperimentConfig, LadderNets, MLPVAENets, VHPNets
from .base import LatentModel, LatentModelBase
from .hvae import ConditionalHierarchicalVAE
from .hvae_conv import ConvLatentHVAE
from .iwae import MLPVAE
from .ladder import HierarchicalLatentModel
from .vhp import HierarchicalPriorVAE


def build_model(nets: LadderNets | ConditionalNets | ConvLatentNets | MLPVAENets | VHPNets | ExperimentConfig,
                prior: EBMPrior | None = None) -> LatentModel:
    """The model of ``nets`` (its class picks the system family) with ``prior`` (ladder models only);
    given a whole ExperimentConfig, its nets and prior."""
    if isinstance(nets, ExperimentConfig):
        nets, prior = nets.nets, nets.prior
    if isinstance(nets, VHPNets):
        return HierarchicalPriorVAE(nets)
    if isinstance(nets, ConditionalNets):
        return ConditionalHierarchicalVAE(nets)
    if isinstance(nets, ConvLatentNets):
        return ConvLatentHVAE(nets)
    if isinstance(nets, MLPVAENets):
        return MLPVAE(nets)
    return HierarchicalLatentModel(nets, prior)


def count_parameters(module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["LatentModel", "LatentModelBase", "HierarchicalLatentModel", "ConditionalHierarchicalVAE", "ConvLatentHVAE", "MLPVAE",
           "HierarchicalPriorVAE", "build_model", "count_parameters"]
