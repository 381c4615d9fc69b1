"""aiocoap's token layer, with random tokens and observations followed without its request
machinery.

aiocoap keeps an observation as a request, a pipe, a request runner and a ClientObservation,
and walks each notification through all four: about 7 KiB and a fifth of the gateway's CPU per
notification, for 10,000 observed devices. Once an observation is established (its first answer
came with Observe), `FollowingTokens.follow` takes its token out of aiocoap's table and keeps a
small `Follow` in its place, which gets each notification straight from the message layer.
The message layer still answers a confirmable notification with an ACK, and still resets one
whose token nobody follows (a passive cancel, RFC 7641 §3.6).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

import aiocoap
import aiocoap.error
from aiocoap.tokenmanager import TokenManager

_LOGGER = logging.getLogger(__name__)

Notified = Callable[[aiocoap.Message], None]
Ended = Callable[[BaseException | None], None]

# RFC 7641 §3.4: a notification is fresh if its number is ahead (modulo 2^24), or if 128 s
# have passed since the last fresh one
_HALF = 2**23
OBSERVATION_RESET_TIME = 128.0  # s


class RandomTokenManager(TokenManager):  # type: ignore[misc]
    """Tokens from the system's random source (RFC 7252 §5.3.1: at least 32 random bits for a
    host reachable off-path): aiocoap counts up from a random start, so one token seen tells
    the next, and an off-path host could forge a notification."""

    def next_token(self) -> bytes:
        return secrets.token_bytes(8)


class Follow:
    """One followed observation: its token, the freshness of its notifications, and whom to
    tell. `notified` gets each fresh notification, the last one (an error code, or no Observe)
    included; `ended` is called once when it ends by itself (None: the device ended it, else the
    network error or shutdown); a `cancel` calls neither."""

    __slots__ = ("_at", "_ended", "_notified", "_number", "_tokens", "live", "remote", "token")

    def __init__(
        self,
        tokens: FollowingTokens,
        response: aiocoap.Message,
        notified: Notified,
        ended: Ended,
    ) -> None:
        self._tokens = tokens
        self.token: bytes = response.token
        self.remote: Any = response.remote
        self._notified = notified
        self._ended = ended
        self._number: int = response.opt.observe
        self._at = time.monotonic()
        self.live = True

    def deliver(self, message: aiocoap.Message) -> None:
        number = message.opt.observe
        final = number is None or not message.code.is_successful()
        if not final:
            now = time.monotonic()
            ahead = (number - self._number) % (2 * _HALF)
            if not (0 < ahead < _HALF or now > self._at + OBSERVATION_RESET_TIME):
                return  # a duplicate, or older than what came (reordered)
            self._number, self._at = number, now
        else:
            self._tokens.forget(self)
        try:
            self._notified(message)
            if final:
                self._ended(None)
        except Exception:  # never into aiocoap's message layer, which would drop the datagram
            _LOGGER.exception("Error handling a notification from %s", self.remote)

    def fail(self, err: BaseException) -> None:
        self.live = False
        try:
            self._ended(err)
        except Exception:
            _LOGGER.exception("Error ending an observation of %s", self.remote)

    def cancel(self) -> None:
        """Stop following (passively: the device's next confirmable notification is reset)."""
        if self.live:
            self._tokens.forget(self)


class FollowingTokens(RandomTokenManager):
    """The token layer, with followed observations looked up before aiocoap's requests."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        # remote -> token -> follow: an error from a remote ends its follows at once
        self._follows: dict[Any, dict[bytes, Follow]] = {}

    def follow(
        self, request: Any, response: aiocoap.Message, notified: Notified, ended: Ended
    ) -> Follow | None:
        """Take over aiocoap's running observation whose first answer is response (None: it is
        not running here). A notification that came in between is handed on next, once the
        caller holds the follow."""
        outgoing = self.outgoing_requests
        if outgoing is None or outgoing.pop((response.token, response.remote), None) is None:
            return None
        follow = Follow(self, response, notified, ended)
        self._follows.setdefault(follow.remote, {})[follow.token] = follow
        early = getattr(getattr(request, "observation", None), "_latest_response", None)
        if early is not None:
            asyncio.get_running_loop().call_soon(follow.deliver, early)
        return follow

    def forget(self, follow: Follow) -> None:
        follow.live = False
        follows = self._follows.get(follow.remote)
        if follows is not None and follows.get(follow.token) is follow:
            del follows[follow.token]
            if not follows:
                del self._follows[follow.remote]

    def follows(self) -> list[Follow]:
        """The observations followed now (for diagnostics and bench/bench_chain.py)."""
        return [follow for by_token in self._follows.values() for follow in by_token.values()]

    @property
    def following(self) -> int:
        return len(self.follows())

    def process_response(self, response: aiocoap.Message) -> bool:
        follows = self._follows.get(response.remote)
        follow = follows.get(response.token) if follows is not None else None
        if follow is None:
            return bool(super().process_response(response))
        follow.deliver(response)
        return True  # (a confirmable one is acknowledged by the message layer)

    def dispatch_error(self, exception: Exception, remote: Any) -> None:
        super().dispatch_error(exception, remote)
        follows = self._follows.pop(remote, None)
        if follows:
            if not isinstance(exception, aiocoap.error.NetworkError):
                cause, exception = exception, aiocoap.error.NetworkError(str(exception))
                exception.__cause__ = cause
            for follow in follows.values():
                follow.fail(exception)

    async def shutdown(self) -> None:
        follows, self._follows = self._follows, {}
        for by_token in follows.values():
            for follow in by_token.values():
                follow.fail(aiocoap.error.LibraryShutdown())
        await super().shutdown()
