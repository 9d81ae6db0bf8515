"""Evaluation: what the notebooks measure on trained models.

    encoding          models over many images, in batches
    metrics           latent classifiers (Table 1), identity-change rate (Figure 5), AUROC / AUPRC, anomaly scores
    attacks           the per-layer latent attack (Figure 9)
    disentanglement   MIG, MIG-sup (two protocols) and I(x; z_l)
    pendulum          the VHP paper's angle measure
"""
