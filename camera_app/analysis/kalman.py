"""Constant-velocity Kalman filters for many boxes at once, on a time axis.

The state of a box is its centre and size ``(cx, cy, w, h)`` and their
rates of change per second. With a constant-velocity model, a measurement
of the four coordinates only, and noise that is independent per coordinate,
the four coordinates are four independent 1-D filters of two states
(position, velocity). So the whole filter bank is elementwise numpy on
(T, 4) arrays: a position, a velocity and the three distinct entries of each
2x2 covariance. No per-track Python, no 8x8 matrices.

Noise scales with the box (ByteTrack's idea): ``scale = (w + h) / 2``.
Prediction takes ``dt`` in seconds, so 30 fps and 3 fps with drops follow the
same motion model (white-noise acceleration: process noise grows with dt).
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def xyxy_to_cxcywh(xyxy: np.ndarray) -> np.ndarray:
    b = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    out = np.empty_like(b)
    out[:, 0] = (b[:, 0] + b[:, 2]) * 0.5
    out[:, 1] = (b[:, 1] + b[:, 3]) * 0.5
    out[:, 2] = b[:, 2] - b[:, 0]
    out[:, 3] = b[:, 3] - b[:, 1]
    return out


def cxcywh_to_xyxy(c: np.ndarray) -> np.ndarray:
    out = np.empty_like(c)
    half_w, half_h = c[:, 2] * 0.5, c[:, 3] * 0.5
    out[:, 0] = c[:, 0] - half_w
    out[:, 1] = c[:, 1] - half_h
    out[:, 2] = c[:, 0] + half_w
    out[:, 3] = c[:, 1] + half_h
    return out


class BoxKalman:
    """A bank of constant-velocity filters, one per box (row).

    ``accel_std``: how fast velocity may change, in box sizes per second
    squared; ``measure_std``: detector box noise, in box sizes;
    ``init_velocity_std``: the unknown speed of a new box, sizes per second.
    """

    def __init__(
        self, accel_std: float = 1.5, measure_std: float = 0.05, init_velocity_std: float = 1.0
    ) -> None:
        self.accel_var = accel_std**2
        self.measure_var = measure_std**2
        self.init_velocity_var = init_velocity_std**2
        zeros = np.zeros((0, 4))
        self.pos = zeros
        self.vel = zeros.copy()
        self.p_pp = zeros.copy()
        self.p_pv = zeros.copy()
        self.p_vv = zeros.copy()

    def __len__(self) -> int:
        return len(self.pos)

    def _scale2(self) -> np.ndarray:
        s = np.maximum((self.pos[:, 2] + self.pos[:, 3]) * 0.5, 1.0)
        return (s * s)[:, None]

    def add(self, xyxy: np.ndarray) -> None:
        """Start filters for new boxes (appended rows), at rest."""
        z = xyxy_to_cxcywh(xyxy)
        s2 = (np.maximum((z[:, 2] + z[:, 3]) * 0.5, 1.0) ** 2)[:, None]
        ones = np.ones((len(z), 4))
        self.pos = np.concatenate([self.pos, z])
        self.vel = np.concatenate([self.vel, np.zeros_like(z)])
        self.p_pp = np.concatenate([self.p_pp, ones * (4.0 * self.measure_var) * s2])
        self.p_pv = np.concatenate([self.p_pv, np.zeros_like(z)])
        self.p_vv = np.concatenate([self.p_vv, ones * self.init_velocity_var * s2])

    def keep(self, mask: np.ndarray) -> None:
        """Drop the rows where ``mask`` is False."""
        for name in ("pos", "vel", "p_pp", "p_pv", "p_vv"):
            setattr(self, name, getattr(self, name)[mask])

    def predict(self, dt: float) -> None:
        """Advance every filter by ``dt`` seconds."""
        if dt <= 0 or not len(self):
            return
        q = self.accel_var * self._scale2()
        self.pos = self.pos + self.vel * dt
        self.p_pp = self.p_pp + 2 * dt * self.p_pv + dt * dt * self.p_vv + q * (dt**3 / 3)
        self.p_pv = self.p_pv + dt * self.p_vv + q * (dt * dt / 2)
        self.p_vv = self.p_vv + q * dt
        # a box never shrinks below a pixel, whatever the size velocity says
        np.maximum(self.pos[:, 2:], 1.0, out=self.pos[:, 2:])

    def update(self, rows: np.ndarray, xyxy: np.ndarray) -> None:
        """Correct the filters ``rows`` with measured boxes ``xyxy`` (same order)."""
        if not len(rows):
            return
        z = xyxy_to_cxcywh(xyxy)
        s = np.maximum((z[:, 2] + z[:, 3]) * 0.5, 1.0)
        r = (self.measure_var * s * s)[:, None]
        pp, pv, vv = self.p_pp[rows], self.p_pv[rows], self.p_vv[rows]
        inv = 1.0 / (pp + r)
        k_p, k_v = pp * inv, pv * inv
        innovation = z - self.pos[rows]
        self.pos[rows] += k_p * innovation
        self.vel[rows] += k_v * innovation
        self.p_pp[rows] = (1 - k_p) * pp
        self.p_pv[rows] = (1 - k_p) * pv
        self.p_vv[rows] = vv - k_v * pv

    def boxes(self) -> np.ndarray:
        """The current (predicted or corrected) boxes, (T, 4) float64 xyxy."""
        return cxcywh_to_xyxy(self.pos)
