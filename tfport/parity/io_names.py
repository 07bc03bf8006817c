"""The golden set's input and output keys matched to the names an artifact made elsewhere uses.

tfport's converters key every artifact by the SavedModel's own signature keys. The official
converters do not always: tensorflowjs keys a tf_keras model's model.json by tensor names
(`left:0`, `Identity:0`, `Identity_1:0`), TF1 signatures export placeholder names
(`serving_default_x:0`), and a frozen graph's outputs are `Identity`, `Identity_1`, … — or
`StatefulPartitionedCall:0`, `:1`, … — in the order TensorFlow flattens the signature's output
dict, which is the sorted order of its keys. Each rule below is tried for the names left over by
the rules before it, and a name is taken only when exactly one candidate fits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from tfport.errors import BadInputError

Spec = tuple[str | None, tuple[int | None, ...] | None]  # dtype name, shape (None: unknown)
PREFIXES = ("serving_default_",)  # TF2 signature placeholders are named <signature>_<key>
POSITIONAL = re.compile(r"^(?:Identity(?:_(\d+))?(?::0)?|(?:Stateful)?PartitionedCall(?::(\d+))?)$")


def match_names(wanted: Mapping[str, Spec], offered: Mapping[str, Spec]) -> dict[str, str]:
    """{wanted key: offered name} for every wanted key that can be matched (see module docstring)."""
    matched: dict[str, str] = {}

    def take(pairs: Mapping[str, str]) -> None:
        taken = set(matched.values())
        for key, name in pairs.items():
            if key not in matched and name not in taken:
                matched[key], taken = name, taken | {name}

    take({key: key for key in wanted if key in offered})
    take(_unique({key: [name for name in offered if _bare(name) == key] for key in wanted}))
    positions = {_position(name): name for name in offered if _position(name) is not None}
    if not matched and len(positions) == len(offered) == len(wanted):
        take({key: positions[i] for i, key in enumerate(sorted(wanted)) if i in positions})
    left = [name for name in offered if name not in matched.values()]
    take(_unique({key: [name for name in left if _fits(wanted[key], offered[name])]
                  for key in wanted if key not in matched}))
    return matched


def array_specs(arrays: Mapping[str, object]) -> dict[str, Spec]:
    """Specs of arrays of one sample or of stacked samples alike (each has the same shape)."""
    import numpy as np

    def dtype(value) -> str:
        kind = np.asarray(value).dtype
        return "string" if kind.kind in "SUO" else kind.name

    return {name: (dtype(value), tuple(np.shape(value))) for name, value in arrays.items()}


def inputs_matched(feed: Mapping[str, object], offered: Mapping[str, Spec], what: str) -> dict[str, str]:
    """{artifact input name: golden input key} for every input the artifact takes, refused in one
    line naming both sides when one of them cannot be matched. Golden inputs the artifact does
    not take (a converter may drop unused ones) are left out."""
    matched = {name: key for key, name in match_names(array_specs(feed), offered).items()}
    missing = [name for name in offered if name not in matched]
    if missing:
        raise BadInputError(
            f"{what} cannot be matched to the golden set's inputs {', '.join(sorted(feed))}: nothing fits "
            f"{', '.join(missing)} (the artifact takes {', '.join(offered)}) — pass a golden set recorded from the "
            "SavedModel this artifact was converted from"
        )
    return matched


def _bare(name: str) -> str:
    """A tensor name without its output index and without a signature prefix."""
    name = name.removesuffix(":0")
    for prefix in PREFIXES:
        name = name.removeprefix(prefix)
    return name


def _position(name: str) -> int | None:
    found = POSITIONAL.match(name)
    if not found:
        return None
    return int(found.group(1) or found.group(2) or 0)


def _unique(candidates: Mapping[str, list[str]]) -> dict[str, str]:
    """Keys with exactly one candidate name, that no other key also has as its only candidate."""
    single = {key: names[0] for key, names in candidates.items() if len(names) == 1}
    counts: dict[str, int] = {}
    for name in single.values():
        counts[name] = counts.get(name, 0) + 1
    return {key: name for key, name in single.items() if counts[name] == 1}


def _fits(wanted: Spec, offered: Spec) -> bool:
    """Same dtype (when both are known) and shapes that agree wherever both dims are known."""
    (dtype, shape), (other_dtype, other_shape) = wanted, offered
    if dtype and other_dtype and dtype != other_dtype:
        return False
    if shape is None or other_shape is None:
        return True
    return len(shape) == len(other_shape) and all(a is None or b is None or a == b for a, b in zip(shape, other_shape))
