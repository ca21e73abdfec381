"""The hand-off from the source's thread: bounded, never blocking, in order."""

from __future__ import annotations

import threading

from camera_app.clips.inbox import PacketInbox
from camera_app.clips.packets import EncodedPacket, PacketBus, StreamInfo

STREAM = StreamInfo("h264", (64, 64))


def pkt(i: int, size: int = 10) -> EncodedPacket:
    return EncodedPacket(b"x" * size, i, i % 10 == 0, STREAM)


def test_packets_are_taken_up_to_a_time_in_order() -> None:
    inbox = PacketInbox()
    for i in range(10):
        inbox.put(pkt(i))
    assert [p.pts_ns for p in inbox.take(4)] == [0, 1, 2, 3, 4]
    assert inbox.newest_ns == 9 and len(inbox) == 5
    assert [p.pts_ns for p in inbox.take()] == [5, 6, 7, 8, 9]
    assert inbox.take() == [] and inbox.newest_ns is None


def test_beyond_its_bounds_the_oldest_are_dropped_and_counted() -> None:
    inbox = PacketInbox(max_packets=5, max_bytes=1000)
    for i in range(8):
        inbox.put(pkt(i))
    assert inbox.dropped == 3 and [p.pts_ns for p in inbox.take()] == [3, 4, 5, 6, 7]
    inbox.put(pkt(8, 600))
    inbox.put(pkt(9, 600))  # 1200 bytes: the older one goes
    assert inbox.dropped == 4 and [p.pts_ns for p in inbox.take()] == [9]


def test_a_producer_thread_publishes_while_the_sink_takes() -> None:
    bus = PacketBus()
    bus.announce("test", STREAM)
    inbox = PacketInbox()
    unsubscribe = bus.subscribe(inbox.put)
    done = threading.Event()

    def produce() -> None:
        for i in range(2000):
            bus.publish(pkt(i))
        done.set()

    thread = threading.Thread(target=produce)
    thread.start()
    got: list[int] = []
    while not (done.is_set() and len(inbox) == 0):
        got += [p.pts_ns for p in inbox.take()]
        done.wait(0.001)
    thread.join(5)
    unsubscribe()
    bus.publish(pkt(5000))
    assert got == list(range(2000)) and len(inbox) == 0
