"""Discovery schemas: which LwM2M resources become which Home Assistant entities.

One declarative list (as in HA's matter and zwave_js integrations): each schema names the objects
and the resource it matches, the platform, and the entity description. Whatever readable resource
no schema claims becomes a generic sensor, disabled by default, so no data is hidden.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntityDescription,
)
from homeassistant.components.button import ButtonDeviceClass, ButtonEntityDescription
from homeassistant.components.event import EventEntityDescription
from homeassistant.components.light import LightEntityDescription
from homeassistant.components.number import NumberEntityDescription
from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.components.switch import SwitchDeviceClass, SwitchEntityDescription
from homeassistant.components.text import TextEntityDescription
from homeassistant.components.update import UpdateDeviceClass, UpdateEntityDescription
from homeassistant.const import (
    DEGREE,
    LIGHT_LUX,
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    Platform,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfLength,
    UnitOfMass,
    UnitOfPower,
    UnitOfPressure,
    UnitOfSoundPressure,
    UnitOfSpeed,
    UnitOfTemperature,
    UnitOfTime,
)
from homeassistant.helpers.entity import EntityDescription

from .models import EndpointInfo

# HA 2026 moved "ppm" from CONCENTRATION_PARTS_PER_MILLION to UnitOfRatio.PARTS_PER_MILLION,
# which HA 2025.4 lacks; the unit string is the same on both.
PARTS_PER_MILLION = "ppm"
SENSOR_VALUE = 5700
SENSOR_UNITS = 5701
ON_OFF = 5850
DIMMER = 5851
COLOUR = 5706
DIGITAL_INPUT = 5500
COUNTER = 5501
RESET_MIN_MAX = 5605
TRIGGER = 5523
# Location: 6 (latitude 0, longitude 1, altitude 2, radius 3, speed 6) and IPSO 3336
# (numeric latitude 6051, longitude 6052, uncertainty 6053); the tracker claims the rest
LOCATION = {6: (0, 1, 3), 3336: (6051, 6052, 6053)}

# LwM2M/SenML unit names -> Home Assistant units (RFC 8428 §12.1 and common device habits).
UNITS: dict[str, str] = {
    "Cel": UnitOfTemperature.CELSIUS,
    "°C": UnitOfTemperature.CELSIUS,
    "C": UnitOfTemperature.CELSIUS,
    "Far": UnitOfTemperature.FAHRENHEIT,
    "°F": UnitOfTemperature.FAHRENHEIT,
    "K": UnitOfTemperature.KELVIN,
    "%RH": PERCENTAGE,
    "%": PERCENTAGE,
    "/100": PERCENTAGE,
    "lx": LIGHT_LUX,
    "Pa": UnitOfPressure.PA,
    "hPa": UnitOfPressure.HPA,
    "kPa": UnitOfPressure.KPA,
    "bar": UnitOfPressure.BAR,
    "mbar": UnitOfPressure.MBAR,
    "V": UnitOfElectricPotential.VOLT,
    "mV": UnitOfElectricPotential.MILLIVOLT,
    "A": UnitOfElectricCurrent.AMPERE,
    "mA": UnitOfElectricCurrent.MILLIAMPERE,
    "W": UnitOfPower.WATT,
    "kW": UnitOfPower.KILO_WATT,
    "Wh": UnitOfEnergy.WATT_HOUR,
    "kWh": UnitOfEnergy.KILO_WATT_HOUR,
    "dB": UnitOfSoundPressure.DECIBEL,
    "dBm": SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    "ppm": PARTS_PER_MILLION,
    "m": UnitOfLength.METERS,
    "cm": UnitOfLength.CENTIMETERS,
    "mm": UnitOfLength.MILLIMETERS,
    "km": UnitOfLength.KILOMETERS,
    "m/s": UnitOfSpeed.METERS_PER_SECOND,
    "km/h": UnitOfSpeed.KILOMETERS_PER_HOUR,
    "s": UnitOfTime.SECONDS,
    "ms": UnitOfTime.MILLISECONDS,
    "Hz": UnitOfFrequency.HERTZ,
    "g": UnitOfMass.GRAMS,
    "kg": UnitOfMass.KILOGRAMS,
    "deg": DEGREE,
    "min": UnitOfTime.MINUTES,
}


def normalise_unit(unit: str | None) -> str | None:
    if unit is None or not unit.strip():
        return None
    return UNITS.get(unit.strip(), unit.strip())


@dataclass(frozen=True, kw_only=True)
class DiscoverySchema:
    platform: Platform
    objects: frozenset[int] | None  # None: any object that has the resource
    resource: int
    description: EntityDescription
    instances: frozenset[int] | None = None  # None: every instance
    claims: frozenset[int] = frozenset()  # further resources of the instance this entity covers
    default_min: float = 0.0
    default_max: float = 100.0


@dataclass(frozen=True)
class DiscoveredValue:
    endpoint: str
    object_id: int
    instance_id: int
    resource_id: int
    schema: DiscoverySchema | None  # None: the generic sensor
    resource_name: str | None = None
    object_name: str | None = None

    @property
    def path(self) -> str:
        return f"/{self.object_id}/{self.instance_id}/{self.resource_id}"

    @property
    def instance_path(self) -> str:
        return f"/{self.object_id}/{self.instance_id}"

    @property
    def unique_id(self) -> str:
        return f"{self.endpoint}/{self.object_id}/{self.instance_id}/{self.resource_id}"


def _sensor(
    objects: set[int],
    device_class: SensorDeviceClass | None,
    key: str,
    *,
    resource: int = SENSOR_VALUE,
    state_class: SensorStateClass = SensorStateClass.MEASUREMENT,
) -> DiscoverySchema:
    return DiscoverySchema(
        platform=Platform.SENSOR,
        objects=frozenset(objects),
        resource=resource,
        claims=frozenset({SENSOR_UNITS}),
        description=SensorEntityDescription(
            key=key,
            translation_key=None if device_class else key,
            device_class=device_class,
            state_class=state_class,
        ),
    )


SCHEMAS: tuple[DiscoverySchema, ...] = (
    # --- sensors: IPSO objects with a 5700 Sensor Value
    _sensor({3303}, SensorDeviceClass.TEMPERATURE, "temperature"),
    _sensor({3304}, SensorDeviceClass.HUMIDITY, "humidity"),
    _sensor({3301}, SensorDeviceClass.ILLUMINANCE, "illuminance"),
    _sensor({3315, 3323}, SensorDeviceClass.PRESSURE, "pressure"),
    _sensor({3316}, SensorDeviceClass.VOLTAGE, "voltage"),
    _sensor({3317}, SensorDeviceClass.CURRENT, "current"),
    _sensor({3328}, SensorDeviceClass.POWER, "power"),
    _sensor(
        {3331}, SensorDeviceClass.ENERGY, "energy", state_class=SensorStateClass.TOTAL_INCREASING
    ),
    _sensor({3324}, SensorDeviceClass.SOUND_PRESSURE, "loudness"),
    _sensor({3325}, None, "concentration"),
    _sensor({3330}, SensorDeviceClass.DISTANCE, "distance"),
    _sensor({3318}, SensorDeviceClass.FREQUENCY, "frequency"),
    _sensor({3322}, SensorDeviceClass.WEIGHT, "load"),
    _sensor({3320}, None, "percentage"),
    _sensor({3300, 3319, 3321, 3326, 3327, 3329}, None, "sensor_value"),
    _sensor({3305}, SensorDeviceClass.POWER, "active_power", resource=5800),
    _sensor({3202}, None, "analog_input", resource=5600),
    _sensor({3411}, SensorDeviceClass.BATTERY, "battery", resource=1),
    DiscoverySchema(
        platform=Platform.SENSOR,
        objects=frozenset({3}),
        instances=frozenset({0}),
        resource=9,
        description=SensorEntityDescription(
            key="battery",
            device_class=SensorDeviceClass.BATTERY,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=PERCENTAGE,
        ),
    ),
    DiscoverySchema(
        platform=Platform.SENSOR,
        objects=frozenset({3}),
        instances=frozenset({0}),
        resource=20,
        description=SensorEntityDescription(
            key="battery_status",
            translation_key="battery_status",
            device_class=SensorDeviceClass.ENUM,
            options=[
                "normal",
                "charging",
                "charge_complete",
                "damaged",
                "low",
                "not_installed",
                "unknown",
            ],
            entity_category=EntityCategory.DIAGNOSTIC,
        ),
    ),
    DiscoverySchema(
        platform=Platform.SENSOR,
        objects=frozenset({4}),
        resource=2,
        description=SensorEntityDescription(
            key="signal_strength",
            device_class=SensorDeviceClass.SIGNAL_STRENGTH,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=False,
        ),
    ),
    DiscoverySchema(
        platform=Platform.SENSOR,
        objects=frozenset({4}),
        resource=3,
        description=SensorEntityDescription(
            key="link_quality",
            translation_key="link_quality",
            state_class=SensorStateClass.MEASUREMENT,
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=False,
        ),
    ),
    # --- binary sensors
    DiscoverySchema(
        platform=Platform.BINARY_SENSOR,
        objects=frozenset({3200, 3342}),
        resource=DIGITAL_INPUT,
        description=BinarySensorEntityDescription(key="input", translation_key="input"),
    ),
    DiscoverySchema(
        platform=Platform.BINARY_SENSOR,
        objects=frozenset({3302}),
        resource=DIGITAL_INPUT,
        description=BinarySensorEntityDescription(
            key="presence", device_class=BinarySensorDeviceClass.OCCUPANCY
        ),
    ),
    DiscoverySchema(
        platform=Platform.BINARY_SENSOR,
        objects=frozenset({3}),
        instances=frozenset({0}),
        resource=11,
        description=BinarySensorEntityDescription(
            key="error",
            translation_key="device_error",
            device_class=BinarySensorDeviceClass.PROBLEM,
            entity_category=EntityCategory.DIAGNOSTIC,
        ),
    ),
    # --- switches
    DiscoverySchema(
        platform=Platform.SWITCH,
        objects=frozenset({3201}),
        resource=5550,
        description=SwitchEntityDescription(key="output", translation_key="output"),
    ),
    DiscoverySchema(
        platform=Platform.SWITCH,
        objects=frozenset({3312}),
        resource=ON_OFF,
        description=SwitchEntityDescription(
            key="power", translation_key="power", device_class=SwitchDeviceClass.OUTLET
        ),
    ),
    DiscoverySchema(
        platform=Platform.SWITCH,
        objects=frozenset({3306, 3338}),
        resource=ON_OFF,
        description=SwitchEntityDescription(key="actuator", translation_key="actuator"),
    ),
    # --- lights
    DiscoverySchema(
        platform=Platform.LIGHT,
        objects=frozenset({3311}),
        resource=ON_OFF,
        claims=frozenset({DIMMER, COLOUR, 5805, 5820, 5701}),
        description=LightEntityDescription(key="light", translation_key="light"),
    ),
    # --- numbers
    DiscoverySchema(
        platform=Platform.NUMBER,
        objects=frozenset({3203}),
        resource=5650,
        description=NumberEntityDescription(key="analog_output", translation_key="analog_output"),
    ),
    DiscoverySchema(
        platform=Platform.NUMBER,
        objects=frozenset({3308}),
        resource=5900,
        claims=frozenset({SENSOR_UNITS}),
        default_min=-50,
        default_max=150,
        description=NumberEntityDescription(key="set_point", translation_key="set_point"),
    ),
    DiscoverySchema(
        platform=Platform.NUMBER,
        objects=frozenset({3343}),
        resource=DIMMER,
        description=NumberEntityDescription(
            key="dimmer", translation_key="dimmer", native_unit_of_measurement=PERCENTAGE
        ),
    ),
    # --- buttons
    DiscoverySchema(
        platform=Platform.BUTTON,
        objects=frozenset({3}),
        instances=frozenset({0}),
        resource=4,
        description=ButtonEntityDescription(key="reboot", device_class=ButtonDeviceClass.RESTART),
    ),
    DiscoverySchema(
        platform=Platform.BUTTON,
        objects=frozenset({3}),
        instances=frozenset({0}),
        resource=5,
        description=ButtonEntityDescription(
            key="factory_reset",
            translation_key="factory_reset",
            entity_category=EntityCategory.CONFIG,
            entity_registry_enabled_default=False,
        ),
    ),
    # --- more sensors: axes, direction, counters, times, diagnostics
    *(
        DiscoverySchema(
            platform=Platform.SENSOR,
            objects=frozenset({3313, 3314, 3334, 3345}),
            resource=resource,
            claims=frozenset({SENSOR_UNITS}),
            description=SensorEntityDescription(
                key=key, translation_key=key, state_class=SensorStateClass.MEASUREMENT
            ),
        )
        for resource, key in ((5702, "x_value"), (5703, "y_value"), (5704, "z_value"))
    ),
    DiscoverySchema(
        platform=Platform.SENSOR,
        objects=frozenset({3314, 3332, 3336}),
        resource=5705,
        description=SensorEntityDescription(
            key="direction",
            translation_key="direction",
            state_class=SensorStateClass.MEASUREMENT_ANGLE,
            native_unit_of_measurement=DEGREE,
        ),
    ),
    _sensor({3346}, None, "rate"),
    DiscoverySchema(
        platform=Platform.SENSOR,
        objects=frozenset({3348}),
        resource=5547,
        description=SensorEntityDescription(key="selector", translation_key="selector"),
    ),
    DiscoverySchema(
        platform=Platform.SENSOR,
        objects=frozenset({3349}),
        resource=5910,
        description=SensorEntityDescription(key="bitmap", translation_key="bitmap"),
    ),
    DiscoverySchema(
        platform=Platform.SENSOR,
        objects=frozenset({3335}),
        resource=COLOUR,
        claims=frozenset({SENSOR_UNITS}),
        description=SensorEntityDescription(key="colour", translation_key="colour"),
    ),
    *(
        DiscoverySchema(
            platform=Platform.SENSOR,
            objects=frozenset({3344}),
            resource=resource,
            description=SensorEntityDescription(
                key=key, translation_key=key, state_class=SensorStateClass.TOTAL_INCREASING
            ),
        )
        for resource, key in ((5541, "up_counter"), (5542, "down_counter"))
    ),
    DiscoverySchema(
        platform=Platform.SENSOR,
        objects=frozenset({3340, 3337}),
        resource=5538,
        description=SensorEntityDescription(
            key="remaining_time",
            translation_key="remaining_time",
            device_class=SensorDeviceClass.DURATION,
            native_unit_of_measurement=UnitOfTime.SECONDS,
        ),
    ),
    DiscoverySchema(
        platform=Platform.SENSOR,
        objects=frozenset({3340, 3350}),
        resource=5544,
        description=SensorEntityDescription(
            key="cumulative_time",
            translation_key="cumulative_time",
            device_class=SensorDeviceClass.DURATION,
            native_unit_of_measurement=UnitOfTime.SECONDS,
            state_class=SensorStateClass.TOTAL_INCREASING,
        ),
    ),
    DiscoverySchema(
        platform=Platform.SENSOR,
        objects=frozenset({3333}),
        resource=5506,
        description=SensorEntityDescription(
            key="current_time",
            translation_key="current_time",
            device_class=SensorDeviceClass.TIMESTAMP,
        ),
    ),
    DiscoverySchema(
        platform=Platform.SENSOR,
        objects=frozenset({3}),
        instances=frozenset({0}),
        resource=13,
        description=SensorEntityDescription(
            key="device_time",
            translation_key="device_time",
            device_class=SensorDeviceClass.TIMESTAMP,
            entity_category=EntityCategory.DIAGNOSTIC,
            entity_registry_enabled_default=False,
        ),
    ),
    *(
        DiscoverySchema(
            platform=Platform.SENSOR,
            objects=frozenset({4}),
            resource=resource,
            description=SensorEntityDescription(
                key=key,
                translation_key=key,
                entity_category=EntityCategory.DIAGNOSTIC,
                entity_registry_enabled_default=False,
                **extra,  # type: ignore[arg-type]
            ),
        )
        for resource, key, extra in (
            (4, "ip_address", {}),
            (7, "apn", {}),
            (8, "cell_id", {}),
            (9, "mnc", {}),
            (10, "mcc", {}),
            (
                11,
                "signal_snr",
                {"native_unit_of_measurement": "dB", "state_class": SensorStateClass.MEASUREMENT},
            ),
        )
    ),
    *(
        DiscoverySchema(
            platform=Platform.SENSOR,
            objects=frozenset({10}),
            resource=resource,
            description=SensorEntityDescription(
                key=key,
                translation_key=key,
                device_class=SensorDeviceClass.DURATION,
                native_unit_of_measurement=UnitOfTime.SECONDS,
                entity_category=EntityCategory.DIAGNOSTIC,
                entity_registry_enabled_default=False,
            ),
        )
        for resource, key in ((4, "psm_timer"), (5, "active_timer"))
    ),
    # --- location
    *(
        DiscoverySchema(
            platform=Platform.DEVICE_TRACKER,
            objects=frozenset({object_id}),
            resource=latitude,
            claims=frozenset({longitude, accuracy, 2, 5, 6, 4, 5517, 5518, 5705} - {latitude}),
            description=EntityDescription(key="location", translation_key="location"),
        )
        for object_id, (latitude, longitude, accuracy) in LOCATION.items()
    ),
    # --- more actuators
    DiscoverySchema(
        platform=Platform.SWITCH,
        objects=frozenset({3340}),
        resource=ON_OFF,
        description=SwitchEntityDescription(key="timer", translation_key="timer"),
    ),
    DiscoverySchema(
        platform=Platform.SWITCH,
        objects=frozenset({3350}),
        resource=ON_OFF,
        description=SwitchEntityDescription(key="stopwatch", translation_key="stopwatch"),
    ),
    DiscoverySchema(
        platform=Platform.NUMBER,
        objects=frozenset({3337}),
        resource=5536,
        description=NumberEntityDescription(
            key="position", translation_key="position", native_unit_of_measurement=PERCENTAGE
        ),
    ),
    DiscoverySchema(
        platform=Platform.NUMBER,
        objects=frozenset({3339, 3341}),
        resource=5548,
        description=NumberEntityDescription(
            key="level", translation_key="level", native_unit_of_measurement=PERCENTAGE
        ),
    ),
    DiscoverySchema(
        platform=Platform.NUMBER,
        objects=frozenset({3341}),
        resource=5531,
        description=NumberEntityDescription(
            key="contrast",
            translation_key="contrast",
            native_unit_of_measurement=PERCENTAGE,
            entity_category=EntityCategory.CONFIG,
        ),
    ),
    DiscoverySchema(
        platform=Platform.NUMBER,
        objects=frozenset({3310}),
        resource=5828,
        description=NumberEntityDescription(
            key="duty_cycle", translation_key="duty_cycle", native_unit_of_measurement=PERCENTAGE
        ),
    ),
    DiscoverySchema(
        platform=Platform.TEXT,
        objects=frozenset({3341}),
        resource=5527,
        description=TextEntityDescription(key="display_text", translation_key="display_text"),
    ),
    DiscoverySchema(
        platform=Platform.LIGHT,
        objects=frozenset({3420}),
        resource=1,
        description=LightEntityDescription(key="led", translation_key="light"),
    ),
    *(
        DiscoverySchema(
            platform=Platform.BUTTON,
            objects=None if objects is None else frozenset(objects),
            resource=resource,
            description=ButtonEntityDescription(key=key, translation_key=key, **extra),  # type: ignore[arg-type]
        )
        for objects, resource, key, extra in (
            ({3339}, TRIGGER, "play", {}),
            ({3340}, TRIGGER, "start_timer", {}),
            ({3341}, 5530, "clear_display", {}),
            (None, RESET_MIN_MAX, "reset_min_max", {"entity_category": EntityCategory.CONFIG}),
        )
    ),
    # --- firmware update (object 5, driven by the gateway)
    DiscoverySchema(
        platform=Platform.UPDATE,
        objects=frozenset({5}),
        instances=frozenset({0}),
        resource=3,
        description=UpdateEntityDescription(
            key="firmware", translation_key="firmware", device_class=UpdateDeviceClass.FIRMWARE
        ),
    ),
    # --- events
    DiscoverySchema(
        platform=Platform.EVENT,
        objects=frozenset({3347}),
        resource=COUNTER,
        claims=frozenset({DIGITAL_INPUT}),
        description=EventEntityDescription(key="button", translation_key="push_button"),
    ),
)

# Resources never shown: firmware update's own state machine (a later update entity owns it)
# and the Security/Server/OSCORE objects, which hold credentials and server settings.
HIDDEN_OBJECTS = frozenset({0, 1, 5, 21})


def discover_all(endpoint: EndpointInfo) -> Iterator[DiscoveredValue]:
    """Every entity of an endpoint: schema matches first, then generic sensors and buttons."""
    taken: set[tuple[int, int, int]] = set()
    for obj in endpoint.objects.values():
        for instance in obj.instances.values():
            for schema in SCHEMAS:
                if schema.objects is None and obj.id in HIDDEN_OBJECTS:
                    continue
                if schema.objects is not None and obj.id not in schema.objects:
                    continue
                if schema.resource not in instance.resources:
                    continue
                if schema.instances is not None and instance.id not in schema.instances:
                    continue
                resource = instance.resources[schema.resource]
                taken.add((obj.id, instance.id, schema.resource))
                taken.update((obj.id, instance.id, rid) for rid in schema.claims)
                yield DiscoveredValue(
                    endpoint.name, obj.id, instance.id, schema.resource, schema,
                    resource.name, obj.name,
                )  # fmt: skip
    for obj in endpoint.objects.values():
        if obj.id in HIDDEN_OBJECTS:
            continue
        for instance in obj.instances.values():
            for resource in instance.resources.values():
                if (obj.id, instance.id, resource.id) in taken:
                    continue
                if "R" in resource.operations or resource.operations == "E":
                    yield DiscoveredValue(
                        endpoint.name, obj.id, instance.id, resource.id, None,
                        resource.name, obj.name,
                    )  # fmt: skip


def discover(endpoint: EndpointInfo, platform: Platform) -> list[DiscoveredValue]:
    out = []
    for value in discover_all(endpoint):
        if value.schema is not None:
            if value.schema.platform is platform:
                out.append(value)
            continue
        resource = endpoint.resource(value.object_id, value.instance_id, value.resource_id)
        executable = resource is not None and resource.operations == "E"
        generic_platform = Platform.BUTTON if executable else Platform.SENSOR
        if generic_platform is platform:
            out.append(value)
    return out
