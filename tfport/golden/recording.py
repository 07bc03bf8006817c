"""Golden sets made from a SavedModel: inputs from the user or synthesized, outputs from TensorFlow."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tfport.errors import BadInputError
from tfport.golden.golden_set import MANIFEST, GoldenSet, read_golden
from tfport.golden.synthesis import SynthesisOptions, inputs_from_file, model_vocabulary, synthesize_inputs
from tfport.pipeline.cache import file_digest
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
    else:
        inputs, inferred = _synthesized(model, synthesis, runner)
        # An alias is the same function: its samples are the kept signature's, so every runtime
        # answers them once (tfport.parity.run reuses the results).
        inputs |= {alias: inputs[kept] for alias, kept in model.aliases.items()}
    provenance = {"request": golden_request(synthesis, inputs_file),
                  "inputs": str(inputs_file) if inputs_file else "synthesized", "inferred": inferred}
    return record_golden(path, model, inputs, provenance, runner)


RETRY_DIMS = (16, 32, 64, 128, 224)  # unknown spatial or sequence dims tried when the default is too small


def _synthesized(model: SavedModelInfo, synthesis: SynthesisOptions, runner) -> tuple[dict, dict[str, str]]:
    """Inputs of each kept signature, and what was inferred about them ("signature/input" -> why)."""
    from tfport.golden.input_inference import infer_inputs
    from tfport.savedmodel.signature_tensors import function_tensors

    vocabulary = model_vocabulary(model.path)
    inputs, told = {}, {}
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
        inputs[key], size_note = _fitting_size(runner, signature, synthesis, vocabulary, inferred, function, tensors)
        if size_note:
            told[f"{key}/*"] = size_note
    return inputs, told


def _fitting_size(runner, signature, synthesis: SynthesisOptions, vocabulary, inferred, function,
                  tensors: dict[str, str]) -> tuple[dict, str | None]:
    """Synthesized inputs whose first sample the model runs: unknown dims at the default size, else
    at the first of RETRY_DIMS that runs (a conv net's receptive field can exceed 8 pixels). Inputs
    it rejects at every size are a bad input, never an internal error."""
    free = [name for name, spec in signature.inputs.items() if name not in synthesis.shapes
            and spec.shape is not None and any(d is None for d in spec.shape[1:])]
    sizes = (synthesis.default_dim, *(d for d in RETRY_DIMS if d > synthesis.default_dim)) if free else ()
    rejected: list[tuple[int, Rejection]] = []  # (size, why the model refused it)
    for size in sizes or (synthesis.default_dim,):
        inputs = synthesize_inputs(signature, replace(synthesis, default_dim=size), vocabulary, inferred)
        problem = runner.rejection(signature.key, {name: array[0] for name, array in inputs.items()})
        if problem is None:
            return inputs, (f"unknown dims of {', '.join(free)} set to {size}: the model rejects "
                            f"{', '.join(str(s) for s, _ in rejected)} ({rejected[0][1].reason})") if rejected else None
        rejected.append((size, problem))
    from tfport.golden.input_inference import inputs_reaching

    refusal = rejected[0][1]
    blamed = inputs_reaching(function, tensors, refusal.node) if refusal.node else []
    raise _rejected(signature.key, synthesize_inputs(signature, synthesis, vocabulary, inferred), refusal, blamed)


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
