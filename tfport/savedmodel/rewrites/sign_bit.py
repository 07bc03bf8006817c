"""Sign-bit tests on the bits of a float, as float comparisons every target has.

Keras 3's TensorFlow argmax and argmin tell -0.0 from +0.0 by the bits:
`(x == 0) & (bitwise_and(bitcast(x, int32), 0x80000000) < 0)`, then replace -0.0 by -tiny. TFLite
has no builtin BitwiseAnd (it needs the Flex delegate) and ONNX (tf2onnx) and TF.js have no
Bitcast. The test `Less(BitwiseAnd(Bitcast(x), mask), 0)` with the mask's sign bit set (or
`Less(Bitcast(x), 0)`) asks for x's sign bit, and becomes `x < 0 or 1/x < 0`: 1/(-0.0) is -inf.
That is exact for every x but a NaN with its sign bit set, which the bits call negative and the
comparisons do not; Keras' test also asks `x == 0`, which no NaN is, so there it is exact.
"""

from __future__ import annotations

import numpy as np

from tfport.savedmodel.rewrites.graph_edit import add_constant, add_node, output_name, prune
from tfport.savedmodel.tensorflow import tensorflow

# DataType enums (tensorflow/core/framework/types.proto): float32 -> int32, float64 -> int64, half and bfloat16 -> int16
SAME_WIDTH_INT = {1: 3, 2: 9, 19: 5, 14: 5}


def rewrite_sign_bit_tests(saved_model) -> int:
    """Rewrite every sign-bit test in the functions of a parsed SavedModel proto; return the count."""
    count = 0
    for meta_graph in saved_model.meta_graphs:
        for function in meta_graph.graph_def.library.function:
            by_name = {n.name: n for n in function.node_def}
            dead: set[str] = set()
            for less in [n for n in function.node_def if n.op == "Less"]:
                tested = _sign_bit_operand(by_name, less)
                if tested is not None:
                    x, bit_nodes = tested
                    _as_comparisons(function, less, x, by_name[bit_nodes[-1]].attr["T"].type)
                    dead |= set(bit_nodes)
                    count += 1
            prune(function, dead)
    return count


def _sign_bit_operand(by_name: dict, less) -> tuple[str, list[str]] | None:
    """(x, the nodes computing the bits: constants, BitwiseAnd, Bitcast last) when `less` tests
    x's sign bit, else None."""
    bits, zero = (by_name.get(i.split(":")[0]) for i in less.input[:2])
    if zero is None or _constant(zero) != 0 or bits is None:
        return None
    nodes = [zero.name]
    if bits.op == "BitwiseAnd":
        operands = [by_name.get(i.split(":")[0]) for i in bits.input[:2]]
        masks = [n for n in operands if n is not None and n.op == "Const" and (_constant(n) or 0) < 0]
        casts = [n for n in operands if n is not None and n.op == "Bitcast"]
        if not masks or not casts:
            return None
        nodes += [bits.name, masks[0].name]
        bits = casts[0]
    if bits.op != "Bitcast" or SAME_WIDTH_INT.get(bits.attr["T"].type) != bits.attr["type"].type:
        return None
    return bits.input[0], [*nodes, bits.name]


def _constant(node) -> int | None:
    """The value of a scalar integer Const, else None."""
    if node.op != "Const":
        return None
    value = tensorflow().make_ndarray(node.attr["value"].tensor)
    return int(value) if value.shape == () and np.issubdtype(value.dtype, np.integer) else None


def _as_comparisons(function, less, x: str, dtype: int) -> None:
    """Less(bits, 0) -> LogicalOr(Less(x, 0), Less(1 / x, 0)); the node keeps its name and its
    output's name (`z` for both ops)."""
    nodes = function.node_def
    numpy_dtype = tensorflow().as_dtype(dtype).as_numpy_dtype
    zero, one = (add_constant(nodes, f"{less.name}/tfport_{name}", np.array(value, numpy_dtype), less.device)
                 for name, value in (("zero", 0), ("one", 1)))
    inverse = add_node(nodes, f"{less.name}/tfport_inverse", "RealDiv", [output_name(one.name, function, "output"), x],
                       less.device, T=dtype)
    operands = {"negative": x, "inverse_negative": output_name(inverse.name, function, "z")}
    comparisons = [add_node(nodes, f"{less.name}/tfport_{name}", "Less",
                            [operand, output_name(zero.name, function, "output")], less.device, T=dtype)
                   for name, operand in operands.items()]
    less.op = "LogicalOr"
    less.input[:] = [*(output_name(c.name, function, "z") for c in comparisons),
                     *(i for i in less.input if i.startswith("^"))]
    less.attr.pop("T")
