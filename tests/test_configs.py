import re

import pytest

from hebm_lib import configs
from hebm_lib.configs import PROFILES, config_names, get_config


def test_every_config_resolves_and_its_profiles_differ():
    for name in config_names():
        hashes = {get_config(name, profile).hash for profile in PROFILES}
        assert len(hashes) == 3, f"{name}: two profiles resolve to the same config"


def test_every_config_is_one_greppable_row_of_the_table():
    """One Row(...) line per config, except VHP Table 2's grid: one row of data sets by one of systems."""
    source = (configs.__file__ and open(configs.__file__).read())
    grid = {f"{d}_nll_{k}" for d in configs._NLL_DATA for k in configs._NLL_SYSTEMS}
    assert len(grid) == 20 and grid <= set(config_names())
    for name in config_names():
        rows = re.findall(rf'^\s*Row\("{name}",', source, flags=re.M)
        assert len(rows) == (name not in grid), f"{name}: expected one Row(...) line in configs.py, found {len(rows)}"
    grid_source = source[source.index("_NLL_DATA = {"):source.index("CONFIGS += [Row(")]
    for key in [*configs._NLL_DATA, *configs._NLL_SYSTEMS]:
        assert len(re.findall(rf'^\s*"{key}":\s', grid_source, flags=re.M)) == 1, f"{key}: one line of the grid"


def test_unknown_names_are_rejected_with_the_valid_ones():
    with pytest.raises(ValueError, match="valid configs: .*mnist_ours"):
        get_config("mnist_oops", "cpu")
    with pytest.raises(ValueError, match="valid profiles: smoke, cpu, paper"):
        get_config("mnist_ours", "gpu")
    with pytest.raises(ValueError, match="unknown config parameter 'train.lr_gen'.*train parameters of TrainConfig: iterations"):
        get_config("mnist_ours", "cpu", {"train.lr_gen": 1.0})
    with pytest.raises(ValueError, match="nets.layout='flow'"):
        get_config("mnist_ours", "cpu", {"nets.layout": "flow"})
    with pytest.raises(ValueError, match="N\\(0, I\\) prior: there is no prior.lr"):
        get_config("mnist_vlae", "cpu", {"prior.lr": 1.0})
    with pytest.raises(ValueError, match="valid kinds: constant, warmup"):
        get_config("mnist_ours", "cpu", {"schedule": {"kind": "cosine"}})


def test_a_whole_section_can_be_replaced():
    cfg = get_config("fmnist_ours", "cpu", {"schedule": {"kind": "constant"}})
    assert cfg.schedule == configs.ConstantKL() and get_config("fmnist_ours", "cpu").schedule == configs.KLWarmup(750)
    vlae = get_config("fmnist_vlae", "cpu", {"prior": {"lr": 1e-3}})
    assert vlae.prior == configs.EBMPrior(lr=1e-3)
    assert get_config("fmnist_ours", "cpu", {"prior": None}).prior is None


def test_hash_tracks_what_is_trained():
    a = get_config("mnist_ours", "cpu")
    assert a.hash == get_config("mnist_ours", "cpu").hash
    assert a.hash != get_config("mnist_ours", "cpu", {"train.iterations": 7}).hash
    assert a.hash != get_config("mnist_vlae", "cpu").hash
    # the same numbers in another schedule class are another config
    assert (get_config("mnist_vlae", "cpu", {"schedule": {"kind": "constant", "beta": 1.0}}).hash
            != get_config("mnist_vlae", "cpu", {"schedule": {"kind": "warmup", "iterations": 1}}).hash)


def test_profiles_name_their_data_explicitly():
    assert get_config("mnist_ours", "paper").data.name == "mnist"
    # MNIST is offline (make data): every profile trains on it, no substitute
    assert {get_config(n, p).data.name for n in ("mnist_ours", "mnist012_ours", "anomaly_ours")
            for p in ("cpu", "smoke")} == {"mnist"}
    assert get_config("svhn_ours", "paper").data.split == "extra"
    paper = get_config("svhn_ours", "paper")
    assert (paper.nets.latent_dims, paper.prior.langevin_steps, paper.prior.lr) == ((2, 2, 2, 10), 60, 2e-6)


def test_lebm_uses_its_own_energy_net_and_sampler_at_paper():
    cfg = get_config("mnist_lebm", "paper")
    p, t = cfg.prior, cfg.train
    assert (p.hidden, p.layers, p.spectral_norm, cfg.nets.sigma) == (200, 2, False, 0.3)
    assert (p.langevin_steps, p.langevin_step_size, p.lr, t.lr, t.betas) == (60, 0.4, 2e-5, 1e-4, (0.5, 0.999))


def test_anomaly_configs_hold_out_a_digit_and_keep_the_last_epochs_at_paper():
    for model in ("ours", "vae", "lebm", "hvae"):
        paper, cpu = get_config(f"anomaly_{model}", "paper"), get_config(f"anomaly_{model}", "cpu")
        assert paper.data.held_out == 1 and paper.train.snapshot_epochs == 10 and paper.data.name == "mnist"
        assert cpu.data.name == "mnist" and cpu.train.iterations < paper.train.iterations
        assert get_config(f"anomaly_{model}", "cpu", {"data.held_out": 7}).hash != cpu.hash


def test_an_artefacts_settings_seeds_and_models_live_in_its_record():
    from hebm_lib.report import manifest
    tab1, tab3 = manifest.get("tab1"), manifest.get("tab3")
    assert tab1.settings("paper")["classifier_epochs"] == 50 and tab1.settings("smoke")["classifier_train_max"] == 512
    assert tab3.default_seeds("paper") == [0, 1, 2] and manifest.get("supp_fig1").default_seeds("cpu") == [0, 1, 2]
    assert tab3.default_seeds("cpu") == [0, 1] and manifest.get("fig10").default_seeds("cpu") == [0]
    assert tab1.default_seeds("cpu") == [0, 1] and tab1.models("cpu")[0] == ("mnist_ours", {})   # the defaults
    assert tab3.models("paper")[:2] == [("anomaly_ours", {"data.held_out": 1}), ("anomaly_vae", {"data.held_out": 1})]
    assert len(tab3.models("paper")) == 20 and tab3.models("paper", held_out=[7]) == [
        (f"anomaly_{m}", {"data.held_out": 7}) for m in ("ours", "vae", "lebm", "hvae")]
    assert manifest.get("tab5").models("smoke") == [("svhn_fid_vlae", {}), ("svhn_fid_ours", {"prior.hidden": 10})]
    assert manifest.get("provlae_fig2").models("cpu", betas=[2.0]) == [
        ("shapes3d_betavae", {"schedule.beta": 2.0}), ("shapes3d_vlae", {"schedule.beta": 2.0}),
        ("shapes3d_provlae", {"schedule.beta": 2.0}), ("shapes3d_ours", {})]
    with pytest.raises(ValueError, match="valid profiles"):
        tab1.settings("gpu")


def test_every_model_an_artefact_trains_is_among_its_configs():
    """run.config refuses a config its record does not list; so must the record's own model list."""
    from hebm_lib.report import manifest
    for art in manifest.ARTEFACTS:
        for profile in PROFILES:
            for name, extra in art.models(profile):
                assert name in art.configs, f"{art.id} at {profile} trains {name}, not among its configs"
                get_config(name, profile, extra)   # and the overrides resolve


def test_the_library_is_layered_without_cycles():
    """Every import of hebm_lib points down its layers (tools/import_graph.py)."""
    import importlib.util
    from hebm_lib import paths
    spec = importlib.util.spec_from_file_location("import_graph", paths.REPO_ROOT / "tools" / "import_graph.py")
    graph_tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(graph_tool)
    g = graph_tool.graph()
    assert "hebm_lib.training.trainer" in g and "hebm_lib.models.ladder" in g
    assert graph_tool.cycles(g) == [] and graph_tool.upward(g) == []


# today's hashes (the cache keys of the models and the keys of stored runs' configs): a change of the hash
# scheme, or of what these configs train, fails here and must be a decision
PINNED_HASHES = {("fmnist_ours", "paper"): "28aef142a3b675e3", ("fmnist_vlae", "paper"): "fe375058bd570130",
                 ("fmnist_ours", "cpu"): "1d7e38199dbe1ba9", ("fmnist_vlae", "cpu"): "1510917b7b42f2b4",
                 ("mnist_ours", "paper"): "b921f5f058e6472f", ("mnist_vlae", "cpu"): "3ceaa616d06c28a0"}


@pytest.mark.parametrize("name, profile", sorted(PINNED_HASHES))
def test_config_hashes_are_pinned(name, profile):
    assert get_config(name, profile).hash == PINNED_HASHES[name, profile]


# the stored paper runs' configs (results/paper/, saved under the hash scheme of their day) as today's scheme
# keys them: what `changed_since` and the campaign compare; a scheme change shows here first
PINNED_STORED = {"f2e93388f46ed633": "67b60d065940cb85", "f3fc2b8a32c6aa91": "4969920727f9a3f6",   # tab1
                 "0a0f11ab21a5bd0d": "f285807643418e6f", "63796baa1d8cb43c": "9667590424359dbe"}   # fig5


def test_the_stored_runs_configs_keep_their_pinned_hashes():
    import json
    from hebm_lib import paths
    stored = {k: c for f in sorted((paths.REPO_ROOT / "results" / "paper").glob("*.json"))
              for k, c in json.loads(f.read_text())["configs"].items()}
    assert stored.keys() == PINNED_STORED.keys(), "a stored run came or went: pin its configs' hashes here"
    assert {k: configs.config_from_dict(c).hash for k, c in stored.items()} == PINNED_STORED


def test_a_field_at_its_default_is_left_out_of_the_hash():
    """A field added later leaves every earlier hash unchanged while at its default (no list is kept)."""
    import dataclasses
    cfg = get_config("shapes3d_ours", "cpu")
    assert cfg.nets.norm == "none" and cfg.nets.gate_init is None   # defaults: absent from the hash
    d = cfg.to_dict()
    for field in ("norm", "init", "gate_init"):
        del d["nets"][field]                                        # a config saved before they existed
    assert configs.config_from_dict(d).hash == cfg.hash
    changed = dataclasses.replace(cfg, nets=dataclasses.replace(cfg.nets, norm="batch"))
    assert changed.hash != cfg.hash


def test_dotted_overrides_of_one_section_apply_together():
    cfg = get_config("shapes3d_vlae", "smoke", {"nets.injection": "gated", "nets.gate_init": 0.5})
    assert (cfg.nets.injection, cfg.nets.gate_init) == ("gated", 0.5)
    with pytest.raises(ValueError, match="prior was removed"):
        get_config("fmnist_ours", "smoke", {"prior.lr": 1.0, "prior": None})


def test_changed_settings_names_each_field():
    old = get_config("fmnist_vlae", "paper", {"nets.norm": "none", "train.iterations": 10})
    new = get_config("fmnist_vlae", "paper")
    assert configs.changed_settings(old, new) == ["nets.norm: 'none' -> 'batch'", "train.iterations: 10 -> 60000"]
    assert configs.changed_settings(new, new) == []
    assert configs.changed_settings(get_config("fmnist_ours", "paper"), new) == ["prior: EBMPrior -> None (N(0, I))"]


@pytest.mark.parametrize("name", ["mnist_vlae", "pendulum_vhp_rewo", "mnist_nll_iwae1"])
def test_free_nats_belong_to_the_hvaes_alone(name):
    """Each nets family's rules (NetsFamily.check_experiment): only the HVAEs' losses apply a KL floor."""
    assert get_config("fmnist_hvae_oodd", "cpu").train.free_nats is not None
    assert get_config("mnist_hvae6", "cpu").train.free_nats is not None
    assert get_config("mnist_hvae", "smoke", {"train.free_nats": [1.0, 1, 1]}).train.free_nats == (1.0, 1, 1)
    with pytest.raises(ValueError, match="free_nats is for the HVAEs"):
        get_config(name, "smoke", {"train.free_nats": [1.0, 1, 1]})
