"""The object model: generated from the OMA registry's DDF files, version-aware, strict on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path as FilePath

import pytest

from lwm2m_gateway.lwm2m.model import ModelError, ObjectRegistry, parse_ddf
from lwm2m_gateway.lwm2m.paths import Path
from lwm2m_gateway.lwm2m.values import ResourceType

ROOT = FilePath(__file__).resolve().parents[3]
REGISTRY = ROOT / "ddf" / "oma-registry"
SHIPPED = ROOT / "gateway" / "lwm2m_gateway" / "lwm2m" / "model" / "objects.json"


def test_shipped_model_is_exactly_what_the_generator_makes_from_the_registry(
    tmp_path: FilePath,
) -> None:
    output = tmp_path / "objects.json"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate_model.py"), str(REGISTRY), str(output)],
        check=True,
        capture_output=True,
    )
    assert output.read_bytes() == SHIPPED.read_bytes()


def test_every_registry_file_is_in_the_builtin_model() -> None:
    registry = ObjectRegistry.builtin()
    for path in REGISTRY.glob("*.xml"):
        model = parse_ddf(path.read_bytes(), path.name)
        assert registry.get(model.id, model.version) == model, path.name


def test_spot_checks_against_the_xml() -> None:
    registry = ObjectRegistry.builtin()
    temperature = registry.get(3303)
    assert temperature is not None
    assert temperature.name == "Temperature"
    assert temperature.resources[5700].type is ResourceType.FLOAT
    assert temperature.resources[5701].type is ResourceType.STRING
    reboot = registry.resource(3, 4)
    assert reboot is not None
    assert reboot.executable
    assert reboot.type is ResourceType.NONE
    dimmer = registry.resource(3311, 5851)
    assert dimmer is not None
    assert (dimmer.range_min, dimmer.range_max) == (0, 100)
    error_code = registry.resource(3, 11)
    assert error_code is not None
    assert error_code.multiple
    assert registry.resource(5, 8) is not None
    assert registry.get(3411) is not None


def test_the_builtin_model_carries_the_oma_license() -> None:
    text = SHIPPED.read_text()
    assert "Open Mobile Alliance" in text
    assert "Redistribution and use in source and binary forms" in text


DDF = """<?xml version="1.0"?>
<LWM2M><Object ObjectType="MODefinition">
<Name>Widget</Name><ObjectID>{oid}</ObjectID><ObjectURN>urn:oma:lwm2m:x:{oid}</ObjectURN>
<LWM2MVersion>1.1</LWM2MVersion><ObjectVersion>{version}</ObjectVersion>
<MultipleInstances>Multiple</MultipleInstances><Mandatory>Optional</Mandatory>
<Resources>
<Item ID="1"><Name>Level</Name><Operations>RW</Operations><MultipleInstances>Single</MultipleInstances>
<Mandatory>Mandatory</Mandatory><Type>{type}</Type><RangeEnumeration>-40..85</RangeEnumeration>
<Units>Cel</Units><Description>A level.</Description></Item>
</Resources></Object></LWM2M>"""


def write(directory: FilePath, name: str, **fields: str) -> FilePath:
    values = {"oid": "30000", "version": "1.0", "type": "Float", **fields}
    path = directory / name
    path.write_text(DDF.format(**values))
    return path


def test_versions_pick_exact_then_nearest(tmp_path: FilePath) -> None:
    write(tmp_path, "a.xml", version="1.0", type="Integer")
    write(tmp_path, "b.xml", version="1.2", type="Float")
    registry = ObjectRegistry()
    assert registry.load_dir(tmp_path) == []
    versions = {
        v: registry.get(30000, v).version  # type: ignore[union-attr]
        for v in ("1.0", "1.1", "1.2", "2.0", "0.9")
    }
    assert versions == {"1.0": "1.0", "1.1": "1.0", "1.2": "1.2", "2.0": "1.2", "0.9": "1.0"}
    resolve = registry.type_resolver({30000: "1.0"})
    assert resolve(Path(30000, 0, 1)) is ResourceType.INTEGER
    assert registry.type_resolver()(Path(30000, 0, 1)) is ResourceType.FLOAT
    assert registry.resource(30000, 1).range_min == -40  # type: ignore[union-attr]


def test_user_files_load_beside_the_builtin_model(tmp_path: FilePath) -> None:
    write(tmp_path, "widget.xml")
    registry = ObjectRegistry.builtin()
    registry.load_dir(tmp_path)
    assert registry.get(30000) is not None
    assert registry.get(3303) is not None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("<LWM2M><Object>", "not well-formed XML"),
        ("<LWM2M></LWM2M>", "no <Object>"),
        (DDF.format(oid="abc", version="1.0", type="Float"), "ObjectID 'abc' is not a number"),
        (DDF.format(oid="1", version="1.0", type="Quaternion"), "unknown <Type> 'quaternion'"),
    ],
)
def test_malformed_ddf_names_the_file_and_the_problem(
    tmp_path: FilePath, content: str, message: str
) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(content)
    with pytest.raises(ModelError, match=message) as caught:
        ObjectRegistry().load_ddf_file(path)
    assert "bad.xml" in str(caught.value)


def test_a_bad_user_file_does_not_stop_the_others(tmp_path: FilePath) -> None:
    (tmp_path / "a-bad.xml").write_text("<LWM2M>")
    write(tmp_path, "b-good.xml")
    registry = ObjectRegistry()
    errors = registry.load_dir(tmp_path)
    assert len(errors) == 1
    assert "a-bad.xml" in str(errors[0])
    assert registry.get(30000) is not None
