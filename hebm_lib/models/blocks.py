"""Layers the nets are built from: conv blocks, MLPs, normalisation and the initialisation schemes.

``norm`` ("none" | "batch") puts a BatchNorm between every hidden layer and its activation (VLAE's
``*_bn_lrelu`` layers); output layers (the image, the posterior heads, linear features) stay plain. With
"none" the modules are exactly the earlier ones, so the weights of models trained before load unchanged.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils import parametrize

SLOPE = 0.2  # LeakyReLU slope of the generator and the EBM (the authors' code)
NORMS = ("none", "batch")
INIT_SCHEMES = ("authors", "vlae", "he")


def act() -> nn.Module:
    return nn.LeakyReLU(SLOPE)


def norm_layer(norm: str, n: int, conv: bool) -> list[nn.Module]:
    """[] or [BatchNorm] over ``n`` features (channels for a conv), for a hidden layer before its activation."""
    if norm == "none":
        return []
    if norm == "batch":
        return [nn.BatchNorm2d(n) if conv else nn.BatchNorm1d(n)]
    raise ValueError(f"unknown norm {norm!r}; valid: {', '.join(NORMS)}")


def down(cin: int, cout: int, norm: str = "none") -> nn.Sequential:
    """Halve the resolution: conv k4 s2 then conv k3 s1."""
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1), *norm_layer(norm, cout, True), act(),
                         nn.Conv2d(cout, cout, 3, 1, 1), *norm_layer(norm, cout, True), act())


def up(cin: int, cout: int, last: bool = False, image_channels: int = 0, norm: str = "none") -> nn.Sequential:
    """Double the resolution: transposed conv k4 s2, then a k3 s1 layer (tanh after the image layer).

    The hidden k3 s1 layers are plain Conv2d (the same function class as a stride-1 transposed conv,
    and faster on CPU); the image layer stays a transposed conv as in the authors' code, because
    oneDNN handles its 3 output channels much better that way (benchmarks/train_step.py).
    """
    first = [nn.ConvTranspose2d(cin, cout, 4, 2, 1), *norm_layer(norm, cout, True), act()]
    if last:
        return nn.Sequential(*first, nn.ConvTranspose2d(cout, image_channels, 3, 1, 1), nn.Tanh())
    return nn.Sequential(*first, nn.Conv2d(cout, cout, 3, 1, 1), *norm_layer(norm, cout, True), act())


def conv_stack(cin: int, channels: tuple[int, ...], norm: str = "none") -> nn.Sequential:
    """Stride-2 k4 convs, one per entry of ``channels`` (VLAE's MNIST encoder)."""
    layers = []
    for c in channels:
        layers += [nn.Conv2d(cin, c, 4, 2, 1), *norm_layer(norm, c, True), act()]
        cin = c
    return nn.Sequential(*layers)


def mlp(din: int, width: int, dout: int, hidden_layers: int = 2, activation=act,
        final_act: bool = False, norm: str = "none") -> nn.Sequential:
    """``hidden_layers`` Linear (+ norm) + activation layers of ``width``, then Linear(-> dout) (+ norm and
    activation with ``final_act``)."""
    layers, d = [], din
    for _ in range(hidden_layers):
        layers += [nn.Linear(d, width), *norm_layer(norm, width, False), activation()]
        d = width
    layers.append(nn.Linear(d, dout))
    return nn.Sequential(*layers, *norm_layer(norm, dout, False), activation()) if final_act else nn.Sequential(*layers)


def init_weights(module: nn.Module, scheme: str) -> None:
    """The initialisation of a ladder's nets.

    * ``authors``: Xavier-normal convs, PyTorch's default Linear (the authors' code). Without
      normalisation the default Linear shrinks the signal layer by layer: through VLAE's dense path the
      top code's effect on the image starts ~10^4 times below the bottom code's.
    * ``vlae``: every conv and Linear weight N(0, 0.02), biases 0 (VLAE's code); meant with batch norm,
      which restores each layer's scale (without it the signal vanishes).
    * ``he``: convs as ``authors``; Linear He-normal for the LeakyReLU, biases 0 (keeps the scale
      without normalisation).
    """
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown init {scheme!r}; valid: {', '.join(INIT_SCHEMES)}")
    for m in module.modules():
        conv = isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))
        if not (conv or isinstance(m, nn.Linear)):
            continue
        if scheme == "vlae":
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
        elif conv:
            nn.init.xavier_normal_(m.weight)
        elif scheme == "he":
            nn.init.kaiming_normal_(m.weight, a=SLOPE, nonlinearity="leaky_relu")
            nn.init.zeros_(m.bias)



class SpectralNorm(nn.Module):
    """W / sigma(W), sigma by one power iteration per training forward: the same computation, initial state
    and state-dict keys (``parametrizations.weight.original``, ``..0._u``, ``..0._v``) as
    ``torch.nn.utils.parametrizations.spectral_norm`` on a Linear, so models saved with it load unchanged.
    Written again because torch's updates u and v through ``out=``, which ``torch.func.vmap`` cannot batch;
    this one copies into them in place, which it can, so every member of an ensemble keeps its own u and v
    (hebm_lib.training.ensemble)."""

    def __init__(self, weight: torch.Tensor, eps: float = 1e-12):
        super().__init__()
        self.eps = eps
        h, w = weight.shape
        u = weight.new_empty(h).normal_(0, 1)
        v = weight.new_empty(w).normal_(0, 1)
        self.register_buffer("_u", F.normalize(u, dim=0, eps=eps))
        self.register_buffer("_v", F.normalize(v, dim=0, eps=eps))
        self._power_iterations(weight, 15)

    @torch.no_grad()
    def _power_iterations(self, weight: torch.Tensor, n: int) -> None:
        for _ in range(n):
            self._u.copy_(F.normalize(torch.mv(weight, self._v), dim=0, eps=self.eps))
            self._v.copy_(F.normalize(torch.mv(weight.t(), self._u), dim=0, eps=self.eps))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        if self.training:
            self._power_iterations(weight, 1)
        u, v = self._u.clone(), self._v.clone()   # the iteration's state, not a view autograd would see change
        return weight / torch.vdot(u, torch.mv(weight, v))


def spectral_norm(linear: nn.Linear) -> nn.Linear:
    """``linear`` with its weight spectrally normalised (:class:`SpectralNorm`)."""
    parametrize.register_parametrization(linear, "weight", SpectralNorm(linear.weight.detach()))
    return linear
