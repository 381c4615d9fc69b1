"""Config flow: connect to a gateway (by hand or from zeroconf), reauth, reconfigure; and the
options flow that gives devices their DTLS-PSK credentials."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.service_info.hassio import HassioServiceInfo
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from .client import CannotConnect, CommandError, GatewayClient, InvalidAuth, SchemaMismatch
from .const import CONF_TOKEN, DEFAULT_PORT, DOMAIN


class LwM2MConfigFlow(ConfigFlow, domain=DOMAIN):
    VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> LwM2MOptionsFlow:
        return LwM2MOptionsFlow()

    def __init__(self) -> None:
        self._host: str | None = None
        self._port = DEFAULT_PORT
        self._app: dict[str, Any] | None = None  # what the gateway app told the Supervisor

    async def _probe(self, data: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
        """Connect once: the gateway's server_info, or a translated error key."""
        client = GatewayClient(
            async_get_clientsession(self.hass),
            data[CONF_HOST],
            data[CONF_PORT],
            data.get(CONF_TOKEN),
        )
        try:
            await client.connect()
        except InvalidAuth:
            return None, "invalid_auth"
        except SchemaMismatch as err:
            return None, "gateway_too_old" if err.needs == "gateway" else "gateway_too_new"
        except CannotConnect:
            return None, "cannot_connect"
        info = client.server_info or {}
        await client.disconnect()
        return info, None

    def _schema(self, defaults: Mapping[str, Any]) -> vol.Schema:
        return vol.Schema(
            {
                vol.Required(CONF_HOST, default=defaults.get(CONF_HOST, "127.0.0.1")): str,
                vol.Required(CONF_PORT, default=defaults.get(CONF_PORT, DEFAULT_PORT)): vol.All(
                    vol.Coerce(int), vol.Range(min=1, max=65535)
                ),
                vol.Optional(CONF_TOKEN, default=defaults.get(CONF_TOKEN, "")): str,
            }
        )

    @staticmethod
    def _clean(user_input: dict[str, Any]) -> dict[str, Any]:
        data = dict(user_input)
        if not data.get(CONF_TOKEN):
            data.pop(CONF_TOKEN, None)
        return data

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            data = self._clean(user_input)
            info, error = await self._probe(data)
            if info is not None:
                await self.async_set_unique_id(str(info["gateway_id"]))
                self._abort_if_unique_id_configured(updates=data)
                return self.async_create_entry(title=f"LwM2M gateway {data[CONF_HOST]}", data=data)
            errors["base"] = error or "cannot_connect"
        return self.async_show_form(
            step_id="user", data_schema=self._schema(user_input or {}), errors=errors
        )

    async def async_step_zeroconf(self, discovery_info: ZeroconfServiceInfo) -> ConfigFlowResult:
        gateway_id = discovery_info.properties.get("gateway_id")
        if not gateway_id:
            return self.async_abort(reason="not_lwm2m_gateway")
        self._host, self._port = discovery_info.host, discovery_info.port or DEFAULT_PORT
        await self.async_set_unique_id(str(gateway_id))
        entry = self.hass.config_entries.async_entry_for_domain_unique_id(DOMAIN, str(gateway_id))
        if entry is not None and entry.state is ConfigEntryState.LOADED:
            entry.runtime_data.async_reconnect_now()  # it is back: no need to wait out a backoff
        self._abort_if_unique_id_configured(updates={CONF_HOST: self._host, CONF_PORT: self._port})
        self.context["title_placeholders"] = {"host": self._host}
        return await self.async_step_zeroconf_confirm()

    async def async_step_zeroconf_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        assert self._host is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            data = self._clean({CONF_HOST: self._host, CONF_PORT: self._port, **user_input})
            info, error = await self._probe(data)
            if info is not None:
                return self.async_create_entry(title=f"LwM2M gateway {self._host}", data=data)
            errors["base"] = error or "cannot_connect"
        return self.async_show_form(
            step_id="zeroconf_confirm",
            data_schema=vol.Schema({vol.Optional(CONF_TOKEN, default=""): str}),
            description_placeholders={"host": self._host},
            errors=errors,
        )

    async def async_step_hassio(self, discovery_info: HassioServiceInfo) -> ConfigFlowResult:
        """The gateway runs as a Home Assistant app and announced itself through the
        Supervisor, with the token it made: one click, nothing to type."""
        config = discovery_info.config
        gateway_id, host, port = config.get("gateway_id"), config.get("host"), config.get("port")
        if not gateway_id or not isinstance(host, str) or not isinstance(port, int):
            return self.async_abort(reason="not_lwm2m_gateway")
        self._app = self._clean(
            {CONF_HOST: host, CONF_PORT: port, CONF_TOKEN: config.get("token") or ""}
        )
        await self.async_set_unique_id(str(gateway_id))
        self._abort_if_unique_id_configured(updates=self._app)
        self.context["title_placeholders"] = {"host": discovery_info.name}
        return await self.async_step_hassio_confirm()

    async def async_step_hassio_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        assert self._app is not None
        errors: dict[str, str] = {}
        if user_input is not None:
            info, error = await self._probe(self._app)
            if info is not None:
                return self.async_create_entry(title="LwM2M gateway (app)", data=self._app)
            errors["base"] = error or "cannot_connect"
        return self.async_show_form(step_id="hassio_confirm", errors=errors)

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = self._clean({**entry.data, CONF_TOKEN: user_input.get(CONF_TOKEN, "")})
            info, error = await self._probe(data)
            if info is not None:
                return self.async_update_reload_and_abort(entry, data=data)
            errors["base"] = error or "cannot_connect"
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Optional(CONF_TOKEN, default=""): str}),
            description_placeholders={"host": str(entry.data[CONF_HOST])},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = self._clean(user_input)
            info, error = await self._probe(data)
            if info is not None:
                await self.async_set_unique_id(str(info["gateway_id"]))
                self._abort_if_unique_id_mismatch(reason="wrong_gateway")
                return self.async_update_reload_and_abort(entry, data=data)
            errors["base"] = error or "cannot_connect"
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self._schema(user_input or dict(entry.data)),
            errors=errors,
        )


CONF_ENDPOINT = "endpoint"
CONF_IDENTITY = "identity"
CONF_KEY = "key"
GENERATED_KEY_BYTES = 16  # 128 bits, as LwM2M's AES-128 cipher suites use


class LwM2MOptionsFlow(OptionsFlow):
    """Give a device DTLS-PSK credentials on the gateway (or take them away). The key is shown
    once, with exactly what to put in the device; the gateway never gives it back."""

    def __init__(self) -> None:
        self._added: dict[str, str] = {}

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        return self.async_show_menu(step_id="init", menu_options=["add_device", "remove_device"])

    async def async_step_add_device(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        placeholders = {"message": ""}
        if user_input is not None:
            endpoint = str(user_input[CONF_ENDPOINT]).strip()
            identity = str(user_input.get(CONF_IDENTITY) or endpoint).strip()
            key = str(user_input.get(CONF_KEY) or "").strip().lower().removeprefix("0x")
            generated = not key
            key = key or secrets.token_hex(GENERATED_KEY_BYTES)
            try:
                bytes.fromhex(key)
            except ValueError:
                errors[CONF_KEY] = "invalid_key"
            if not endpoint:
                errors[CONF_ENDPOINT] = "invalid_endpoint"
            if not errors:
                try:
                    await self.config_entry.runtime_data.client.command(
                        "set_credentials", endpoint=endpoint, identity=identity, key=key
                    )
                except CommandError as err:
                    errors["base"] = "credentials_refused"
                    placeholders["message"] = str(err.details.get("message", err))
                except CannotConnect:
                    errors["base"] = "cannot_connect"
                else:
                    self._added = {"endpoint": endpoint, "identity": identity, "key": key}
                    self._added["generated"] = "generated for you" if generated else "as typed"
                    return await self.async_step_device_added()
        return self.async_show_form(
            step_id="add_device",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_ENDPOINT): str,
                    vol.Optional(CONF_IDENTITY): str,
                    vol.Optional(CONF_KEY): TextSelector(
                        TextSelectorConfig(type=TextSelectorType.PASSWORD)
                    ),
                }
            ),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def async_step_device_added(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        if user_input is not None:
            return self.async_create_entry(data=dict(self.config_entry.options))
        info = self.config_entry.runtime_data.client.server_info or {}
        uris = info.get("device_uris") or {}
        host = self.config_entry.data[CONF_HOST]
        return self.async_show_form(
            step_id="device_added",
            data_schema=vol.Schema({}),
            description_placeholders={
                **self._added,
                "server_uri": str(uris.get("coaps", f"coaps://{host}:5684")),
            },
        )

    async def async_step_remove_device(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        client = self.config_entry.runtime_data.client
        errors: dict[str, str] = {}
        if user_input is not None:
            try:
                await client.command("remove_credentials", endpoint=user_input[CONF_ENDPOINT])
            except (CommandError, CannotConnect):
                errors["base"] = "cannot_connect"
            else:
                return self.async_create_entry(data=dict(self.config_entry.options))
        try:
            listed = await client.command("list_credentials")
        except (CommandError, CannotConnect):
            return self.async_abort(reason="cannot_connect")
        endpoints = [str(c["endpoint"]) for c in listed.get("credentials", [])]
        if not endpoints:
            return self.async_abort(reason="no_credentials")
        return self.async_show_form(
            step_id="remove_device",
            data_schema=vol.Schema(
                {
                    vol.Required(CONF_ENDPOINT): SelectSelector(
                        SelectSelectorConfig(options=endpoints)
                    )
                }
            ),
            errors=errors,
        )
