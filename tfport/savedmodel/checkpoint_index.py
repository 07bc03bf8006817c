"""Read a TensorFlow checkpoint's `variables.index` (a LevelDB-format table) without TensorFlow,
and the string tensors it points to in `variables.data-*` (the keys of tables the checkpoint restores)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from tfport.savedmodel.protowire import Message, WireError, read_varint

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER_SIZE = 5  # compression type byte + crc32c
NO_COMPRESSION = 0
DT_STRING = 7
LENGTHS_CRC_SIZE = 4  # a string tensor's data: varint lengths, their crc32c, then the bytes


def index_entries(index_file: Path) -> Iterator[tuple[str, Message]]:
    """(variable name, BundleEntryProto) for every tensor in the checkpoint, header excluded."""
    data = Path(index_file).read_bytes()
    if len(data) < FOOTER_SIZE or struct.unpack_from("<Q", data, len(data) - 8)[0] != TABLE_MAGIC:
        raise WireError(f"{index_file} is not a checkpoint index")
    footer = data[-FOOTER_SIZE:]
    _, position = _block_handle(footer, 0)  # metaindex block: unused
    index_handle, _ = _block_handle(footer, position)
    for _, handle in _block_entries(data, index_handle):
        for key, value in _block_entries(data, _block_handle(handle, 0)[0]):
            if key:  # the empty key holds the BundleHeaderProto
                yield key.decode("utf-8", "replace"), Message.parse(value)


def checkpoint_strings(index_file: Path, name_suffix: str) -> list[str]:
    """The elements of every string tensor whose name ends with `name_suffix` (e.g. the
    `/.ATTRIBUTES/table-keys` of a MutableHashTable), read from the data shards beside the index."""
    words: list[str] = []
    for name, entry in index_entries(index_file):
        if not name.endswith(name_suffix) or entry.int(1) != DT_STRING:  # BundleEntryProto.dtype
            continue
        count = 1
        for dim in entry.message(2).messages(2):  # shape.dim[].size
            count *= dim.int(1)
        shards = sorted(Path(index_file).parent.glob(f"{Path(index_file).stem}.data-{entry.int(3):05d}-of-*"))
        if not shards or not count:
            continue
        with shards[0].open("rb") as shard:
            shard.seek(entry.int(4))  # offset
            data = shard.read(entry.int(5))  # size
        lengths, position = [], 0
        for _ in range(count):
            length, position = read_varint(data, position)
            lengths.append(length)
        position += LENGTHS_CRC_SIZE
        for length in lengths:
            words.append(data[position:position + length].decode("utf-8", "replace"))
            position += length
    return words


def _block_handle(data: bytes, position: int) -> tuple[tuple[int, int], int]:
    offset, position = read_varint(data, position)
    size, position = read_varint(data, position)
    return (offset, size), position


def _block_entries(data: bytes, handle: tuple[int, int]) -> Iterator[tuple[bytes, bytes]]:
    offset, size = handle
    if offset + size + BLOCK_TRAILER_SIZE > len(data):
        raise WireError("block outside the file")
    if data[offset + size] != NO_COMPRESSION:
        raise WireError("compressed checkpoint index blocks are not supported")
    block = data[offset:offset + size]
    restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 * (restarts + 1)
    position, key = 0, b""
    while position < end:
        shared, position = read_varint(block, position)
        unshared, position = read_varint(block, position)
        value_size, position = read_varint(block, position)
        key = key[:shared] + block[position:position + unshared]
        position += unshared
        yield key, block[position:position + value_size]
        position += value_size
