"""Golden sets made from a SavedModel: inputs from the user or synthesized, outputs from TensorFlow."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tfport.digests import file_digest
from tfport.errors import BadInputError
from tfport.golden.golden_set import MANIFEST, GoldenSet, read_golden
from tfport.golden.synthesis import (
    FLOAT_DTYPES,
    SynthesisOptions,
    concrete_shape,
    inputs_from_file,
    model_vocabulary,
    synthesize_inputs,
)
from tfport.savedmodel.reader import SavedModelInfo

if TYPE_CHECKING:
    from tfport.golden.reference import Rejection


def golden_request(synthesis: SynthesisOptions, inputs_file: Path | None) -> dict[str, Any]:
    """What a golden set was made from; an identical request may reuse it."""
    request: dict[str, Any] = {"samples": synthesis.samples, "seed": synthesis.seed}
    if inputs_file is not None:
        request = {"inputs_file_sha256": file_digest(inputs_file)}
    else:
        request |= {
            "shapes": {k: list(v) for k, v in synthesis.shapes.items()},
            "int_range": list(synthesis.int_range),
            "strings": list(synthesis.strings),
            "float_range": list(synthesis.float_range),
            "ranges": {k: list(v) for k, v in sorted(synthesis.ranges.items())},
        }
    return request


def make_golden(
    model: SavedModelInfo, path: Path, synthesis: SynthesisOptions, inputs_file: Path | None, runner=None
) -> GoldenSet:
    """Record a golden set at `path` (TensorFlow runs the SavedModel once per sample)."""
    from tfport.golden.reference import SavedModelRunner, record_golden

    runner = runner or SavedModelRunner(model)
    inferred: dict[str, str] = {}
    if inputs_file is not None:
        inputs = inputs_from_file(inputs_file, model.signatures)
        missed = {key: _untaken(runner, key, inputs[key]) for key in model.signatures if key not in model.aliases}
    else:
        inputs, inferred, missed = _synthesized(model, synthesis, runner)
        # An alias is the same function: its samples are the kept signature's, so every runtime
        # answers them once (tfport.parity.run reuses the results).
        inputs |= {alias: inputs[kept] for alias, kept in model.aliases.items()}
    provenance = {"request": golden_request(synthesis, inputs_file),
                  "inputs": str(inputs_file) if inputs_file else "synthesized", "inferred": inferred,
                  "coverage": {key: [{"untaken": u.describe(), "outputs": list(u.conditional.outputs)} for u in found]
                               for key, found in missed.items() if found}}
    return record_golden(path, model, inputs, provenance, runner)


# Unknown spatial or sequence dims tried when the default is too small: a conv net's receptive
# field, or a raw waveform's (a wav2vec2 encoder needs 400 samples for one frame). A size whose
# sample would exceed MAX_SAMPLE_ELEMENTS is not tried (a 4096² image is not a probe).
RETRY_DIMS = (16, 32, 64, 128, 224, 512, 1024, 4096, 16384)
MAX_SAMPLE_ELEMENTS = 1 << 20


def _synthesized(model: SavedModelInfo, synthesis: SynthesisOptions, runner) -> tuple[dict, dict[str, str], dict]:
    """Inputs of each kept signature, what was inferred about them ("signature/input" -> why), and
    the conditional sides they still do not take (tfport.golden.coverage)."""
    from tfport.golden.input_inference import infer_inputs
    from tfport.savedmodel.signature_tensors import function_tensors

    vocabulary = model_vocabulary(model.path)
    inputs, told, missed = {}, {}, {}
    for key, signature in model.signatures.items():
        if key in model.aliases:
            continue
        function = runner.signature(key)
        tensors = function_tensors(function, key).inputs
        inferred = {name: value for name, value in infer_inputs(function, tensors, signature.inputs).items()
                    if name not in synthesis.ranges and f"{key}/{name}" not in synthesis.ranges}
        told |= {f"{key}/{name}": f"{value.describe()}: {value.why}" for name, value in inferred.items()}
        if vocabulary and not synthesis.strings:
            told |= {f"{key}/{name}": f"{len(vocabulary)} words of the model's own vocabulary (asset files, "
                     "tables filled from constants or restored from the checkpoint) and one unknown word"
                     for name, spec in signature.inputs.items() if spec.dtype == "string"}
        inputs[key], size_note, fitted = _fitting_size(runner, signature, synthesis, vocabulary, inferred, function,
                                                       tensors)
        if size_note:
            told[f"{key}/*"] = size_note
        inputs[key], widened, missed[key] = _covering(runner, signature, fitted, vocabulary, inferred, inputs[key])
        told |= {f"{key}/{name}": why for name, why in widened.items()}
    return inputs, told, missed


WIDER = (1.0, 10.0, 100.0)  # symmetric spans tried, in units of the default range's largest bound


def _covering(runner, signature, synthesis: SynthesisOptions, vocabulary, inferred,
              inputs: dict) -> tuple[dict, dict[str, str], list]:
    """Inputs that take every side of the model's input-dependent conditionals where widening the
    default range of the inputs deciding them gets there: [0, 1) floats become [-1, 1), then
    [-10, 10), [-100, 100) (integers likewise), kept only while the model accepts them and each
    step leaves fewer sides untaken. Inputs with a range the user gave, or one read off the
    graph, are never widened. Returns the inputs, why each widened input was, and what stays untaken."""
    from tfport.golden.coverage import untaken
    from tfport.golden.golden_set import feeds

    key = signature.key
    found, tensors = _conditionals(runner, key)
    missed = untaken(found, list(feeds(inputs)), tensors)
    defaults = {name: _default_range(signature, synthesis, inferred, name) for u in missed for name in u.conditional.inputs}
    widenable = sorted(name for name, default in defaults.items() if default is not None)
    told: dict[str, str] = {}
    for span in WIDER if widenable else ():
        spans = {name: span * max(abs(bound) for bound in defaults[name]) for name in widenable}
        ranges = {**synthesis.ranges, **{f"{key}/{name}": (-bound, bound) for name, bound in spans.items()}}
        wider = synthesize_inputs(signature, replace(synthesis, ranges=ranges), vocabulary, inferred)
        if runner.rejection(key, {name: array[0] for name, array in wider.items()}) is not None:
            break
        still = untaken(found, list(feeds(wider)), tensors)
        if {_side(u) for u in still} < {_side(u) for u in missed}:
            ops = ", ".join(dict.fromkeys(repr(u.conditional.op) for u in missed if set(u.conditional.inputs) & set(spans)))
            told = {name: f"[{-bound:g}, {bound:g}): widened from the default [{defaults[name][0]:g}, "
                          f"{defaults[name][1]:g}) so that the samples take every side of {ops}"
                    for name, bound in spans.items()}
            inputs, missed = wider, still
        if not missed:
            break
    return inputs, told, missed


def _default_range(signature, synthesis: SynthesisOptions, inferred, name: str) -> tuple[float, float] | None:
    """The default range an input is synthesized from, or None when it has its own (given by the
    user, read off the graph) or is not a signed number."""
    if name in inferred or name in synthesis.ranges or f"{signature.key}/{name}" in synthesis.ranges:
        return None
    dtype = signature.inputs[name].dtype
    if dtype in FLOAT_DTYPES:
        return synthesis.float_range
    return synthesis.int_range if dtype.startswith("int") else None


def _side(untaken) -> tuple[str, tuple[str, ...]]:
    return untaken.conditional.op, untaken.sides


def _conditionals(runner, key: str) -> tuple[list, dict[str, str]]:
    """The signature's input-dependent conditionals (read off its graph once), and its input tensors."""
    from tfport.golden.coverage import conditionals
    from tfport.savedmodel.signature_tensors import function_tensors

    function = runner.signature(key)
    tensors = function_tensors(function, key)
    return conditionals(function, tensors.inputs, tensors.outputs), tensors.inputs


def _untaken(runner, key: str, inputs: dict) -> list:
    """The sides of the signature's input-dependent conditionals that no sample of `inputs` takes."""
    from tfport.golden.coverage import untaken
    from tfport.golden.golden_set import feeds

    found, tensors = _conditionals(runner, key)
    return untaken(found, list(feeds(inputs)), tensors)


def _fitting_size(runner, signature, synthesis: SynthesisOptions, vocabulary, inferred, function,
                  tensors: dict[str, str]) -> tuple[dict, str | None, SynthesisOptions]:
    """Synthesized inputs whose first sample the model runs: unknown dims at the default size, else
    at the first of RETRY_DIMS that runs (a conv net's receptive field can exceed 8 pixels). Inputs
    it rejects at every size are a bad input, never an internal error."""
    free = [name for name, spec in signature.inputs.items() if name not in synthesis.shapes
            and spec.shape is not None and any(d is None for d in spec.shape[1:])]
    sizes = (synthesis.default_dim, *(d for d in RETRY_DIMS if d > synthesis.default_dim
                                      and _sample_elements(signature, synthesis, d) <= MAX_SAMPLE_ELEMENTS)) if free else ()
    rejected: list[tuple[int, Rejection]] = []  # (size, why the model refused it)
    for size in sizes or (synthesis.default_dim,):
        fitted = replace(synthesis, default_dim=size)
        inputs = synthesize_inputs(signature, fitted, vocabulary, inferred)
        problem = runner.rejection(signature.key, {name: array[0] for name, array in inputs.items()})
        if problem is None:
            return inputs, (f"unknown dims of {', '.join(free)} set to {size}: the model rejects "
                            f"{', '.join(str(s) for s, _ in rejected)} ({rejected[0][1].reason})") if rejected else None, fitted
        rejected.append((size, problem))
    from tfport.golden.input_inference import inputs_reaching

    refusal = rejected[0][1]
    blamed = inputs_reaching(function, tensors, refusal.node) if refusal.node else []
    raise _rejected(signature.key, synthesize_inputs(signature, synthesis, vocabulary, inferred), refusal, blamed)


def _sample_elements(signature, synthesis: SynthesisOptions, size: int) -> int:
    """Elements of one sample of every input, with unknown dims at `size`."""
    return sum(int(np.prod(concrete_shape(name, spec, synthesis.shapes, size)))
               for name, spec in signature.inputs.items() if spec.shape is not None)


def _rejected(key: str, inputs: dict, rejection: Rejection, blamed: list[str]) -> BadInputError:
    """A bad input naming the inputs that reach the op which refused them (all inputs when that op
    is not found) and the flags that fit each one."""
    from tfport.golden.reference import described_inputs

    where = f"node {rejection.node}, which reads " if blamed and rejection.node else ""
    fixes = [_fix(name, inputs[name]) for name in blamed] if blamed else \
        ["--int-range NAME=LO,HI", "--float-range NAME=LO,HI", "--shape NAME=…"]
    shown = {name: inputs[name] for name in blamed or inputs}
    return BadInputError(
        f"the SavedModel rejects the golden inputs of signature {key!r}: {rejection.reason} ({where}"
        f"{described_inputs(shown)}) — fit {'it' if len(shown) == 1 else 'them'} with "
        f"{', '.join(dict.fromkeys(fixes))} (or the same under "
        "[golden] in tfport.toml), or pass --inputs FILE.npz with real samples"
    )


def _fix(name: str, array) -> str:
    """The flag that sets what one input is synthesized from."""
    if array.dtype.kind == "f":
        return f"--float-range {name}=LO,HI"
    if array.dtype.kind == "S":
        return "--strings WORD,WORD,…"
    return f"--int-range {name}=LO,HI" if array.dtype.kind in "iu" else f"--shape {name}=…"


def reusable_golden(
    path: Path, model: SavedModelInfo, request: dict[str, Any]
) -> tuple[GoldenSet | None, str | None]:
    """(the golden set at `path`, None) if it was recorded from this model with this request and its
    files are those recorded; else (None, why not, when the reason is not simply other options)."""
    if not (path / MANIFEST).is_file():
        return None, None
    try:
        golden = read_golden(path)
    except BadInputError as exc:
        return None, str(exc)
    if "files" not in golden.manifest:
        return None, f"its {MANIFEST} records no file hashes to check the files against (an older tfport wrote it)"
    if golden.fingerprint != model.fingerprint or golden.manifest.get("request") != request:
        return None, None
    return golden, None
