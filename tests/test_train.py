import sys
from pathlib import Path

import pytest
import torch

from hebm_lib import data
from hebm_lib import io as io_lib
from hebm_lib.configs import get_config
from hebm_lib.models import build_model
from hebm_lib.io import UnreadableFile, atomic_save
from hebm_lib.training import Trainer, TrainingDiverged, train, train_or_load

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import smoke_losses  # noqa: E402
from conftest import Interrupt, interrupt_at  # noqa: E402


def _step_loss(trainer):
    trainer.step()
    return trainer.read_stats()["loss"]


def _params(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("name", ["mnist_ours", "mnist_hvae", "fmnist_hvae_oodd"])
def test_short_training_lowers_the_loss(name):
    images = data.load("mnist5k", "train").subset(512).images
    cfg = get_config(name, "smoke", {"train.batch_size": 32, "train.lr": 2e-3})
    trainer = Trainer(cfg, build_model(cfg), images, 0, torch.device("cpu"))
    losses = [_step_loss(trainer) for _ in range(60)]
    assert sum(losses[-10:]) / 10 < 0.7 * sum(losses[:5]) / 5
    assert (trainer.opt_ebm is None) == (cfg.prior is None)


def test_same_seed_same_result(tiny_cfg, tiny_images, tmp_path):
    a = train(tiny_cfg, 3, tmp_path / "a", tiny_images, progress=False)
    b = train(tiny_cfg, 3, tmp_path / "b", tiny_images, progress=False)
    c = train(tiny_cfg, 4, tmp_path / "c", tiny_images, progress=False)
    pa, pb, pc = _params(a.model), _params(b.model), _params(c.model)
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert not all(torch.equal(pa[k], pc[k]) for k in pa)


def _without_seconds(history):
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


def test_resume_is_exact(tiny_cfg, tiny_images, tmp_path):
    full = train(tiny_cfg, 0, tmp_path / "full", tiny_images, progress=False)
    with pytest.raises(Interrupt):   # dies after iteration 5; the last checkpoint is at 4
        train(tiny_cfg, 0, tmp_path / "resumed", tiny_images, progress=False, callback=interrupt_at(5))
    assert torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=False)["iteration"] == 4
    resumed = train(tiny_cfg, 0, tmp_path / "resumed", tiny_images, progress=False)
    assert resumed.iteration == full.iteration == tiny_cfg.train.iterations
    pf, pr = _params(full.model), _params(resumed.model)
    assert all(torch.equal(pf[k], pr[k]) for k in pf)
    assert _without_seconds(resumed.history) == _without_seconds(full.history)   # wall time aside


def test_conv_hvae_resumes_exactly_through_its_free_nats_and_binarisation(tiny_images, tmp_path):
    """The free-nats floor moves with the iteration and the binarised pixels come from the trainer's RNG:
    a resumed run must see both as the uninterrupted one did."""
    cfg = get_config("fmnist_hvae_oodd", "smoke", {"train.free_nats": [1.0, 2, 3], "train.checkpoint_every": 2})
    full = train(cfg, 0, tmp_path / "full", tiny_images, progress=False)

    class Interrupt(Exception):
        pass

    def stop_at_3(trainer, stats):
        if trainer.iteration == 3:
            assert trainer.model.free_nats.item() == pytest.approx(1.0 * (1 - 0 / 3))   # iteration 2: decay starts
            raise Interrupt

    with pytest.raises(Interrupt):
        train(cfg, 0, tmp_path / "resumed", tiny_images, progress=False, callback=stop_at_3)
    resumed = train(cfg, 0, tmp_path / "resumed", tiny_images, progress=False)
    pf, pr = _params(full.model), _params(resumed.model)
    assert all(torch.equal(pf[k], pr[k]) for k in pf)
    assert _without_seconds(resumed.history) == _without_seconds(full.history)   # wall time aside


def test_resume_refuses_a_checkpoint_of_another_config(tiny_cfg, tiny_images, tmp_path):
    train(tiny_cfg, 0, tmp_path, tiny_images, progress=False)
    other = get_config("mnist_ours", "smoke", {"data.n_train": 64, "train.batch_size": 16, "train.iterations": 9})
    with pytest.raises(UnreadableFile, match=f"{tmp_path / 'checkpoint.pt'} was written for another config"):
        train(other, 0, tmp_path, tiny_images, progress=False)


def test_divergence_stops_and_keeps_the_last_good_checkpoint(tiny_cfg, tiny_images, tmp_path):
    def poison(trainer, stats):  # after the checkpoint at iteration 4, corrupt the weights
        if trainer.iteration == 4:
            with torch.no_grad():
                next(trainer.model.generator.parameters()).fill_(float("nan"))

    with pytest.raises(TrainingDiverged, match="diverged at iteration 5: non-finite"):
        train(tiny_cfg, 0, tmp_path, tiny_images, progress=False, callback=poison)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert state["iteration"] == 4
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())


def test_exploding_energy_is_divergence(tiny_images, tmp_path):
    cfg = get_config("mnist_ours", "smoke", {"train.batch_size": 16, "train.max_energy_gap": 1e-9})
    with pytest.raises(TrainingDiverged, match="energy gap"):
        train(cfg, 0, tmp_path, tiny_images, progress=False)


def test_atomic_save_leaves_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    atomic_save({"v": 1}, path)

    def broken_save(obj, f):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(io_lib.torch, "save", broken_save)
    with pytest.raises(OSError):
        atomic_save({"v": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=False) == {"v": 1}


def test_model_cache_trains_once(tmp_path):
    cfg = get_config("mnist_ours", "smoke", {"train.iterations": 3})
    first = train_or_load(cfg, 0, "cpu", cache_dir=tmp_path, progress=False)
    second = train_or_load(cfg, 0, "cpu", cache_dir=tmp_path, progress=False)
    assert not first.info["cached"] and second.info["cached"]
    assert first.run_dir == second.run_dir
    assert (first.run_dir / "config.json").exists()
    third = train_or_load(get_config("mnist_vlae", "smoke", {"train.iterations": 3}), 0, "cpu",
                          cache_dir=tmp_path, progress=False)
    assert third.run_dir != first.run_dir


def _train_in_a_process(cache_dir, queue):
    cfg = get_config("mnist_ours", "smoke", {"train.iterations": 40})
    tm = train_or_load(cfg, 0, "cpu", cache_dir=cache_dir, progress=False)
    queue.put((tm.info["cached"], str(tm.run_dir)))


def test_two_processes_asking_for_one_model_train_it_once(tmp_path):
    """Notebooks run side by side (run-all --jobs 2): the second waits on the lock and loads the first's model."""
    import multiprocessing
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_train_in_a_process, args=(tmp_path, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = sorted(queue.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert [cached for cached, _ in outcomes] == [False, True]
    assert outcomes[0][1] == outcomes[1][1]


def test_cuda_request_without_cuda_is_an_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(ValueError, match="CUDA is not available"):
        io_lib.resolve_device("cuda")


def test_bf16_autocast_trains_to_the_same_loss():
    """The bf16 option (faster on AMX CPUs and GPUs) must not change where training goes."""
    images = data.load("mnist5k", "train").subset(512).images
    finals = {}
    for amp in ("off", "bf16"):
        torch.manual_seed(0)
        cfg = get_config("mnist_ours", "smoke", {"train.batch_size": 32, "train.lr": 2e-3, "train.amp": amp})
        trainer = Trainer(cfg, build_model(cfg), images, 0, torch.device("cpu"))
        losses = [_step_loss(trainer) for _ in range(60)]
        finals[amp] = sum(losses[-10:]) / 10
    assert abs(finals["bf16"] - finals["off"]) < 0.05 * finals["off"]


def test_snapshots_keep_the_last_epochs(tmp_path):
    # 64 images / batch 16 = 4 iterations per epoch; 12 iterations, keep 2 epochs -> iterations 8 and 12
    cfg = get_config("mnist_vae", "smoke", {"data.n_train": 64, "train.batch_size": 16, "train.iterations": 12,
                                             "train.snapshot_epochs": 2})
    tm = train_or_load(cfg, 0, "cpu", cache_dir=tmp_path, progress=False)
    snaps = list(tm.snapshots())
    assert [it for it, _ in snaps] == [8, 12]
    final = dict(tm.model.state_dict())
    assert all(torch.equal(final[k], v) for k, v in snaps[-1][1].state_dict().items())
    assert not all(torch.equal(final[k], v) for k, v in snaps[0][1].state_dict().items())
    # without snapshots: just the final model
    plain = train_or_load(get_config("mnist_vae", "smoke", {"train.iterations": 2}), 0, "cpu", cache_dir=tmp_path,
                          progress=False)
    assert [it for it, _ in plain.snapshots()] == [2]


def test_progress_snapshots_are_the_weights_part_way(tmp_path):
    """Whatever the config, the weights at 1/4, 1/2 and 3/4 of training are kept (the margin-over-training plots
    read them), equal to the run's state at that iteration, and the cache key does not move."""
    from hebm_lib.training.trainer import progress_iterations
    assert progress_iterations(12) == [3, 6, 9] and progress_iterations(2) == [1] and progress_iterations(1) == []
    cfg = get_config("mnist_vae", "smoke", {"train.batch_size": 16, "train.iterations": 12})
    images = data.load("mnist5k", "train").subset(64)
    tm = train_or_load(cfg, 0, "cpu", cache_dir=tmp_path, progress=False, train_set=images)
    points = list(tm.progress())
    assert [it for it, _ in points] == [3, 6, 9, 12] and points[-1][1] is tm.model
    states = {}
    train(cfg, 0, tmp_path / "again", images.images, progress=False,
          callback=lambda tr, _: states.__setitem__(tr.iteration, _params(tr.model)))
    for it, model in points[:-1]:
        assert all(torch.equal(states[it][k], v) for k, v in model.state_dict().items())
    assert not all(torch.equal(states[12][k], v) for k, v in points[1][1].state_dict().items())


def test_a_progressive_models_progress_snapshot_has_the_gates_of_its_iteration(tmp_path):
    cfg = get_config("shapes3d_provlae", "smoke", {"data.n_train": 64, "train.batch_size": 16, "train.iterations": 12,
                                                   "schedule.fade_in": 0})
    tm = train_or_load(cfg, 0, "cpu", cache_dir=tmp_path, progress=False)
    first = next(tm.progress())[1]
    assert first.generator.gates.tolist() != [1.0] * len(first.generator.gates)   # a layer not yet active
    assert tm.model.generator.gates.tolist() == [1.0] * len(tm.model.generator.gates)


@pytest.mark.parametrize("norm, iterations, tolerance", [("none", 20, 1e-5), ("batch", 4, 5e-5)])
def test_compiled_step_matches_eager_and_resumes_exactly(tiny_images, norm, iterations, tolerance):
    """The compiled path (torch.compile of the loss, the fusion the CUDA path also uses) gives the eager
    path's losses from the same seed, within 1e-5 relative over 20 iterations; restoring a state mid-run
    and continuing gives bit-identical weights (what a resumed run does). With batch norm the compiled
    kernel reduces the batch statistics in another order: ~1e-6 relative on the first steps, which
    training then amplifies, so only the first steps are compared."""
    import copy
    cfg = get_config("mnist_ours", "smoke", {"data.n_train": 64, "train.batch_size": 16, "train.iterations": 30,
                                             "nets.norm": norm})
    losses, trainers = {}, {}
    for mode in ("eager", "compiled"):
        torch.manual_seed(0)
        tr = Trainer(cfg, build_model(cfg), tiny_images, 0, torch.device("cpu"), mode=mode)
        losses[mode] = [_step_loss(tr) for _ in range(iterations)]
        trainers[mode] = tr
    worst = max(abs(a - b) / abs(a) for a, b in zip(losses["eager"], losses["compiled"]))
    assert worst < tolerance, f"compiled vs eager: largest relative loss difference {worst:.2e}"
    tr = trainers["compiled"]
    saved = copy.deepcopy(tr.state_dict())
    for _ in range(5):
        tr.step()
    after = _params(tr.model)
    tr.load_state_dict(copy.deepcopy(saved))
    for _ in range(5):
        tr.step()
    assert all(torch.equal(after[k], v) for k, v in _params(tr.model).items())


def test_graph_mode_needs_cuda_and_a_capture_safe_schedule(tiny_cfg, tiny_images):
    with pytest.raises(ValueError, match="needs a CUDA device"):
        Trainer(tiny_cfg, build_model(tiny_cfg), tiny_images, 0, torch.device("cpu"), mode="graph")
    with pytest.raises(ValueError, match="unknown training mode 'fast'"):
        Trainer(tiny_cfg, build_model(tiny_cfg), tiny_images, 0, torch.device("cpu"), mode="fast")


def test_one_step_is_algorithm_1(tiny_images):
    """One Trainer.step: the generator + inference loss is rec + KL - f(z+) at z+ ~ q (Eqs. 11-12), and the
    EBM update (Eq. 10) raises f on z+ relative to f on the Langevin samples z-."""
    import copy
    cfg = get_config("mnist_ours", "smoke", {"data.n_train": 64, "train.batch_size": 16, "prior.lr": 1e-2})
    torch.manual_seed(0)
    tr = Trainer(cfg, build_model(cfg), tiny_images, 0, torch.device("cpu"))
    # the same iteration by hand, on a copy of the model and of the generator state
    ref, g = copy.deepcopy(tr.model), torch.Generator().manual_seed(0)
    g.set_state(tr.rng.get_state())
    x = tr._batch(0)
    z_neg = ref.prior.sample(16, generator=g)
    mu, logvar = ref.encode(x)
    z_pos = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=g)
    rec = ((x - ref.decode(z_pos)) ** 2).flatten(1).sum(1).mean() / (2 * cfg.nets.sigma ** 2)
    kl = (0.5 * (mu ** 2 + logvar.exp() - 1 - logvar)).sum(1).mean()
    expected = (rec + kl - ref.prior.tilt(z_pos).mean()).item()
    ref.prior.eval()
    gap = lambda prior: (prior.tilt(z_pos.detach()).mean() - prior.tilt(z_neg).mean()).item()
    before = gap(ref.prior)
    tr.step()
    assert tr.read_stats()["loss"] == pytest.approx(expected, rel=1e-5)
    tr.model.prior.eval()
    assert gap(tr.model.prior) > before   # Eq. 10 moved f the right way
    assert gap(tr.model.prior) != pytest.approx(before, abs=1e-4)




# A short float64 run's numbers, pinned (tools/smoke_losses.py says why float64: CPU rounding moves them by
# ~1e-14 there, tools/rounding_spread.py measures it; in float32 it moves them by ~1e-4, as much as a real
# change does). PIN_RTOL leaves five orders of magnitude to rounding and catches the smallest real change
# tried (test_a_real_change_of_the_numerics_breaks_the_pin).
PIN_RTOL = 1e-9
PINNED = {   # the ladder before VLAE's options, and VLAE's ladder (the gated merge, batch norm, He init)
    "ladder-before-vlae": {"loss": 820.5147413544458, "kl0": 0.06940187458454807, "tilt": -0.06954692080754263,
                           "energy_gap": 0.021081443565531807},
    "vlae-ladder": {"loss": 1126.489369160379, "kl0": 6.445203516478408, "tilt": 0.15105244033704104,
                    "energy_gap": 0.10440418056509741},
}


def _pin_mismatches(got: dict, pinned: dict) -> list[str]:
    return [f"{k}: {got[k]!r} vs pinned {v!r}" for k, v in pinned.items() if abs(got[k] - v) > PIN_RTOL * abs(v)]


@pytest.mark.parametrize("name", sorted(PINNED))
def test_training_numerics_are_pinned(name):
    """A change that moves these numbers changes what every cached model is, so it must come with a new
    hebm_lib.training.cache.TRAINING_VERSION (and new numbers here)."""
    from hebm_lib.training.cache import TRAINING_VERSION
    bad = _pin_mismatches(smoke_losses.pinned_run(smoke_losses.PINNED_NETS[name]), PINNED[name])
    assert not bad, f"training numerics changed ({'; '.join(bad)}): bump TRAINING_VERSION ({TRAINING_VERSION}) " \
                    f"and update the pinned numbers"


def test_a_real_change_of_the_numerics_breaks_the_pin():
    """The EBM's learning rate 10% higher barely moves an 8-iteration run (its tilt by ~2e-5 relative, less than
    float32 rounding does): the float64 pin still sees it."""
    from hebm_lib.configs import get_config as config
    lr = config("mnist_ours", "smoke").prior.lr
    got = smoke_losses.pinned_run(smoke_losses.PINNED_NETS["vlae-ladder"], {"prior.lr": lr * 1.1})
    assert _pin_mismatches(got, PINNED["vlae-ladder"])


def test_a_config_that_resolves_to_another_uses_its_model(tmp_path):
    """svhn_fid_ours is Table 1's fmnist_ours at smoke/cpu (its offline stand-in): trained once, shared."""
    a = get_config("fmnist_ours", "smoke", {"train.iterations": 3})
    b = get_config("svhn_fid_ours", "smoke", {"train.iterations": 3})
    assert a.hash == b.hash and a.name != b.name
    first = train_or_load(a, 0, "cpu", cache_dir=tmp_path, progress=False)
    second = train_or_load(b, 0, "cpu", cache_dir=tmp_path, progress=False)
    assert second.info["cached"] and second.run_dir == first.run_dir
    assert get_config("svhn_fid_ours", "paper").hash != get_config("fmnist_ours", "paper").hash


def test_posterior_langevin_trains_the_generator_at_the_langevin_z_only(tiny_images):
    """LEBM's own inference: z+ from Langevin on log p(x, z); the generator's loss is -log p(x | z+) alone,
    the encoder gets no gradient, and the EBM still moves by Eq. 10."""
    cfg = get_config("anomaly_lebm", "smoke")
    assert cfg.prior.posterior_langevin == (3, 0.1)
    model = build_model(cfg)
    trainer = Trainer(cfg, model, tiny_images, 0, torch.device("cpu"))
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    prior_before = {k: v.clone() for k, v in model.prior.state_dict().items()}
    trainer.step()
    stats = trainer.read_stats()
    assert stats["kl0"] == 0 and stats["loss"] == stats["rec"]
    assert all(torch.equal(v, model.encoder.state_dict()[k]) for k, v in encoder_before.items())
    assert not all(torch.equal(v, model.prior.state_dict()[k]) for k, v in prior_before.items())
    with pytest.raises(ValueError, match="eager"):
        Trainer(cfg, build_model(cfg), tiny_images, 0, torch.device("cpu"), mode="compiled")


def test_posterior_langevin_samples_the_log_joint():
    """The chain follows grad_z log p(x, z): with log p(x, z) replaced by that of N(2, 1/4), 300 steps of
    s = 0.2 end at its mean and (with the discretisation's small excess) its spread."""
    cfg = get_config("anomaly_lebm", "smoke", {"prior.posterior_langevin": [300, 0.2]})
    model = build_model(cfg).eval()
    model.log_joint = lambda x, z: -2.0 * (z - 2.0).pow(2).sum(1)
    z = model.infer_by_langevin(torch.zeros(500, 1, 28, 28), torch.Generator().manual_seed(0))
    assert abs(z.mean().item() - 2.0) < 0.03 and abs(z.std().item() - 0.51) < 0.03


def test_an_exploding_tilt_is_divergence_and_names_the_setting(tiny_images, tmp_path):
    """An EBM learning rate far too high moves f(z+) long before the energy gap: the tilt monitor stops it."""
    cfg = get_config("mnist_ours", "smoke", {"data.n_train": 64, "train.batch_size": 16, "train.iterations": 40,
                                             "train.checkpoint_every": 1, "prior.lr": 1000.0,
                                             "train.max_tilt_ratio": 2.0})
    with pytest.raises(TrainingDiverged, match=r"tilt f\(z\+\) = .* over train.max_tilt_ratio=2 times its running "
                                               r"scale .* Lower prior.lr"):
        train(cfg, 0, tmp_path, tiny_images, progress=False)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert state["iteration"] < 40 and "tilt_scale" in state
