from __future__ import annotations

import itertools

import numpy as np
import pytest

from camera_app.analysis.matching import iou_matrix, match


@pytest.mark.parametrize(
    ("a", "b", "iou"),
    [
        ([0, 0, 10, 10], [0, 0, 10, 10], 1.0),
        ([0, 0, 10, 10], [5, 0, 15, 10], 50 / 150),
        ([0, 0, 10, 10], [10, 0, 20, 10], 0.0),  # touching
        ([0, 0, 10, 10], [2, 2, 4, 4], 4 / 100),  # inside
        ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),  # empty boxes
    ],
)
def test_iou_matrix(a: list[float], b: list[float], iou: float) -> None:
    assert iou_matrix(np.array([a]), np.array([b]))[0, 0] == pytest.approx(iou)


def test_iou_matrix_shapes() -> None:
    assert iou_matrix(np.zeros((0, 4)), np.zeros((3, 4))).shape == (0, 3)
    assert iou_matrix(np.zeros((2, 4)), np.zeros((0, 4))).shape == (2, 0)


def test_greedy_and_optimal_differ_where_greedy_is_short_sighted() -> None:
    score = np.array([[0.9, 0.8], [0.7, 0.0]])
    r, c = match(score, 0.1, "greedy")
    assert list(zip(r.tolist(), c.tolist(), strict=True)) == [(0, 0)]
    r, c = match(score, 0.1, "optimal")
    assert sorted(zip(r.tolist(), c.tolist(), strict=True)) == [(0, 1), (1, 0)]


def brute_force(score: np.ndarray, min_score: float) -> tuple[int, float]:
    """Most pairs, then highest sum, over every assignment."""
    n, m = score.shape
    best = (0, 0.0)
    for perm in itertools.permutations(range(max(n, m)), min(n, m)):
        pairs = list(zip(range(n), perm, strict=False)) if n <= m else list(zip(perm, range(m), strict=False))  # fmt: skip
        ok = [(i, j) for i, j in pairs if score[i, j] >= min_score]
        best = max(best, (len(ok), round(sum(score[i, j] for i, j in ok), 9)))
    return best


@pytest.mark.parametrize("seed", range(5))
def test_optimal_is_optimal_on_random_matrices(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(60):
        n, m = (int(v) for v in rng.integers(1, 6, 2))
        score = rng.random((n, m))
        score[rng.random((n, m)) < 0.5] = 0.0
        r, c = match(score, 0.1, "optimal")
        assert len(set(r.tolist())) == len(r) and len(set(c.tolist())) == len(c)
        assert (score[r, c] >= 0.1).all()
        assert (len(r), round(float(score[r, c].sum()), 9)) == brute_force(score, 0.1)
        rg, cg = match(score, 0.1, "greedy")
        assert len(set(rg.tolist())) == len(rg) and (score[rg, cg] >= 0.1).all()


def test_match_of_nothing() -> None:
    r, c = match(np.zeros((0, 3)), 0.2)
    assert len(r) == len(c) == 0
    r, c = match(np.full((2, 2), 0.1), 0.2)
    assert len(r) == 0
