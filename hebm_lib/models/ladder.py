"""The paper's model: the hierarchical generator (Eq. 5) and the ladder inference network (Eq. 8)
joined with a prior. Two layouts (``LadderNets.layout``):

``dense``: VLAE's MNIST ladder (Zhao et al. 2017), which the paper says it reuses for Table 1.
    Layers above the bottom one live in a dense path of width W = ``width``:
    generator  g = MLP_3(z_L);  g = MLP_3(g (+) P_i z_i) for i = L-1..2;  g = g (+) P_1 z_1
               -> Linear -> c_n x S/2^n map -> n transposed convs -> tanh image
               where (+) is ``injection``: [g, P z] (concat), g + P z (add) or g + gate * P z (gated, VLAE's)
    inference  r = convs(x) -> Linear(W) = h_1;  h_i = MLP_3(h_{i-1});  z_1 reads its own convs of x,
               z_i (i >= 2) reads h_{i-1} through two dense layers.

``conv``: one conv resolution level per latent layer (the authors' SVHN code).
    Shapes for L latent layers and image side S with ``channels`` = (c_1..c_n):

    conv level j (1..n) has resolution S / 2^j and c_j channels
    z_i (i < L) enters the generator at level i;  z_L goes through the top MLP to level n
    generator: h_L = g_L(z_L);  h_i = g_i([z_i, h_{i+1}]) for i = L-1..1;  x ~ N(h_1, sigma^2 I)
    inference: r_j = block_j(r_{j-1}), r_0 = x;  head i reads r_{i-1} (its own conv block);
               the top head reads r_n through an MLP.

Both layouts take ``norm`` (a batch norm before every hidden activation, VLAE's) and ``init`` (the weights'
scheme, hebm_lib.models.blocks.init_weights). With the N(0, I) prior (``prior`` None) the same nets are
VLAE; with one latent layer, a VAE or LEBM.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from ..configs import EBMPrior, LadderNets
from ..distributions import (full_precision, kl_to_standard_mc, kl_to_standard_per_dim, reparameterised_sample,
                             standard_normal)
from .base import ElboTerms, LatentModelBase
from .blocks import SLOPE, act, conv_stack, down, init_weights, mlp, norm_layer, up
from .priors import build_prior
from .samplers import langevin


class LowerCodeMerge(nn.Module):
    """How z_i's projection p joins the running features h of the generator (``nets.injection``):
    ``concat`` [h, p] (Eq. 5), ``add`` h + p (the authors' SVHN HS code), ``gated`` h + g * p with g learned
    per unit from ``gate_init`` (VLAE's MNIST code, 0.1: a lower code starts with a tenth of its weight, so
    early training goes through the top of the hierarchy)."""

    def __init__(self, injection: str, shape: tuple[int, ...], gate_init: float | None):
        super().__init__()
        self.injection = injection
        if injection == "gated":
            self.gate = nn.Parameter(torch.full(shape, float(gate_init)))

    def forward(self, h: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        if self.injection == "concat":
            return torch.cat([h, p], 1)
        return h + (self.gate * p if self.injection == "gated" else p)


class HierarchicalGenerator(nn.Module):
    def __init__(self, cfg: LadderNets):
        super().__init__()
        C, S, _ = cfg.image_shape
        ch, L, norm = cfg.channels, len(cfg.latent_dims), cfg.norm
        self.res = [S // 2 ** (j + 1) for j in range(len(ch))]  # resolution of level j+1
        self.concat = cfg.injection == "concat"
        self.progressive = False   # set by LadderModel.set_layer_gates
        self.top = mlp(cfg.latent_dims[-1], cfg.width, ch[-1] * self.res[-1] ** 2, final_act=self.concat, norm=norm)
        # projection of z_i (i = 1..L-1) to a feature map at level i, and how it joins the features there
        self.proj = nn.ModuleList()
        for i in range(L - 1):
            lin = nn.Linear(cfg.latent_dims[i], ch[i] * self.res[i] ** 2)
            self.proj.append(nn.Sequential(lin, act()) if self.concat else lin)
        self.merge = nn.ModuleList(LowerCodeMerge(cfg.injection, (ch[i], self.res[i], self.res[i]), cfg.gate_init)
                                   for i in range(L - 1))
        # up blocks: level j -> level j-1 (level 0 = image)
        self.up = nn.ModuleList()
        for j in range(len(ch)):  # block j maps level j+1 to level j
            cin = ch[j] * (2 if self.concat and j < L - 1 else 1)
            self.up.append(up(cin, ch[0], last=True, image_channels=C, norm=norm) if j == 0
                           else up(cin, ch[j - 1], norm=norm))
        # per-layer gate on the path from z_i to x (pro-VLAE: 0 = not yet active, 0..1 = fading in)
        self.register_buffer("gates", torch.ones(L), persistent=False)
        init_weights(self, cfg.init)

    def forward(self, zs: list[torch.Tensor]) -> torch.Tensor:
        h = self.top(zs[-1]).view(zs[-1].shape[0], -1, self.res[-1], self.res[-1])
        for j in reversed(range(len(self.up))):
            if j < len(zs) - 1:  # z_{j+1} is injected at level j+1
                p = self.proj[j](zs[j]).view(h.shape[0], -1, self.res[j], self.res[j])
                if self.progressive:
                    p = p * self.gates[j]
                h = self.merge[j](h, p)
            h = self.up[j](h)
        return h


class LadderEncoder(nn.Module):
    def __init__(self, cfg: LadderNets):
        super().__init__()
        C, S, _ = cfg.image_shape
        ch, dims, norm = cfg.channels, cfg.latent_dims, cfg.norm
        self.trunk = nn.ModuleList(down(cin, cout, norm) for cin, cout in zip((C,) + ch[:-1], ch))
        self.heads = nn.ModuleList()
        for i, d in enumerate(dims[:-1]):  # head i reads r_i (r_0 = x) and downsamples to level i+1
            cin = C if i == 0 else ch[i - 1]
            side = S // 2 ** (i + 1)
            self.heads.append(nn.Sequential(down(cin, ch[i], norm), nn.Flatten(), nn.Linear(ch[i] * side * side, 2 * d)))
        top_in = ch[-1] * (S // 2 ** len(ch)) ** 2
        self.heads.append(nn.Sequential(nn.Flatten(), mlp(top_in, cfg.width, 2 * dims[-1], norm=norm)))
        # per-layer gate on what head i reads (pro-VLAE's fade-in of a newly added layer)
        self.register_buffer("gates", torch.ones(len(dims)), persistent=False)
        self.progressive = False
        init_weights(self, cfg.init)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per-layer (mean, log-variance), bottom to top."""
        r = [x]
        for block in self.trunk:
            r.append(block(r[-1]))
        mus, logvars = [], []
        for i, head in enumerate(self.heads):
            src = r[i] if i < len(self.heads) - 1 else r[-1]
            if self.progressive:
                src = src * self.gates[i]
            mu, logvar = head(src).chunk(2, dim=1)
            mus.append(mu)
            logvars.append(logvar)
        return mus, logvars


class DenseLadderGenerator(nn.Module):
    """VLAE's MNIST generator (its ``generative2/1/0``): z_L through an MLP; each lower z_i projected to
    the dense width and merged (``nets.injection``), then an MLP (middle layers) or the map to the first
    conv level (z_1); transposed convs to the image."""

    def __init__(self, cfg: LadderNets):
        super().__init__()
        C, S, _ = cfg.image_shape
        ch, W, dims, norm = cfg.channels, cfg.width, cfg.latent_dims, cfg.norm
        self.concat = concat = cfg.injection == "concat"
        self.side = S // 2 ** len(ch)
        self.top = mlp(dims[-1], W, W, norm=norm)
        self.proj = nn.ModuleList(nn.Sequential(nn.Linear(d, W), *norm_layer(norm, W, False), act()) for d in dims[:-1])
        self.merge = nn.ModuleList(LowerCodeMerge(cfg.injection, (W,), cfg.gate_init) for _ in dims[:-1])
        merged = 2 * W if concat else W
        self.mix = nn.ModuleList(mlp(merged, W, W, norm=norm) for _ in dims[1:-1])  # after merging z_i, i = 2..L-1
        n_map = ch[-1] * self.side ** 2
        # concat (and a one-layer model): the features are activated first (the top path ends in a linear layer)
        self.to_map = nn.Sequential(*([act()] if concat else []), nn.Linear(merged if len(dims) > 1 else W, n_map),
                                    *norm_layer(norm, n_map, False), act())
        ups = []
        for j in reversed(range(len(ch))):
            cout = ch[j - 1] if j > 0 else C
            ups += [nn.ConvTranspose2d(ch[j], cout, 4, 2, 1)]
            ups += [nn.Tanh()] if j == 0 else [*norm_layer(norm, cout, True), act()]
        self.up = nn.Sequential(*ups)
        init_weights(self, cfg.init)

    def forward(self, zs: list[torch.Tensor]) -> torch.Tensor:
        g = self.top(zs[-1])
        for i in reversed(range(len(zs) - 1)):  # z_{i+1}, from L-1 down to 1
            h = nn.functional.leaky_relu(g, SLOPE) if self.concat else g
            g = self.merge[i](h, self.proj[i](zs[i]))
            if i > 0:
                g = self.mix[i - 1](g)
        h = self.to_map(g).view(g.shape[0], -1, self.side, self.side)
        return self.up(h)


class DenseLadderEncoder(nn.Module):
    """VLAE's MNIST inference net: z_1 from its own convs of x; a trunk (convs, then a linear layer) whose
    deeper dense features feed the heads of z_2..z_L."""

    def __init__(self, cfg: LadderNets):
        super().__init__()
        C, S, _ = cfg.image_shape
        ch, W, dims, norm = cfg.channels, cfg.width, cfg.latent_dims, cfg.norm
        flat = ch[-1] * (S // 2 ** len(ch)) ** 2
        # the shared trunk feeds the heads of z_2..z_L; a one-layer model (VAE, LEBM) has none
        self.trunk = nn.Sequential(conv_stack(C, ch, norm), nn.Flatten(), nn.Linear(flat, W)) if len(dims) > 1 else None
        self.deeper = nn.ModuleList(nn.Sequential(act(), mlp(W, W, W, norm=norm)) for _ in dims[2:])
        self.bottom_head = nn.Sequential(conv_stack(C, ch, norm), nn.Flatten(), nn.Linear(flat, 2 * dims[0]))
        bn = lambda: norm_layer(norm, W, False)
        self.heads = nn.ModuleList(
            nn.Sequential(act(), nn.Linear(W, W), *bn(), act(), nn.Linear(W, W), *bn(), act(), nn.Linear(W, 2 * d))
            for d in dims[1:])
        init_weights(self, cfg.init)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        outs = [self.bottom_head(x)]
        h = self.trunk(x) if self.trunk is not None else None
        for i, head in enumerate(self.heads):
            if i > 0:
                h = self.deeper[i - 1](h)
            outs.append(head(h))
        mus, logvars = zip(*(o.chunk(2, dim=1) for o in outs))
        return list(mus), list(logvars)


class LadderModel(LatentModelBase):
    """Generator + inference net + prior. ``prior`` decides the system: the joint EBM (Ours, LEBM) or
    None, N(0, I) (VLAE, VAE)."""

    def __init__(self, nets: LadderNets, prior: EBMPrior | None = None):
        super().__init__(nets)
        dense = nets.layout == "dense"
        self.generator = DenseLadderGenerator(nets) if dense else HierarchicalGenerator(nets)
        self.encoder = DenseLadderEncoder(nets) if dense else LadderEncoder(nets)
        self.prior = build_prior(prior, sum(nets.latent_dims))
        # LEBM's own inference: (steps, step size) of posterior Langevin, or None (the encoder)
        self.posterior_langevin = prior.posterior_langevin if prior is not None else None

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mus, logvars = self.encoder(x)
        return torch.cat(mus, 1), torch.cat(logvars, 1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(self.split(z))

    def set_layer_gates(self, generator_gates, encoder_gates, always_apply: bool = False) -> None:
        """pro-VLAE's progressive state (conv layout only): per layer, bottom first, the weight of the
        path z_i -> x (0 = inactive) and of what the layer's encoder head reads (the fade-in).
        ``always_apply``: multiply by the gates even when all are 1 (a captured CUDA graph must, since the
        gates change in place under replay)."""
        if self.nets.layout != "conv":
            raise ValueError("progressive training needs the conv layout of the ladder")
        for net, g in ((self.generator, generator_gates), (self.encoder, encoder_gates)):
            net.gates.copy_(torch.as_tensor(g, dtype=net.gates.dtype))
            net.progressive = always_apply or bool((net.gates != 1).any())

    def neg_elbo_terms(self, x: torch.Tensor, rng: torch.Generator, kl: str = "analytic", autocast=None,
                       kl_weights: torch.Tensor | None = None):
        """Batch means of -log p(x|z) and of KL(q || N(0, I)), and z ~ q (reparameterised).

        The prior's tilt f(z) is added by the trainer, which owns the EBM; nets may run under
        ``autocast``, the KL is computed in fp32. ``kl_weights`` (one per latent dim) weights the KL of
        each dim (beta-VAE's beta, pro-VLAE's beta / gamma per layer).
        """
        with autocast or contextlib.nullcontext():
            mu, logvar = self.encode(x)
            z = reparameterised_sample(mu, logvar, rng)
            rec = self.reconstruction_nll(x, full_precision(self.decode(z))).mean()
        mu, logvar, z = full_precision(mu), full_precision(logvar), full_precision(z)
        per_dim = kl_to_standard_per_dim(mu, logvar)
        if kl == "analytic":
            kl0 = (per_dim if kl_weights is None else per_dim * kl_weights).sum(-1)
        else:
            kl0 = kl_to_standard_mc(z, mu, logvar, kl_weights)
        kl_layers = torch.stack([k.sum(1).mean() for k in self.split(per_dim.detach())])
        return ElboTerms(rec, kl0.mean(), z, kl_layers)

    def training_terms(self, x, rng, kl="analytic", autocast=None, kl_weights=None) -> ElboTerms:
        """With prior.posterior_langevin (LEBM's own inference): z+ by Langevin on log p(x, z), the generator
        fitted at z+ alone (no KL, no tilt term: z+ has no gradient); else the -ELBO and the tilt."""
        if self.posterior_langevin is None:
            return super().training_terms(x, rng, kl, autocast, kl_weights)
        z_pos = self.infer_by_langevin(x, rng)
        rec = self.reconstruction_nll(x, full_precision(self.decode(z_pos))).mean()
        zero = torch.zeros((), device=x.device)
        return ElboTerms(rec, zero, z_pos, torch.zeros(len(self.latent_dims), device=x.device), tilt=zero)

    def unsupported_mode(self, mode: str) -> str | None:
        if self.posterior_langevin is not None and mode != "eager":
            return "posterior Langevin (prior.posterior_langevin) trains in mode 'eager' only"
        return None

    def ensemble_unsupported(self) -> str | None:
        if self.posterior_langevin is not None:
            return ("posterior Langevin (prior.posterior_langevin) takes gradients inside the step "
                    "(torch.autograd.grad), which vmap cannot batch")
        return None

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Unnormalised log p(x, z) = log p(x|z) + f(z) + log N(z; 0, I), constants dropped."""
        return -self.reconstruction_nll(x, self.decode(z)) + self.prior.log_density(z)

    def infer_by_langevin(self, x: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """LEBM's posterior sampling: z ~ p(z | x) by short-run Langevin on log p(x, z) from N(0, I)
        (``posterior_langevin`` steps and step size); returned detached."""
        if self.posterior_langevin is None:
            raise ValueError("this model infers z with its encoder; set prior.posterior_langevin to (steps, step size)")
        steps, step_size = self.posterior_langevin

        def grad_log_joint(z):
            with torch.enable_grad():
                z = z.detach().requires_grad_(True)
                return torch.autograd.grad(self.log_joint(x, z).sum(), z)[0]

        z0 = standard_normal((x.shape[0], sum(self.latent_dims)), rng, x.device)
        return langevin(grad_log_joint, z0, steps, step_size, rng).detach()

    @torch.no_grad()
    def sample(self, n: int, generator=None, steps: int | None = None, step_size: float | None = None) -> torch.Tensor:
        """z ~ the prior: exact for N(0, I); short-run Langevin for the EBM (its config's K and s unless given)."""
        return self.prior.sample(n, generator=generator, device=self.device, steps=steps, step_size=step_size)
