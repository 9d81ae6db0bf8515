"""Where things live. Notebooks and scripts import these instead of hard-coding '../data'."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
PAPER_VALUES_DIR = REPO_ROOT / "paper_values"
BOOK_DIR = REPO_ROOT / "book"


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
