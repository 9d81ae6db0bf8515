"""Every figure and table of the paper and its supplement, each in one record: what it is, the notebook
that reproduces it, the models it trains, its evaluation settings and default seeds per profile, and its
place in the `paper` campaign.

``status`` is the plan; the status page adds what the last run of each notebook measured.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .. import paths
from ..configs import P, check_profile, get_config

# seeds an artefact trains when its record gives none (a notebook's `seeds` parameter overrides both)
DEFAULT_SEEDS = P([0, 1, 2], [0, 1], [0])


@dataclass(frozen=True)
class Artefact:
    id: str
    source: str                 # "paper" | "supplement" | "pro-VLAE" | "VHP" (baselines' own comparisons) | "book" (its own analysis)
    label: str                  # as the paper numbers it
    title: str
    notebook: str | None        # notebooks/<name>.md, None when there is none yet
    configs: tuple[str, ...]    # the configs its notebook resolves (run.config refuses any other)
    status: str                 # implemented | planned | not-reproducible
    note: str = ""
    headline: str = ""          # the paper's claim in words (its numbers are in paper_values/): the README's table
    expected_cpu_minutes: float | None = None   # measured in `make book` (two notebooks side by side, one thread each)
    priority: int | None = None  # order in the `paper` campaign (1 first: the paper's main claims); None: trains nothing
    # the models it trains, (config, overrides), from its evaluation settings; None: each config once as it is
    trains: Callable[[dict], list[tuple[str, dict]]] | None = None
    seeds: P = DEFAULT_SEEDS    # default seeds per profile
    evaluation: P = P({})       # what the notebook measures with per profile (not what it trains): run.settings
    optional_data: tuple[str, ...] = ()   # data sets whose rows the notebook leaves out when their files are absent
    reads: tuple[str, ...] = ()           # data sets it reads besides its models' (another test set)

    @property
    def notebook_path(self):
        return paths.NOTEBOOKS_DIR / f"{self.notebook}.md" if self.notebook else None

    def settings(self, profile: str) -> dict:
        """The evaluation settings at ``profile``."""
        check_profile(profile)
        return dict(self.evaluation.at(profile))

    def default_seeds(self, profile: str) -> list[int]:
        check_profile(profile)
        return list(self.seeds.at(profile))

    def models(self, profile: str, **changes) -> list[tuple[str, dict]]:
        """(config name, overrides) of every model the notebook trains at ``profile``, its settings changed by
        ``changes`` (a notebook's own parameters: held-out digits, betas): what the notebook and the campaign
        both iterate over."""
        if self.trains is None:
            return [(c, {}) for c in self.configs]
        return self.trains(self.settings(profile) | {k: v for k, v in changes.items() if v is not None})

    def data_needed(self, profile: str, overrides: dict | None = None) -> list[str]:
        """The data sets a run at ``profile`` (with the notebook's ``overrides``) cannot do without: those its
        models train on and those it reads, less the optional ones; checked before anything trains."""
        overrides = overrides or {}
        names = [get_config(name, profile, overrides.get("*", {}) | overrides.get(name, {}) | extra).data.name
                 for name, extra in self.models(profile)]
        return [n for n in dict.fromkeys(names + list(self.reads)) if n not in self.optional_data]


# the artefacts whose models are more than their configs once each
def _one_model_per_held_out_digit(s: dict) -> list[tuple[str, dict]]:
    return [(f"anomaly_{m}", {"data.held_out": d}) for d in s["held_out"] for m in ("ours", "vae", "lebm", "hvae")]


def _a_beta_sweep_and_ours_once(s: dict) -> list[tuple[str, dict]]:
    """The baselines at every beta, Ours once, on the profile's data sets."""
    return [(f"{d}_{m}", {} if m == "ours" else {"schedule.beta": b}) for d in s["datasets"]
            for m in ("betavae", "vlae", "provlae", "ours") for b in ([1.0] if m == "ours" else s["betas"])]


def _ours_lebm_and_ours_with_f_scaled(s: dict) -> list[tuple[str, dict]]:
    """Table 2's Ours and LEBM (the same cache keys) and one joint training of Ours with f scaled."""
    return [("svhn_fid_ours", {}), ("svhn_fid_lebm", {}), ("svhn_fid_ours", {"prior.scale": s["joint_scale"]})]


def _an_energy_net_per_width(s: dict) -> list[tuple[str, dict]]:
    """An energy net of each width at the depth of the profile's Ours (nef = 0: VLAE, no EBM)."""
    return [("svhn_fid_vlae", {}) if nef == 0 else ("svhn_fid_ours", {"prior.hidden": nef}) for nef in s["nef"]]


ARTEFACTS: tuple[Artefact, ...] = (
    Artefact("fig1", "paper", "Figure 1", "BIVA hierarchical sampling on MNIST (6 layers)",
             "fig1_conditional_hierarchy_mnist", ("mnist_hvae6",), "implemented",
             "The library's conditional HVAE with 6 layers stands in for BIVA.",
             headline="In BIVA only the top layers carry the digit's semantic variation (an ineffective hierarchy)",
             expected_cpu_minutes=0.9,
             priority=7,
             evaluation=P(dict(n_bases=20, n_varied=64, judge_epochs=10, judge_train=None),
                          dict(n_bases=20, n_varied=64, judge_epochs=8, judge_train=5_000),
                          dict(n_bases=2, n_varied=16, judge_epochs=1, judge_train=500))),
    Artefact("fig2", "paper", "Figure 2", "LEBM on MNIST 0/1/2, changing each unit of a 2-d z",
             "fig2_lebm_2d_mnist012", ("mnist012_lebm",), "implemented",
             "MNIST's digits 0/1/2; class-change rate per unit.", headline="With one 2-d code (LEBM) both units mix the digit's class and its style",
             expected_cpu_minutes=0.8,
             priority=6,
             # Figures 2, 6, 7: codes varied over a grid of +-GRID_SPAN prior sds; identity judged by a classifier
             evaluation=P(dict(n_bases=20, grid=15, grid_span=2.5, judge_epochs=10, judge_train=None),
                          dict(n_bases=20, grid=15, grid_span=2.5, judge_epochs=8, judge_train=5_000),
                          dict(n_bases=2, grid=5, grid_span=2.5, judge_epochs=1, judge_train=500))),
    Artefact("fig3", "paper", "Figure 3", "The model: joint EBM prior over a layered generator",
             "fig3_model_diagram", ("fmnist_ours",), "implemented",
             "A diagram drawn from the library's model (sizes read from it); no claim to test.",
             headline="The model: one joint energy-based prior over all layers of a top-down generator",
             expected_cpu_minutes=0.1),
    Artefact("fig4", "paper", "Figure 4", "Hierarchical sampling on SVHN (four layers)",
             "fig4_hierarchical_sampling_svhn", ("svhn4_ours", "svhn4_vlae"), "implemented",
             "The authors' 4-layer HS config; at cpu on the 3DShapes-like scene (colour, known factors).",
             headline="Ours on SVHN: the top layer changes the digit's identity, the bottom layer only its style",
             expected_cpu_minutes=1.5,
             priority=13,
             evaluation=P(dict(n_bases=20, n_varied=100, judge_epochs=10),
                          dict(n_bases=20, n_varied=100, judge_epochs=2),
                          dict(n_bases=2, n_varied=16, judge_epochs=1))),
    Artefact("fig5", "paper", "Figure 5", "Hierarchical sampling on MNIST", "fig5_hierarchical_sampling_mnist",
             ("mnist_ours", "mnist_vlae"), "implemented", headline="Ours on MNIST: the top layer changes the digit, the bottom layer only its stroke style",
             expected_cpu_minutes=0.8,
             priority=2,
             # judge_train: the identity judge's training images (None: all); at cpu 5,000 of MNIST's 60,000 (the book's time)
             evaluation=P(dict(n_bases=20, n_varied=100, judge_epochs=10, judge_train=None),
                          dict(n_bases=20, n_varied=100, judge_epochs=8, judge_train=5_000),
                          dict(n_bases=2, n_varied=16, judge_epochs=1, judge_train=500))),
    Artefact("fig6", "paper", "Figure 6", "Ours on MNIST 0/1/2 with 2-d z_1, z_2", "fig6_joint_prior_2d_mnist012",
             ("mnist012_ours",), "implemented",
             "MNIST's digits 0/1/2; class-change rate and class separation per layer.",
             headline="With 2-d z_1 and z_2 the top layer carries the class and the bottom layer the style",
             expected_cpu_minutes=1.2,
             priority=4,
             evaluation=P(dict(n_bases=20, grid=15, grid_span=2.5, judge_epochs=10, judge_train=None, probe_epochs=50),
                          dict(n_bases=20, grid=15, grid_span=2.5, judge_epochs=8, judge_train=5_000, probe_epochs=20),
                          dict(n_bases=2, grid=5, grid_span=2.5, judge_epochs=1, judge_train=500, probe_epochs=1))),
    Artefact("fig7", "paper", "Figure 7", "Langevin transitions of the toy prior", "fig7_langevin_transitions",
             ("mnist012_ours",), "implemented", "Figure 6's models; MMD of prior samples to the posterior codes.",
             headline="Short-run Langevin moves the prior's samples onto the posterior's codes",
             expected_cpu_minutes=0.6,
             priority=5,
             evaluation=P(dict(n_chains=2000, steps=None, snapshots=6),
                          dict(n_chains=2000, steps=None, snapshots=6),
                          dict(n_chains=200, steps=None, snapshots=3))),
    Artefact("fig8", "paper", "Figure 8", "2500-step Langevin chain on CelebA-64", "fig8_long_run_langevin",
             ("celeba64_ours",), "implemented", "At cpu the CelebA-64 stand-in (Table 2's, the 3DShapes-like scene).",
             headline="A 2,500-step Langevin chain stays on realistic faces: the energy reaches a steady state",
             expected_cpu_minutes=0.13,
             priority=14,
             evaluation=P(dict(n_chains=64, steps=2500, every=100, early_steps=60),
                          dict(n_chains=64, steps=2500, every=100, early_steps=60),
                          dict(n_chains=8, steps=200, every=50, early_steps=60))),
    Artefact("fig9", "paper", "Figure 9", "Latent attack per layer", "fig9_latent_attack",
             ("mnist_ours", "mnist_vlae", "fmnist_ours", "fmnist_vlae", "svhn_ours", "svhn_vlae"), "implemented",
             "Attacks Table 1's models; adds per-layer numbers the paper does not give.", optional_data=("svhn",), headline="Attacking the top layer moves the image toward the target most, the bottom layer least",
             expected_cpu_minutes=1.2,
             priority=10,
             # budgets up to where every layer's attack reaches its target (at 3.0 the top layer's KL to the
             # target was still 63% of its start at cpu, the bottom layer's 26%: the budget, not the layer, decided)
             evaluation=P(dict(budgets=[3.0, 6.0, 12.0], n_pairs=500, steps=500, judge_epochs=10, judge_train=None),
                          dict(budgets=[3.0, 6.0, 12.0], n_pairs=50, steps=60, judge_epochs=3, judge_train=10_000),
                          dict(budgets=[3.0], n_pairs=8, steps=5, judge_epochs=1, judge_train=500))),
    Artefact("fig10", "paper", "Figure 10", "CelebA-128 samples", "fig10_celeba128_samples", ("celeba128_ours",),
             "implemented", "Qualitative in the paper; at cpu the 3DShapes-like scene at 64x64.",
             headline="Realistic CelebA-128 samples from the joint prior",
             expected_cpu_minutes=2.6,
             priority=16,
             # samples to look at: one model
             seeds=P([0], [0], [0]),
             # cpu: one epoch of the feature net at 64x64 (two took 3 of the figure's 5.5 minutes)
             evaluation=P(dict(n_samples=10_000, n_reference=10_000, fid_features="inception", feature_epochs=None),
                          dict(n_samples=2_000, n_reference=5_000, fid_features="domain", feature_epochs=1),
                          dict(n_samples=100, n_reference=100, fid_features="domain", feature_epochs=1))),
    Artefact("tab1", "paper", "Table 1", "Latent classifier accuracy per layer", "tab1_latent_classifier",
             ("mnist_ours", "mnist_vlae", "fmnist_ours", "fmnist_vlae", "svhn_ours", "svhn_vlae"),
             "implemented", "SVHN rows run only where its files are present.", optional_data=("svhn",), headline="Classifiers on the top layer's codes are the most accurate, and more accurate than VLAE's",
             expected_cpu_minutes=20.2,
             priority=1,
             # ablation_seeds: the ablation's rows (the notebook's parameter ablation_seeds overrides them). One at cpu:
             # its second seed's four models (about 3.5 minutes) and earlier the third's pay for the EBM capacity page
             # (the book's 45 minutes); one seed shows no spread, which the page says
             # lead_at (here and on every page with an "Ours beats X" claim): the fractions of training at which the
             # claim's metric is measured again, for its margin against training length (hebm_lib/report/margins.py);
             # at cpu the half-way weights only: the quarter and three-quarter points of Tables 1 and 3 went to pay
             # for the EBM capacity page (the book's 45 minutes)
             evaluation=P(dict(classifier_epochs=50, classifier_train_max=None, ablation_seeds=[0, 1, 2], lead_at=[0.25, 0.5, 0.75]),
                          dict(classifier_epochs=20, classifier_train_max=20_000, ablation_seeds=[0], lead_at=[0.5]),
                          dict(classifier_epochs=1, classifier_train_max=512, ablation_seeds=[0], lead_at=[0.5]))),
    Artefact("tab2", "paper", "Table 2", "Reconstruction MSE and FID on SVHN and CelebA-64",
             "tab2_generation_quality", tuple(f"svhn_fid_{m}" for m in ("ours", "vlae", "vae", "lebm", "hvae"))
             + ("celeba64_ours", "celeba64_vlae"), "implemented",
             "Inception FID at paper; at cpu FID in domain features on the stand-ins (Fashion-MNIST, the "
             "3DShapes-like scene), never beside the paper's numbers.", headline="Lower reconstruction error and FID than VLAE, VAE, LEBM and the HVAE",
             expected_cpu_minutes=13.7,
             priority=3,
             # image modelling: samples and reference images per FID (the authors': 50k samples against 50k training
             # images), the feature network (inception | domain: a CNN trained for feature_epochs on the training set)
             evaluation=P(dict(n_samples=50_000, n_reference=50_000, fid_features="inception", feature_epochs=None, n_test=None, lead_at=[0.25, 0.5, 0.75]),
                          dict(n_samples=5_000, n_reference=10_000, fid_features="domain", feature_epochs=2, n_test=10_000, lead_at=[0.5]),
                          dict(n_samples=200, n_reference=200, fid_features="domain", feature_epochs=1, n_test=200, lead_at=[0.5]))),
    Artefact("tab3", "paper", "Table 3", "MNIST anomaly detection (AUPRC)", "tab3_anomaly_mnist",
             ("anomaly_ours", "anomaly_vae", "anomaly_lebm", "anomaly_hvae"), "implemented",
             "5 held-out digits x 4 models x 3 seeds (2 at cpu); MEG and BiGAN-sigma from the paper only.",
             headline="Better held-out-digit detection (AUPRC) than VAE, LEBM and the HVAE, for every digit",
             expected_cpu_minutes=7.5,
             priority=9, trains=_one_model_per_held_out_digit,
             # two seeds at cpu: the book's time budget
             seeds=P([0, 1, 2], [0, 1], [0]),
             # n_test: scored test images per held-out digit (None: all); at cpu 2,000 of the ~20,000 (the book's time);
             # held_out: the paper's held-out digits (two at smoke: the loop over digits is what a test needs)
             evaluation=P(dict(n_test=None, held_out=[1, 4, 5, 7, 9], lead_at=[0.25, 0.5, 0.75]),
                          dict(n_test=2_000, lead_at=[0.5]),
                          dict(n_test=200, held_out=[1, 4], lead_at=[0.5]))),
    Artefact("tab4", "paper", "Table 4", "FID vs Langevin steps K on CelebA-64", "tab4_langevin_steps",
             ("celeba64_ours",), "implemented", "K varied at sampling time on Table 2's CelebA-64 model.",
             headline="FID improves with more Langevin steps, then levels off",
             expected_cpu_minutes=1.0,
             priority=12,
             evaluation=P(dict(steps=[15, 30, 60, 150, 300], n_samples=50_000, n_reference=50_000, fid_features="inception", feature_epochs=None),
                          dict(steps=[15, 30, 60, 150, 300], n_samples=5_000, n_reference=10_000, fid_features="domain", feature_epochs=2),
                          dict(steps=[15, 60], n_samples=200, n_reference=200, fid_features="domain", feature_epochs=1))),
    Artefact("tab5", "paper", "Table 5", "FID vs EBM width nef", "tab5_ebm_width", ("svhn_fid_ours", "svhn_fid_vlae"),
             "implemented", "An energy net of nef units per width, as deep as the profile's Ours (nef = 0: VLAE); SVHN's FID config.",
             headline="A wider energy net gives a lower FID than no EBM (VLAE)",
             expected_cpu_minutes=6.7,
             priority=11, trains=_an_energy_net_per_width,
             evaluation=P(dict(nef=[0, 10, 20, 50, 100], n_samples=50_000, n_reference=50_000, fid_features="inception", feature_epochs=None, lead_at=[0.25, 0.5, 0.75]),
                          dict(nef=[0, 10, 50, 100], n_samples=5_000, n_reference=10_000, fid_features="domain", feature_epochs=2, lead_at=[0.5]),
                          dict(nef=[0, 10], n_samples=200, n_reference=200, fid_features="domain", feature_epochs=1, lead_at=[0.5]))),
    Artefact("tab6", "paper", "Table 6", "FID on CIFAR-10", "tab6_cifar10", ("cifar10_ours", "cifar10_lebm"),
             "implemented", "At cpu the Fashion-MNIST stand-in (Table 2's models).", headline="Lower FID than LEBM on CIFAR-10",
             expected_cpu_minutes=0.35,
             priority=15,
             evaluation=P(dict(n_samples=50_000, n_reference=50_000, fid_features="inception", feature_epochs=None, lead_at=[0.25, 0.5, 0.75]),
                          dict(n_samples=5_000, n_reference=10_000, fid_features="domain", feature_epochs=2, lead_at=[0.5]),
                          dict(n_samples=200, n_reference=200, fid_features="domain", feature_epochs=1, lead_at=[0.5]))),
    Artefact("supp_fig1", "supplement", "Supp. Figure 1", "3DShapes latent traversals", "supp_fig1_traversals_3dshapes",
             ("shapes3d_ours",), "implemented", "Adds the factor each unit is most informative about.",
             headline="On 3DShapes the top layer carries the semantic factors (shape, scale, orientation)",
             expected_cpu_minutes=0.22,
             priority=20,
             seeds=P([0, 1, 2], [0, 1, 2], [0]),
             evaluation=P(dict(n_points=10_000),
                          dict(n_points=10_000),
                          dict(n_points=500))),
    Artefact("supp_tab1", "supplement", "Supp. Table 1", "Fashion-MNIST vs MNIST OOD", "supp_tab1_ood_fmnist_mnist",
             ("fmnist_ours", "fmnist_vlae", "fmnist_hvae_oodd"), "implemented",
             "Reuses Table 1's Fashion-MNIST models; the HVAE is Havtorn et al.'s (conv z_1, Bernoulli, "
             "importance-weighted bounds).", reads=("mnist",), headline="Fashion-MNIST vs MNIST: Ours separates the two better than VLAE and the HVAE",
             expected_cpu_minutes=3.9,
             priority=8,
             # iw_samples: importance samples of each HVAE bound (Havtorn et al.: 1000 for L)
             evaluation=P(dict(out_dataset="mnist", n_test=10_000, iw_samples=1000, lead_at=[0.25, 0.5, 0.75]),
                          dict(out_dataset="mnist", n_test=1_000, iw_samples=8, lead_at=[0.5]),
                          dict(out_dataset="mnist", n_test=200, iw_samples=2, lead_at=[0.5]))),
    Artefact("supp_tab2", "supplement", "Supp. Table 2", "MIG / MIG-sup on 3DShapes vs pro-VLAE",
             "supp_tab2_mig_3dshapes", ("shapes3d_ours", "shapes3d_provlae"), "implemented",
             "Both MIG estimators, labelled; s read as the step reached in one progressive run.",
             headline="Higher MIG and MIG-sup on 3DShapes than every step of pro-VLAE",
             expected_cpu_minutes=2.4,
             priority=19,
             seeds=P([0, 1, 2], [0, 1, 2], [0]),
             evaluation=P(dict(n_points=480_000, n_samples=10_000, lead_at=[0.25, 0.5, 0.75]),
                          dict(n_points=5_000, n_samples=2_000, lead_at=[0.5]),
                          dict(n_points=500, n_samples=300, lead_at=[0.5]))),
    # the book's own analysis: why the EBM claims fail (the spectral norm's cap on the prior's KL)
    Artefact("ebm_capacity", "book", "EBM capacity", "How far can the joint EBM prior move from N(0, I)?",
             "ebm_capacity", ("svhn_fid_ours", "svhn_fid_lebm"), "implemented",
             "The book's own analysis on Table 2's first column, from its models: refits of the energy net with "
             "the generator frozen, LEBM's net on Ours' generator, the ideal prior as the floor.",
             headline="(the book's claim) a 1-Lipschitz energy net keeps the prior within 1/2 nat of N(0, I); "
                      "LEBM's uncapped net on Ours' generator reaches LEBM's FID",
             expected_cpu_minutes=10.0,
             priority=23, trains=_ours_lebm_and_ours_with_f_scaled,
             seeds=P([0, 1, 2], [0, 1, 2], [0]),
             # FID as Table 2 measures it (its samples, reference and features); refits: EBM-only iterations on the
             # posterior codes of n_codes training images; n_tilt N(0, I) draws for the KL and its bound
             evaluation=P(dict(n_samples=50_000, n_reference=50_000, fid_features="inception", feature_epochs=None,
                               refit_iterations=10_000, n_codes=50_000, refit_scales=[3, 10], uncapped_lr=1e-4,
                               joint_scale=3.0, n_tilt=20_000, n_layer_kl=10_000),
                          dict(n_samples=5_000, n_reference=10_000, fid_features="domain", feature_epochs=2,
                               refit_iterations=1_500, n_codes=10_000, refit_scales=[3, 10], uncapped_lr=1e-4,
                               joint_scale=3.0, n_tilt=20_000, n_layer_kl=2_000),
                          dict(n_samples=200, n_reference=200, fid_features="domain", feature_epochs=1,
                               refit_iterations=10, n_codes=300, refit_scales=[3], uncapped_lr=1e-4,
                               joint_scale=3.0, n_tilt=500, n_layer_kl=100))),
    # the seed paper's own comparisons (pro-VLAE, ICLR 2020), which Supplement Table 2 builds on
    Artefact("provlae_fig2", "pro-VLAE", "pro-VLAE Figs. 2-3", "Reconstruction vs MIG / MIG-sup over beta",
             "provlae_fig2_fig3", tuple(f"{d}_{m}" for d in ("shapes3d", "dsprites")
                                        for m in ("betavae", "vlae", "provlae", "ours")),
             "implemented", "3DShapes and dSprites (3DShapes only at cpu); Ours as one extra point.", headline="(pro-VLAE's claim) pro-VLAE disentangles best at every beta; VLAE beats beta-VAE",
             expected_cpu_minutes=1.6,
             priority=22, trains=_a_beta_sweep_and_ours_once,
             seeds=P([0, 1, 2], [0], [0]),
             # cpu: 3DShapes only, for the book's time budget (the dSprites half learned nothing in 600 iterations)
             evaluation=P(dict(betas=[1.0, 4.0, 8.0, 12.0, 16.0], n_points=100_000, n_samples=10_000, datasets=["shapes3d", "dsprites"]),
                          dict(betas=[1.0, 8.0], n_points=5_000, n_samples=2_000, datasets=["shapes3d"]),
                          dict(betas=[1.0, 8.0], n_points=500, n_samples=300, datasets=["shapes3d", "dsprites"]))),
    Artefact("provlae_info", "pro-VLAE", "pro-VLAE Tables 1, 7", "Information I(x; z_l) per layer and step",
             "provlae_info_flow", ("shapes3d_vlae", "shapes3d_provlae", "mnist_vlae_z3", "mnist_provlae_z3"),
             "implemented", "Tables 3-6 and 8 (other L, z_dim) by overrides.", headline="(pro-VLAE's claim) progressive training puts most information in the top layer, unlike VLAE",
             expected_cpu_minutes=1.5,
             priority=21,
             evaluation=P(dict(n_points=60_000, n_samples=10_000),
                          dict(n_points=4_000, n_samples=2_000),
                          dict(n_points=300, n_samples=200))),
    # the VHP + REWO baseline's own comparison (Klushyn et al., NeurIPS 2019)
    Artefact("vhp_tab1", "VHP", "VHP Table 1, Figs. 3-4, 16", "Pendulum: OLS angle regression, latent maps, graph interpolation",
             "vhp_tab1_pendulum", tuple(f"pendulum_vhp_{k}" for k in ("rewo", "geco", "elbo", "wu20", "wu200"))
             + ("pendulum_iwae",),
             "implemented", "Pendulum rendered here (the paper's set is not published); at cpu 2,000 iterations, "
             "3 seeds, with kappa 0.05 and nu 50 instead of 0.02 and 5.", headline="(VHP's claim) VHP + REWO learns the most informative pendulum code; REWO beats GECO",
             expected_cpu_minutes=7.3,
             priority=17,
             seeds=P([0, 1, 2], [0, 1, 2], [0]),
             evaluation=P(dict())),
    Artefact("vhp_tab2", "VHP", "VHP Table 2", "Negative test log-likelihood (5,000 importance samples)",
             "vhp_tab2_nll", tuple(f"{d}_nll_{m}" for d in ("mnist", "mnist_static", "fmnist", "omniglot")
                                   for m in ("vhp_rewo", "vhp_geco", "vamp", "iwae1", "iwae2")),
             "implemented", "Dynamically binarised MNIST and Fashion-MNIST; static MNIST and "
             "OMNIGLOT where their files are (not offline here).", optional_data=("mnist_static", "omniglot"), headline="(VHP's claim) VHP + REWO reaches a test NLL as low as the VampPrior's and the IWAE's",
             expected_cpu_minutes=3.3,
             priority=18,
             # one seed at cpu: the book's time budget
             seeds=P([0, 1, 2], [0], [0]),
             # VHP Table 2: 5,000 importance samples on the full test sets; fewer at cpu (the book's budget)
             evaluation=P(dict(nll_samples=5000, n_test=None, datasets=["mnist", "mnist_static", "fmnist", "omniglot"]),
                          dict(nll_samples=250, n_test=250, datasets=["mnist", "mnist_static", "fmnist", "omniglot"]),
                          dict(nll_samples=8, n_test=40, datasets=["mnist"]))),
)


def get(artefact_id: str) -> Artefact:
    for a in ARTEFACTS:
        if a.id == artefact_id:
            return a
    raise ValueError(f"unknown artefact {artefact_id!r}; valid artefacts: {', '.join(a.id for a in ARTEFACTS)}")


def runnable() -> list[Artefact]:
    return [a for a in ARTEFACTS if a.notebook]


def by_priority() -> list[Artefact]:
    """The artefacts that train models, in the campaign's order."""
    return sorted((a for a in ARTEFACTS if a.priority is not None), key=lambda a: a.priority)
