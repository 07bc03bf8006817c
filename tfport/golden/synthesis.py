"""Golden inputs: taken from the user's .npz, or synthesized deterministically from the specs.

Synthesized values (documented in README), for each input the first that applies:
  1. a range the user gave for that input (--int-range NAME=LO,HI, --float-range NAME=LO,HI);
  2. what its graph shows (tfport.golden.input_inference): a table's rows for indices, 0/1 for masks,
     0–255 for 8-bit or rescaled pixels, mean ± 2·std for normalized features;
  3. floats uniform in --float-range (default [0, 1)), integers in --int-range (default [0, 10)),
     bools a fair coin, strings --strings, else the model's vocabulary asset and its tables'
     string keys.
Unknown dims: --shape NAME=d0,d1,... wins; otherwise a leading unknown dim (batch) is 1 and any
other unknown dim is `default_dim` (8, raised by the recorder when the model rejects that size).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tfport.errors import BadInputError
from tfport.golden.golden_set import load_npz
from tfport.savedmodel.reader import Signature, TensorSpec

DEFAULT_BATCH = 1
DEFAULT_DIM = 8
OUT_OF_VOCABULARY = "<tfport-unknown>"
FLOAT_DTYPES = {"float16", "bfloat16", "float32", "float64"}


@dataclass
class SynthesisOptions:
    samples: int = 32
    seed: int = 0
    shapes: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    int_range: tuple[int, int] = (0, 10)
    strings: Sequence[str] = ()
    float_range: tuple[float, float] = (0.0, 1.0)
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)  # per input: NAME or SIGNATURE/NAME
    default_dim: int = DEFAULT_DIM  # unknown non-batch dims


def concrete_shape(name: str, spec: TensorSpec, shapes: Mapping[str, tuple[int, ...]],
                   default_dim: int = DEFAULT_DIM) -> tuple[int, ...]:
    if name in shapes:
        shape = tuple(shapes[name])
        if spec.shape is not None and (
            len(shape) != len(spec.shape) or any(s is not None and s != d for s, d in zip(spec.shape, shape))
        ):
            raise BadInputError(f"--shape {name}={','.join(map(str, shape))} does not fit the signature's {_show(spec.shape)}")
        return shape
    if spec.shape is None:
        raise BadInputError(f"input {name!r} has unknown rank — give its shape with --shape {name}=d0,d1,...")
    return tuple(
        d if d is not None else (DEFAULT_BATCH if i == 0 else default_dim) for i, d in enumerate(spec.shape)
    )


def synthesize_inputs(
    signature: Signature, options: SynthesisOptions, vocabulary: Sequence[str] = (),
    inferred: Mapping[str, object] | None = None,
) -> dict[str, np.ndarray]:
    """Stacked samples for every input of `signature`; the same options give the same arrays.
    `inferred` holds tfport.golden.input_inference.Inferred values by input name."""
    arrays = {}
    for name, spec in signature.inputs.items():
        shape = (options.samples, *concrete_shape(name, spec, options.shapes, options.default_dim))
        # Seeded per (seed, signature, input): adding an input does not change the others.
        rng = np.random.default_rng([options.seed, zlib.crc32(f"{signature.key}/{name}".encode())])
        given = options.ranges.get(f"{signature.key}/{name}", options.ranges.get(name))
        known = (inferred or {}).get(name)
        arrays[name] = _random_array(name, spec.dtype, shape, rng, options, vocabulary, given, known)
    return arrays


def _random_array(name, dtype, shape, rng, options: SynthesisOptions, vocabulary, given, known) -> np.ndarray:
    if given is None and known is not None and known.mask:
        return _padding_mask(shape, rng).astype(np.float32 if dtype == "bfloat16" else dtype)
    low, high = given or ((known.low, known.high) if known is not None else None) or (
        options.float_range if dtype in FLOAT_DTYPES else options.int_range)
    if dtype in FLOAT_DTYPES:
        return (low + (high - low) * rng.random(shape)).astype(np.float32 if dtype == "bfloat16" else dtype)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype == "string":
        words = list(options.strings) or ([*vocabulary, OUT_OF_VOCABULARY] if vocabulary else [])
        if not words:
            raise BadInputError(
                f"input {name!r} takes strings and the model has neither a vocabulary asset nor a table of "
                "string keys — pass --strings word1,word2,... or --inputs FILE.npz"
            )
        encoded = np.array([w.encode("utf-8") for w in words])
        return encoded[rng.integers(0, len(words), size=shape)]
    if np.dtype(dtype).kind in "iu":
        return rng.integers(int(low), int(high), size=shape).astype(dtype)
    raise BadInputError(f"input {name!r} has dtype {dtype}, which tfport cannot synthesize — pass --inputs FILE.npz")


def _padding_mask(shape: tuple[int, ...], rng) -> np.ndarray:
    """Ones then zeros along the last axis, at least one one per row: what padding masks look like."""
    if len(shape) < 2:
        return np.ones(shape)
    lengths = rng.integers(1, shape[-1] + 1, size=shape[:-1])
    return (np.arange(shape[-1]) < lengths[..., np.newaxis]).astype(np.int64)


def model_vocabulary(model_dir: Path) -> list[str]:
    """Words the model knows: its text assets (e.g. a lookup table's vocabulary file), then the
    string keys of the tables it fills from constants, then those of the tables its checkpoint
    restores (a MutableHashTable filled before saving)."""
    from tfport.savedmodel.checkpoint_index import checkpoint_strings
    from tfport.savedmodel.protowire import WireError
    from tfport.savedmodel.reader import read_saved_model_proto, table_string_keys

    words: list[str] = []
    assets = model_dir / "assets"
    for file in sorted(assets.rglob("*")) if assets.is_dir() else []:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, IsADirectoryError):
            continue
        words.extend(line.split("\t")[0] for line in lines if line.strip())
    words += table_string_keys(read_saved_model_proto(model_dir))
    index = model_dir / "variables" / "variables.index"
    try:
        words += checkpoint_strings(index, "/.ATTRIBUTES/table-keys") if index.is_file() else []
    except WireError:  # a truncated data shard: TensorFlow says so when it loads the model
        pass
    return list(dict.fromkeys(words))


def inputs_from_file(file: Path, signatures: Mapping[str, Signature]) -> dict[str, dict[str, np.ndarray]]:
    """Read user inputs keyed `NAME` (for every signature with that input) or `SIGNATURE/NAME`.

    An array with one more axis than the signature's input holds stacked samples. An array of the
    input's own rank whose leading dim is unknown is a batch, split into samples of batch 1.
    Anything else is one sample.
    """
    arrays = load_npz(Path(file))
    used: set[str] = set()
    result = {}
    for key, signature in signatures.items():
        samples = {}
        for name, spec in signature.inputs.items():
            file_key = next((k for k in (f"{key}/{name}", name) if k in arrays), None)
            if file_key is None:
                raise BadInputError(
                    f"{file} has no array for input {name!r} of signature {key!r} — "
                    f"name it {name!r} or '{key}/{name}' (found: {', '.join(sorted(arrays)) or 'none'})"
                )
            used.add(file_key)
            samples[name] = _as_samples(arrays[file_key], spec, f"{file}:{file_key}")
        counts = {len(a) for a in samples.values()}
        if len(counts) > 1:
            raise BadInputError(f"{file}: inputs of signature {key!r} have different sample counts {sorted(counts)}")
        result[key] = samples
    unused = set(arrays) - used
    if unused:
        raise BadInputError(f"{file} has arrays no signature takes: {', '.join(sorted(unused))}")
    return result


def _as_samples(array: np.ndarray, spec: TensorSpec, where: str) -> np.ndarray:
    if spec.dtype == "string":
        if array.dtype.kind == "U":
            array = np.char.encode(array, "utf-8")
        if array.dtype.kind != "S":
            raise BadInputError(f"{where} must hold strings, not {array.dtype}")
    else:
        wanted = np.dtype(spec.dtype)
        if wanted.kind != array.dtype.kind and not (wanted.kind == "f" and array.dtype.kind in "iu"):
            raise BadInputError(f"{where} has dtype {array.dtype}; the signature wants {spec.dtype}")
        array = array.astype(wanted)
    if spec.shape is None:
        return array[np.newaxis]
    rank = len(spec.shape)
    if array.ndim == rank + 1:
        return array
    if array.ndim == rank and rank > 0 and spec.shape[0] is None:
        return array[:, np.newaxis]
    if array.ndim == rank:
        return array[np.newaxis]
    raise BadInputError(f"{where} has shape {array.shape}, which does not fit the signature's {_show(spec.shape)}")


def _show(shape) -> str:
    return "unknown shape" if shape is None else "shape [" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
