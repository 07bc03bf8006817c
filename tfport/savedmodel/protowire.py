"""Just enough of the protobuf wire format to read SavedModel files without importing TensorFlow.

tfport reads a handful of fields (signatures, tags, function library, object graph, checkpoint
index); decoding them by field number keeps `tfport inspect`, `scan` and cached runs free of the
seconds a TensorFlow import costs.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """The bytes are not a valid protobuf message."""


def read_varint(data: bytes, position: int) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if position >= len(data):
            raise WireError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift > 63:
            raise WireError("varint too long")


def fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value): ints for varint/fixed fields, bytes for length-delimited."""
    position = 0
    while position < len(data):
        key, position = read_varint(data, position)
        number, wire_type = key >> 3, key & 7
        if number == 0:
            raise WireError("field number 0")
        if wire_type == VARINT:
            value, position = read_varint(data, position)
        elif wire_type == FIXED64:
            value, position = struct.unpack_from("<Q", data, position)[0], position + 8
        elif wire_type == FIXED32:
            value, position = struct.unpack_from("<I", data, position)[0], position + 4
        elif wire_type == LENGTH:
            size, position = read_varint(data, position)
            if position + size > len(data):
                raise WireError("truncated field")
            value, position = data[position:position + size], position + size
        else:
            raise WireError(f"unsupported wire type {wire_type}")
        if position > len(data):
            raise WireError("truncated field")
        yield number, wire_type, value


@dataclass
class Message:
    """A decoded message: repeated fields keep their order; nothing is interpreted until asked."""

    raw: dict[int, list[int | bytes]]

    @classmethod
    def parse(cls, data: bytes) -> Message:
        raw: dict[int, list[int | bytes]] = {}
        for number, _, value in fields(data):
            raw.setdefault(number, []).append(value)
        return cls(raw)

    def messages(self, number: int) -> list[Message]:
        return [Message.parse(v) for v in self.raw.get(number, []) if isinstance(v, bytes)]

    def message(self, number: int) -> Message:
        found = self.messages(number)
        return found[-1] if found else Message({})

    def strings(self, number: int) -> list[str]:
        return [v.decode("utf-8", "replace") for v in self.raw.get(number, []) if isinstance(v, bytes)]

    def string(self, number: int) -> str:
        found = self.strings(number)
        return found[-1] if found else ""

    def int(self, number: int) -> int:
        values = self.raw.get(number, [])
        return signed64(values[-1]) if values and isinstance(values[-1], int) else 0

    def ints(self, number: int) -> list[int]:
        """Repeated integers, packed or not."""
        values: list[int] = []
        for value in self.raw.get(number, []):
            if isinstance(value, int):
                values.append(signed64(value))
                continue
            position = 0
            while position < len(value):
                item, position = read_varint(value, position)
                values.append(signed64(item))
        return values

    def map(self, number: int) -> dict[str, Message]:
        """A `map<string, Message>` field."""
        return {entry.string(1): entry.message(2) for entry in self.messages(number)}


def signed64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value
