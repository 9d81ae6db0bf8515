"""Layers the nets are built from: conv blocks, MLPs, the authors' initialisation."""
from __future__ import annotations

from torch import nn

SLOPE = 0.2  # LeakyReLU slope of the generator and the EBM (the authors' code)


def act() -> nn.Module:
    return nn.LeakyReLU(SLOPE)


def down(cin: int, cout: int) -> nn.Sequential:
    """Halve the resolution: conv k4 s2 then conv k3 s1."""
    return nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1), act(), nn.Conv2d(cout, cout, 3, 1, 1), act())


def up(cin: int, cout: int, last: bool = False, image_channels: int = 0) -> nn.Sequential:
    """Double the resolution: transposed conv k4 s2, then a k3 s1 layer (tanh after the image layer).

    The hidden k3 s1 layers are plain Conv2d (the same function class as a stride-1 transposed conv,
    and faster on CPU); the image layer stays a transposed conv as in the authors' code, because
    oneDNN handles its 3 output channels much better that way (benchmarks/train_step.py).
    """
    if last:
        return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), act(),
                             nn.ConvTranspose2d(cout, image_channels, 3, 1, 1), nn.Tanh())
    return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, 1), act(), nn.Conv2d(cout, cout, 3, 1, 1), act())


def conv_stack(cin: int, channels: tuple[int, ...]) -> nn.Sequential:
    """Stride-2 k4 convs, one per entry of ``channels`` (VLAE's MNIST encoder)."""
    layers = []
    for c in channels:
        layers += [nn.Conv2d(cin, c, 4, 2, 1), act()]
        cin = c
    return nn.Sequential(*layers)


def mlp(din: int, width: int, dout: int, hidden_layers: int = 2, activation=act,
        final_act: bool = False) -> nn.Sequential:
    """``hidden_layers`` Linear + activation layers of ``width``, then Linear(-> dout) (+ activation)."""
    layers, d = [], din
    for _ in range(hidden_layers):
        layers += [nn.Linear(d, width), activation()]
        d = width
    layers.append(nn.Linear(d, dout))
    return nn.Sequential(*layers, activation()) if final_act else nn.Sequential(*layers)


def xavier_init(module: nn.Module) -> None:
    """Xavier-normal on (transposed) convs, as in the authors' code; Linear keeps PyTorch's default."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_normal_(m.weight)
