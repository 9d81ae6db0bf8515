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


def test_lebm_uses_its_own_energy_net_and_sampler_at_paper():
    m, t = get_config("mnist_lebm", "paper").model, get_config("mnist_lebm", "paper").train
    assert (m.ebm_hidden, m.ebm_layers, m.ebm_spectral_norm, m.sigma) == (200, 2, False, 0.3)
    assert (t.langevin_steps, t.langevin_step_size, t.lr_ebm, t.lr_gen, t.betas) == (60, 0.4, 2e-5, 1e-4, (0.5, 0.999))


def test_anomaly_configs_hold_out_a_digit_and_keep_the_last_epochs_at_paper():
    for model in ("ours", "vae", "lebm", "hvae"):
        paper, cpu = get_config(f"anomaly_{model}", "paper"), get_config(f"anomaly_{model}", "cpu")
        assert paper.data.held_out == 1 and paper.train.snapshot_epochs == 10 and paper.data.name == "mnist"
        assert cpu.data.name == "mnist5k" and cpu.train.iterations < paper.train.iterations
        assert get_config(f"anomaly_{model}", "cpu", {"data.held_out": 7}).hash != cpu.hash
