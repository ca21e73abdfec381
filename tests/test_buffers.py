"""BufferPool: reuse only what nobody holds any more."""

from __future__ import annotations

import numpy as np
import pytest

from camera_app.buffers import BufferPool
from camera_app.frames import Frame, SourceInfo


def test_a_released_buffer_is_reused() -> None:
    pool = BufferPool(4)
    a = pool.get((4, 6, 3))
    a_id = id(a)
    del a
    b = pool.get((4, 6, 3))
    assert id(b) == a_id
    assert pool.allocations == 1


def test_a_held_buffer_is_never_handed_out_again() -> None:
    pool = BufferPool(4)
    info = SourceInfo("t", "test", (6, 4))
    held = Frame(pool.get((4, 6, 3)), 0, 0, info)  # a frame in a queue
    view = pool.get((4, 6, 3))[1:, 2:]  # only a view survives: it keeps its base
    third = pool.get((4, 6, 3))
    assert len({id(held.image), id(view.base), id(third)}) == 3
    assert pool.allocations == 3
    held.image[:] = 7
    third[:] = 9
    assert (held.image == 7).all()  # not overwritten by the later user


def test_beyond_capacity_it_allocates_without_pooling() -> None:
    pool = BufferPool(2)
    live = [pool.get((2, 2)) for _ in range(3)]
    assert len(pool) == 2 and pool.allocations == 3
    assert len({id(x) for x in live}) == 3


def test_a_new_size_replaces_a_free_buffer() -> None:
    pool = BufferPool(1)
    pool.get((2, 2))
    big = pool.get((8, 8))
    assert len(pool) == 1
    del big
    assert pool.get((8, 8)).shape == (8, 8) and pool.allocations == 2
    assert pool.get((2, 2), np.uint16).dtype == np.uint16


def test_capacity_is_checked() -> None:
    with pytest.raises(ValueError, match="capacity"):
        BufferPool(0)
