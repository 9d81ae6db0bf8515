"""Evaluation: what the notebooks measure on trained models.

    encoding          models over many images, in batches
    metrics           latent classifiers (Table 1), identity-change rate (Figure 5), AUROC / AUPRC, anomaly scores
    attacks           the per-layer latent attack (Figure 9)
    disentanglement   MIG, MIG-sup (two protocols) and I(x; z_l)
    pendulum          the VHP paper's angle measures (OLS of App. B.3, circle fit)
    likelihood        log p(x) by importance sampling (VHP's Table 2 protocol)
    fid               FID / KID through torch-fidelity, in a named feature space (Inception or domain features)
    generation        samples as images, reconstruction MSE, the long-run Langevin chain (Tables 2, 4-6, Figs. 8, 10)
    ebm_effect        what the joint EBM prior changes: energy gap, log Z, KL from N(0, I), Langevin's move
"""
