import pytest
import torch

from hebm_lib.configs import EBMPrior
from hebm_lib.models.priors import GaussianPrior, JointEBMPrior, build_prior


@pytest.mark.parametrize("spectral", [True, False])
def test_explicit_gradient_equals_autograd(spectral):
    prior = JointEBMPrior(16, EBMPrior(hidden=50, layers=4, spectral_norm=spectral)).eval()
    z = torch.randn(100, 16, requires_grad=True)
    auto = torch.autograd.grad(prior.log_density(z).sum(), z)[0]
    assert torch.allclose(prior.grad_log_density(z.detach()), auto, atol=1e-5)


def test_gaussian_prior_interface():
    prior = GaussianPrior(3)
    z = torch.randn(5, 3)
    assert torch.equal(prior.tilt(z), torch.zeros(5))
    assert torch.allclose(prior.grad_log_density(z), -z)
    s = prior.sample(50_000, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(s.mean(0), torch.zeros(3), atol=0.02) and torch.allclose(s.std(0), torch.ones(3), atol=0.02)


def test_ebm_update_raises_f_on_posterior_relative_to_prior():
    """Eq. 10 with z+ from a shifted Gaussian: a few steps must raise f(z+) - f(z-)."""
    torch.manual_seed(0)
    prior = JointEBMPrior(2, EBMPrior(hidden=32, layers=2, spectral_norm=False))
    opt = torch.optim.Adam(prior.parameters(), lr=1e-2)
    z_pos = torch.randn(512, 2) * 0.3 + torch.tensor([2.0, 0.0])
    gap = lambda z_neg: (prior.tilt(z_pos).mean() - prior.tilt(z_neg).mean()).item()
    z_neg = prior.sample(512, steps=30, step_size=0.4, generator=torch.Generator().manual_seed(1))
    before = gap(z_neg)
    for _ in range(50):
        z_neg = prior.sample(512, steps=30, step_size=0.4, generator=torch.Generator().manual_seed(2))
        loss = prior.tilt(z_neg).mean() - prior.tilt(z_pos).mean()
        opt.zero_grad(); loss.backward(); opt.step()
    assert gap(prior.sample(512, steps=30, step_size=0.4, generator=torch.Generator().manual_seed(1))) > before + 0.5
    # and the learned prior moves its samples towards the posterior mode
    assert prior.sample(2000, steps=200, step_size=0.2, generator=torch.Generator().manual_seed(4))[:, 0].mean() > 0.3


def test_build_prior_reads_the_config():
    assert isinstance(build_prior(None, 4), GaussianPrior)
    ebm = build_prior(EBMPrior(hidden=7, layers=3, langevin_steps=11, langevin_step_size=0.3), 4)
    assert [lin.weight.shape[0] for lin in ebm.linears] == [7, 7, 7, 1]
    assert (ebm.steps, ebm.step_size) == (11, 0.3)


def test_a_scaled_energy_is_the_net_times_its_scale_in_value_gradient_and_cap():
    """prior.scale multiplies f: the same weights give scale x f, the sampler's explicit gradient (the scale folded
    into the last layer) equals autograd's, and the Lipschitz cap of a spectrally normalised net is about scale."""
    torch.manual_seed(0)
    one = JointEBMPrior(6, EBMPrior(hidden=16, layers=3)).eval()
    torch.manual_seed(0)
    three = JointEBMPrior(6, EBMPrior(hidden=16, layers=3, scale=3.0)).eval()
    three.load_state_dict(one.state_dict())
    z = torch.randn(32, 6, requires_grad=True)
    assert torch.allclose(three.tilt(z), 3 * one.tilt(z), atol=1e-6)
    auto = torch.autograd.grad(three.tilt(z).sum(), z)[0]
    explicit = three.grad_tilt_from(three.frozen_weights(), z.detach())
    assert torch.allclose(explicit, auto, atol=1e-5)
    assert three.lipschitz_cap() == pytest.approx(3 * one.lipschitz_cap(), rel=1e-6)
    with pytest.raises(ValueError, match="scale"):
        EBMPrior(scale=0.0)
