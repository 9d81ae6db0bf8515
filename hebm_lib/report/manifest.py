"""Every figure and table of the paper and its supplement, and what reproduces it.

``status`` is the plan; the status page adds what the last run of each notebook measured.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import paths


@dataclass(frozen=True)
class Artefact:
    id: str
    source: str                 # "paper" | "supplement" | "pro-VLAE" | "VHP" (baselines' own comparisons)
    label: str                  # as the paper numbers it
    title: str
    notebook: str | None        # notebooks/<name>.md, None when there is none yet
    configs: tuple[str, ...]
    status: str                 # implemented | planned | not-reproducible
    note: str = ""
    headline: str = ""          # the paper's claim in words (its numbers are in paper_values/): the README's table
    expected_cpu_minutes: float | None = None   # measured in `make book` (two notebooks side by side, one thread each)

    @property
    def notebook_path(self):
        return paths.NOTEBOOKS_DIR / f"{self.notebook}.md" if self.notebook else None


ARTEFACTS: tuple[Artefact, ...] = (
    Artefact("fig1", "paper", "Figure 1", "BIVA hierarchical sampling on MNIST (6 layers)",
             "fig1_conditional_hierarchy_mnist", ("mnist_hvae6",), "implemented",
             "The library's conditional HVAE with 6 layers stands in for BIVA.",
             headline="In BIVA only the top layers carry the digit's semantic variation (an ineffective hierarchy)",
             expected_cpu_minutes=0.9),
    Artefact("fig2", "paper", "Figure 2", "LEBM on MNIST 0/1/2, changing each unit of a 2-d z",
             "fig2_lebm_2d_mnist012", ("mnist012_lebm",), "implemented",
             "MNIST's digits 0/1/2; class-change rate per unit.", headline="With one 2-d code (LEBM) both units mix the digit's class and its style",
             expected_cpu_minutes=0.8),
    Artefact("fig3", "paper", "Figure 3", "The model: joint EBM prior over a layered generator",
             "fig3_model_diagram", ("fmnist_ours",), "implemented",
             "A diagram drawn from the library's model (sizes read from it); no claim to test.",
             headline="The model: one joint energy-based prior over all layers of a top-down generator",
             expected_cpu_minutes=0.1),
    Artefact("fig4", "paper", "Figure 4", "Hierarchical sampling on SVHN (four layers)",
             "fig4_hierarchical_sampling_svhn", ("svhn4_ours", "svhn4_vlae"), "implemented",
             "The authors' 4-layer HS config; at cpu on the 3DShapes-like scene (colour, known factors).",
             headline="Ours on SVHN: the top layer changes the digit's identity, the bottom layer only its style",
             expected_cpu_minutes=1.5),
    Artefact("fig5", "paper", "Figure 5", "Hierarchical sampling on MNIST", "fig5_hierarchical_sampling_mnist",
             ("mnist_ours", "mnist_vlae"), "implemented", headline="Ours on MNIST: the top layer changes the digit, the bottom layer only its stroke style",
             expected_cpu_minutes=0.8),
    Artefact("fig6", "paper", "Figure 6", "Ours on MNIST 0/1/2 with 2-d z_1, z_2", "fig6_joint_prior_2d_mnist012",
             ("mnist012_ours",), "implemented",
             "MNIST's digits 0/1/2; class-change rate and class separation per layer.",
             headline="With 2-d z_1 and z_2 the top layer carries the class and the bottom layer the style",
             expected_cpu_minutes=1.2),
    Artefact("fig7", "paper", "Figure 7", "Langevin transitions of the toy prior", "fig7_langevin_transitions",
             ("mnist012_ours",), "implemented", "Figure 6's models; MMD of prior samples to the posterior codes.",
             headline="Short-run Langevin moves the prior's samples onto the posterior's codes",
             expected_cpu_minutes=0.6),
    Artefact("fig8", "paper", "Figure 8", "2500-step Langevin chain on CelebA-64", "fig8_long_run_langevin",
             ("celeba64_ours",), "implemented", "At cpu the CelebA-64 stand-in (Table 2's, the 3DShapes-like scene).",
             headline="A 2,500-step Langevin chain stays on realistic faces: the energy reaches a steady state",
             expected_cpu_minutes=0.13),
    Artefact("fig9", "paper", "Figure 9", "Latent attack per layer", "fig9_latent_attack",
             ("mnist_ours", "mnist_vlae", "fmnist_ours", "fmnist_vlae", "svhn_ours", "svhn_vlae"), "implemented",
             "Attacks Table 1's models; adds per-layer numbers the paper does not give.", headline="Attacking the top layer moves the image toward the target most, the bottom layer least",
             expected_cpu_minutes=1.2),
    Artefact("fig10", "paper", "Figure 10", "CelebA-128 samples", "fig10_celeba128_samples", ("celeba128_ours",),
             "implemented", "Qualitative in the paper; at cpu the 3DShapes-like scene at 64x64.",
             headline="Realistic CelebA-128 samples from the joint prior",
             expected_cpu_minutes=2.6),
    Artefact("tab1", "paper", "Table 1", "Latent classifier accuracy per layer", "tab1_latent_classifier",
             ("mnist_ours", "mnist_vlae", "fmnist_ours", "fmnist_vlae", "svhn_ours", "svhn_vlae"),
             "implemented", "SVHN rows run only where its files are present.", headline="Classifiers on the top layer's codes are the most accurate, and more accurate than VLAE's",
             expected_cpu_minutes=20.2),
    Artefact("tab2", "paper", "Table 2", "Reconstruction MSE and FID on SVHN and CelebA-64",
             "tab2_generation_quality", tuple(f"svhn_fid_{m}" for m in ("ours", "vlae", "vae", "lebm", "hvae"))
             + ("celeba64_ours", "celeba64_vlae"), "implemented",
             "Inception FID at paper; at cpu FID in domain features on the stand-ins (Fashion-MNIST, the "
             "3DShapes-like scene), never beside the paper's numbers.", headline="Lower reconstruction error and FID than VLAE, VAE, LEBM and the HVAE",
             expected_cpu_minutes=13.7),
    Artefact("tab3", "paper", "Table 3", "MNIST anomaly detection (AUPRC)", "tab3_anomaly_mnist",
             ("anomaly_ours", "anomaly_vae", "anomaly_lebm", "anomaly_hvae"), "implemented",
             "5 held-out digits x 4 models x 3 seeds (2 at cpu); MEG and BiGAN-sigma from the paper only.",
             headline="Better held-out-digit detection (AUPRC) than VAE, LEBM and the HVAE, for every digit",
             expected_cpu_minutes=4.9),
    Artefact("tab4", "paper", "Table 4", "FID vs Langevin steps K on CelebA-64", "tab4_langevin_steps",
             ("celeba64_ours",), "implemented", "K varied at sampling time on Table 2's CelebA-64 model.",
             headline="FID improves with more Langevin steps, then levels off",
             expected_cpu_minutes=1.0),
    Artefact("tab5", "paper", "Table 5", "FID vs EBM width nef", "tab5_ebm_width", ("svhn_fid_ours", "svhn_fid_vlae"),
             "implemented", "A 2-layer energy net of nef units per width (nef = 0: VLAE); SVHN's FID config.",
             headline="A wider energy net gives a lower FID than no EBM (VLAE)",
             expected_cpu_minutes=6.7),
    Artefact("tab6", "paper", "Table 6", "FID on CIFAR-10", "tab6_cifar10", ("cifar10_ours", "cifar10_lebm"),
             "implemented", "At cpu the Fashion-MNIST stand-in (Table 2's models).", headline="Lower FID than LEBM on CIFAR-10",
             expected_cpu_minutes=0.35),
    Artefact("supp_fig1", "supplement", "Supp. Figure 1", "3DShapes latent traversals", "supp_fig1_traversals_3dshapes",
             ("shapes3d_ours",), "implemented", "Adds the factor each unit is most informative about.",
             headline="On 3DShapes the top layer carries the semantic factors (shape, scale, orientation)",
             expected_cpu_minutes=0.22),
    Artefact("supp_tab1", "supplement", "Supp. Table 1", "Fashion-MNIST vs MNIST OOD", "supp_tab1_ood_fmnist_mnist",
             ("fmnist_ours", "fmnist_vlae", "fmnist_hvae_oodd"), "implemented",
             "Reuses Table 1's Fashion-MNIST models; the HVAE is Havtorn et al.'s (conv z_1, Bernoulli, "
             "importance-weighted bounds).", headline="Fashion-MNIST vs MNIST: Ours separates the two better than VLAE and the HVAE",
             expected_cpu_minutes=3.9),
    Artefact("supp_tab2", "supplement", "Supp. Table 2", "MIG / MIG-sup on 3DShapes vs pro-VLAE",
             "supp_tab2_mig_3dshapes", ("shapes3d_ours", "shapes3d_provlae"), "implemented",
             "Both MIG estimators, labelled; s read as the step reached in one progressive run.",
             headline="Higher MIG and MIG-sup on 3DShapes than every step of pro-VLAE",
             expected_cpu_minutes=2.4),
    # the seed paper's own comparisons (pro-VLAE, ICLR 2020), which Supplement Table 2 builds on
    Artefact("provlae_fig2", "pro-VLAE", "pro-VLAE Figs. 2-3", "Reconstruction vs MIG / MIG-sup over beta",
             "provlae_fig2_fig3", tuple(f"{d}_{m}" for d in ("shapes3d", "dsprites")
                                        for m in ("betavae", "vlae", "provlae", "ours")),
             "implemented", "3DShapes and dSprites (3DShapes only at cpu); Ours as one extra point.", headline="(pro-VLAE's claim) pro-VLAE disentangles best at every beta; VLAE beats beta-VAE",
             expected_cpu_minutes=1.6),
    Artefact("provlae_info", "pro-VLAE", "pro-VLAE Tables 1, 7", "Information I(x; z_l) per layer and step",
             "provlae_info_flow", ("shapes3d_vlae", "shapes3d_provlae", "mnist_vlae_z3", "mnist_provlae_z3"),
             "implemented", "Tables 3-6 and 8 (other L, z_dim) by overrides.", headline="(pro-VLAE's claim) progressive training puts most information in the top layer, unlike VLAE",
             expected_cpu_minutes=1.5),
    # the VHP + REWO baseline's own comparison (Klushyn et al., NeurIPS 2019)
    Artefact("vhp_tab1", "VHP", "VHP Table 1, Figs. 3-4, 16", "Pendulum: OLS angle regression, latent maps, graph interpolation",
             "vhp_tab1_pendulum", tuple(f"pendulum_vhp_{k}" for k in ("rewo", "geco", "elbo", "wu20", "wu200"))
             + ("pendulum_iwae",),
             "implemented", "Pendulum rendered here (the paper's set is not published); at cpu 2,000 iterations, "
             "3 seeds, with kappa 0.05 and nu 50 instead of 0.02 and 5.", headline="(VHP's claim) VHP + REWO learns the most informative pendulum code; REWO beats GECO",
             expected_cpu_minutes=7.3),
    Artefact("vhp_tab2", "VHP", "VHP Table 2", "Negative test log-likelihood (5,000 importance samples)",
             "vhp_tab2_nll", tuple(f"{d}_nll_{m}" for d in ("mnist", "mnist_static", "fmnist", "omniglot")
                                   for m in ("vhp_rewo", "vhp_geco", "vamp", "iwae1", "iwae2")),
             "implemented", "Dynamically binarised MNIST and Fashion-MNIST; static MNIST and "
             "OMNIGLOT where their files are (not offline here).", headline="(VHP's claim) VHP + REWO reaches a test NLL as low as the VampPrior's and the IWAE's",
             expected_cpu_minutes=3.3),
)


def get(artefact_id: str) -> Artefact:
    for a in ARTEFACTS:
        if a.id == artefact_id:
            return a
    raise ValueError(f"unknown artefact {artefact_id!r}; valid artefacts: {', '.join(a.id for a in ARTEFACTS)}")


def runnable() -> list[Artefact]:
    return [a for a in ARTEFACTS if a.notebook]
