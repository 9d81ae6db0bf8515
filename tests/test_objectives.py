"""Every system's training objective, pinned: the per-iteration statistics of a whole `smoke` run per system
branch, in float64 (tools/smoke_losses.py, which says why float64; tools/rounding_spread.py measures how far
rounding moves them: ~1e-14). A change that moves them changes what is trained: it comes with a new
TRAINING_VERSION and new numbers here (python tools/smoke_losses.py > tests/known/smoke_losses.json)."""
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import smoke_losses  # noqa: E402

KNOWN = json.loads((Path(__file__).parent / "known" / "smoke_losses.json").read_text())


def test_every_branch_is_pinned():
    assert set(KNOWN) == set(smoke_losses.BRANCHES)


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_training_statistics_unchanged(name):
    got = smoke_losses.losses(name, smoke_losses.BRANCHES[name])
    assert len(got) == len(KNOWN[name])
    for it, (a, b) in enumerate(zip(got, KNOWN[name])):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), f"{name}, iteration {it + 1}"
