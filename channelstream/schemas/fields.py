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


class Boolean(fields.Boolean):
    """0.7.1's booleans (marshmallow 2): true/false, 1/0 and these strings, nothing else.

    marshmallow 3 also takes "yes", "on", "y"...; backends written for 0.7 never sent them,
    and a typo should be an error rather than a silent true."""

    # As in marshmallow 2.x: True == 1 and False == 0 == 0.0 in a set, so 1.0 is true too.
    truthy = {"t", "T", "true", "True", "TRUE", "1", 1}
    falsy = {"f", "F", "false", "False", "FALSE", "0", 0}


# How deep a message may nest objects and arrays (the message object itself is level 1).
# orjson encodes at most 254 levels, and a stored message is encoded inside up to five more
# (admin.json: answer, channels, channel, history, event); 64 leaves room and is more than
# any real message needs. Refused when validated, so nothing unencodable is ever stored.
MAX_NESTING = 64


def within_nesting(value: Any, levels: int = MAX_NESTING) -> bool:
    """Whether a dict or list nests no more than `levels` objects and arrays deep."""
    if levels <= 0:
        return False
    for item in value.values() if type(value) is dict else value:
        kind = type(item)
        if (kind is dict or kind is list) and not within_nesting(item, levels - 1):
            return False
    return True


class Payload(fields.Dict):
    """A message's own content: any JSON object that can be encoded again."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        loaded = super()._deserialize(value, attr, data, **kwargs)
        if not within_nesting(loaded):
            raise ValidationError(f"Nested more than {MAX_NESTING} levels deep.")
        return loaded


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


# new_uuids draws at most this many ids' bits at once; the masks for 1..32 ids are kept.
UUID_CHUNK = 32
_UUID4_MASKS = [
    (
        sum(_UUID4_KEEP << (128 * i) for i in range(count)),
        sum(_UUID4_SET << (128 * i) for i in range(count)),
    )
    for count in range(UUID_CHUNK + 1)
]


def new_uuids(count: int) -> list[str]:
    """`count` ids as ``new_uuid`` makes them, the random bits drawn and formatted for
    several at once (about 0.2 us less per id: a publish of 20 makes 20)."""
    ids: list[str] = []
    while len(ids) < count:
        size = min(count - len(ids), UUID_CHUNK)
        keep, put = _UUID4_MASKS[size]
        hexa = ((random.getrandbits(128 * size) & keep) | put).to_bytes(16 * size, "big").hex()
        ids += [
            f"{hexa[i : i + 8]}-{hexa[i + 8 : i + 12]}-{hexa[i + 12 : i + 16]}-"
            f"{hexa[i + 16 : i + 20]}-{hexa[i + 20 : i + 32]}"
            for i in range(0, 32 * size, 32)
        ]
    return ids


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
    "MAX_NESTING",
    "BaseSchema",
    "Boolean",
    "LowerUUID",
    "Payload",
    "StateValue",
    "Timestamp",
    "channel_list",
    "channel_name",
    "new_uuid",
    "new_uuids",
    "state_dict",
    "user_list",
    "username",
    "utc_now_iso",
    "within_nesting",
]
