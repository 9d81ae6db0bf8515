"""Package list for the wheel; the metadata is in pyproject.toml.

Every package under hebm_lib/ is found, and the files the library reads from a checkout ship inside the
wheel as hebm_lib/shipped/<dir>/ (hebm_lib/paths.py reads them there when there is no checkout).
"""
from setuptools import find_packages, setup

SHIPPED = {   # top-level directory -> the files of it the library reads
    "notebooks": ["*.md"],
    "paper_values": ["*.csv"],
    "data": ["checksums.json"],
    "benchmarks": ["step_times.json"],
    # the stored `paper` runs every build renders, and the recorded `cpu` build `hebm list` shows without one
    "results": ["paper/*.json", "paper/*.csv", "paper/*/*.csv", "cpu/*.json"],
}

setup(
    packages=find_packages(include=["hebm_lib", "hebm_lib.*"]) + [f"hebm_lib.shipped.{d}" for d in SHIPPED],
    package_dir={f"hebm_lib.shipped.{d}": d for d in SHIPPED},
    package_data={f"hebm_lib.shipped.{d}": globs for d, globs in SHIPPED.items()},
)
