"""The shape of the code, checked: no import cycles, and each layer imports only what it may.

Imports are read from the source (ast), including those under TYPE_CHECKING: a cycle hidden
from the interpreter is still a cycle in the design.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "lwm2m_gateway": ROOT / "gateway" / "lwm2m_gateway",
    "custom_components.lwm2m": ROOT / "custom_components" / "lwm2m",
}


def module_name(package: str, base: Path, file: Path) -> str:
    parts = list(file.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def modules() -> dict[str, Path]:
    found = {}
    for package, base in PACKAGES.items():
        for file in sorted(base.rglob("*.py")):
            found[module_name(package, base, file)] = file
    return found


MODULES = modules()


def imported(name: str, file: Path) -> Iterator[str]:
    """Every module name this module imports (absolute), as written."""
    is_package = file.name == "__init__.py"
    tree = ast.parse(file.read_text(), str(file))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = name.split(".")
                anchor = anchor if is_package else anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield candidate if candidate in MODULES else base


def graph() -> dict[str, set[str]]:
    return {
        name: {target for target in imported(name, file) if target in MODULES and target != name}
        for name, file in MODULES.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_the_checker_finds_a_cycle_and_resolves_relative_imports() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    server = MODULES["lwm2m_gateway.server.server"]
    assert "lwm2m_gateway.server.registrations" in set(
        imported("lwm2m_gateway.server.server", server)
    )


def test_no_module_imports_itself_in_a_circle() -> None:
    assert cycles(graph()) == []


def all_imports(name: str) -> set[str]:
    return set(imported(name, MODULES[name]))


# (modules whose name starts with this, may not import a module whose name starts with any of these)
FORBIDDEN = [
    # the protocol core: no server roles, storage, API, simulator, no aiocoap beyond its codes
    (
        "lwm2m_gateway.lwm2m",
        (
            "lwm2m_gateway.server",
            "lwm2m_gateway.store",
            "lwm2m_gateway.api",
            "lwm2m_gateway.simulator",
            "lwm2m_gateway.app",
            "lwm2m_gateway.coap",
            "aiohttp",
            "sqlite3",
            "asyncio",
            "aiocoap.protocol",
            "aiocoap.transports",
            "aiocoap.resource",
            "aiocoap.message",
        ),
    ),
    # the server roles receive persistence; they never open the SQLite store themselves
    ("lwm2m_gateway.server", ("lwm2m_gateway.store", "lwm2m_gateway.api", "sqlite3")),
    # the API uses the roles' public methods, never the store or the simulator
    ("lwm2m_gateway.api", ("lwm2m_gateway.store", "lwm2m_gateway.simulator", "sqlite3")),
    # the simulator is a client: protocol core and CoAP helpers only
    (
        "lwm2m_gateway.simulator",
        ("lwm2m_gateway.server", "lwm2m_gateway.store", "lwm2m_gateway.api"),
    ),
    # the gateway knows nothing of Home Assistant, and the integration nothing of CoAP
    ("lwm2m_gateway", ("custom_components", "homeassistant")),
    ("custom_components.lwm2m", ("lwm2m_gateway", "aiocoap")),
]


@pytest.mark.parametrize(("layer", "forbidden"), FORBIDDEN, ids=[f[0] for f in FORBIDDEN])
def test_each_layer_imports_only_what_it_may(layer: str, forbidden: tuple[str, ...]) -> None:
    offending = {
        f"{name} imports {target}"
        for name in MODULES
        if name == layer or name.startswith(layer + ".")
        for target in all_imports(name)
        if any(target == f or target.startswith(f + ".") for f in forbidden)
    }
    assert offending == set()


def test_the_core_uses_aiocoap_for_message_codes_only() -> None:
    uses = {
        target
        for name in MODULES
        if name.startswith("lwm2m_gateway.lwm2m")
        for target in all_imports(name)
        if target.split(".")[0] == "aiocoap"
    }
    assert uses <= {"aiocoap.numbers.codes", "aiocoap.numbers"}


def test_no_server_role_inherits_another(tmp_path: Path) -> None:
    """Roles are composed: no role of the built server derives from another of our classes."""
    from lwm2m_gateway.lwm2m.model import ObjectRegistry
    from lwm2m_gateway.server import FirmwareSettings, Lwm2mServer, ServerConfig
    from lwm2m_gateway.store import Store

    store = Store.open(tmp_path)
    config = ServerConfig(firmware=FirmwareSettings(tmp_path, "127.0.0.1"))
    server = Lwm2mServer(store=store, registry=ObjectRegistry.builtin(), config=config)
    roles = {
        name: role
        for name, role in vars(server).items()
        if type(role).__module__.startswith("lwm2m_gateway.server.")
    }
    assert {"registrations", "presence", "requests", "device", "observations", "send"} <= set(roles)
    inherited = {
        f"{name}: {type(role).__name__}({base.__name__})"
        for name, role in roles.items()
        for base in type(role).__mro__[1:]
        if base.__module__.startswith("lwm2m_gateway.")
    }
    store.close()
    assert inherited == set()
