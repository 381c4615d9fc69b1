"""The Firmware Update object's vocabulary (object 5, LwM2M 1.1 core E.6): states, results,
delivery methods, and what each result means to a user."""

from __future__ import annotations

from enum import IntEnum


class FirmwareState(IntEnum):
    """5/0/3 State (LwM2M 1.1 core E.6)."""

    IDLE = 0
    DOWNLOADING = 1
    DOWNLOADED = 2
    UPDATING = 3


class UpdateResult(IntEnum):
    """5/0/5 Update Result (LwM2M 1.1 core E.6)."""

    INITIAL = 0
    SUCCESS = 1
    NOT_ENOUGH_FLASH = 2
    OUT_OF_RAM = 3
    CONNECTION_LOST = 4
    INTEGRITY_FAILURE = 5
    UNSUPPORTED_TYPE = 6
    INVALID_URI = 7
    UPDATE_FAILED = 8
    UNSUPPORTED_PROTOCOL = 9
    CANCELLED = 10
    DEFERRED = 11


UPDATE_RESULT_MESSAGES: dict[UpdateResult, str] = {
    UpdateResult.INITIAL: "No result yet",
    UpdateResult.SUCCESS: "Firmware updated successfully",
    UpdateResult.NOT_ENOUGH_FLASH: "The device has not enough flash memory for this image",
    UpdateResult.OUT_OF_RAM: "The device ran out of RAM while downloading",
    UpdateResult.CONNECTION_LOST: "The connection was lost during the download",
    UpdateResult.INTEGRITY_FAILURE: "The downloaded image failed the device's integrity check",
    UpdateResult.UNSUPPORTED_TYPE: "The device does not support this package type",
    UpdateResult.INVALID_URI: "The device rejected the package URI as invalid",
    UpdateResult.UPDATE_FAILED: "The device failed to apply the update",
    UpdateResult.UNSUPPORTED_PROTOCOL: "The device does not support the download protocol",
    UpdateResult.CANCELLED: "The update was cancelled",
    UpdateResult.DEFERRED: "The device deferred the update",
}


class DeliveryMethod(IntEnum):
    """5/0/9 Firmware Update Delivery Method."""

    PULL = 0
    PUSH = 1
    BOTH = 2
