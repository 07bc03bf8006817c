"""The binary frames tfport's TF.js runners speak, on Node.js (stdin/stdout) and in Chromium (HTTP).

A frame is a uint32 LE header length, the JSON header, then the tensors' bytes in header order;
a string tensor holds, per element, a uint32 LE length and the UTF-8 bytes.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from tfport.converters.tfjs_format import TFJS_DTYPES
from tfport.errors import BadInputError, RuntimeFailure


def to_tfjs_dtype(array: np.ndarray) -> tuple[str, np.ndarray]:
    """(tfjs dtype, array in that dtype) for sending a golden input."""
    kind = "string" if array.dtype.kind in "SUO" else TFJS_DTYPES.get(array.dtype.name)
    if kind is None:
        raise BadInputError(f"TF.js has no dtype for {array.dtype}")
    if kind == "string":
        return kind, np.char.encode(array.astype(str), "utf-8") if array.dtype.kind != "S" else array
    if kind == "int32" and array.dtype.kind in "iu" and array.size:
        info = np.iinfo(np.int32)
        if array.min() < info.min or array.max() > info.max:
            raise BadInputError(f"TF.js computes {array.dtype} as int32, and an input holds values beyond its range "
                                f"({array.min()}..{array.max()})")
    # (np.ascontiguousarray would turn a scalar input into shape [1])
    return kind, np.asarray(array, dtype={"bool": np.uint8}.get(kind, kind), order="C")


def encode_tensors(tensors: list[tuple[str, np.ndarray]]) -> tuple[list[dict], bytes]:
    """Headers and bytes of the runner's binary tensor format."""
    specs, chunks = [], []
    for name, array in tensors:
        dtype, array = to_tfjs_dtype(np.asarray(array))
        data = (b"".join(struct.pack("<I", len(v)) + v for v in array.ravel().tolist()) if dtype == "string"
                else array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
        specs.append({"name": name, "dtype": dtype, "shape": list(array.shape), "bytes": len(data)})
        chunks.append(data)
    return specs, b"".join(chunks)


def decode_tensors(specs: list[dict], payload: bytes) -> list[np.ndarray]:
    arrays, offset = [], 0
    for spec in specs:
        data = payload[offset:offset + spec["bytes"]]
        offset += spec["bytes"]
        if spec["dtype"] == "string":
            values, position = [], 0
            while position < len(data):
                (length,) = struct.unpack_from("<I", data, position)
                values.append(data[position + 4:position + 4 + length])
                position += 4 + length
            arrays.append(np.array(values, dtype=bytes).reshape(spec["shape"]))
        else:
            dtype = {"float32": "<f4", "int32": "<i4", "bool": "u1", "complex64": "<c8"}[spec["dtype"]]
            array = np.frombuffer(data, dtype=dtype).reshape(spec["shape"])
            arrays.append(array.astype(bool) if spec["dtype"] == "bool" else array)
    return arrays


def frame(header: dict, payload: bytes = b"") -> bytes:
    encoded = json.dumps(header).encode()
    return struct.pack("<I", len(encoded)) + encoded + payload


def split_frame(data: bytes) -> tuple[dict, bytes]:
    (length,) = struct.unpack_from("<I", data)
    return json.loads(data[4:4 + length]), data[4 + length:]


class FramedEngine:
    """load/run requests as frames; subclasses only move the bytes."""

    where = "TF.js"
    backend = ""  # the backend asked for; the runner says which one it got

    def load(self, key: str, model_json: Path) -> None:
        reply, _ = self._call({"op": "load", "model": key, "path": str(model_json.resolve())}, b"")
        if self.backend and reply.get("backend") != self.backend:
            raise RuntimeFailure(f"{self.where} runs on the {reply.get('backend')} backend, not {self.backend}")

    def run(self, key: str, inputs: list[tuple[str, np.ndarray]], outputs: list[str],
            nodes: bool = False) -> list[np.ndarray]:
        """The values of signature outputs `outputs` — or, with `nodes`, of the graph's nodes so named."""
        specs, payload = encode_tensors(inputs)
        header, body = self._call({"op": "run", "model": key, "inputs": specs,
                                   "nodes" if nodes else "outputs": outputs}, payload)
        return decode_tensors(header["outputs"], body)

    def time(self, key: str, inputs: list[tuple[str, np.ndarray]], outputs: list[str], warmup: int,
             runs: int) -> list[float]:
        """Seconds per run, timed inside the runtime after `warmup` untimed runs."""
        specs, payload = encode_tensors(inputs)
        header, _ = self._call({"op": "time", "model": key, "inputs": specs, "outputs": outputs,
                                "warmup": warmup, "runs": runs}, payload)
        return [ms / 1000 for ms in header["milliseconds"]]

    def _call(self, header: dict, payload: bytes) -> tuple[dict, bytes]:
        reply, body = self._exchange(frame(header, payload))
        if not reply.get("ok"):
            raise RuntimeFailure(f"{self.where} failed on signature {header['model']!r}: {reply.get('error')}")
        return reply, body

    def _exchange(self, request: bytes) -> tuple[dict, bytes]:
        raise NotImplementedError
