"""Information reporting (LwM2M 1.1 core §6.4): Observe, Notify, Cancel, and re-observing.

Observations belong to the gateway: they are stored, and re-established when a device registers
again or the gateway restarts (the device's old tokens are dead by then).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import aiocoap
import aiocoap.error
from aiocoap.numbers.codes import Code

from ..coap_tokens import Follow
from ..lwm2m.codecs import encode_paths
from ..lwm2m.errors import Lwm2mError, raise_for_code
from ..lwm2m.paths import InvalidPath, Path, PathLevel
from ..lwm2m.values import Record
from ..quiet_log import QuietLog
from .endpoint import EndpointState
from .persistence import ObservationStore
from .presence import Presence
from .registrations import Registrations
from .requests import RequestSender
from .resource_values import ResourceValues
from .tasks import BackgroundTasks

_LOGGER = logging.getLogger(__name__)
HEAL_INTERVAL = 10.0  # s between two re-observation attempts for one endpoint on contact


class _Follower:
    """What the token layer calls for one observation (see coap_tokens.Follow)."""

    __slots__ = ("_base", "_done", "_fmt", "_name", "_observations", "observation")

    def __init__(self, observations: Observations, name: str, fmt: int, base: Path) -> None:
        self._observations = observations
        self._name = name
        self.observation: Observation | None = None
        self._fmt = fmt
        self._base = base
        self._done = False

    def notified(self, notification: aiocoap.Message) -> None:
        observation = self.observation
        if self._done or observation is None:
            return
        try:
            going_on = self._observations._notified(
                self._name, observation, self._fmt, self._base, notification
            )
        except Lwm2mError as err:  # e.g. it is not registered any more
            going_on = False
            _LOGGER.info("Observation %s of %s ended: %s", observation.key, self._name, err)
        except Exception:
            going_on = True
            _LOGGER.exception("Error handling a notification from %s", self._name)
        if not going_on:
            observation.cancel()
            self.ended(None)

    def ended(self, err: BaseException | None) -> None:
        if not self._done and self.observation is not None:
            self._done = True
            self._observations._ended(self._name, self.observation, err)


def observation_key(paths: Sequence[Path]) -> str:
    return ",".join(str(path) for path in paths)


@dataclass(slots=True)
class Observation:
    paths: tuple[Path, ...]
    follow: Follow  # its token, followed by the token layer
    last_heard: float = field(default_factory=time.monotonic)

    @property
    def key(self) -> str:
        return observation_key(self.paths)

    @property
    def live(self) -> bool:
        return self.follow.live

    def cancel(self) -> None:
        self.follow.cancel()


class Observations:
    def __init__(
        self,
        *,
        requests: RequestSender,
        registrations: Registrations,
        values: ResourceValues,
        presence: Presence,
        store: ObservationStore,
        tasks: BackgroundTasks,
    ) -> None:
        self._requests = requests
        self._registrations = registrations
        self._values = values
        self._presence = presence
        self._store = store
        self._tasks = tasks
        self._live: dict[str, dict[str, Observation]] = {}
        self._quiet = QuietLog(_LOGGER)  # bad notifications: a line a minute per observation
        self._healing: set[tuple[str, str]] = set()  # (endpoint, key) being re-established
        self._healed_at: dict[str, float] = {}  # "endpoint\nkey" -> last re-observe attempt
        self._stored: dict[str, set[str]] = {}  # the store's observation keys, cached
        # endpoints that may have stored observations (a superset): a Register of any other
        # needs no look in the store (a query per Register of a storm)
        self._maybe_stored: set[str] | None = None

    async def observe(self, endpoint: str, paths: Sequence[Path]) -> list[Record]:
        state = self._registrations.get(endpoint)
        key = observation_key(paths)
        current = self._live.get(endpoint, {}).get(key)
        if current is not None and current.live:
            return _cached(state, paths)
        records, observation = await self._start(state, tuple(paths))
        if observation is None:  # it answered without Observe: it will not notify
            self._refused(state, key)
            self._values.apply(state, records)
            return records
        self._live.setdefault(endpoint, {})[key] = observation
        self._store.save_observation(endpoint, key, {"paths": [str(p) for p in paths]})
        self._stored_keys(endpoint).add(key)
        if self._maybe_stored is not None:
            self._maybe_stored.add(endpoint)
        self._values.apply(state, records)
        return records

    def _refused(self, state: EndpointState, key: str) -> None:
        """The device answered an Observe as a plain read (RFC 7641 §3.1: no Observe option):
        nothing is kept to heal, else every contact would ask again (seen: 3,000 such
        observations re-made on every notification, the gateway's whole CPU)."""
        self._quiet.info(f"{state.name}\n{key}", "%s does not let %s be observed (it answered "
                         "without Observe)", state.name, key)  # fmt: skip
        if key in self._stored_keys(state.name):
            self._store.delete_observation(state.name, key)
            self._stored_keys(state.name).discard(key)

    async def _start(
        self, state: EndpointState, paths: tuple[Path, ...]
    ) -> tuple[list[Record], Observation | None]:
        requests = self._requests
        if len(paths) == 1:
            base, kind = paths[0], "read"
            formats = requests.formats(state, "read", single=base.level >= PathLevel.RESOURCE)
        else:
            base, kind = Path(), "composite"
            formats = requests.composite_formats(state)

        def build(fmt: int) -> aiocoap.Message:
            return self._request(state, paths, fmt, observe=0)

        # aiocoap's bare request, not its block-wise one, and once it runs, its token followed
        # at the token layer (coap_tokens): an answer in blocks is read whole block-wise, as a
        # notification in blocks is (see _notified)
        response, request, fmt = await requests.negotiate(
            state, kind, formats, build, base, blockwise=False
        )
        observation = None
        if response.opt.observe is not None:
            follower = _Follower(self, state.name, fmt, base)
            follow = requests.follow(request, response, follower.notified, follower.ended)
            if follow is not None:
                observation = follower.observation = Observation(paths, follow)
        try:
            if response.opt.block2 is not None:
                return await self._whole(state, paths, fmt, base), observation
            return requests.decode(state, response, fmt, base), observation
        except BaseException:
            if observation is not None:
                observation.cancel()
            raise

    def _request(
        self, state: EndpointState, paths: Sequence[Path], fmt: int, **observe: int
    ) -> aiocoap.Message:
        """A GET of one path, or a FETCH of several (Read-Composite), answered in fmt."""
        if len(paths) == 1:
            return self._requests.message(state, Code.GET, paths[0], accept=fmt, **observe)
        return self._requests.message(
            state, Code.FETCH, Path(), payload=encode_paths(paths, fmt),
            content_format=fmt, accept=fmt, **observe,
        )  # fmt: skip

    async def _whole(
        self, state: EndpointState, paths: Sequence[Path], fmt: int, base: Path
    ) -> list[Record]:
        """The value of paths read block-wise (an answer or notification came in blocks on a
        bare observation, which gives only the first)."""
        response = await self._requests.exchange(state, self._request(state, paths, fmt), base)
        raise_for_code(response.code, response.payload, endpoint=state.name, path=str(base))
        return self._requests.decode(state, response, fmt, base)

    async def _read_whole(self, name: str, observation: Observation, fmt: int, base: Path) -> None:
        """A notification came in blocks: its value, read whole."""
        try:
            state = self._registrations.get(name)
            self._values.apply(state, await self._whole(state, observation.paths, fmt, base))
        except Exception as err:  # whatever it was, the next notification tries again
            self._quiet.warn(f"{name}\n{observation.key}\nwhole",
                             "Could not read the whole of a notification in blocks from %s "
                             "on %s: %s", name, observation.key, err)  # fmt: skip

    def _notified(
        self,
        name: str,
        observation: Observation,
        fmt: int,
        base: Path,
        notification: aiocoap.Message,
    ) -> bool:
        """One notification; False when the observation ended with it."""
        state = self._registrations.get(name)
        observation.last_heard = time.monotonic()
        self._presence.touch(state)
        if not notification.code.is_successful():
            _LOGGER.info(
                "%s ended observation %s with %s", name, observation.key, notification.code
            )
            return False
        if notification.opt.block2 is not None:  # its first block only: read the whole
            self._tasks.spawn(self._read_whole(name, observation, fmt, base))
            return True
        try:
            records = self._requests.decode(state, notification, fmt, base)
        except Exception as err:  # one bad notification never ends the observation
            self._quiet.warn(f"{name}\n{observation.key}",
                             "Dropped a bad notification from %s on %s: %s",
                             name, observation.key, err)  # fmt: skip
            return True
        self._values.apply(state, records)
        return True

    def _ended(self, name: str, observation: Observation, err: BaseException | None) -> None:
        mine = self._live.get(name, {})
        if mine.get(observation.key) is observation:
            del mine[observation.key]
        if isinstance(err, aiocoap.error.LibraryShutdown):
            return  # the gateway stops
        if err is not None:
            _LOGGER.info("Observation %s of %s ended: %s", observation.key, name, err)
        if isinstance(err, aiocoap.error.NetworkError):  # e.g. ICMP port unreachable
            with contextlib.suppress(Lwm2mError):
                self._presence.unreachable(self._registrations.get(name), str(err))
            return
        # the device ended it (an error code, or no Observe any more): it spoke, so what died
        # is made again (heal_soon spaces the attempts), as on any other contact
        with contextlib.suppress(Lwm2mError):
            state = self._registrations.get(name)
            if self._registrations.is_current(state):
                self.heal_soon(state)

    async def cancel_observe(
        self, endpoint: str, paths: Sequence[Path], *, active: bool = True
    ) -> None:
        """Cancel (1.1 core §6.4.2). Passive: forget it, so the next notification is reset.
        Active: also send Observe=1 to the device."""
        state = self._registrations.get(endpoint)
        key = observation_key(paths)
        observation = self._live.get(endpoint, {}).pop(key, None)
        self._store.delete_observation(endpoint, key)
        self._stored_keys(endpoint).discard(key)
        if observation is not None:
            observation.cancel()
        if active and len(paths) == 1:
            message = self._requests.message(state, Code.GET, paths[0], observe=1)
            response = await self._requests.exchange(state, message, paths[0])
            raise_for_code(response.code, response.payload, endpoint=endpoint, path=key)

    # --- self-healing: observations that ended without a cancel come back -------------------------

    def _stored_keys(self, endpoint: str) -> set[str]:
        """The keys of the store's observations of this endpoint, read once and kept."""
        keys = self._stored.get(endpoint)
        if keys is None:
            stored = self.may_have_stored(endpoint)
            keys = self._stored[endpoint] = (
                set(self._store.load_observations_of(endpoint)) if stored else set()
            )
        return keys

    def may_have_stored(self, endpoint: str) -> bool:
        """Whether the store may hold observations of this endpoint (False: it holds none)."""
        if self._maybe_stored is None:  # read once, on first need
            self._maybe_stored = set(self._store.load_observations())
        return endpoint in self._maybe_stored

    def _dead_keys(self, endpoint: str) -> Iterator[str]:
        """Stored observations of this endpoint that are not live (a generator: heal_soon asks
        on every contact, and nearly always gets none)."""
        live = self._live.get(endpoint) or {}
        for key in self._stored_keys(endpoint):
            observation = live.get(key)
            if observation is None or not observation.live:
                yield key

    def missing(self, endpoint: str) -> dict[str, list[Path]]:
        """Stored observations of this endpoint that deliver nothing now (from memory: the
        key names the paths, as observation_key writes it)."""
        out = {}
        for key in self._dead_keys(endpoint):
            try:
                out[key] = [Path.parse(p) for p in key.split(",")]
            except InvalidPath:
                continue
        return out

    def heal_soon(self, state: EndpointState) -> None:
        """The device spoke (Update, Send, a notification on another token): re-observe what
        died. A contact is frequent, so this checks memory only; a key that could not be
        re-observed waits HEAL_INTERVAL before the next try."""
        now = time.monotonic()
        for key in self._dead_keys(state.name):
            if (state.name, key) in self._healing:
                continue
            if now - self._healed_at.get(f"{state.name}\n{key}", -HEAL_INTERVAL) < HEAL_INTERVAL:
                continue
            self._tasks.spawn(self.heal(state))
            return

    async def heal(self, state: EndpointState) -> None:
        for key, paths in self.missing(state.name).items():
            if (state.name, key) in self._healing or not self._registrations.is_current(state):
                continue
            self._healing.add((state.name, key))
            self._healed_at[f"{state.name}\n{key}"] = time.monotonic()
            if len(self._healed_at) > 100000:
                self._healed_at.clear()
            try:
                _LOGGER.info("Re-observing %s on %s (the observation had ended)", key, state.name)
                await self.observe(state.name, paths)
            except Lwm2mError as err:
                _LOGGER.info("Could not re-observe %s on %s: %s", key, state.name, err)
            finally:
                self._healing.discard((state.name, key))

    def stale(self, state: EndpointState, margin: float, silence: float) -> list[str]:
        """Live observations silent for longer than twice their pmax plus margin, or, with no
        pmax written, than silence (0: never)."""
        now, out = time.monotonic(), []
        for key, observation in self._live.get(state.name, {}).items():
            pmax = max((state.pmax.get(p, 0.0) for p in observation.paths), default=0.0)
            limit = 2 * pmax + margin if pmax else silence
            if limit and now - observation.last_heard > limit:
                out.append(key)
        return out

    def restart(self, endpoint: str, key: str) -> None:
        """Give up on a silent observation (it is re-established by heal)."""
        observation = self._live.get(endpoint, {}).pop(key, None)
        if observation is not None:
            observation.cancel()

    def live_keys(self, endpoint: str) -> list[str]:
        """The observations of an endpoint that currently deliver notifications."""
        return sorted(k for k, o in self._live.get(endpoint, {}).items() if o.live)

    def drop(self, endpoint: str) -> None:
        """Drop this endpoint's live observations (stored ones stay, to come back on register)."""
        self._stored.pop(endpoint, None)  # read again: a removal deleted them from the store
        for observation in self._live.pop(endpoint, {}).values():
            observation.cancel()

    def stop(self) -> None:
        for name in list(self._live):
            self.drop(name)

    async def reestablish(self, state: EndpointState) -> None:
        """Observe again everything stored for this endpoint (its old tokens are dead)."""
        if not self.may_have_stored(state.name):
            return
        for key, data in self._store.load_observations_of(state.name).items():
            try:
                paths = [Path.parse(p) for p in data.get("paths", key.split(","))]
            except InvalidPath:
                continue
            if (state.name, key) in self._healing:
                continue  # a heal is re-observing it right now
            if (old := self._live.get(state.name, {}).pop(key, None)) is not None:
                old.cancel()
            self._healing.add((state.name, key))
            try:
                await self.observe(state.name, paths)
            except Lwm2mError as err:
                _LOGGER.info("Could not re-observe %s on %s: %s", key, state.name, err)
            finally:
                self._healing.discard((state.name, key))


def _cached(state: EndpointState, paths: Sequence[Path]) -> list[Record]:
    return [
        Record(path, value, stamp)
        for path, (value, stamp) in state.values.items()
        if any(p.contains(path) for p in paths)
    ]
