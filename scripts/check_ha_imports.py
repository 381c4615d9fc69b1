"""Check that every name the integration imports from homeassistant exists in the newest HA.

    python scripts/check_ha_imports.py [WHEEL]

Without WHEEL it downloads the newest homeassistant wheel for Python 3.14.2 (HA 2026.3+ needs
it; this machine cannot run it) into .cache/ and reads it as a zip: nothing is imported, every
module is parsed with ast. Exits 1 naming each missing or deprecated name, 3 when the wheel
cannot be downloaded, 0 when all is well.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "lwm2m"
CACHE = ROOT / ".cache" / "ha-wheel"
DOWNLOAD_FAILED = 3


def newest_wheel() -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--python-version", "3.14.2", "homeassistant", "-d", str(CACHE)],
        check=True,
    )  # fmt: skip
    wheels = sorted(CACHE.glob("homeassistant-*.whl"), key=lambda p: p.stat().st_mtime)
    return wheels[-1]


def imported_names() -> dict[str, set[str]]:
    """module -> names the integration takes from it ("" for a plain `import module`)."""
    wanted: dict[str, set[str]] = {}
    for source in sorted(INTEGRATION.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("homeassistant"):
                wanted.setdefault(node.module or "", set()).update(a.name for a in node.names)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("homeassistant"):
                        wanted.setdefault(alias.name, set())
    return wanted


EXCEPT_LIST = re.compile(r"^(\s*)except (?!\()([^:\n]+,[^:\n]+):", re.MULTILINE)


def parse(source: bytes, name: str) -> ast.Module:
    """Parse 3.14 source with this Python: PEP 758 allows `except A, B:`, so bracket it."""
    text = source.decode("utf-8")
    try:
        return ast.parse(text, name)
    except SyntaxError:
        return ast.parse(EXCEPT_LIST.sub(r"\1except (\2):", text), name)


def defined_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(
                node.target, ast.Name
            ):
                names.add(node.target.id)
            elif isinstance(node, ast.TypeAlias):
                names.add(node.name.id)
            elif isinstance(node, ast.Import | ast.ImportFrom):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, ast.If | ast.Try | ast.With):
                visit(node.body)
                visit(getattr(node, "orelse", []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return names


def check(wheel: Path) -> list[str]:
    problems = []
    with zipfile.ZipFile(wheel) as archive:
        files = set(archive.namelist())

        def module_file(module: str) -> str | None:
            base = module.replace(".", "/")
            for candidate in (f"{base}.py", f"{base}/__init__.py"):
                if candidate in files:
                    return candidate
            return None

        for module, names in sorted(imported_names().items()):
            path = module_file(module)
            if path is None:
                problems.append(f"{module}: no such module")
                continue
            defined = defined_names(parse(archive.read(path), path))
            for name in sorted(names):
                if f"_DEPRECATED_{name}" in defined:
                    problems.append(f"{module}: {name} is deprecated")
                elif name not in defined and module_file(f"{module}.{name}") is None:
                    problems.append(f"{module}: no name {name}")
    return problems


def main() -> int:
    try:
        wheel = Path(sys.argv[1]) if len(sys.argv) > 1 else newest_wheel()
    except (subprocess.CalledProcessError, IndexError) as err:
        print(f"cannot download the newest homeassistant wheel: {err}", file=sys.stderr)
        return DOWNLOAD_FAILED
    problems = check(wheel)
    for problem in problems:
        print(problem)
    print(f"{wheel.name}: {len(imported_names())} modules checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
