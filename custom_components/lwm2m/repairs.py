"""Fix flows: approve or reject a device that waits to join the gateway (pending.py)."""

from __future__ import annotations

from typing import Any

from homeassistant import data_entry_flow
from homeassistant.components.repairs import RepairsFlow
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from .client import CannotConnect, CommandError
from .pending import async_resolve_pending


class PendingDeviceFlow(RepairsFlow):
    def __init__(self, entry_id: str, endpoint: str) -> None:
        self._entry_id = entry_id
        self._endpoint = endpoint

    async def async_step_init(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        return self.async_show_menu(
            step_id="init",
            menu_options=["approve", "reject"],
            description_placeholders={"endpoint": self._endpoint},
        )

    async def async_step_approve(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        return await self._decide("approve_endpoint")

    async def async_step_reject(
        self, user_input: dict[str, str] | None = None
    ) -> data_entry_flow.FlowResult:
        return await self._decide("reject_endpoint")

    async def _decide(self, command: str) -> data_entry_flow.FlowResult:
        entry = self.hass.config_entries.async_get_entry(self._entry_id)
        if entry is None or not hasattr(entry, "runtime_data"):
            return self.async_abort(reason="gateway_not_loaded")
        try:
            await entry.runtime_data.client.command(command, endpoint=self._endpoint)
        except (CommandError, CannotConnect) as err:
            raise HomeAssistantError(f"{command} of {self._endpoint} failed: {err}") from err
        async_resolve_pending(self.hass, entry, self._endpoint)
        return self.async_create_entry(data={})


async def async_create_fix_flow(
    hass: HomeAssistant, issue_id: str, data: dict[str, Any] | None
) -> RepairsFlow:
    assert data is not None
    return PendingDeviceFlow(str(data["entry_id"]), str(data["endpoint"]))
