"""Config flow: connect to a gateway (by hand or from zeroconf), reauth, reconfigure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol
from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.service_info.zeroconf import ZeroconfServiceInfo

from .client import CannotConnect, GatewayClient, InvalidAuth, SchemaMismatch
from .const import CONF_TOKEN, DEFAULT_PORT, DOMAIN


class LwM2MConfigFlow(ConfigFlow, domain=DOMAIN):
    VERSION = 1

    def __init__(self) -> None:
        self._host: str | None = None
        self._port = DEFAULT_PORT

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
