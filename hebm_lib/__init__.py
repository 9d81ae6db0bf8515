"""hebm_lib: the library behind the HEBM companion book. Layers, every import pointing down:

    errors, io, distributions, paths,   the bottom: the exceptions a command reports, atomic files, Gaussians,
    configs                             where things live, the config tables
    data                                every data set in one record (catalog), verified readers
    models                              every system behind one LatentModel protocol; priors, samplers
    training                            Algorithm 1, KL schedules, the model cache
    evaluation                          metrics, attacks, disentanglement
    report                              results, manifest, notebook machinery, status page
    cli                                 ``python -m hebm_lib`` / ``hebm``

``python tools/import_graph.py`` prints the import graph and fails on a cycle or an upward import.
"""
__version__ = "0.2.0"
