"""Dtype names and tensor specs of the TF.js graph-model format, shared by the converter, the bundle
and the runtime."""

from __future__ import annotations

from typing import Any

# model.json's tensor dtypes (TensorFlow's enum names) -> numpy dtype names
GRAPH_DTYPES = {"DT_FLOAT": "float32", "DT_DOUBLE": "float64", "DT_HALF": "float16", "DT_INT64": "int64",
                "DT_INT32": "int32", "DT_INT16": "int16", "DT_INT8": "int8", "DT_UINT8": "uint8", "DT_BOOL": "bool",
                "DT_STRING": "string", "DT_COMPLEX64": "complex64", "DT_COMPLEX128": "complex128"}
# numpy dtype names -> the dtype TF.js computes in (no int64, no float64)
TFJS_DTYPES = {"float16": "float32", "float32": "float32", "float64": "float32", "int64": "int32", "int32": "int32",
               "int16": "int32", "int8": "int32", "uint8": "int32", "bool": "bool", "string": "string",
               "complex64": "complex64", "complex128": "complex64"}


def tensor_spec(entry: dict[str, Any]) -> tuple[str | None, tuple[int | None, ...] | None]:
    """(numpy dtype name, shape with None for unknown dims) of one model.json signature entry."""
    shape = entry.get("tensorShape", {})
    dims = None if shape.get("unknownRank") else tuple(
        None if int(d.get("size", -1)) < 0 else int(d["size"]) for d in shape.get("dim", []))
    return GRAPH_DTYPES.get(entry.get("dtype"), entry.get("dtype")), dims
