"""The main job: golden set -> convert -> run on the real runtime -> parity -> reports.

Every step calls targets only through `tfport.plugin.Target`, so adding a target changes
nothing here.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from tfport import __version__, digests
from tfport.atomic import claim_directory, exclusive, remove_leftovers, staged_directory
from tfport.errors import CannotCheckHere, ConversionError, TfportError
from tfport.golden.golden_set import MANIFEST, GoldenSet, feeds, read_golden
from tfport.golden.recording import golden_request, make_golden, reusable_golden
from tfport.golden.synthesis import SynthesisOptions, inputs_from_file
from tfport.logfile import file_logger, log_path, native_stderr_to_log
from tfport.parity.metrics import FAIL
from tfport.parity.run import output_tolerance, timed_parity
from tfport.parity.tolerance import TolerancePolicy
from tfport.pipeline import budget, cache, interrupt
from tfport.pipeline.explain import explain as explain_divergence
from tfport.pipeline.progress import Stage, no_stage
from tfport.pipeline.record import ArtifactRecord, describe_artifact
from tfport.pipeline.warm_ups import WarmUps
from tfport.plugin import ArtifactMetadata, ConversionRequest
from tfport.registry import (
    check_mode,
    check_options_known,
    get_target,
    require_runtime,
    run_options,
    target_options_for,
)
from tfport.reports.report import ArtifactResult, Report
from tfport.savedmodel.reader import SavedModelInfo, inspect_saved_model, require_signatures
from tfport.savedmodel.revival import revival_notes
from tfport.savedmodel.scan import refuse_untrusted
from tfport.savedmodel.shared_load import one_load_per_model


@dataclass
class ConvertJob:
    model_path: Path
    targets: list[tuple[str, str]]  # (target name, quantization mode)
    policy: TolerancePolicy
    out_dir: Path | None = None
    golden_dir: Path | None = None
    inputs_file: Path | None = None
    calibration_file: Path | None = None
    synthesis: SynthesisOptions = field(default_factory=SynthesisOptions)
    target_options: dict[str, Any] = field(default_factory=dict)
    trust: bool = False  # load the model even if `tfport scan` finds ops reaching outside it
    force: bool = False  # convert again even when the cache holds an identical artifact
    jobs: int = 1  # artifacts converted and checked at once
    explain: bool = False  # for each artifact failing parity, where it starts to diverge (tfport.pipeline.explain)
    budget: dict[str, float] = field(default_factory=dict)  # int8 ops kept in float until met (tfport.pipeline.budget)


def default_out_dir(model: SavedModelInfo) -> Path:
    return Path("dist") / model.name


def convert(
    job: ConvertJob, stage: Stage = no_stage, finish: Callable[[Report, Path], None] | None = None,
) -> tuple[Report, Path]:
    """Convert to each requested (target, mode), prove each artifact, write reports to the out dir;
    then `finish(report, out_dir)` (e.g. a release manifest), still holding the out dir's lock."""
    requested = [(get_target(name), mode) for name, mode in job.targets]
    for target, mode in requested:
        check_mode(target, mode)
    check_options_known([target for target, _ in requested], job.target_options)
    stage("model", "inspecting the SavedModel")
    model = model_to_load(job.model_path, job.trust)
    out_dir = Path(job.out_dir) if job.out_dir else default_out_dir(model)
    claim_directory(out_dir)
    with exclusive(out_dir, lambda text: stage("out dir", text)), one_load_per_model():
        remove_leftovers(out_dir)
        report = _convert_into(job, requested, model, out_dir, stage)
        if finish is not None:
            finish(report, out_dir)
    return report, out_dir


def model_to_load(path: Path, trust: bool) -> SavedModelInfo:
    """Describe a model that `convert` or `golden` will load, refusing up front — before TensorFlow
    runs it and before anything is written — one that cannot be ported or that reaches outside itself."""
    model = inspect_saved_model(path)
    require_signatures(model)
    refuse_untrusted(model.path, trust)
    return model


def _convert_into(job: ConvertJob, requested, model: SavedModelInfo, out_dir: Path, stage: Stage) -> Report:
    """The golden set is recorded in a thread of its own while the artifacts convert: a conversion
    waits for it only to calibrate (Target.calibrated_modes, --budget) and, after, for parity.
    Targets that convert in another process (Target.warm_up) go first, so that process works
    while this one records, and has ended (TF.js's holds 1.1 GB) before the in-process converters
    reach their peak memory."""
    notes = [f"using version {model.version} of {job.model_path}"] if model.version is not None else []
    at_hand, golden_note = _golden_at_hand(job, model, out_dir)
    order = sorted(range(len(requested)), key=lambda i: requested[i][0].warm_up is None)
    with WarmUps() as warm, ThreadPoolExecutor(1, thread_name_prefix="tfport-golden") as recorder, \
            ThreadPoolExecutor(job.jobs, thread_name_prefix="tfport") as pool:
        golden = _done(at_hand) if at_hand is not None else None
        _warm_up(warm, requested, model, golden, job)
        if golden is None:
            golden = recorder.submit(_record_golden, job, model, out_dir, stage)
        made = {i: pool.submit(_convert_one, *requested[i], model, golden, job, out_dir, stage,
                               warm.conversion(requested[i][0].name)) for i in order}
        try:
            golden_set = golden.result()  # its failure (a bad input) is the run's, not each artifact's
        except BaseException:
            for future in made.values():
                future.cancel()
            raise
        results = [result for i in range(len(requested)) for result in made[i].result()]
    return _report(job, model, golden_set, results, [*notes, golden_note], out_dir, stage)


def _done(golden: GoldenSet) -> Future:
    done: Future = Future()
    done.set_result(golden)
    return done


def _record_golden(job: ConvertJob, model: SavedModelInfo, out_dir: Path, stage: Stage) -> GoldenSet:
    stage("golden", "recording outputs of the SavedModel")
    started = time.perf_counter()
    with native_stderr_to_log():
        golden = make_golden(model, out_dir / "golden", job.synthesis, job.inputs_file)
    golden.seconds = round(time.perf_counter() - started, 3)
    return golden


def _report(job: ConvertJob, model: SavedModelInfo, golden: GoldenSet, results: list[ArtifactResult],
            notes: list[str], out_dir: Path, stage: Stage) -> Report:
    notes += [f"golden input {name}: {why}" for name, why in golden.manifest.get("inferred", {}).items()]
    if job.calibration_file is not None:
        notes += calibration_coverage(inputs_from_file(job.calibration_file, model.signatures), golden.inputs)
    report = Report(model=_model_summary(model), golden=golden.summary())
    if golden.seconds is not None:  # recorded by this run (with TensorFlow's import, when it came first)
        report.golden["seconds"] = golden.seconds
    report.versions = dict(golden.manifest.get("versions", {}))
    notes += revival_notes(model.path)  # known once the golden recording or a converter loaded the model
    for result in results:
        result.notes[:0] = notes
        stage(result.name, result.verdict)
        if job.explain and result.verdict == FAIL:
            stage(result.name, "running both op by op (--explain)")
            _explain(result, model, golden, job, out_dir)
    report.results = results
    stage("reports", "writing reports")
    from tfport.reports.write import write_reports

    write_reports(report, out_dir)
    return report


def _golden_at_hand(job: ConvertJob, model: SavedModelInfo, out_dir: Path) -> tuple[GoldenSet | None, str]:
    """The golden set given (--golden) or recorded before in the out dir for the same model and
    options, with a note on it; or None and the note for the one about to be recorded."""
    if job.golden_dir is not None:
        golden = read_golden(job.golden_dir)
        golden.check_model(model.fingerprint, model.signatures, f"SavedModel {model.path}")
        return golden, f"golden set {job.golden_dir}"
    path = out_dir / "golden"
    request = golden_request(job.synthesis, job.inputs_file)
    reused, refused = (None, None) if job.force else reusable_golden(path, model, request)
    if reused is not None:
        return reused, f"reused the golden set in {path} (same model and options, files as recorded)"
    why = f" again (the one there was not reused: {refused})" if refused else ""
    return None, f"recorded a golden set in {path}{why}"


def _warm_up(warm: WarmUps, requested, model: SavedModelInfo, golden: Future | None, job: ConvertJob) -> None:
    """Start each target's warm-up (Target.warm_up) that a conversion of this run will use."""
    for name, target in {target.name: target for target, _ in requested if target.warm_up}.items():
        modes = [mode for same, mode in requested if same.name == name]
        if any(_will_convert(target, mode, model, golden, job) for mode in modes):
            warm.start(target, len(modes))


def _will_convert(target, mode: str, model: SavedModelInfo, golden: Future | None, job: ConvertJob) -> bool:
    """Whether the artifact is not in the cache; assumed so while the golden set its key needs is
    still to be recorded (`golden` None)."""
    if job.force or (golden is None and _needs_golden(target, mode, job)):
        return True
    return not cache.holds(_artifact_key(target, mode, model, golden, job))


def _calibration(job: ConvertJob, model: SavedModelInfo, golden: Future, target, mode: str) -> Callable[[], Iterator]:
    """The samples a calibrated mode reads: --calibration's, else the golden inputs. Another mode
    gets none: it converts before the golden set exists (Target.calibrated_modes)."""
    if not _needs_golden(target, mode, job):
        def refused() -> Iterator:
            raise ConversionError(f"target {target.name} read calibration samples in mode {mode}, which is not "
                                  "among its calibrated_modes — a bug in the target plugin")
        return refused
    if job.calibration_file is None:
        return lambda: golden.result().calibration()
    samples = inputs_from_file(job.calibration_file, model.signatures)

    def calibration() -> Iterator:
        for key, inputs in samples.items():
            for feed in feeds(inputs):
                yield key, feed

    return calibration


def _needs_golden(target, mode: str, job: ConvertJob) -> bool:
    """Does converting read the golden set: to calibrate, or to search a --budget with parity?"""
    return mode in target.calibrated_modes or _searches_budget(target, mode, job)


def calibration_coverage(calibration: Mapping[str, Mapping[str, np.ndarray]],
                         golden: Mapping[str, Mapping[str, np.ndarray]], margin: float = 0.1) -> list[str]:
    """A warning per float input whose golden values reach beyond what calibration saw (by more than
    `margin` of the calibrated span): int8 clips activations to the calibrated ranges, a common cause
    of int8 collapse."""
    warnings = []
    for key, inputs in calibration.items():
        for name, seen in inputs.items():
            reached = golden.get(key, {}).get(name)
            if reached is None or np.asarray(seen).dtype.kind != "f" or not np.size(seen) or not np.size(reached):
                continue
            low, high = float(np.min(seen)), float(np.max(seen))
            span = (high - low) or abs(high) or 1.0
            if np.min(reached) < low - margin * span or np.max(reached) > high + margin * span:
                warnings.append(f"calibration covers {key}/{name} in [{low:.4g}, {high:.4g}], but the golden inputs "
                                f"reach [{float(np.min(reached)):.4g}, {float(np.max(reached)):.4g}]: int8 clips what "
                                "calibration never saw — add such samples to --calibration")
    return warnings


def _convert_one(target, mode: str, model: SavedModelInfo, golden: Future, job: ConvertJob, out_dir: Path,
                 stage: Stage, converted: Callable[[], None]) -> list[ArtifactResult]:
    """The artifact of one (target, mode), made or restored from the cache, and its verdict on each
    of the target's parity runs (Target.parity_runs): one result per run, the same artifact.
    `converted()` is called once the artifact is there (or failed), before parity."""
    made = ArtifactResult(target=target.name, quantization=mode)
    final = out_dir / made.label
    options = target_options_for(target, job.target_options)
    results = [made]
    try:
        key = _artifact_key(target, mode, model, golden, job)
        target.check_options(options)  # a typo or an unavailable provider, before converting
        runs = target.parity_runs(options)
        with native_stderr_to_log(), staged_directory(final) as staging:
            restored, discarded = (False, None) if job.force else cache.restore(key, staging)
            made.notes += [discarded] if discarded else []
            if restored:
                record = ArtifactRecord.read(staging)
                made.notes += [*record.notes, "reused the cached artifact (same SavedModel, options and tool "
                                              "versions; every file's SHA-256 as recorded)"]
            else:
                stage(made.label, "converting and validating" + (" until --budget holds" if
                                                                 _searches_budget(target, mode, job) else ""))
                record = _convert_fresh(target, mode, model, _calibration(job, model, golden, target, mode), options,
                                        staging, made, job, golden)
                interrupt.check()  # before anything is stored or moved into place
                cache.store(key, staging)
            converted()
            made.metadata = record.metadata
            require_runtime(target)
            results = [_prove_on(replace(made, runtime=name, notes=list(made.notes), seconds=dict(made.seconds)),
                                 run_options, target, staging / record.artifact, model, golden.result(), job, stage)
                       for name, run_options in runs]
        for result in results:
            describe_artifact(result, final / record.artifact, out_dir)
    except Exception as exc:  # a converter or runtime crash is this artifact's failure only
        for result in results:
            _record_error(result, exc)
    finally:
        converted()
    return results


def _artifact_key(target, mode: str, model: SavedModelInfo, golden: Future | None, job: ConvertJob) -> str:
    """An artifact is a function of the model, the target with its options and tool versions, and
    what calibrated it (the golden set when the mode reads it — waiting for it then —, or
    --calibration; a --budget)."""
    needs_golden = _needs_golden(target, mode, job)
    return cache.artifact_key({
        "model": model.fingerprint, "target": target.name, "mode": mode,
        "options": target_options_for(target, job.target_options),
        "golden": digests.file_digest(golden.result().path / MANIFEST) if needs_golden else None,
        "versions": cache.package_versions(target.packages),
        "calibration": digests.file_digest(job.calibration_file) if job.calibration_file else None,
        "budget": job.budget if _searches_budget(target, mode, job) else None,
    })


def _prove_on(result: ArtifactResult, options, target, artifact: Path, model, golden, job, stage) -> ArtifactResult:
    """Parity of the artifact on one runtime (its runner `options`), from the parity cache when the
    same bytes were proven there before."""
    parity_key = _parity_key(artifact.parent, target, result.quantization, options, golden, job.policy)
    cached = None if job.force else cache.load_parity(parity_key)
    if cached is not None:
        result.outputs, runtime_notes = cached
        runtime_notes.append("reused the parity results (same artifact bytes, golden set, tolerances and runtime)")
        result.notes += runtime_notes
        return result
    stage(result.name, "parity on the runtime")
    try:
        result.outputs, runtime_notes = timed_parity(target, result.quantization, artifact, result.metadata, options,
                                                     golden, model.signatures, job.policy, result.seconds)
    except CannotCheckHere as exc:  # the artifact is kept: a runtime elsewhere may run it
        result.unchecked = str(exc)
    except Exception as exc:  # the runtime failed on a whole artifact: kept, sized and hashed
        _record_error(result, exc)
    else:
        interrupt.check()
        cache.store_parity(parity_key, f"{model.name} {result.name}", result.outputs, runtime_notes)
        result.notes += runtime_notes
    return result


def _record_error(result: ArtifactResult, exc: Exception) -> None:
    """The error as the verdict of this artifact: tfport's own message, or a crash with where its
    traceback went."""
    if isinstance(exc, TfportError):
        result.error, result.error_exit_code = str(exc), exc.exit_code
        return
    file_logger().error("%s failed:\n%s", result.name, traceback.format_exc())
    result.error = f"{type(exc).__name__}: {exc} (traceback in {log_path()})"


def _explain(result: ArtifactResult, model: SavedModelInfo, golden: GoldenSet, job: ConvertJob, out_dir: Path) -> None:
    """Where a failing artifact diverges, into its result; an artifact that cannot say is noted."""
    target = get_target(result.target)
    try:
        options = run_options(target, target_options_for(target, job.target_options), result.runtime)
        result.explanations = explain_divergence(target, result.quantization, out_dir / result.artifact,
                                                 result.metadata, options, golden, model.path, model.tags, job.policy)
    except TfportError as exc:
        result.notes.append(f"--explain: {exc}")


def _parity_key(artifact_dir: Path, target, mode: str, options, golden: GoldenSet, policy) -> str:
    """Parity is a function of the artifact's bytes (never of how it was made: a changed byte must
    not inherit a verdict), the golden set's files, the tolerances and the runtime with its options."""
    tolerances = {f"{signature}/{output}": output_tolerance(target, mode, golden, policy, signature, output)[0].to_json()
                  for signature, outputs in golden.outputs.items() for output in outputs}
    return cache.artifact_key({"artifact": digests.content_digest(artifact_dir),
                               "golden": digests.file_table(golden.path, golden.path), "tolerances": tolerances,
                               "target": target.name, "runtime": cache.package_versions(target.packages),
                               "options": options})


def _searches_budget(target, mode: str, job: ConvertJob) -> bool:
    """--budget applies to int8 on targets that can leave ops in float (the keep_float option)."""
    return bool(job.budget) and mode == "int8" and "keep_float" in target.options


def _convert_fresh(target, mode, model, calibration, options, staging, result, job, golden) -> ArtifactRecord:
    started = time.perf_counter()
    request = ConversionRequest(model, mode, staging, calibration, options)
    if _searches_budget(target, mode, job):
        converted, _ = budget.search(target, mode, request, golden.result(), job.policy, job.budget, model.path,
                                     model.tags)
    else:
        converted = target.convert(request)
        if job.budget and mode == "int8":
            converted.notes.append(f"--budget: {target.name} cannot leave ops in float; this is plain int8")
    result.seconds["convert"] = round(time.perf_counter() - started, 3)
    if not isinstance(converted.metadata, ArtifactMetadata):
        raise ConversionError(f"target {target.name} returned {type(converted.metadata).__name__} metadata, not "
                              "tfport.plugin.ArtifactMetadata — a bug in the target plugin")
    converted.metadata.check(target.name, list(model.signatures))
    result.notes += converted.notes
    record = ArtifactRecord(target=target.name, quantization=mode, artifact=converted.artifact.name,
                            tfport=__version__, model={"name": model.name, "fingerprint": model.fingerprint},
                            metadata=converted.metadata, notes=converted.notes)
    record.write(staging)
    return record


def _model_summary(model: SavedModelInfo) -> dict[str, Any]:
    return {"name": model.name, "path": str(model.path), "version": model.version,
            "fingerprint": model.fingerprint, "fingerprint_source": model.fingerprint_source}
