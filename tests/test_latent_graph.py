"""Graph-based interpolation (VHP Sec. 2.3) on point sets whose shortest paths are known."""
import math

import numpy as np
import pytest

from hebm_lib.evaluation.latent_graph import interpolate, knn_graph, largest_jump


def test_the_path_along_a_ring_follows_the_ring_not_the_chord():
    a = np.random.RandomState(0).uniform(0, 2 * math.pi, 1000)
    ring = np.stack([np.cos(a), np.sin(a)], 1)
    out = interpolate(ring, np.array([1.0, 0.0]), np.array([-1.0, 0.0]), k=18)
    radius = np.hypot(*out["points"].T)
    assert np.all(np.abs(radius - 1) < 1e-9)              # every step stays on the ring
    assert abs(out["length"] - math.pi) < 0.02              # half the circumference, not the chord of 2
    angles = np.unwrap(np.arctan2(out["points"][:, 1], out["points"][:, 0]))
    assert np.all(np.diff(angles) > 0) or np.all(np.diff(angles) < 0)   # monotone around the ring
    assert largest_jump(angles) < 0.15                    # k-NN chords, no long edge


def test_a_gap_in_the_prior_shows_as_a_jump_and_disconnected_ends_as_no_path():
    rng = np.random.RandomState(1)
    a = np.concatenate([rng.uniform(0.3, 1.5, 20), rng.uniform(1.9, 3.0, 20)])   # no samples in (1.5, 1.9)
    arcs = np.stack([np.cos(a), np.sin(a)], 1)
    out = interpolate(arcs, np.array([math.cos(0.3), math.sin(0.3)]), np.array([math.cos(3.0), math.sin(3.0)]), k=18)
    angles = np.arctan2(out["points"][:, 1], out["points"][:, 0])
    assert largest_jump(angles) > 0.38                     # the path crosses the empty arc in one edge
    far = interpolate(arcs, np.array([100.0, 0.0]), np.array([-1.0, 0.0]), k=3)
    assert far["length"] > 90                             # reachable only by one long edge
    two = np.vstack([np.zeros((20, 2)), np.ones((20, 2)) * 50]) + np.random.RandomState(2).rand(40, 2)
    assert interpolate(two, np.zeros(2), np.ones(2) * 50, k=3)["points"] is None


def test_knn_graph_is_symmetric_and_checks_k():
    g = knn_graph(np.random.RandomState(0).randn(50, 2), 5)
    assert (g != g.T).nnz == 0 and (g.getnnz(axis=1) >= 5).all()
    with pytest.raises(ValueError, match="k must be"):
        knn_graph(np.zeros((5, 2)), 5)
