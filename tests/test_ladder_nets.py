"""VLAE's ladder as config options (the gated merge of lower codes, batch norm, the initialisation) and
what they are for: at initialisation the top code's path to the image is the strong one."""
import pytest
import torch

from hebm_lib.configs import LADDER_BEFORE_VLAE, PROFILES, get_config
from hebm_lib.evaluation.metrics import layer_influence
from hebm_lib.models import build_model
from hebm_lib.models.ladder import LowerCodeMerge

TABLE1 = ["mnist_ours", "mnist_vlae", "fmnist_ours", "fmnist_vlae"]


def _influence(cfg, seed=0):
    torch.manual_seed(seed)
    return layer_influence(build_model(cfg), n=256, seed=seed)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", TABLE1)
def test_at_initialisation_the_top_layer_moves_the_image_more_than_the_bottom(name, profile):
    influence = _influence(get_config(name, profile))
    assert influence[-1] > 10 * influence[0], influence


@pytest.mark.parametrize("profile", PROFILES)
def test_the_earlier_nets_fail_the_influence_test(profile):
    """The test above can fail: with the earlier nets the top code barely reaches the image."""
    influence = _influence(get_config("fmnist_vlae", profile, LADDER_BEFORE_VLAE))
    assert influence[-1] < influence[0], influence


def test_the_gated_merge_starts_at_its_initial_gate():
    merge = LowerCodeMerge("gated", (3,), 0.1)
    h, p = torch.randn(4, 3), torch.randn(4, 3)
    assert torch.allclose(merge(h, p), h + 0.1 * p)
    assert torch.equal(LowerCodeMerge("add", (3,), None)(h, p), h + p)
    assert torch.equal(LowerCodeMerge("concat", (3,), None)(h, p), torch.cat([h, p], 1))
    model = build_model(get_config("fmnist_vlae", "smoke"))
    gates = [m.gate for m in model.generator.merge]
    assert len(gates) == 2 and all(torch.equal(g, torch.full_like(g, 0.1)) for g in gates)
    assert all(g.requires_grad for g in gates)   # learned, per unit


def test_batch_norm_in_eval_mode_decodes_each_image_on_its_own():
    cfg = get_config("fmnist_vlae", "smoke")
    assert cfg.nets.norm == "batch"
    model = build_model(cfg)
    z = torch.randn(8, 6)
    model.train()
    assert not torch.allclose(model.decode(z)[:2], model.decode(z[:2]))   # batch statistics couple images
    model.eval()
    assert torch.allclose(model.decode(z)[:1], model.decode(z[:1]), atol=1e-6)


@pytest.mark.parametrize("layout", ["dense", "conv"])
def test_every_injection_is_built_by_both_layouts(layout):
    """No option is silently ignored: each injection gives another generator in either layout."""
    base = "fmnist_vlae" if layout == "dense" else "svhn_vlae"
    counts = {}
    for inj, gate in (("concat", None), ("add", None), ("gated", 0.1)):
        cfg = get_config(base, "smoke", {"nets.injection": inj, "nets.gate_init": gate, "nets.norm": "none"})
        assert cfg.nets.layout == layout
        model = build_model(cfg)
        counts[inj] = sum(p.numel() for p in model.generator.parameters())
        assert model.decode(torch.randn(3, sum(cfg.nets.latent_dims))).shape[1:] == cfg.nets.image_shape
    assert len(set(counts.values())) == 3, counts


@pytest.mark.parametrize("overrides, message", [
    ({"nets.injection": "gated", "nets.gate_init": None}, "gate_init"),
    ({"nets.injection": "concat", "nets.gate_init": 0.1}, "gate_init"),
    ({"nets.norm": "layer"}, "nets.norm"),
    ({"nets.init": "orthogonal"}, "nets.init"),
])
def test_a_bad_ladder_option_is_one_clear_error(overrides, message):
    with pytest.raises(ValueError, match=message):
        get_config("fmnist_vlae", "smoke", overrides)


def test_a_one_layer_ladder_has_no_merge_to_choose():
    with pytest.raises(ValueError, match="one-layer ladder has no lower code"):
        get_config("fmnist_vae", "smoke", {"nets.injection": "gated", "nets.gate_init": 0.1})


def test_batch_norm_is_refused_with_posterior_langevin():
    """LEBM's posterior Langevin decodes each image on its own; a batch norm in training mode would couple
    the images of a batch."""
    with pytest.raises(ValueError, match="posterior_langevin"):
        get_config("anomaly_lebm", "smoke", {"nets.norm": "batch"})
