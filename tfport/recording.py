"""Golden sets made from a SavedModel: inputs from the user or synthesized, outputs from TensorFlow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfport.cache import file_digest
from tfport.errors import BadInputError
from tfport.golden import MANIFEST, GoldenSet, read_golden
from tfport.savedmodel import SavedModelInfo
from tfport.synthesis import SynthesisOptions, inputs_from_file, model_vocabulary, synthesize_inputs


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
        }
    return request


def make_golden(
    model: SavedModelInfo, path: Path, synthesis: SynthesisOptions, inputs_file: Path | None, runner=None
) -> GoldenSet:
    """Record a golden set at `path` (TensorFlow runs the SavedModel once per sample)."""
    from tfport.reference import record_golden

    if inputs_file is not None:
        inputs = inputs_from_file(inputs_file, model.signatures)
    else:
        vocabulary = model_vocabulary(model.path)
        inputs = {key: synthesize_inputs(sig, synthesis, vocabulary) for key, sig in model.signatures.items()
                  if key not in model.aliases}
        # An alias is the same function: its samples are the kept signature's, so every runtime
        # answers them once (tfport.replay reuses the results).
        inputs |= {alias: inputs[kept] for alias, kept in model.aliases.items()}
    provenance = {"request": golden_request(synthesis, inputs_file),
                  "inputs": str(inputs_file) if inputs_file else "synthesized"}
    return record_golden(path, model, inputs, provenance, runner)


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
