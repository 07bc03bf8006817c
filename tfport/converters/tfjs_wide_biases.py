"""Fused ops whose bias is not a vector, made runnable on TF.js's wasm backend.

tensorflowjs fuses Conv2D / DepthwiseConv2dNative / MatMul with the addition that follows into
_FusedConv2D, FusedDepthwiseConv2dNative or _FusedMatMul — also when what is added is a
broadcast constant of shape [1, 1, 1, C] (a Keras layer adding a weight of shape (1, 1, C)) or a
whole tensor (a MatMul plus a batch of biases). The cpu backend broadcasts such a bias; the wasm
backend, which web apps ship, refuses it: "FusedConv2D only supports rank-1 bias but got rank 4".

So, in model.json, the artifact itself is fixed rather than the verdict: a constant bias whose
leading dims are all 1 is given its rank-1 shape (the same bytes: [1, 1, 1, C] and [C] hold the
elements in the same order); any other bias that is not known to be a vector is unfused — the op
itself, then AddV2 of the bias, then the fused activation, the last one keeping the fused node's
name so that every consumer still finds it. Parity then checks the fixed artifact.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

FUSED = {"_FusedConv2D": "Conv2D", "FusedDepthwiseConv2dNative": "DepthwiseConv2dNative", "_FusedMatMul": "MatMul"}
BIAS = 2  # inputs of a fused node: x, filter (or b), bias, then a Prelu's alpha
FUSION_ATTRS = {"fused_ops", "num_args", "epsilon", "leakyrelu_alpha"}
ACTIVATIONS = {"Relu", "Relu6", "Elu", "Selu", "Sigmoid", "Tanh", "LeakyRelu", "Prelu"}


def make_biases_vectors(model_json: Path) -> tuple[int, int]:
    """Fix every fused op of model.json's graph whose bias is not a vector, in place; returns
    (biases reshaped to rank 1, ops unfused). Ops inside control-flow functions are left alone."""
    data = json.loads(model_json.read_text(encoding="utf-8"))
    nodes: list[dict[str, Any]] = data.get("modelTopology", {}).get("node", [])
    weights = {w["name"]: w for group in data.get("weightsManifest", []) for w in group["weights"]}
    uses: dict[str, int] = {}
    for node in nodes:
        for name in node.get("input", []):
            uses[_node_of(name)] = uses.get(_node_of(name), 0) + 1
    shapes = _placeholder_shapes(nodes)
    reshaped = unfused = 0
    fixed: list[dict[str, Any]] = []
    for node in nodes:
        ops = _fused_ops(node)
        if node.get("op") not in FUSED or not ops or ops[0] not in ("BiasAdd", "Add", "AddV2"):
            fixed.append(node)
            continue
        bias = _node_of(node["input"][BIAS])
        shape = weights[bias]["shape"] if bias in weights else shapes.get(bias)
        if shape is not None and len(shape) <= 1:
            fixed.append(node)
        elif bias in weights and uses.get(bias) == 1 and all(d == 1 for d in shape[:-1]):
            weights[bias]["shape"] = shape[-1:]
            _set_const_shape(nodes, bias, shape[-1:])
            reshaped += 1
            fixed.append(node)
        else:
            fixed += _unfused(node, ops)
            unfused += 1
    if reshaped or unfused:
        data["modelTopology"]["node"] = fixed
        model_json.write_text(json.dumps(data), encoding="utf-8")
    return reshaped, unfused


def _unfused(node: dict[str, Any], ops: list[str]) -> list[dict[str, Any]]:
    """The op, AddV2 of its bias, then each fused activation; the last keeps the node's name."""
    name, inputs = node["name"], node["input"]
    controls = [i for i in inputs if i.startswith("^")]
    data_inputs = [i for i in inputs if not i.startswith("^")]
    attrs = {k: v for k, v in node.get("attr", {}).items() if k not in FUSION_ATTRS}
    steps = [("core", FUSED[node["op"]], data_inputs[:BIAS] + controls, attrs), ("bias", "AddV2", [data_inputs[BIAS]], {})]
    for activation in ops[1:]:
        if activation not in ACTIVATIONS:
            return [node]  # a fusion this module does not know: left as tensorflowjs made it
        extra = [data_inputs[BIAS + 1]] if activation == "Prelu" and len(data_inputs) > BIAS + 1 else []
        alpha = node.get("attr", {}).get("leakyrelu_alpha")
        steps.append((activation.lower(), activation, extra, {"alpha": alpha} if activation == "LeakyRelu" and alpha else {}))
    made, previous = [], None
    for index, (step, op, extra, attr) in enumerate(steps):
        last = index == len(steps) - 1
        out = {"name": name if last else f"{name}/unfused_{step}", "op": op,
               "input": extra if previous is None else [previous, *extra], "attr": attr}
        if "device" in node:
            out["device"] = node["device"]
        made.append(out)
        previous = out["name"]
    return made


def _fused_ops(node: dict[str, Any]) -> list[str]:
    encoded = node.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])
    return [base64.b64decode(item).decode() for item in encoded]


def _node_of(tensor: str) -> str:
    return tensor.lstrip("^").split(":")[0]


def _placeholder_shapes(nodes: list[dict[str, Any]]) -> dict[str, list[int] | None]:
    """Static shapes of the graph's inputs (-1 for an unknown dim), None where the rank is unknown."""
    shapes: dict[str, list[int] | None] = {}
    for node in nodes:
        if node.get("op") == "Placeholder":
            shape = node.get("attr", {}).get("shape", {}).get("shape", {})
            shapes[node["name"]] = None if shape.get("unknownRank") else [
                int(d.get("size", -1)) for d in shape.get("dim", [])]
    return shapes


def _set_const_shape(nodes: list[dict[str, Any]], name: str, shape: list[int]) -> None:
    for node in nodes:
        if node["name"] == name:
            tensor = node.get("attr", {}).get("value", {}).get("tensor", {})
            if "tensorShape" in tensor:
                tensor["tensorShape"] = {"dim": [{"size": str(d)} for d in shape]}
