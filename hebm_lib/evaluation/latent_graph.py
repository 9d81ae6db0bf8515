"""The VHP paper's graph-based interpolation (its Sec. 2.3, Figs. 3-4): a nearest-neighbour graph over
samples of the learned prior, and the shortest path through it between two encoded data points.

    nodes   N samples of p(z), plus the posterior means of the two end images
    edges   each node to its k nearest neighbours, undirected, weighted by Euclidean distance
    path    the shortest path (Dijkstra; the paper names A*, which finds the same path)

Decoding the path gives the interpolation; where the prior has no mass between two regions the path
jumps, which shows in the decoded frames as a discontinuity.
"""
from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra


def knn_graph(nodes: np.ndarray, k: int) -> csr_matrix:
    """Symmetric sparse graph joining every node to its ``k`` nearest neighbours (Euclidean weights)."""
    nodes = np.asarray(nodes, dtype=np.float64)
    n = len(nodes)
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, {n - 1}] for {n} nodes, got {k}")
    sq = (nodes ** 2).sum(1)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * nodes @ nodes.T, 0.0))
    np.fill_diagonal(dist, np.inf)
    nearest = np.argpartition(dist, k, axis=1)[:, :k]
    rows = np.repeat(np.arange(n), k)
    cols = nearest.reshape(-1)
    weights = np.maximum(dist[rows, cols], 1e-12)   # a zero weight would read as "no edge"
    graph = csr_matrix((weights, (rows, cols)), shape=(n, n))
    return graph.maximum(graph.T)


def interpolate(prior_samples: np.ndarray, z_start: np.ndarray, z_end: np.ndarray, k: int = 18) -> dict:
    """The shortest path from ``z_start`` to ``z_end`` through the k-NN graph of ``prior_samples`` (with
    both ends added as nodes). Returns the path's points (start, prior samples..., end), the graph's
    nodes and edges, and the path length; ``points`` is None when the two ends are not connected."""
    nodes = np.vstack([np.asarray(prior_samples, np.float64), np.asarray(z_start, np.float64)[None],
                       np.asarray(z_end, np.float64)[None]])
    graph = knn_graph(nodes, k)
    start, end = len(nodes) - 2, len(nodes) - 1
    dist, pred = dijkstra(graph, indices=start, return_predecessors=True)
    if not np.isfinite(dist[end]):
        return {"points": None, "nodes": nodes, "graph": graph, "length": float("inf")}
    order = [end]
    while order[-1] != start:
        order.append(pred[order[-1]])
    order = order[::-1]
    return {"points": nodes[order], "indices": np.array(order), "nodes": nodes, "graph": graph,
            "length": float(dist[end])}


def largest_jump(angles: np.ndarray) -> float:
    """The largest change of angle (radians, on the circle) between consecutive frames of a path."""
    a = np.asarray(angles, dtype=np.float64)
    step = np.angle(np.exp(1j * np.diff(a)))
    return float(np.abs(step).max()) if len(step) else 0.0
