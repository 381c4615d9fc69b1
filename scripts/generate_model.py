"""Generate the gateway's compact object model (objects.json) from OMA DDF XML files.

    python scripts/generate_model.py [DDF_DIR] [OUTPUT]

DDF_DIR defaults to ddf/oma-registry (the OMA LwM2M registry's BSD-3 files, kept in this
repository). The output keeps the OMA license text and names its source, as the BSD-3 license asks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "gateway"))

from lwm2m_gateway.lwm2m.model.ddf import license_header, parse_ddf  # noqa: E402

DEFAULT_SOURCE = ROOT / "ddf" / "oma-registry"
DEFAULT_OUTPUT = ROOT / "gateway" / "lwm2m_gateway" / "lwm2m" / "model" / "objects.json"


def _without_nulls(item: dict[str, Any]) -> dict[str, Any]:
    """Drop null fields (most resources have no range or units) to keep the model compact."""
    out = {key: value for key, value in item.items() if value is not None}
    if "resources" in out:
        out["resources"] = [_without_nulls(resource) for resource in out["resources"]]
    return out


def generate(source: Path) -> str:
    objects, licenses = [], set()
    for path in sorted(source.glob("*.xml"), key=lambda p: (len(p.stem), p.stem)):
        data = path.read_bytes()
        objects.append(_without_nulls(parse_ddf(data, path.name).to_json()))
        if (header := license_header(data)) is not None:
            licenses.add(" ".join(header.split()))
    objects.sort(key=lambda item: (item["id"], item["version"]))
    provenance = (source / "README.md").read_text() if (source / "README.md").exists() else ""
    document = {
        "source": " ".join(provenance.split()),
        "license": sorted(licenses),
        "objects": objects,
    }
    return json.dumps(document, indent=None, sort_keys=True, separators=(",", ":")) + "\n"


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    output = Path(sys.argv[2]) if len(sys.argv) > 2 else DEFAULT_OUTPUT
    output.write_text(generate(source))
    print(f"wrote {output} ({output.stat().st_size} bytes) from {source}")


if __name__ == "__main__":
    main()
