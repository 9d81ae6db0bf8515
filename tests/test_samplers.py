import torch

from hebm_lib.configs import EBMPrior
from hebm_lib.models.priors import JointEBMPrior
from hebm_lib.models import samplers
from hebm_lib.models.samplers import langevin, resample_layer


def test_langevin_recovers_gaussian_mean_and_variance():
    mean, std = torch.tensor([1.5, -2.0]), torch.tensor([0.5, 1.5])
    grad = lambda z: -(z - mean) / std ** 2
    g = torch.Generator().manual_seed(0)
    # relaxation rate per step is s^2 / (2 std^2): 4000 steps of s = 0.1 forget the start at 0
    z = langevin(grad, torch.zeros(20_000, 2), steps=4000, step_size=0.1, generator=g)
    assert torch.allclose(z.mean(0), mean, atol=0.04)
    # the discretisation inflates the variance by 1 / (1 - s^2 / (4 std^2)): at most 1% here
    assert torch.allclose(z.std(0), std, rtol=0.02)


def test_langevin_mask_moves_only_masked_coordinates():
    z0 = torch.randn(50, 4)
    mask = torch.tensor([0.0, 1.0, 1.0, 0.0])
    z = langevin(lambda z: -z, z0, 20, 0.3, torch.Generator().manual_seed(1), mask=mask)
    assert torch.equal(z[:, [0, 3]], z0[:, [0, 3]])
    assert not torch.allclose(z[:, 1:3], z0[:, 1:3])


def test_fast_mlp_chain_matches_generic_langevin():
    prior = JointEBMPrior(6, EBMPrior(hidden=20, layers=3, spectral_norm=True))
    weights = prior.frozen_weights()
    z0 = torch.randn(30, 6)
    for mask in (None, torch.tensor([1.0, 1, 0, 0, 0, 0])):
        generic = langevin(lambda z: prior.grad_log_density(z, weights), z0, 40, 0.4,
                           torch.Generator().manual_seed(3), mask)
        fast = prior.sample(30, steps=40, step_size=0.4, generator=torch.Generator().manual_seed(3), init=z0,
                            mask=mask)
        # same noise, same maths; only float rounding (TorchScript's kernel order) differs
        assert torch.allclose(generic, fast, atol=2e-3)
        assert (fast - z0).abs().min() > 0 if mask is None else torch.equal(fast[:, 2:], z0[:, 2:])


def test_resample_layer_keeps_other_layers():
    prior = JointEBMPrior(6, EBMPrior(hidden=8, layers=2, langevin_steps=5))
    base = torch.randn(1, 6)
    mask = torch.tensor([0.0, 0, 1, 1, 0, 0])
    for protocol in ("conditional", "joint-mix"):
        z = resample_layer(prior, base, mask, 10, torch.Generator().manual_seed(0), protocol)
        assert z.shape == (10, 6)
        assert torch.equal(z[:, [0, 1, 4, 5]], base.expand(10, -1)[:, [0, 1, 4, 5]])
        assert z[:, 2:4].std(0).min() > 0


def test_fused_triton_chain_matches_the_torchscript_loop():
    """The CUDA kernel's maths, run by Triton's interpreter on CPU: same chain as the loop."""
    import os
    import subprocess
    import sys
    import pytest
    pytest.importorskip("triton")
    code = """
import torch
from hebm_lib.configs import EBMPrior
from hebm_lib.models.priors import JointEBMPrior
from hebm_lib.models import samplers, langevin_triton as lt
torch.manual_seed(0)
worst = 0.0
for layers, hidden, d, b in [(4, 50, 16, 37), (2, 8, 6, 5), (1, 20, 3, 17)]:
    prior = JointEBMPrior(d, EBMPrior(hidden=hidden, layers=layers))
    w = prior.frozen_weights()
    z0, noise = torch.randn(b, d), torch.randn(12, b, d) * 0.4
    for mask in (None, (torch.arange(d) < 2).float()):
        nz = noise if mask is None else noise * mask
        assert lt.available(z0, w)
        ref = samplers._scripted_kernel()(z0.clone(), nz, [a for a, _ in w[:-1]], [c for _, c in w[:-1]], w[-1][0], mask, 0.08, 0.2)
        out = lt.langevin_mlp_fused(w, z0, nz, 0.08, 0.2, mask)
        worst = max(worst, (out - ref).abs().max().item())
        if mask is not None:
            assert torch.equal(out[:, 2:], z0[:, 2:])
    # three members in one launch (an ensemble's chains): each as its own chain
    ws = [JointEBMPrior(d, EBMPrior(hidden=hidden, layers=layers)).frozen_weights() for _ in range(3)]
    stacked = [(torch.stack([v[i][0] for v in ws]), torch.stack([v[i][1] for v in ws])) for i in range(len(ws[0]))]
    zs, noises = torch.randn(3, b, d), torch.randn(3, 12, b, d) * 0.4
    together = lt.langevin_mlp_fused(stacked, zs, noises, 0.08, 0.2)
    for m in range(3):
        worst = max(worst, (together[m] - lt.langevin_mlp_fused(ws[m], zs[m], noises[m], 0.08, 0.2)).abs().max().item())
print(worst)
"""
    env = dict(os.environ, TRITON_INTERPRET="1")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert float(res.stdout.strip().splitlines()[-1]) < 1e-5


def test_the_chain_operator_runs_each_members_chain_under_vmap():
    """vmap over an ensemble's priors: the operator's rule runs every member's chain in one batched kernel; each
    equals the member's own chain on the same noise (float32 rounding of the batched matrix products aside)."""
    from torch.func import vmap
    priors = [JointEBMPrior(6, EBMPrior(hidden=20, layers=3)) for _ in range(3)]
    ws = [p.frozen_weights() for p in priors]
    stack = lambda i, j: torch.stack([w[i][j] for w in ws])
    hidden = [(stack(i, 0), stack(i, 1)) for i in range(len(ws[0]) - 1)]
    w_last = stack(len(ws[0]) - 1, 0)
    z0, noise = torch.randn(3, 30, 6), torch.randn(3, 40, 30, 6) * 0.4

    def chain(ws_, bs_, wl, z, n):
        return samplers._chain(z, n, ws_, bs_, wl, None, 0.08, 0.2)
    together = vmap(chain)([w for w, _ in hidden], [b for _, b in hidden], w_last, z0, noise)
    for m in range(3):
        alone = samplers._chain(z0[m], noise[m], [w for w, _ in ws[m][:-1]], [b for _, b in ws[m][:-1]], ws[m][-1][0],
                                None, 0.08, 0.2)
        assert torch.allclose(together[m], alone, atol=1e-5)
        assert not torch.allclose(together[m], together[(m + 1) % 3])
