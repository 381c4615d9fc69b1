"""aiocoap's message layer (message ids, deduplication, retransmission), made to scale.

Two of its tables grow with the number of devices. Active exchanges are scanned whole to ask
"has this remote one?" (see Exchanges). And every request received is remembered for
EXCHANGE_LIFETIME (247 s) to answer a duplicate: aiocoap keeps the answer as a message, with
the request it answered and their options, and a timer per entry, about 2.5 KiB per device of a
registration storm. Here an answer is kept as the bytes it was sent as, and the entries expire
from one queue in the order they came, under one timer.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
from collections.abc import Iterator
from typing import Any

from aiocoap.messagemanager import MessageManager


class Exchanges(dict[tuple[Any, int], Any]):
    """aiocoap's active exchanges ((remote, message id) -> monitor, timer), indexed by remote.

    aiocoap asks "has this remote an exchange?" by scanning every active exchange, comparing
    remotes in Python, once per exchange that ends and once per request queued behind another
    to the same device: quadratic in a storm (28 % of the gateway's CPU while Home Assistant
    observed 4,000 instances). The index answers at once; iteration, while `first` names a
    remote, yields that remote's exchanges first, so aiocoap's scan stops at the first key.
    """

    def __init__(self) -> None:
        super().__init__()
        self.by_remote: dict[Any, set[tuple[Any, int]]] = {}
        self.first: Any = None

    def __setitem__(self, key: tuple[Any, int], value: Any) -> None:
        super().__setitem__(key, value)
        self.by_remote.setdefault(key[0], set()).add(key)

    def _forget(self, key: tuple[Any, int]) -> None:
        keys = self.by_remote.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self.by_remote[key[0]]

    def __delitem__(self, key: tuple[Any, int]) -> None:
        super().__delitem__(key)
        self._forget(key)

    def pop(self, key: tuple[Any, int], *default: Any) -> Any:
        value = super().pop(key, *default)
        self._forget(key)
        return value

    def __iter__(self) -> Any:
        first = self.by_remote.get(self.first) if self.first is not None else None
        if not first:
            return super().__iter__()
        first = set(first)
        return itertools.chain(first, (k for k in super().__iter__() if k not in first))

    def keys(self) -> Any:  # aiocoap's backlog scan iterates keys()
        return self.__iter__()

    @contextlib.contextmanager
    def looking_for(self, remote: Any) -> Iterator[None]:
        """While aiocoap looks for this remote's exchanges, they come first."""
        self.first = remote
        try:
            yield
        finally:
            self.first = None


class SentAnswer:
    """An answer kept for a duplicate of its request: what aiocoap's transports need to send
    it again (its bytes and remote), and what its message layer asks of it on the way."""

    __slots__ = ("_data", "mid", "mtype", "remote")

    def __init__(self, message: Any) -> None:
        self._data: bytes = message.encode()
        self.mid: int = message.mid
        self.mtype: Any = message.mtype
        self.remote: Any = message.remote

    def encode(self) -> bytes:
        return self._data

    def __repr__(self) -> str:
        return f"<answer kept for a duplicate, mid {self.mid}>"


class MessageLayer(MessageManager):  # type: ignore[misc]
    """aiocoap's message layer with its active exchanges indexed by remote (see Exchanges) and
    a lighter memory of recent requests (see the module)."""

    def __init__(self, token_manager: Any) -> None:
        super().__init__(token_manager)
        self._active_exchanges = self._exchanges = Exchanges()
        self._expiring: collections.deque[tuple[float, tuple[Any, int]]] = collections.deque()
        self._expiry: Any = None  # the one timer, set while anything is remembered

    def _continue_backlog(self, remote: Any) -> None:
        if self._active_exchanges is None:
            return
        with self._exchanges.looking_for(remote):
            super()._continue_backlog(remote)

    def send_message(self, message: Any, messageerror_monitor: Any = None) -> None:
        # (shut down, aiocoap sends it as NON and looks for no exchange)
        with self._exchanges.looking_for(message.remote):
            super().send_message(message, messageerror_monitor)

    def _deduplicate_message(self, message: Any) -> bool:
        key = (message.remote, message.mid)
        if key in self._recent_messages:
            return bool(super()._deduplicate_message(message))  # (answers it again)
        self._recent_messages[key] = None
        lifetime = message.transport_tuning.EXCHANGE_LIFETIME
        self._expiring.append((self.loop.time() + lifetime, key))
        if self._expiry is None:
            self._expiry = self.loop.call_later(lifetime, self._expire)
        return False

    def _expire(self) -> None:
        now, expiring, recent = self.loop.time(), self._expiring, self._recent_messages
        while expiring and expiring[0][0] <= now:
            recent.pop(expiring.popleft()[1], None)
        self._expiry = None
        if expiring:
            self._expiry = self.loop.call_later(expiring[0][0] - now, self._expire)

    def _store_response_for_duplicates(self, message: Any) -> None:
        key = (message.remote, message.mid)
        if key in self._recent_messages:
            kept = message if isinstance(message, SentAnswer) else SentAnswer(message)
            self._recent_messages[key] = kept

    async def shutdown(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        await super().shutdown()
