"""The heap settler freezes the long-lived heap at start-up and after the registry settles."""

from __future__ import annotations

import asyncio
import gc

from lwm2m_gateway.heap import HeapSettler


async def test_the_heap_is_frozen_once_the_registry_settles_and_released_on_stop() -> None:
    count = 10
    settler = HeapSettler(lambda: count, interval=0.05)
    settler.start()
    try:
        assert gc.get_freeze_count() > 0
        assert settler.frozen_at == 10
        count = 500  # a registration storm...
        await asyncio.sleep(0.03)
        assert settler.frozen_at == 10  # ...still going: no freeze in the middle of it
        for _ in range(100):
            if settler.frozen_at == 500:
                break
            await asyncio.sleep(0.02)
        assert settler.frozen_at == 500  # settled for an interval: frozen again
    finally:
        await settler.stop()
    assert gc.get_freeze_count() == 0
