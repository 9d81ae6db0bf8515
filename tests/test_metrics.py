import torch
from torch import nn

from hebm_lib.evaluation import metrics


def test_latent_classifier_separable_codes_reach_full_accuracy():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (2000,), generator=g)
    codes = nn.functional.one_hot(y, 10).float() * 3 + 0.1 * torch.randn(2000, 10, generator=g)
    acc = metrics.latent_classifier_accuracy(codes[:1500], y[:1500], codes[1500:], y[1500:], epochs=20)
    assert acc > 0.99


def test_latent_classifier_on_noise_is_at_chance():
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, 10, (3000,), generator=g)
    codes = torch.randn(3000, 2, generator=g)
    acc = metrics.latent_classifier_accuracy(codes[:2000], y[:2000], codes[2000:], y[2000:], epochs=5)
    assert 0.05 < acc < 0.16


def test_identity_change_rate_known_answer():
    class SignJudge(nn.Module):  # class 1 if the mean pixel is positive
        def forward(self, x):
            m = x.flatten(1).mean(1)
            return torch.stack([-m, m], 1)

    base = torch.ones(1, 4, 4)
    varied = torch.cat([torch.ones(3, 1, 4, 4), -torch.ones(1, 1, 4, 4)])
    assert metrics.identity_change_rate(SignJudge(), base, varied) == 0.25


def test_the_latent_classifier_learns_what_a_linear_one_cannot():
    """The paper's classifier has a hidden ReLU layer: it separates XOR-placed clusters of 2-d codes
    (a linear classifier cannot: at most 75%)."""
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    labels = torch.tensor([0, 0, 1, 1])
    pick = torch.randint(4, (4000,), generator=g)
    codes = centres[pick] + 0.2 * torch.randn(4000, 2, generator=g)
    acc = metrics.latent_classifier_accuracy(codes[:3000], labels[pick[:3000]], codes[3000:], labels[pick[3000:]],
                                             epochs=10, seed=0, n_classes=2)
    assert acc > 0.97
    assert metrics.latent_classifier(3, 10)[0].out_features == 256


def test_per_layer_accuracy_of_some_layers_is_those_layers_of_all():
    """The margin-over-training plots ask only for the top layer: the same classifier, seed and number."""
    from hebm_lib import data
    from hebm_lib.configs import get_config
    from hebm_lib.models import build_model
    torch.manual_seed(0)
    model = build_model(get_config("mnist_vlae", "smoke")).eval()
    train_set, test_set = data.load("mnist5k", "train").subset(300), data.load("mnist5k", "test").subset(200)
    every = metrics.per_layer_accuracy(model, train_set, test_set, 2, seed=5)
    assert len(every) == 3 and metrics.per_layer_accuracy(model, train_set, test_set, 2, 5, layers=[-1, 0]) == [every[-1], every[0]]


def test_a_judge_read_from_the_cache_is_the_fitted_one_and_leaves_the_generator_as_the_fit_did(tmp_path):
    """Figures 1 and 5 share a judge: the second page reads it, and what it draws next must not change."""
    from hebm_lib import data
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(120) % 10
    images = (labels.view(-1, 1, 1, 1) * 25 + torch.randint(0, 20, (120, 1, 28, 28), generator=g)).to(torch.uint8)
    train = data.ImageSet(images, labels, data.spec("mnist"), "train", "judge-test-fp")

    fitted, acc = metrics.train_judge(train, train, 2, cache_dir=tmp_path / "a")
    after_fit = torch.rand(3)
    assert len(list((tmp_path / "a" / "judges").glob("*.pt"))) == 1
    torch.manual_seed(123)                                   # a page's own draws before the second call
    read, acc_read = metrics.train_judge(train, train, 2, cache_dir=tmp_path / "a")
    after_read = torch.rand(3)
    assert acc_read == acc and torch.equal(after_read, after_fit)
    assert all(torch.equal(a, b) for a, b in zip(fitted.state_dict().values(), read.state_dict().values()))
    # another epoch count is another judge
    other, _ = metrics.train_judge(train, train, 1, cache_dir=tmp_path / "a")
    assert not torch.equal(other[0].weight, fitted[0].weight)
    # a judge file of another architecture is refused in one line naming the file and the fix
    import pytest
    from hebm_lib.errors import UnreadableFile
    for path in (tmp_path / "a" / "judges").glob("*.pt"):
        torch.save({"state": {"0.weight": torch.zeros(1)}, "cpu_generator_after": torch.get_rng_state()}, path)
    with pytest.raises(UnreadableFile, match=r"judges/mnist-\w+\.pt is not a judge of this code.*delete it"):
        metrics.train_judge(train, train, 2, cache_dir=tmp_path / "a")
