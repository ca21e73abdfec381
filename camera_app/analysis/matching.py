"""Assignment of detections to tracks: IoU matrix and one-to-one matching.

Most pairs in a frame are unambiguous (one track overlaps one detection and
nothing else), so :func:`match` assigns those at once, vectorised, and runs
the chosen method only on what is left: ``greedy`` (best IoU first) or
``optimal`` (Hungarian / Kuhn-Munkres in numpy, maximising the summed IoU).
No scipy or lap: both are plain numpy (see ``benchmarks/tracker.py``).
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np

log = logging.getLogger(__name__)

Method = Literal["greedy", "optimal"]
_EMPTY = np.zeros(0, np.intp)


def _overlaps(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersection areas (N, M) of xyxy boxes and the areas of each."""
    ix = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    iy = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(ix, 0.0) * np.maximum(iy, 0.0)  # (np.clip is slower on small arrays)
    area_a = np.maximum(a[:, 2] - a[:, 0], 0.0) * np.maximum(a[:, 3] - a[:, 1], 0.0)
    area_b = np.maximum(b[:, 2] - b[:, 0], 0.0) * np.maximum(b[:, 3] - b[:, 1], 0.0)
    return inter, area_a, area_b


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box of ``a`` (N, 4) with every box of
    ``b`` (M, 4), xyxy; (N, M) float64, 0 for empty boxes."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    inter, area_a, area_b = _overlaps(a, b)
    union = area_a[:, None] + area_b[None, :] - inter
    out: np.ndarray = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return out


def overlap_of_smaller(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over the smaller box's area, (N, M): 1 when one box of
    the pair lies inside the other."""
    inter, area_a, area_b = _overlaps(a.reshape(-1, 4), b.reshape(-1, 4))
    smaller = np.maximum(np.minimum(area_a[:, None], area_b[None, :]), 1e-9)
    out: np.ndarray = inter / smaller
    return out


def grown(xyxy: np.ndarray, fraction: float) -> np.ndarray:
    """Boxes grown on every side by ``fraction`` of their width and height."""
    wh = xyxy[:, 2:] - xyxy[:, :2]
    return np.hstack([xyxy[:, :2] - fraction * wh, xyxy[:, 2:] + fraction * wh])


def match(
    score: np.ndarray, min_score: float, method: Method = "optimal"
) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one pairs (rows, cols) of ``score`` (higher is better, e.g.
    IoU), each pair scoring at least ``min_score``."""
    if score.size == 0:
        return _EMPTY, _EMPTY
    ok = score >= min_score
    row_n, col_n = ok.sum(axis=1), ok.sum(axis=0)
    # unambiguous: the only candidate of its row and of its column
    single = ok & (row_n == 1)[:, None] & (col_n == 1)[None, :]
    rows, cols = np.nonzero(single)
    rest_r = np.nonzero((row_n > 0) & ~single.any(axis=1))[0]
    if not len(rest_r):
        return rows, cols
    rest_c = np.nonzero((col_n > 0) & ~single.any(axis=0))[0]
    sub = np.where(ok[rest_r][:, rest_c], score[rest_r][:, rest_c], -np.inf)
    sr, sc = _greedy(sub) if method == "greedy" else _optimal(sub)
    return np.concatenate([rows, rest_r[sr]]), np.concatenate([cols, rest_c[sc]])


def _greedy(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best pair first; -inf marks impossible pairs."""
    flat = np.argsort(-score, axis=None, kind="stable")
    rows_used = np.zeros(score.shape[0], bool)
    cols_used = np.zeros(score.shape[1], bool)
    out_r: list[int] = []
    out_c: list[int] = []
    n_cols = score.shape[1]
    for k in flat:
        r, c = divmod(int(k), n_cols)
        if score[r, c] == -np.inf:
            break
        if rows_used[r] or cols_used[c]:
            continue
        rows_used[r] = cols_used[c] = True
        out_r.append(r)
        out_c.append(c)
    return np.asarray(out_r, np.intp), np.asarray(out_c, np.intp)


def _optimal(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-cardinality pairs of maximum summed score (Hungarian method,
    O(n^2 m) with the inner step vectorised); -inf marks impossible pairs."""
    transpose = score.shape[0] > score.shape[1]
    s = score.T if transpose else score
    n, m = s.shape
    feasible = np.isfinite(s)
    # an impossible pair costs more than any set of possible ones
    big = 2.0 * (n + 1) * (1.0 + float(np.abs(s[feasible]).max(initial=0.0)))
    cost = np.where(feasible, -s, big)
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    p = np.zeros(m + 1, np.intp)  # p[j]: row (1-based) assigned to column j; 0: none
    way = np.zeros(m + 1, np.intp)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            free = ~used[1:]
            cur = cost[i0 - 1] - u[i0] - v[1:]
            better = free & (cur < minv[1:])
            minv[1:][better] = cur[better]
            way[1:][better] = j0
            masked = np.where(free, minv[1:], np.inf)
            j1 = int(np.argmin(masked)) + 1
            delta = masked[j1 - 1]
            u[p[used]] += delta
            v[used] -= delta
            minv[1:][free] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    cols = np.nonzero(p[1:])[0]
    rows = p[1:][cols] - 1
    keep = feasible[rows, cols]
    rows, cols = rows[keep], cols[keep]
    if transpose:
        rows, cols = cols, rows
    order = np.argsort(rows, kind="stable")
    return rows[order].astype(np.intp), cols[order].astype(np.intp)
