"""Queue mode (LwM2M 1.1 core §6.5): when a device is awake, and holding requests until it is.

A queue-mode device listens for awake_time after it last spoke; requests made while it sleeps
wait (bounded in count and time) for its next Update, Notify or Send.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ..lwm2m.errors import DeviceTimeout, QueueFull
from .config import ServerConfig
from .endpoint import EndpointState
from .events import EventBus
from .tasks import Timers

WakeListener = Callable[[EndpointState], None]
ContactListener = Callable[[EndpointState], None]


class Presence:
    def __init__(self, config: ServerConfig, events: EventBus) -> None:
        self._config = config
        self._events = events
        self._timers = Timers()
        self._wakers: dict[str, asyncio.Future[None]] = {}
        self._waiting: dict[str, int] = {}
        # tuples: walked on every contact without a copy, replaced when one is added
        self._wake_listeners: tuple[WakeListener, ...] = ()
        self._contact_listeners: tuple[ContactListener, ...] = ()

    def on_wake(self, listener: WakeListener) -> None:
        """Call listener when a queue-mode device that was asleep speaks again."""
        self._wake_listeners = (*self._wake_listeners, listener)

    def on_contact(self, listener: ContactListener) -> None:
        """Call listener whenever a device speaks (it must be cheap: notifications count)."""
        self._contact_listeners = (*self._contact_listeners, listener)

    def unreachable(self, state: EndpointState, reason: str) -> None:
        """A request failed with a network error (e.g. the device stopped listening): it is
        reported unreachable until it speaks again."""
        if state.reachable:
            state.reachable = False
            self._events.emit(
                "endpoint_unreachable", state.name, {"endpoint": state.name, "reason": reason}
            )

    def touch(self, state: EndpointState) -> None:
        """The device just spoke: it was seen now and, in queue mode, is awake for awake_time."""
        now = time.time()
        state.last_seen = now
        if not state.reachable:
            state.reachable = True
            self._events.emit("endpoint_reachable", state.name, {"endpoint": state.name})
        for listener in self._contact_listeners:
            listener(state)
        if not state.registration.queue_mode:
            return
        was_asleep = state.asleep
        state.awake_until = now + self._config.awake_time
        self._timers.set(state.name, state.awake_until, self._fall_asleep, state)
        if was_asleep:
            self._events.emit("endpoint_awake", state.name, {"endpoint": state.name})
            if (waker := self._wakers.pop(state.name, None)) is not None and not waker.done():
                waker.set_result(None)
            for listener in self._wake_listeners:
                listener(state)

    def _fall_asleep(self, state: EndpointState) -> None:
        if state.online and state.asleep:
            self._events.emit("endpoint_asleep", state.name, {"endpoint": state.name})

    async def wait_awake(self, state: EndpointState) -> None:
        """Hold a request until a queue-mode device wakes (bounded count, bounded time)."""
        if not state.asleep:
            return
        name = state.name
        if self._waiting.get(name, 0) >= self._config.queue_limit:
            raise QueueFull(
                f"{self._config.queue_limit} requests already wait for {name} to wake",
                endpoint=name,
            )
        waker = self._wakers.get(name)
        if waker is None or waker.done():
            waker = self._wakers[name] = asyncio.get_running_loop().create_future()
        self._waiting[name] = self._waiting.get(name, 0) + 1
        try:
            await asyncio.wait_for(asyncio.shield(waker), self._config.queue_timeout)
        except TimeoutError:
            raise DeviceTimeout(
                f"{name} stayed asleep for {self._config.queue_timeout:g} s", endpoint=name
            ) from None
        finally:
            self._waiting[name] -= 1

    def waiting(self, name: str) -> int:
        """How many requests wait for this device to wake."""
        return self._waiting.get(name, 0)

    def forget(self, name: str) -> None:
        """The registration is gone: stop its sleep timer and fail whatever waits for it."""
        self._timers.cancel(name)
        if (waker := self._wakers.pop(name, None)) is not None and not waker.done():
            waker.set_exception(DeviceTimeout(f"{name} is gone", endpoint=name))
            waker.exception()  # retrieved: only waiters care

    def stop(self) -> None:
        self._timers.cancel_all()
