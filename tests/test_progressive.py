"""pro-VLAE's progressive training: gates, KL weights, step snapshots; beta weighting."""
import pytest
import torch

from hebm_lib.configs import get_config
from hebm_lib.models import build_model
from hebm_lib.training import Trainer, train_or_load


def _trainer(name, **over):
    cfg = get_config(name, "smoke", {"data.n_train": 64, "train.batch_size": 16, **over})
    images = torch.randint(0, 256, (64,) + tuple(cfg.nets.image_shape), dtype=torch.uint8)
    return Trainer(cfg, build_model(cfg), images, 0, torch.device("cpu"))


def _weights(tr, it):
    return tr.schedule.dim_weights(it, tr.model, tr.device)


def test_layers_are_added_top_down_with_fade_in_and_pre_kl():
    tr = _trainer("shapes3d_provlae", **{"train.iterations": 30, "schedule.fade_in": 4, "schedule.beta": 8.0,
                                         "schedule.pre_kl": 0.5})
    gen, enc = tr.model.generator.gates, tr.model.encoder.gates
    w = _weights(tr, 0)                       # step 1: only z_3
    assert tr.schedule.stage(0) == 1 and gen.tolist() == [0, 0, 1] and enc.tolist() == [1, 1, 1]
    assert w.tolist() == [0.5] * 6 + [8.0] * 3
    w = _weights(tr, 10)                      # first iteration of step 2: z_2 fades in
    assert tr.schedule.stage(10) == 2 and gen.tolist() == [0, 0.25, 1] and enc.tolist() == [1, 0.25, 1]
    assert w.tolist() == [0.5] * 3 + [8.0] * 6
    _weights(tr, 13)
    assert gen.tolist() == [0, 1, 1]
    _weights(tr, 29)                          # last step: everything on
    assert tr.schedule.stage(29) == 3 and gen.tolist()[1:] == [1, 1] and gen[0] == 1.0


def test_an_inactive_layer_does_not_reach_the_image():
    tr = _trainer("shapes3d_provlae", **{"train.iterations": 30})
    _weights(tr, 0)
    m = tr.model.eval()
    z = torch.randn(2, 9)
    z2 = z.clone()
    z2[:, :3] += 5.0                                   # change z_1 (inactive at step 1)
    assert torch.allclose(m.decode(z), m.decode(z2))
    z2[:, 6:] += 5.0                                   # change z_3 (active)
    assert not torch.allclose(m.decode(z), m.decode(z2))


def test_beta_weights_the_kl():
    torch.manual_seed(0)
    tr1 = _trainer("shapes3d_betavae", **{"schedule.beta": 1.0})
    assert _weights(tr1, 0) is None
    tr8 = _trainer("shapes3d_betavae", **{"schedule.beta": 8.0})
    x = tr8._batch(0)
    m = tr8.model
    g = torch.Generator().manual_seed(0)
    kl1 = m.neg_elbo_terms(x, g, "analytic", None, None).kl
    g = torch.Generator().manual_seed(0)
    kl8 = m.neg_elbo_terms(x, g, "analytic", None, _weights(tr8, 0)).kl
    assert torch.allclose(kl8, 8 * kl1)


def test_each_progressive_step_is_saved_with_its_gates(tmp_path):
    cfg = get_config("shapes3d_provlae", "smoke", {"train.iterations": 9})
    tm = train_or_load(cfg, 0, "cpu", cache_dir=tmp_path, progress=False)
    stages = list(tm.stages())
    assert [s for s, _ in stages] == [1, 2, 3]
    assert stages[0][1].generator.gates.tolist() == [0, 0, 1]
    assert stages[1][1].generator.gates.tolist() == [0, 1, 1]
    final = tm.model.state_dict()
    assert all(torch.equal(final[k], v) for k, v in stages[2][1].state_dict().items())


def test_progressive_configs_are_validated():
    with pytest.raises(ValueError, match="schedule.steps = 3"):
        get_config("shapes3d_provlae", "smoke", {"schedule.steps": 2})
    with pytest.raises(ValueError, match="conv ladder"):
        get_config("mnist_vlae", "smoke", {"schedule": {"kind": "progressive", "steps": 3}})
    with pytest.raises(ValueError, match="HVAE supports neither"):
        get_config("mnist_hvae", "smoke", {"schedule": {"kind": "constant", "beta": 4.0}})
