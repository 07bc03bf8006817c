"""Golden sets: input samples and the outputs the SavedModel computed for them.

Layout of a golden set directory:
    manifest.json              fingerprint, versions, seed, signature specs, sample counts
    <signature>.inputs.npz     one array per input, samples stacked on a new leading axis
    <signature>.outputs.npz    the same for the reference outputs

Reading needs only numpy: a golden set replays without TensorFlow. Strings are stored as
fixed-width bytes arrays, so files load with allow_pickle=False. The manifest records each .npz
file's size and SHA-256 when written, so a changed file is never taken for the recorded one.
"""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from tfport import __version__, digests
from tfport.atomic import staged_directory
from tfport.errors import BadInputError
from tfport.golden.noise_floor import NoiseFloor
from tfport.savedmodel.reader import SavedModelInfo, Signature

T = TypeVar("T")
MANIFEST = "manifest.json"
FORMAT = "tfport-golden"
FORMAT_VERSION = 1


@dataclass
class GoldenSet:
    path: Path
    manifest: dict[str, Any]
    inputs: dict[str, dict[str, np.ndarray]]  # signature -> input name -> stacked samples
    outputs: dict[str, dict[str, np.ndarray]]  # signature -> output name -> stacked samples
    seconds: float | None = None  # how long recording took, when this run recorded it

    @property
    def fingerprint(self) -> str:
        return self.manifest["model"]["fingerprint"]

    @property
    def aliases(self) -> dict[str, str]:
        """Signature -> the signature it is the same function as, when their samples are shared."""
        return dict(self.manifest.get("aliases", {}))

    @property
    def signatures(self) -> dict[str, Signature]:
        return {key: Signature.from_json(key, spec) for key, spec in self.manifest["signatures"].items()}

    def noise_floor(self, signature: str, output: str) -> NoiseFloor | None:
        """How far the SavedModel's own output moves under float32-level input changes; None when not
        measured (an older tfport recorded the set, or no input of the signature is float32/64)."""
        entry = self.manifest.get("noise_floor", {}).get(signature, {}).get(output)
        return None if entry is None else NoiseFloor.from_json(entry)

    def untaken_branches(self, signature: str) -> dict[str, str]:
        """Output -> the conditionals whose sides no sample takes, that reach it (tfport.golden.coverage)."""
        found: dict[str, list[str]] = {}
        for entry in self.manifest.get("coverage", {}).get(self.aliases.get(signature, signature), []):
            for output in entry["outputs"]:
                found.setdefault(output, []).append(entry["untaken"])
        return {output: "; ".join(texts) for output, texts in found.items()}

    def sample_count(self, signature: str) -> int:
        return sample_count(self.inputs[signature])

    def feeds(self, signature: str) -> Iterator[dict[str, np.ndarray]]:
        return feeds(self.inputs[signature])

    def summary(self) -> dict[str, Any]:
        """What reports say about the golden set."""
        samples = {key: self.sample_count(key) for key in self.inputs}

        def shapes(arrays: Mapping[str, np.ndarray]) -> dict[str, dict[str, Any]]:
            return {name: {"dtype": str(a.dtype) if a.dtype.kind != "S" else "string", "shape": list(a.shape[1:])}
                    for name, a in arrays.items()}

        return {"path": str(self.path), "samples": max(samples.values(), default=0),
                "samples_per_signature": samples, "request": self.manifest.get("request"),
                "tensors": {key: {"inputs": shapes(self.inputs[key]), "outputs": shapes(self.outputs.get(key, {}))}
                            for key in self.inputs if key not in self.aliases}}

    def calibration(self) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
        """Every sample of every signature, as converters' calibration wants it."""
        for signature in self.inputs:
            for feed in self.feeds(signature):
                yield signature, feed

    def check_model(self, fingerprint: str, signatures: Mapping[str, Signature], what: str) -> None:
        """Refuse a golden set recorded from another model, or one that misses a signature."""
        if self.fingerprint != fingerprint:
            raise BadInputError(
                f"golden set {self.path} was recorded from another SavedModel "
                f"(fingerprint {self.fingerprint}, {what} has {fingerprint}) — record a new one "
                "with `tfport golden MODEL`"
            )
        for key, signature in signatures.items():
            if key not in self.inputs:
                raise BadInputError(f"golden set {self.path} has no samples for signature {key!r}")
            missing = set(signature.inputs) - set(self.inputs[key])
            if missing:
                raise BadInputError(
                    f"golden set {self.path}: signature {key!r} lacks input(s) {', '.join(sorted(missing))}"
                )


def sample_count(inputs: Mapping[str, np.ndarray]) -> int:
    """Samples of one signature, stacked on axis 0; a signature without inputs runs once."""
    return len(next(iter(inputs.values()))) if inputs else 1


def feeds(inputs: Mapping[str, np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
    """One feed per sample of one signature's stacked inputs."""
    for i in range(sample_count(inputs)):
        yield {name: array[i] for name, array in inputs.items()}


def once_per_function(
    keys: Iterable[str], aliases: Mapping[str, str], inputs: Mapping[str, Mapping[str, np.ndarray]],
    answer: Callable[[str], T],
) -> dict[str, T]:
    """`answer(key)` for each signature — except that a signature which is the same function as
    another (Keras exports `serve` and `serving_default`) and has the same samples takes that
    one's answer: the function runs once. Kept signatures go first."""
    answered: dict[str, T] = {}
    for key in sorted(keys, key=lambda k: k in aliases):
        kept = aliases.get(key)
        if kept in answered and _same_samples(inputs[key], inputs[kept]):
            answered[key] = answered[kept]
        else:
            answered[key] = answer(key)
    return answered


def _same_samples(first: Mapping[str, np.ndarray], second: Mapping[str, np.ndarray]) -> bool:
    return first.keys() == second.keys() and all(np.array_equal(first[n], second[n]) for n in first)


def signature_file(signature: str, kind: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", signature)
    return f"{safe}.{kind}.npz"


def read_golden(path: Path) -> GoldenSet:
    path = Path(path)
    manifest_file = path / MANIFEST
    if not manifest_file.is_file():
        raise BadInputError(
            f"no {MANIFEST} in {path} — pass a directory written by `tfport golden` "
            "(or leave out --golden to record one)"
        )
    manifest = _read_manifest(manifest_file)
    changed = digests.changed_files(path, manifest.get("files", {}), None, MANIFEST)
    if changed:
        raise BadInputError(f"golden set {path} is not the one recorded: {'; '.join(changed)} — record it again "
                            "with `tfport golden MODEL`")
    inputs, outputs = {}, {}
    for key, entry in manifest["signatures"].items():
        inputs[key] = _read_arrays(path / signature_file(key, "inputs"), entry.get("inputs", {}))
        outputs[key] = _read_arrays(path / signature_file(key, "outputs"), entry.get("outputs", {}))
        counts = {len(a) for a in [*inputs[key].values(), *outputs[key].values()]}
        if len(counts) > 1:
            raise BadInputError(f"golden set {path}: signature {key!r} has arrays with different sample counts")
    return GoldenSet(path=path, manifest=manifest, inputs=inputs, outputs=outputs)


def _read_manifest(manifest_file: Path) -> dict[str, Any]:
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{manifest_file} is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BadInputError(f"{manifest_file} is not a tfport golden-set manifest")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise BadInputError(f"{manifest_file} was written by a newer tfport — upgrade tfport")
    try:
        for key, spec in manifest["signatures"].items():
            Signature.from_json(key, spec)
        str(manifest["model"]["fingerprint"])
        for floors in manifest.get("noise_floor", {}).values():
            for floor in floors.values():
                NoiseFloor.from_json(floor)
        for name, recorded in manifest.get("files", {}).items():  # checked against the files, and read
            if Path(name).name != name or "\0" in name or not isinstance(recorded["sha256"], str) \
                    or not isinstance(recorded["size_bytes"], int):
                raise ValueError(f"files entry {name!r}")
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise BadInputError(f"{manifest_file} is incomplete or malformed ({exc!r})") from None
    return manifest


def _read_arrays(file: Path, expected: Mapping[str, Any]) -> dict[str, np.ndarray]:
    if not file.is_file():
        raise BadInputError(f"golden file missing: {file} — record the golden set again")
    arrays = load_npz(file)
    missing = set(expected) - set(arrays)
    if missing:
        raise BadInputError(
            f"golden file {file} lacks {', '.join(sorted(missing))} — record the golden set again"
        )
    return {name: arrays[name] for name in expected}


def load_npz(file: Path) -> dict[str, np.ndarray]:
    """Load every array of an .npz, never unpickling objects."""
    try:
        with np.load(file, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise BadInputError(f"cannot read {file} as .npz of plain arrays: {exc}") from None


def _storable(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Arrays as .npz holds them without pickling: TensorFlow returns strings as object arrays of
    bytes, which become fixed-width bytes, as string inputs are stored."""
    return {name: array.astype(bytes) if array.dtype.kind == "O" else array for name, array in arrays.items()}


def write_golden(
    path: Path,
    model: SavedModelInfo,
    inputs: Mapping[str, Mapping[str, np.ndarray]],
    outputs: Mapping[str, Mapping[str, np.ndarray]],
    provenance: Mapping[str, Any],
) -> GoldenSet:
    """Write a golden set atomically: a reader never sees a half-written one."""
    signatures = {}
    for key, signature in model.signatures.items():
        spec = signature.to_json()
        spec["samples"] = sample_count(inputs[key])
        signatures[key] = spec
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": {
            "name": model.name,
            "path": str(model.path),
            "fingerprint": model.fingerprint,
            "fingerprint_source": model.fingerprint_source,
        },
        "versions": {"tfport": __version__, **provenance.get("versions", {})},
        **{k: v for k, v in provenance.items() if k != "versions"},
        "signatures": signatures,
    }
    with staged_directory(path) as staging:
        for key in model.signatures:
            np.savez(staging / signature_file(key, "inputs"), **_storable(inputs[key]))
            np.savez(staging / signature_file(key, "outputs"), **_storable(outputs[key]))
        manifest["files"] = digests.file_table(staging, staging)
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return read_golden(path)
