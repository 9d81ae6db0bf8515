import pytest

from hebm_lib.configs import PROFILES, config_names, get_config


def test_every_config_resolves_at_every_profile():
    for name in config_names():
        for profile in PROFILES:
            cfg = get_config(name, profile)
            assert cfg.profile == profile and len(cfg.hash) == 16


def test_unknown_names_are_rejected_with_the_valid_ones():
    with pytest.raises(ValueError, match="valid configs: .*mnist_ours"):
        get_config("mnist_oops", "cpu")
    with pytest.raises(ValueError, match="valid profiles: smoke, cpu, paper"):
        get_config("mnist_ours", "gpu")
    with pytest.raises(ValueError, match="unknown config parameter 'train.lr'.*train.lr_gen"):
        get_config("mnist_ours", "cpu", {"train.lr": 1.0})
    with pytest.raises(ValueError, match="model.prior"):
        get_config("mnist_ours", "cpu", {"model.prior": "flow"})


def test_hash_tracks_what_is_trained():
    a = get_config("mnist_ours", "cpu")
    assert a.hash == get_config("mnist_ours", "cpu").hash
    assert a.hash != get_config("mnist_ours", "cpu", {"train.iterations": 7}).hash
    assert a.hash != get_config("mnist_vlae", "cpu").hash


def test_profiles_name_their_data_explicitly():
    assert get_config("mnist_ours", "paper").data.name == "mnist"
    assert get_config("mnist_ours", "cpu").data.name == "mnist5k"
    assert get_config("svhn_ours", "paper").data.split == "extra"
    paper = get_config("svhn_ours", "paper")
    assert (paper.model.latent_dims, paper.train.langevin_steps, paper.train.lr_ebm) == ((2, 2, 2, 10), 60, 2e-6)
