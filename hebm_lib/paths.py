"""Where things live. Notebooks and scripts import these instead of hard-coding '../data'.

Two layouts. In a checkout (the book's repository) everything is under the repository root. In an installed
wheel (`pip install .`) the files the library only reads (notebooks, the paper's values, data checksums,
benchmark step times, the stored `paper` runs) ship inside the package as hebm_lib/shipped/, and what it
writes (build/, data/, results/) goes under $HEBM_HOME, else the current directory.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
_PARENT = PACKAGE_DIR.parent
IS_CHECKOUT = (_PARENT / "pyproject.toml").is_file() and (_PARENT / "notebooks").is_dir()
# read-only files: the checkout itself, or their copies inside the wheel (setup.py lists them)
SHIPPED_DIR = _PARENT if IS_CHECKOUT else PACKAGE_DIR / "shipped"
# where the library writes and where commands run from
REPO_ROOT = _PARENT if IS_CHECKOUT else Path(os.environ.get("HEBM_HOME") or Path.cwd()).resolve()

NOTEBOOKS_DIR = SHIPPED_DIR / "notebooks"
PAPER_VALUES_DIR = SHIPPED_DIR / "paper_values"
CHECKSUMS_FILE = SHIPPED_DIR / "data" / "checksums.json"
STEP_TIMES_FILE = SHIPPED_DIR / "benchmarks" / "step_times.json"
BOOK_DIR = REPO_ROOT / "book"


# what `make data` and a bare `hebm data fetch` fetch: the data sets that need no network (here, not in
# hebm_lib.data, so that `hebm --help` names them without importing torch)
OFFLINE_DATA = ("fmnist", "mnist", "mnist5k")


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Data root: the argument, else $HEBM_DATA_DIR, else <repo>/data."""
    return Path(override or os.environ.get("HEBM_DATA_DIR") or REPO_ROOT / "data")


def build_dir() -> Path:
    return Path(os.environ.get("HEBM_BUILD_DIR") or REPO_ROOT / "build")


def cache_dir(override: str | os.PathLike | None = None) -> Path:
    """Trained-model cache shared by all notebooks (keyed by config hash)."""
    return Path(override or os.environ.get("HEBM_CACHE_DIR") or build_dir() / "cache")


def results_dir(profile: str, override: str | os.PathLike | None = None) -> Path:
    """Where notebooks write results: the argument, else $HEBM_RESULTS_DIR, else build/results/<profile>."""
    return Path(override or os.environ.get("HEBM_RESULTS_DIR") or build_dir() / "results" / profile)


def stored_root() -> Path:
    """results/ of the stored runs every build renders: $HEBM_STORED_DIR; else the checkout's results/;
    installed, ./results once a run has been stored there, else the copies shipped in the wheel."""
    if os.environ.get("HEBM_STORED_DIR"):
        return Path(os.environ["HEBM_STORED_DIR"])
    if IS_CHECKOUT or (REPO_ROOT / "results").is_dir():
        return REPO_ROOT / "results"
    return SHIPPED_DIR / "results"


def moved_by(path: str | os.PathLike) -> str | None:
    """The environment variable that puts the folder holding ``path`` elsewhere (the most specific one: the model
    cache lies inside the build folder by default), None for a path outside them all (a file named on the command
    line)."""
    roots = {"HEBM_STORED_DIR": stored_root(), "HEBM_DATA_DIR": data_dir(), "HEBM_CACHE_DIR": cache_dir(),
             "HEBM_RESULTS_DIR": Path(os.environ.get("HEBM_RESULTS_DIR") or build_dir() / "results"),
             "HEBM_BUILD_DIR": build_dir()}
    path = Path(os.path.abspath(path))
    holding = [(len(Path(os.path.abspath(root)).parts), var) for var, root in roots.items()
               if path == Path(os.path.abspath(root)) or Path(os.path.abspath(root)) in path.parents]
    return max(holding)[1] if holding else None
