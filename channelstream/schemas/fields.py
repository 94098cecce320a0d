"""Field types shared by the request schemas."""

from __future__ import annotations

import datetime
import random
import time
import uuid
from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from channelstream import jsonenc


class BaseSchema(Schema):
    class Meta:
        unknown = EXCLUDE


class StateValue(fields.Field):
    """A user-state value: string, number, boolean or null, as 0.7 allowed."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_none=True, **kwargs)

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Any:
        if isinstance(value, (str, int, float, bool)):
            return value
        # 0.7.1's text (null is allowed too, as it was).
        raise ValidationError("Value is not type of string, integer, boolean or float.")


class LowerUUID(fields.UUID):
    """A UUID, answered as the lowercase string clients compare."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        return str(parsed) if isinstance(parsed, uuid.UUID) else parsed


class Timestamp(fields.DateTime):
    """0.7's timestamps: naive UTC ISO 8601 strings."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return parsed.isoformat()


def utc_now_iso() -> str:
    """A default message timestamp, in the one format the server writes."""
    return jsonenc.utc_now_iso(time.time())


# The version (4) and variant (RFC 4122) bits of a random UUID.
_UUID4_KEEP = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID4_SET = (0x4000 << 64) | (0x8000 << 48)


def new_uuid() -> str:
    """A message's id: unique, not secret (conn_ids, which are, come from uuid4).

    The same string ``str(uuid.UUID(int=..., version=4))`` gives, formatted without the
    UUID object: 0.65 instead of 2.0 us, once per published message."""
    digits = ((random.getrandbits(128) & _UUID4_KEEP) | _UUID4_SET).to_bytes(16, "big").hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def username(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=512), **kwargs)


def channel_name(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=256), **kwargs)


def channel_list(**kwargs: Any) -> fields.List:
    return fields.List(channel_name(), **kwargs)


def user_list() -> fields.List:
    return fields.List(username(), load_default=list)


def state_dict() -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=StateValue(), load_default=dict)


__all__ = [
    "BaseSchema",
    "LowerUUID",
    "StateValue",
    "Timestamp",
    "channel_list",
    "channel_name",
    "new_uuid",
    "state_dict",
    "user_list",
    "username",
    "utc_now_iso",
]
