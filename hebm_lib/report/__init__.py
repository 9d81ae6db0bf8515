"""Report: what the notebooks write and the book shows.

    results    the result schema (rows, claims, configs, provenance), written atomically
    manifest   every figure and table of the paper and its supplement, and what reproduces it
    notebook   the shared machinery of the artefact notebooks
    status     the book's status page
"""
