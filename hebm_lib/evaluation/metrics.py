"""Evaluation: latent classifiers (Table 1), a data classifier and the identity-change rate (Fig. 5)."""
from __future__ import annotations

import hashlib

import torch
from torch import nn

from .. import paths
from ..distributions import kl_to_standard_per_dim, reparameterised_sample, to_unit_range
from ..errors import UnreadableFile
from ..io import atomic_save, exclusive_lock, torch_load
from ..models import LatentModel
from .encoding import image_batches, posterior


def infer_codes(model: LatentModel, images: torch.Tensor, batch_size: int = 500) -> list[torch.Tensor]:
    """Posterior means per layer (bottom first) for uint8 images, computed in batches."""
    return model.split(posterior(model, images, batch_size)[0])


def latent_classifier(in_dim: int, n_classes: int, hidden: int = 256) -> nn.Module:
    """The paper's classifier: two linear layers, 256 hidden units, ReLU, softmax (in the loss);
    no dropout, no normalisation."""
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))


def fit_classifier(net: nn.Module, x_train: torch.Tensor, y_train: torch.Tensor, epochs: int, lr: float,
                   seed: int, batch_size: int = 256) -> nn.Module:
    """Adam on cross-entropy with a seeded data order."""
    gen = torch.Generator().manual_seed(seed)
    net.to(x_train.device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(x_train), generator=gen).to(x_train.device)
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            loss = nn.functional.cross_entropy(net(x_train[idx]), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    return net


@torch.no_grad()
def accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    correct = sum((net(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum().item()
                  for i in range(0, len(x), batch_size))
    return correct / len(x)


def latent_classifier_accuracy(train_codes: torch.Tensor, y_train: torch.Tensor, test_codes: torch.Tensor,
                               y_test: torch.Tensor, epochs: int, lr: float = 1e-3, seed: int = 0,
                               n_classes: int = 10) -> float:
    """Test accuracy of the paper's latent classifier trained on one layer's codes.

    Codes are standardised with the training set's mean and std (a fixed affine map the first
    linear layer could learn; it only makes Adam's default step size fit every model's scale).
    """
    mean, std = train_codes.mean(0), train_codes.std(0).clamp_min(1e-6)
    torch.manual_seed(seed)
    net = latent_classifier(train_codes.shape[1], n_classes)
    fit_classifier(net, (train_codes - mean) / std, y_train, epochs, lr, seed)
    return accuracy(net, (test_codes - mean) / std, y_test)


def data_classifier(image_shape: tuple[int, int, int], n_classes: int = 10) -> nn.Module:
    """A small CNN on pixels, used as the judge of digit identity in Figure 5."""
    C, S, _ = image_shape
    return nn.Sequential(
        nn.Conv2d(C, 32, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * (S // 4) ** 2, 128), nn.ReLU(), nn.Linear(128, n_classes))


def train_judge(train_set, test_set, epochs: int, device=None, seed: int = 0, cache_dir=None) -> tuple[nn.Module, float]:
    """The identity judge of the sampling figures: ``data_classifier`` fitted on the real training
    images (batch 64, Adam 1e-3, on the CPU); returns it (in eval mode, on ``device``) and its test accuracy (0-1).

    Figures 1 and 5 (and 2 and 6) fit the same judge: the fitted weights are kept in the model cache with
    torch's global generator state after the fit, and a later call loads both, so a page draws the same
    numbers after it whether the judge was fitted or read."""
    key = hashlib.sha256(f"{train_set.fingerprint}|epochs={epochs}|seed={seed}|judge-v1".encode()).hexdigest()[:16]
    path = paths.cache_dir(cache_dir) / "judges" / f"{train_set.spec.name}-{key}.pt"
    with exclusive_lock(path.with_suffix(".lock")):   # notebooks side by side: one fits it, the other waits
        torch.manual_seed(seed)   # every generator, as the fit leaves them; the CPU's is then the fit's
        judge = data_classifier(train_set.spec.image_shape)
        if path.is_file():
            saved = torch_load(path, "delete it to fit the judge again")
            try:
                judge.load_state_dict(saved["state"])
            except (RuntimeError, KeyError) as exc:   # a judge of another architecture
                raise UnreadableFile(f"{path} is not a judge of this code ({type(exc).__name__}); delete it to "
                                     f"fit the judge again") from None
            judge.eval()
            torch.set_rng_state(saved["cpu_generator_after"])
        else:
            fit_classifier(judge, to_unit_range(train_set.images), train_set.labels, epochs, 1e-3, seed=seed,
                           batch_size=64)
            atomic_save({"state": judge.state_dict(), "cpu_generator_after": torch.get_rng_state()}, path)
    acc = accuracy(judge, to_unit_range(test_set.images), test_set.labels)
    return judge.to(device or "cpu"), acc


def to_unit(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> [-1, 1] (kept here for the notebooks: metrics.to_unit)."""
    return to_unit_range(images_uint8)


@torch.no_grad()
def identity_change_rate(judge: nn.Module, base_image: torch.Tensor, varied_images: torch.Tensor) -> float:
    """Fraction of ``varied_images`` that the judge labels differently from ``base_image``."""
    base = judge(base_image.unsqueeze(0)).argmax(1)
    return (judge(varied_images).argmax(1) != base).float().mean().item()


def per_layer_accuracy(model: LatentModel, train_set, test_set, epochs: int, seed: int,
                       layers: list[int] | None = None) -> list[float]:
    """Table 1's measurement: test accuracy (0-1) of a latent classifier per layer, bottom first (the
    classifiers train on the model's device); ``layers``: only these (0 = bottom, -1 = top), in that order."""
    dev = model.device
    codes_train = infer_codes(model, train_set.images)
    codes_test = infer_codes(model, test_set.images)
    pairs = list(zip(codes_train, codes_test))
    return [latent_classifier_accuracy(tr.to(dev), train_set.labels.to(dev), te.to(dev), test_set.labels.to(dev),
                                       epochs=epochs, seed=seed)
            for tr, te in (pairs if layers is None else [pairs[i] for i in layers])]


def per_layer_kl(model: LatentModel, images: torch.Tensor) -> list[float]:
    """Per layer, bottom first: the mean over ``images`` of KL(q(z_l | x) || N(0, I)) in nats, what the layer
    transmits about x (an upper bound on I(x; z_l)). Beside a latent classifier's accuracy it tells a layer
    that carries little from one that carries much but not the class: a posterior mean scores above chance
    even when its layer transmits next to nothing."""
    mu, logvar = posterior(model, images)
    return [k.sum(1).mean().item() for k in model.split(kl_to_standard_per_dim(mu, logvar))]


# ---------------------------------------------------------------------------------------------
# anomaly / out-of-distribution scores (Table 3, Supp. Table 1)

def auroc(scores, is_positive) -> float:
    """Area under the ROC curve; higher score = more anomalous (scikit-learn's roc_auc_score)."""
    from sklearn.metrics import roc_auc_score
    return float(roc_auc_score(_np(is_positive), _np(scores)))


def auprc(scores, is_positive) -> float:
    """Area under the precision-recall curve, anomalies positive.

    As in the protocol the paper follows (MEG / LEBM): trapezoidal area under scikit-learn's
    precision_recall_curve, not average precision.
    """
    from sklearn.metrics import auc, precision_recall_curve
    precision, recall, _ = precision_recall_curve(_np(is_positive), _np(scores))
    return float(auc(recall, precision))


def _np(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x


@torch.no_grad()
def anomaly_scores(model: LatentModel, images: torch.Tensor, generator: torch.Generator | None = None,
                   batch_size: int = 500, with_tilt: bool = True) -> torch.Tensor:
    """The paper's decision function (Sec. 5.4): -log p(x, z), unnormalised, at one z ~ q(z | x).

    Higher means more anomalous. log p(x, z) = log p(x | z) + f(z) + log N(z; 0, I), constants dropped.
    A model that infers by posterior Langevin (LEBM's own inference) is scored at its Langevin z.
    ``with_tilt`` False: the same score without f (the EBM switched off; the same z).
    """
    out = []
    for x in image_batches(images, model.device, batch_size):
        if getattr(model, "posterior_langevin", None) is not None:
            z = model.infer_by_langevin(x, generator)
        else:
            mu, logvar = model.encode(x)
            z = reparameterised_sample(mu, logvar, generator)
        log_joint = model.log_joint(x, z) - (0 if with_tilt else model.prior.tilt(z))
        out.append(-log_joint.cpu())
    return torch.cat(out)


@torch.no_grad()
def llr_scores(model, images: torch.Tensor, ks: tuple[int, ...], samples: int,
               generator: torch.Generator | None = None, batch_size: int = 250) -> dict[int, torch.Tensor]:
    """OOD scores of either HVAE (Havtorn et al. 2021), higher = more out-of-distribution: k = 0 gives
    -L(x) (the negative ELBO at ``samples`` = 1), k > 0 gives LLR^{>k}(x) = L(x) - L^{>k}(x), every bound the
    log-mean-exp of ``samples`` importance weights; L(x) is estimated once per image and shared by every k."""
    out = {k: [] for k in ks}
    for x in image_batches(images, model.device, batch_size):
        full = model.likelihood_bound(x, 0, generator, samples)
        for k in ks:
            out[k].append((-full if k == 0 else full - model.likelihood_bound(x, k, generator, samples)).cpu())
    return {k: torch.cat(v) for k, v in out.items()}


# ---------------------------------------------------------------------------------------------
# how strongly each layer reaches the image (the hierarchy's starting point)

@torch.no_grad()
def layer_influence(model: LatentModel, n: int = 500, seed: int = 0) -> list[float]:
    """Per layer, bottom first: the mean squared change of the decoded image (per pixel, [-1, 1]) when that
    layer's code is redrawn from N(0, I) and the others are kept.

    Measured as training sees the generator: a copy in train mode, so a batch norm uses the batch's
    statistics (in eval mode an untrained norm's running statistics are the identity) and the model's own
    running statistics are not touched. At initialisation this says which layer the first gradients reach
    the image through: in VLAE's nets the top code's path is the strong one.
    """
    import copy
    gen = torch.Generator().manual_seed(seed)
    generator = copy.deepcopy(model.generator).train()
    dims, dev = model.latent_dims, model.device
    z = torch.randn(n, sum(dims), generator=gen).to(dev)
    base = generator(model.split(z))
    out = []
    for layer in range(len(dims)):
        z2 = torch.where(model.layer_mask(layer, dev).bool(), torch.randn(n, sum(dims), generator=gen).to(dev), z)
        out.append((generator(model.split(z2)) - base).pow(2).mean().item())
    return out
