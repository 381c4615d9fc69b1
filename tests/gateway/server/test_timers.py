"""Per-key deadlines (server/tasks.py Timers): one heap under one event-loop timer."""

from __future__ import annotations

import asyncio
import time

from lwm2m_gateway.server.tasks import Timers


async def test_deadlines_fire_in_order_once_each_and_follow_moves_and_cancels() -> None:
    timers = Timers()
    fired: list[object] = []
    now = time.time()
    for key, delay in [("c", 0.15), ("a", 0.05), ("b", 0.10), ("moved-later", 0.05),
                       ("moved-sooner", 0.5), ("cancelled", 0.05)]:  # fmt: skip
        timers.set(key, now + delay, fired.append, key)
    timers.set("moved-later", now + 0.2, fired.append, "moved-later")
    timers.set("moved-sooner", now + 0.12, fired.append, "moved-sooner")
    timers.cancel("cancelled")
    await asyncio.sleep(0.3)
    assert fired == ["a", "b", "moved-sooner", "c", "moved-later"]
    await asyncio.sleep(0.3)  # the stale entries (moved, cancelled) fire nothing
    assert fired == ["a", "b", "moved-sooner", "c", "moved-later"]


async def test_a_failing_callback_neither_stops_the_others_nor_the_timer() -> None:
    timers = Timers()
    fired: list[object] = []

    def fail() -> None:
        raise RuntimeError("boom")

    now = time.time()
    timers.set("bad", now + 0.02, fail)
    timers.set("good", now + 0.03, fired.append, "good")
    await asyncio.sleep(0.1)
    timers.set("later", time.time() + 0.02, fired.append, "later")
    await asyncio.sleep(0.1)
    assert fired == ["good", "later"]


async def test_many_moves_of_one_key_keep_the_heap_small_and_the_last_deadline() -> None:
    timers = Timers()
    fired: list[object] = []
    now = time.time()
    for step in range(1000):  # an Update every so often moves the expiry
        timers.set("device", now + 0.05 + step * 0.0001, fired.append, step)
    assert len(timers._heap) <= 2 * 1 + 64 + 1
    await asyncio.sleep(0.3)
    assert fired == [999]
    timers.cancel_all()
