"""hebm_lib: models, priors, samplers, training, metrics and data for the HEBM companion book.

Modules (each small enough to read in one sitting):
    configs   one named config per model x dataset, resolved at a profile (smoke | cpu | paper)
    data      verified loaders for MNIST, MNIST-5k subset, Fashion-MNIST and SVHN
    models    hierarchical generator (Eq. 5), ladder inference net (Eq. 8), the joined model
    priors    N(0, I) prior (VLAE) and the joint latent EBM prior (Eq. 3)
    samplers  short-run Langevin dynamics (Eqs. 13-14)
    train     Algorithm 1 with atomic checkpoints, resume, divergence stop, and the model cache
    metrics   latent classifiers and the identity-change rate
    results   the result schema the notebooks write; manifest: every figure and table
"""
__version__ = "0.1.0"
