"""The hierarchical generator (Eq. 5), the ladder inference network (Eq. 8), and the model that
joins them with a prior. Two architectures (``ModelConfig.arch``):

``dense-ladder``: VLAE's MNIST ladder (Zhao et al. 2017), which the paper says it reuses for Table 1.
    Layers above the bottom one live in a dense path of width W = ``top_hidden``:
    generator  g = MLP_3(z_L);  g = MLP_3([g, P_i z_i]) for i = L-1..2;  g = [g, P_1 z_1]
               -> Linear -> c_n x S/2^n map -> n transposed convs -> tanh image
    inference  r = convs(x) -> Linear(W) = h_1;  h_i = MLP_3(h_{i-1});  z_1 reads its own convs of x,
               z_i (i >= 2) reads h_{i-1} through two dense layers.

``conv-ladder``: one conv resolution level per latent layer (the authors' SVHN code).
    Shapes for L latent layers and image side S with ``channels`` = (c_1..c_n):

    conv level j (1..n) has resolution S / 2^j and c_j channels
    z_i (i < L) enters the generator at level i;  z_L goes through the top MLP to level n
    generator: h_L = g_L(z_L);  h_i = g_i([z_i, h_{i+1}]) for i = L-1..1;  x ~ N(h_1, sigma^2 I)
    inference: r_j = block_j(r_{j-1}), r_0 = x;  head i reads r_{i-1} (its own conv block);
               the top head reads r_n through an MLP.
"""
from __future__ import annotations

import contextlib

import torch
from torch import nn

from .configs import ModelConfig
from .priors import build_prior

SLOPE = 0.2


def _act():
    return nn.LeakyReLU(SLOPE)


def _down(cin: int, cout: int) -> nn.Sequential:
    """Halve the resolution: conv k4 s2 then conv k3 s1."""
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1), _act(), nn.Conv2d(cout, cout, 3, 1, 1), _act())


def _up(cin: int, cout: int, last: bool = False, image_channels: int = 0) -> nn.Sequential:
    """Double the resolution: transposed conv k4 s2, then a k3 s1 layer (tanh after the image layer).

    The hidden k3 s1 layers are plain Conv2d (the same function class as a stride-1 transposed conv,
    and faster on CPU); the image layer stays a transposed conv as in the authors' code, because
    oneDNN handles its 3 output channels much better that way (benchmarks/train_step.py).
    """
    if last:
        return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), _act(),
                             nn.ConvTranspose2d(cout, image_channels, 3, 1, 1), nn.Tanh())
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), _act(), nn.Conv2d(cout, cout, 3, 1, 1), _act())


def _mlp(din: int, hidden: int, dout: int, final_act: bool) -> nn.Sequential:
    layers = [nn.Linear(din, hidden), _act(), nn.Linear(hidden, hidden), _act(), nn.Linear(hidden, dout)]
    return nn.Sequential(*layers, _act()) if final_act else nn.Sequential(*layers)


def _init(module: nn.Module) -> None:
    # Xavier-normal on (transposed) convs, as in the authors' code; Linear keeps PyTorch's default.
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_normal_(m.weight)


class HierarchicalGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        C, S, _ = cfg.image_shape
        ch, L = cfg.channels, len(cfg.latent_dims)
        self.res = [S // 2 ** (j + 1) for j in range(len(ch))]  # resolution of level j+1
        self.concat = cfg.injection == "concat"
        self.progressive = False   # set by HierarchicalLatentModel.set_layer_gates
        self.top = _mlp(cfg.latent_dims[-1], cfg.top_hidden, ch[-1] * self.res[-1] ** 2, final_act=self.concat)
        # projection of z_i (i = 1..L-1) to a feature map at level i
        self.proj = nn.ModuleList()
        for i in range(L - 1):
            lin = nn.Linear(cfg.latent_dims[i], ch[i] * self.res[i] ** 2)
            self.proj.append(nn.Sequential(lin, _act()) if self.concat else lin)
        # up blocks: level j -> level j-1 (level 0 = image)
        self.up = nn.ModuleList()
        for j in range(len(ch)):  # block j maps level j+1 to level j
            cin = ch[j] * (2 if self.concat and j < L - 1 else 1)
            self.up.append(_up(cin, ch[0], last=True, image_channels=C) if j == 0 else _up(cin, ch[j - 1]))
        # per-layer gate on the path from z_i to x (pro-VLAE: 0 = not yet active, 0..1 = fading in)
        self.register_buffer("gates", torch.ones(L), persistent=False)
        _init(self)

    def forward(self, zs: list[torch.Tensor]) -> torch.Tensor:
        h = self.top(zs[-1]).view(zs[-1].shape[0], -1, self.res[-1], self.res[-1])
        for j in reversed(range(len(self.up))):
            if j < len(zs) - 1:  # z_{j+1} is injected at level j+1
                p = self.proj[j](zs[j]).view(h.shape[0], -1, self.res[j], self.res[j])
                if self.progressive:
                    p = p * self.gates[j]
                h = torch.cat([h, p], 1) if self.concat else h + p
            h = self.up[j](h)
        return h


class LadderEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        C, S, _ = cfg.image_shape
        ch, dims = cfg.channels, cfg.latent_dims
        self.trunk = nn.ModuleList(_down(cin, cout) for cin, cout in zip((C,) + ch[:-1], ch))
        self.heads = nn.ModuleList()
        for i, d in enumerate(dims[:-1]):  # head i reads r_i (r_0 = x) and downsamples to level i+1
            cin = C if i == 0 else ch[i - 1]
            side = S // 2 ** (i + 1)
            self.heads.append(nn.Sequential(_down(cin, ch[i]), nn.Flatten(), nn.Linear(ch[i] * side * side, 2 * d)))
        top_in = ch[-1] * (S // 2 ** len(ch)) ** 2
        self.heads.append(nn.Sequential(nn.Flatten(), _mlp(top_in, cfg.top_hidden, 2 * dims[-1], final_act=False)))
        # per-layer gate on what head i reads (pro-VLAE's fade-in of a newly added layer)
        self.register_buffer("gates", torch.ones(len(dims)), persistent=False)
        self.progressive = False
        _init(self)

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



def _mlp3(din: int, width: int) -> nn.Sequential:
    """Three dense layers, the last one linear (VLAE's FC1024 x 3 block)."""
    return nn.Sequential(nn.Linear(din, width), _act(), nn.Linear(width, width), _act(), nn.Linear(width, width))


def _conv_stack(cin: int, channels: tuple[int, ...]) -> nn.Sequential:
    layers = []
    for c in channels:
        layers += [nn.Conv2d(cin, c, 4, 2, 1), _act()]
        cin = c
    return nn.Sequential(*layers)


class DenseLadderGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        C, S, _ = cfg.image_shape
        ch, W, dims = cfg.channels, cfg.top_hidden, cfg.latent_dims
        self.side = S // 2 ** len(ch)
        self.top = _mlp3(dims[-1], W)
        self.proj = nn.ModuleList(nn.Sequential(nn.Linear(d, W), _act()) for d in dims[:-1])
        self.mix = nn.ModuleList(_mlp3(2 * W, W) for _ in dims[1:-1])  # after merging z_i, i = 2..L-1
        self.to_map = nn.Sequential(_act(), nn.Linear(2 * W if len(dims) > 1 else W, ch[-1] * self.side ** 2), _act())
        ups = []
        for j in reversed(range(len(ch))):
            cout = ch[j - 1] if j > 0 else C
            ups += [nn.ConvTranspose2d(ch[j], cout, 4, 2, 1), nn.Tanh() if j == 0 else _act()]
        self.up = nn.Sequential(*ups)
        _init(self)

    def forward(self, zs: list[torch.Tensor]) -> torch.Tensor:
        g = self.top(zs[-1])
        for i in reversed(range(len(zs) - 1)):  # z_{i+1}, from L-1 down to 1
            g = torch.cat([nn.functional.leaky_relu(g, SLOPE), self.proj[i](zs[i])], 1)
            if i > 0:
                g = self.mix[i - 1](g)
        h = self.to_map(g).view(g.shape[0], -1, self.side, self.side)
        return self.up(h)


class DenseLadderEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        C, S, _ = cfg.image_shape
        ch, W, dims = cfg.channels, cfg.top_hidden, cfg.latent_dims
        flat = ch[-1] * (S // 2 ** len(ch)) ** 2
        # the shared trunk feeds the heads of z_2..z_L; a one-layer model (VAE, LEBM) has none
        self.trunk = nn.Sequential(_conv_stack(C, ch), nn.Flatten(), nn.Linear(flat, W)) if len(dims) > 1 else None
        self.deeper = nn.ModuleList(nn.Sequential(_act(), _mlp3(W, W)) for _ in dims[2:])
        self.bottom_head = nn.Sequential(_conv_stack(C, ch), nn.Flatten(), nn.Linear(flat, 2 * dims[0]))
        self.heads = nn.ModuleList(
            nn.Sequential(_act(), nn.Linear(W, W), _act(), nn.Linear(W, W), _act(), nn.Linear(W, 2 * d))
            for d in dims[1:])
        _init(self)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        outs = [self.bottom_head(x)]
        h = self.trunk(x) if self.trunk is not None else None
        for i, head in enumerate(self.heads):
            if i > 0:
                h = self.deeper[i - 1](h)
            outs.append(head(h))
        mus, logvars = zip(*(o.chunk(2, dim=1) for o in outs))
        return list(mus), list(logvars)


class LatentModelBase(nn.Module):
    """What every model shares: latent layout and the Gaussian observation model."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.latent_dims = tuple(cfg.latent_dims)
        self.sigma = cfg.sigma

    def split(self, z: torch.Tensor) -> list[torch.Tensor]:
        return list(z.split(self.latent_dims, dim=1))

    def layer_mask(self, layer: int, device=None) -> torch.Tensor:
        """1 on the coordinates of layer ``layer`` (0 = bottom z_1), 0 elsewhere."""
        mask = torch.zeros(sum(self.latent_dims), device=device)
        start = sum(self.latent_dims[:layer])
        mask[start: start + self.latent_dims[layer]] = 1
        return mask

    def reconstruction_nll(self, x: torch.Tensor, x_mean: torch.Tensor) -> torch.Tensor:
        """-log p(x | z) up to its constant: SSE / (2 sigma^2), per image."""
        return (x - x_mean).pow(2).flatten(1).sum(1) / (2 * self.sigma ** 2)


class HierarchicalLatentModel(LatentModelBase):
    """Generator + inference net + prior. ``prior`` decides the system: joint EBM (ours) or N(0,I) (VLAE)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(cfg)
        dense = cfg.arch == "dense-ladder"
        self.generator = DenseLadderGenerator(cfg) if dense else HierarchicalGenerator(cfg)
        self.encoder = DenseLadderEncoder(cfg) if dense else LadderEncoder(cfg)
        self.prior = build_prior(cfg.prior, sum(cfg.latent_dims), cfg.ebm_hidden, cfg.ebm_layers,
                                 cfg.ebm_spectral_norm)

    # model pieces --------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Concatenated posterior mean and log-variance of q(z | x)."""
        mus, logvars = self.encoder(x)
        return torch.cat(mus, 1), torch.cat(logvars, 1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(self.split(z))

    def set_layer_gates(self, generator_gates, encoder_gates) -> None:
        """pro-VLAE's progressive state (conv-ladder only): per layer, bottom first, the weight of the
        path z_i -> x (0 = inactive) and of what the layer's encoder head reads (the fade-in)."""
        if self.cfg.arch != "conv-ladder":
            raise ValueError("progressive training needs the conv-ladder architecture")
        for net, g in ((self.generator, generator_gates), (self.encoder, encoder_gates)):
            net.gates.copy_(torch.as_tensor(g, dtype=net.gates.dtype))
            net.progressive = bool((net.gates != 1).any())

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
            rec = self.reconstruction_nll(x, self.decode(z).float()).mean()
        mu, logvar, z = mu.float(), logvar.float(), z.float()
        kl0 = (gaussian_kl_to_standard(mu, logvar, kl_weights) if kl == "analytic"
               else gaussian_kl_mc(z, mu, logvar, kl_weights))
        return rec, kl0.mean(), z

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Unnormalised log p(x, z) = log p(x|z) + f(z) + log N(z; 0, I), constants dropped."""
        return -self.reconstruction_nll(x, self.decode(z)) + self.prior.log_density(z)

    @torch.no_grad()
    def sample(self, n: int, steps: int, step_size: float, generator=None) -> torch.Tensor:
        device = next(self.parameters()).device
        return self.prior.sample(n, steps, step_size, generator=generator, device=device)


def reparameterised_sample(mu: torch.Tensor, logvar: torch.Tensor, rng=None, n: int | None = None) -> torch.Tensor:
    """mu + sigma * eps with eps ~ N(0, I) from ``rng``; with ``n``, n draws stacked in a leading dim."""
    shape = mu.shape if n is None else (n,) + mu.shape
    eps = torch.randn(shape, generator=rng, device=mu.device, dtype=mu.dtype)
    return mu + (0.5 * logvar).exp() * eps


def gaussian_kl_to_standard(mu: torch.Tensor, logvar: torch.Tensor, weights=None) -> torch.Tensor:
    """KL(N(mu, diag e^logvar) || N(0, I)), summed over dimensions (optionally weighted), one value per row."""
    per_dim = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
    return (per_dim if weights is None else per_dim * weights).sum(1)


def gaussian_kl_mc(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, weights=None) -> torch.Tensor:
    """Single-sample estimate log q(z|x) - log N(z; 0, I) at z ~ q (the authors' estimator)."""
    per_dim = -0.5 * (((z - mu) ** 2) / logvar.exp() + logvar) + 0.5 * z.pow(2)
    return (per_dim if weights is None else per_dim * weights).sum(1)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build_model(cfg: ModelConfig) -> nn.Module:
    """The model of ``cfg.arch``: conv-ladder / dense-ladder (Ours, VLAE, VAE, LEBM), conditional (HVAE)
    or vhp (VHP + REWO)."""
    if cfg.arch == "vhp":
        from .vhp import HierarchicalPriorVAE
        return HierarchicalPriorVAE(cfg)
    if cfg.arch == "conditional":
        from .hvae import ConditionalHierarchicalVAE
        return ConditionalHierarchicalVAE(cfg)
    return HierarchicalLatentModel(cfg)

