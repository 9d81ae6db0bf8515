import torch

from hebm_lib import data
from hebm_lib.evaluation import metrics

def test_perfect_separation_scores_one():
    scores = torch.tensor([0.1, 0.2, 0.3, 0.9, 0.95])
    positive = torch.tensor([0, 0, 0, 1, 1])
    assert metrics.auroc(scores, positive) == 1.0
    assert abs(metrics.auprc(scores, positive) - 1.0) < 1e-9


def test_identical_score_distributions_are_chance():
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(20_000, generator=g)
    positive = torch.rand(20_000, generator=g) < 0.2
    assert abs(metrics.auroc(scores, positive) - 0.5) < 0.02
    assert abs(metrics.auprc(scores, positive) - 0.2) < 0.02  # chance AUPRC is the positive rate


def test_anomaly_split_follows_the_protocol():
    train, test = data.load("mnist5k", "train"), data.load("mnist5k", "test")
    tr, te, is_anomaly = data.anomaly_split(train, test, held_out=7)
    assert (tr.labels != 7).all()
    assert len(tr) == int(0.8 * 4500)
    assert is_anomaly.sum() == 500 and len(te) == 4500 - len(tr) + 500
    assert torch.equal(is_anomaly, te.labels == 7)
    tr2, _, _ = data.anomaly_split(train, test, held_out=7)
    assert torch.equal(tr.images, tr2.images)  # fixed shuffle


def test_anomaly_score_is_the_negative_log_joint_at_a_posterior_sample():
    from hebm_lib.configs import get_config
    from hebm_lib.models import build_model
    model = build_model(get_config("mnist_lebm", "smoke")).eval()
    images = torch.randint(0, 256, (7, 1, 28, 28), dtype=torch.uint8)
    scores = metrics.anomaly_scores(model, images, torch.Generator().manual_seed(0), batch_size=3)
    x = images.float() / 127.5 - 1
    mu, logvar = model.encode(x)
    g = torch.Generator().manual_seed(0)
    eps = torch.cat([torch.randn(mu[i:i + 3].shape, generator=g) for i in range(0, 7, 3)])
    expected = -model.log_joint(x, mu + (0.5 * logvar).exp() * eps)
    assert torch.allclose(scores, expected, atol=1e-4)


def test_training_set_applies_the_anomaly_protocol():
    from hebm_lib.configs import get_config
    cfg = get_config("anomaly_vae", "cpu", {"data.held_out": 4})
    tr = data.training_set(cfg.data)
    ref, _, _ = data.anomaly_split(data.load("mnist", "train"), data.load("mnist", "test"), 4)
    assert (tr.labels != 4).all() and torch.equal(tr.images, ref.images)
    assert tr.fingerprint == ref.fingerprint
