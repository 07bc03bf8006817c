"""Whether the golden inputs take every side of the model's input-dependent conditionals.

A model with `if x > 0: … else: …` fed 32 inputs in [0, 1) never runs its else branch: a pass
then proves half the model. On the frozen signature function (control flow kept as ops, calls
inlined), every top-level conditional whose predicate depends on an input — a `tf.cond` (If,
StatelessIf), a `tf.switch_case` (Case), an element-wise `tf.where` (Select, SelectV2) — has its
predicate evaluated on each golden sample, and the sides no sample takes are named. Where only
synthesized inputs in their default range decide such a predicate, the recorder widens that
range (tfport.golden.recording); what stays untaken marks the evidence weak in every report.

Not counted: a select whose result only indexes a gather (Keras 3's `ops.take` wraps negative
ids with `where(ids < 0, ids + rows, ids)`: both sides pick the same row), and conditionals
nested inside loops or other branches (their predicates are not values of the top-level graph).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tfport.golden.input_inference import GATHERS, INDICES, consumers, frozen_graph
from tfport.logfile import file_logger

IFS = {"If", "StatelessIf"}
CASES = {"Case", "StatelessCase"}
SELECTS = {"Select", "SelectV2"}


@dataclass(frozen=True)
class Conditional:
    """One input-dependent conditional: its op, its sides, the input keys deciding it, and the
    output keys it reaches."""

    op: str
    kind: str
    sides: tuple[str, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    predicate: Any  # the tensor of the frozen graph that decides it

    def side_of(self, value: np.ndarray) -> set[str]:
        """The sides one sample's predicate value takes."""
        value = np.asarray(value)
        if self.kind == "cond":
            return {self.sides[0] if (bool(value) if value.ndim == 0 else value.size > 0) else self.sides[1]}
        if self.kind == "case":
            index = int(value)
            return {self.sides[index if 0 <= index < len(self.sides) else -1]}
        truths = value.astype(bool)
        return ({"true"} if truths.any() else set()) | ({"false"} if not truths.all() else set())


@dataclass(frozen=True)
class Untaken:
    """A side no golden sample takes."""

    conditional: Conditional
    sides: tuple[str, ...]

    def describe(self) -> str:
        kind = self.conditional.kind
        what = {"cond": "tf.cond", "case": "tf.switch_case", "where": "tf.where"}[kind]
        if kind == "case":
            sides = f"branch{'es' if len(self.sides) > 1 else ''} {' and '.join(self.sides)}"
        else:
            sides = f"the {' and '.join(self.sides)} {'branch' if kind == 'cond' else 'side'}"
        return (f"no golden sample takes {sides} of {what} {self.conditional.op!r} (decided by "
                f"{', '.join(self.conditional.inputs)})")


def conditionals(function: Any, tensors: Mapping[str, str], outputs: Mapping[str, str]) -> list[Conditional]:
    """The input-dependent top-level conditionals of a loaded signature function. `tensors` maps
    placeholder names to input keys, `outputs` output tensor names to output keys."""
    graph = frozen_graph(function)
    if graph is None:
        return []
    placeholders = {}
    for name, key in tensors.items():
        try:
            placeholders[graph.get_tensor_by_name(name).op.name] = key
        except (KeyError, ValueError):
            continue
    output_ops = {}
    for name, key in outputs.items():
        try:
            output_ops[key] = graph.get_tensor_by_name(name).op
        except (KeyError, ValueError):
            continue
    deciders = _Ancestry(placeholders)
    reached = {key: _ancestors(op) for key, op in output_ops.items()}
    found = []
    for op in graph.get_operations():
        kind = "cond" if op.type in IFS else "case" if op.type in CASES else "where" if op.type in SELECTS else None
        if kind is None or (kind == "where" and _only_indexes(op)):
            continue
        inputs = deciders.of(op.inputs[0].op)
        if not inputs:
            continue
        sides = ("then", "else") if kind == "cond" else tuple(
            f"#{i}" for i in range(len(op.get_attr("branches")))) if kind == "case" else ("true", "false")
        found.append(Conditional(op.name, kind, sides, tuple(sorted(inputs)),
                                 tuple(key for key, ops in reached.items() if op.name in ops) or tuple(output_ops),
                                 op.inputs[0]))
    return found


def untaken(found: list[Conditional], graph_feeds: list[Mapping[str, np.ndarray]],
            tensors: Mapping[str, str]) -> list[Untaken]:
    """The sides of `found` that no feed takes (feeds keyed by input key, one sample each)."""
    if not found or not graph_feeds:
        return []
    from tfport.savedmodel.tensorflow import tensorflow

    graph = found[0].predicate.graph
    by_key = {key: name for name, key in tensors.items() if _has_tensor(graph, name)}  # feed_dict takes names
    taken: dict[str, set[str]] = {c.op: set() for c in found}
    try:
        with tensorflow().compat.v1.Session(graph=graph) as session:
            for feed in graph_feeds:
                values = session.run([c.predicate for c in found],
                                     {by_key[key]: value for key, value in feed.items() if key in by_key})
                for conditional, value in zip(found, values):
                    taken[conditional.op] |= conditional.side_of(value)
    except Exception:  # a predicate TensorFlow cannot evaluate on its own: no claim either way
        file_logger().info("branch coverage: cannot evaluate the predicates", exc_info=True)
        return []
    missing = []
    for conditional in found:
        left = tuple(side for side in conditional.sides if side not in taken[conditional.op])
        if left:
            missing.append(Untaken(conditional, left))
    return missing


class _Ancestry:
    """Which input keys an op's value depends on (memoized over the graph)."""

    def __init__(self, placeholders: Mapping[str, str]):
        self._placeholders = placeholders
        self._memo: dict[str, frozenset[str]] = {}

    def of(self, op: Any) -> frozenset[str]:
        stack = [(op, False)]
        while stack:  # post-order without recursion: a deep graph would overflow Python's stack
            current, parents_done = stack.pop()
            if current.name in self._memo:
                continue
            if not parents_done:
                stack.append((current, True))
                stack += [(t.op, False) for t in current.inputs if t.op.name not in self._memo]
                continue
            own = {self._placeholders[current.name]} if current.name in self._placeholders else set()
            self._memo[current.name] = frozenset(own).union(*(self._memo.get(t.op.name, frozenset())
                                                              for t in current.inputs))
        return self._memo[op.name]


def _ancestors(op: Any) -> set[str]:
    seen, pending = set(), [op]
    while pending:
        current = pending.pop()
        if current.name not in seen:
            seen.add(current.name)
            pending += [t.op for t in current.inputs] + list(current.control_inputs)
    return seen


def _only_indexes(select: Any) -> bool:
    """A select whose every use is the indices of a gather (index wrapping, not a branch)."""
    uses = list(consumers(select.outputs[0]))
    return bool(uses) and all(op.type in GATHERS and operand == INDICES for op, operand in uses)


def _has_tensor(graph: Any, name: str) -> bool:
    try:
        graph.get_tensor_by_name(name)
    except (KeyError, ValueError):
        return False
    return True
