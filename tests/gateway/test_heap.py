"""The heap settler freezes the long-lived heap at start-up and after every full collection."""

from __future__ import annotations

import asyncio
import gc

from lwm2m_gateway.heap import HeapSettler


async def test_survivors_of_a_full_collection_are_frozen_and_released_on_stop() -> None:
    settler = HeapSettler()
    settler.start()
    try:
        assert gc.get_freeze_count() > 0
        assert settler.freezes == 1
        kept = [[i] for i in range(10000)]  # long-lived objects made after start-up
        frozen_before = gc.get_freeze_count()
        gc.collect()  # a full collection: its survivors are frozen right after
        await asyncio.sleep(0)
        assert settler.freezes == 2
        assert gc.get_freeze_count() >= frozen_before + len(kept)
        gc.collect(1)  # a young collection freezes nothing
        await asyncio.sleep(0)
        assert settler.freezes == 2
    finally:
        await settler.stop()
    assert gc.get_freeze_count() == 0
