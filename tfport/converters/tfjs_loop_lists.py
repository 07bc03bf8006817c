"""Loop bodies whose TensorList items survive the iteration on TF.js's wasm backend.

A Keras LSTM or GRU is a While loop whose body writes each step's output into a TensorList
(TensorListSetItem) and also returns it as a loop state through an Identity. At the end of a body
run, TF.js disposes every tensor of the body that is not an input or an output — including the
one just stored in the list (it is marked kept, and disposed anyway). On the cpu backend Identity
shares its input's data, so the data lives on through the returned tensor; on wasm Identity
copies, the stored tensor's data is freed, and TensorListStack after the loop fails with "Cannot
read properties of undefined (reading 'backend')" (measured on tfjs 4.22, Node.js and Chromium).

So, in model.json, an item stored in a list inside a function is replaced by the body output that
carries the same value — the Identity of it that the function returns: the same values, held by
a tensor TF.js keeps. A stored item that the body does not return is left as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

WRITES = {"TensorListSetItem": 2, "TensorListPushBack": 1}  # op -> index of the item input


def store_returned_items(model_json: Path) -> int:
    """Rewire every list write of model.json's functions to a returned copy of its item, in
    place; returns how many were rewired."""
    data = json.loads(model_json.read_text(encoding="utf-8"))
    functions = data.get("modelTopology", {}).get("library", {}).get("function", [])
    rewired = sum(_rewire(function) for function in functions)
    if rewired:
        model_json.write_text(json.dumps(data), encoding="utf-8")
    return rewired


def _rewire(function: dict[str, Any]) -> int:
    returned = {value.split(":")[0] for value in function.get("ret", {}).values()}
    copies: dict[str, str] = {}  # tensor -> a returned Identity of it
    for node in function.get("nodeDef", []):
        data_inputs = [i for i in node.get("input", []) if not i.startswith("^")]
        if node.get("op") == "Identity" and node["name"] in returned and data_inputs:
            copies.setdefault(data_inputs[0], f"{node['name']}:output:0")
    count = 0
    for node in function.get("nodeDef", []):
        index = WRITES.get(node.get("op"))
        if index is not None and len(node.get("input", [])) > index and node["input"][index] in copies:
            node["input"][index] = copies[node["input"][index]]
            count += 1
    return count
