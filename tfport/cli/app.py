"""The `tfport` command: thin wrappers around library calls. TensorFlow loads only in commands."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from inspect import signature as signature_of
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from tfport import __version__
from tfport.errors import EXIT_BAD_INPUT, EXIT_CONVERSION_FAILED, BadInputError, TfportError

app = typer.Typer(
    name="tfport",
    help="Port a TensorFlow SavedModel to TFLite, ONNX and TF.js — and prove each port with parity tests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Logs of CI jobs are not terminals; 80 columns would fold every table there.
console = Console(width=None if sys.stdout.isatty() else 120)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 120)
state = {"debug": False}

ModelArg = Annotated[Path, typer.Argument(help="SavedModel directory (or a TF-Serving base with numbered versions).")]
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="tfport.toml or pyproject.toml with tolerances and golden settings.")]
AtolOpt = Annotated[Optional[float], typer.Option("--atol", help="Absolute tolerance, every output.")]
RtolOpt = Annotated[Optional[float], typer.Option("--rtol", help="Relative tolerance, every output.")]
CosineOpt = Annotated[Optional[float], typer.Option("--min-cosine", help="Minimum cosine similarity.")]
SnrOpt = Annotated[Optional[float], typer.Option("--min-snr-db", help="Minimum signal-to-noise ratio (dB).")]
Top1Opt = Annotated[Optional[float], typer.Option("--min-top1", help="Minimum top-1 agreement (class scores).")]
SamplesOpt = Annotated[int, typer.Option("--samples", min=1, help="Synthesized samples per signature.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed for synthesized inputs.")]
InputsOpt = Annotated[Optional[Path], typer.Option("--inputs", help=".npz of inputs keyed NAME or SIGNATURE/NAME.")]
ShapeOpt = Annotated[Optional[list[str]], typer.Option("--shape", help="Shape for unknown dims: NAME=1,224,224,3.")]
IntRangeOpt = Annotated[Optional[list[str]], typer.Option(
    "--int-range", help="Range [low,high) of synthesized integers: LO,HI for all, NAME=LO,HI for one input.")]
FloatRangeOpt = Annotated[Optional[list[str]], typer.Option(
    "--float-range", help="Range [low,high) of synthesized floats: LO,HI for all, NAME=LO,HI for one input.")]
StringsOpt = Annotated[Optional[str], typer.Option("--strings", help="Comma-separated words for string inputs.")]
TrustOpt = Annotated[bool, typer.Option("--trust", help="Load the model even if `tfport scan` flags ops.")]


def _print_version(asked: bool) -> None:
    """Eager: runs while the options are parsed, so `tfport --version` needs no command."""
    if asked:
        console.print(f"tfport {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True,
                                          callback=_print_version)] = False,
) -> None:
    state["debug"] = debug


@contextlib.contextmanager
def _stage_display(quiet: bool = False) -> Iterator[Callable[[str, str], None]]:
    """One spinner line per task (the model, the golden set, each artifact) naming its stage."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    if quiet or not console.is_terminal:
        yield lambda _task, _text: None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        tasks: dict[str, Any] = {}

        def stage(task: str, text: str) -> None:
            finished = text in {"pass", "fail", "error"}
            description = f"[bold]{task}[/]: {text}"
            if task not in tasks:
                tasks[task] = progress.add_task(description, total=1)
            progress.update(tasks[task], description=description, completed=1 if finished else 0)

        yield stage


def _fail(exc: BaseException) -> None:
    """Print one line that names the problem and exit; tracebacks only with --debug."""
    if state["debug"]:
        traceback.print_exception(exc)
    if isinstance(exc, TfportError):
        errors.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code)
    from tfport.logfile import log_path

    with open(log_path(), "a", encoding="utf-8") as log:
        traceback.print_exception(exc, file=log)
    errors.print(f"[bold red]internal error:[/] {type(exc).__name__}: {escape(str(exc))} — traceback in {log_path()}, "
                 "or run again with --debug", highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_CONVERSION_FAILED)


@contextlib.contextmanager
def _errors_for_people() -> Iterator[None]:
    try:
        yield
    except (typer.Exit, KeyboardInterrupt):
        raise
    except Exception as exc:  # every other error is turned into one readable line
        _fail(exc)


def _parse_shapes(values: list[str] | None) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for value in values or []:
        name, _, dims = value.partition("=")
        try:
            shapes[name] = tuple(int(d) for d in dims.split(",") if d.strip())
        except ValueError:
            raise BadInputError(f"--shape {value!r}: write NAME=d0,d1,... with whole numbers") from None
        if not name or not dims:
            raise BadInputError(f"--shape {value!r}: write NAME=d0,d1,...")
    return shapes


def _synthesis(samples: int, seed: int, shape: list[str] | None, int_range: list[str] | None,
               float_range: list[str] | None, strings: str | None, config: Path | None = None):
    """--int-range / --float-range take LO,HI for every input of that kind, or NAME=LO,HI for one;
    `[golden]` in tfport.toml (or `[tool.tfport.golden]`) gives the same, and the flags win."""
    from tfport.config import read_section
    from tfport.golden.synthesis import SynthesisOptions

    settings, origin = read_section("golden", config)
    ints, int_ranges = _ranges("--int-range", [*_setting_values(settings, "int_range", origin), *(int_range or [])], int)
    floats, float_ranges = _ranges("--float-range", [*_setting_values(settings, "float_range", origin),
                                                     *(float_range or [])], float)
    shapes = {name: tuple(dims) for name, dims in settings.get("shapes", {}).items()} | _parse_shapes(shape)
    words = [w for w in (strings or "").split(",") if w] or [str(w) for w in settings.get("strings", [])]
    return SynthesisOptions(samples=samples, seed=seed, shapes=shapes, int_range=ints or (0, 10),
                            float_range=floats or (0.0, 1.0), ranges={**float_ranges, **int_ranges}, strings=words)


def _setting_values(settings: dict, key: str, origin: str) -> list[str]:
    """`int_range = [0, 100]` and `[golden.int_range] token_type_ids = [0, 2]` as the flags' LO,HI / NAME=LO,HI."""
    value = settings.get(key)
    if value is None:
        return []
    try:
        if isinstance(value, dict):
            return [f"{name}={low},{high}" for name, (low, high) in value.items()]
        low, high = value
    except (TypeError, ValueError):
        raise BadInputError(f"{origin}: golden `{key}` must be [LOW, HIGH] or a table of NAME = [LOW, HIGH]") from None
    return [f"{low},{high}"]


def _ranges(flag: str, values: list[str] | None, kind: type) -> tuple[tuple | None, dict[str, tuple]]:
    """(the global LO,HI if given, {NAME: (LO, HI)})."""
    overall, named = None, {}
    for value in values or []:
        name, _, bounds = value.rpartition("=")
        try:
            low, high = (kind(v) for v in bounds.split(","))
        except ValueError:
            raise BadInputError(f"{flag} {value!r}: write LOW,HIGH or NAME=LOW,HIGH, e.g. 0,10") from None
        if high <= low:
            raise BadInputError(f"{flag} {value!r}: HIGH must be above LOW")
        if name:
            named[name] = (low, high)
        else:
            overall = (low, high)
    return overall, named


def _policy(config: Path | None, **cli: float | None):
    from tfport.parity.tolerance import load_policy

    return load_policy(config, cli={k: v for k, v in cli.items()})


@app.command()
def inspect(model: ModelArg, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show a SavedModel's tags, signatures, variables, assets and fingerprint."""
    with _errors_for_people():
        from tfport.savedmodel.reader import inspect_saved_model

        info = inspect_saved_model(model)
        if as_json:
            print(json.dumps(info.to_json(), indent=2))
            return
        from tfport.cli.show import print_model

        print_model(info, console)


@app.command()
def scan(model: ModelArg, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List ops that touch files, the network or processes, without loading the model. Exit 1 if any."""
    with _errors_for_people():
        from dataclasses import asdict

        from tfport.savedmodel.scan import scan_saved_model

        findings = scan_saved_model(model)
        if as_json:
            print(json.dumps([asdict(f) for f in findings], indent=2))
        elif findings:
            for finding in findings:
                console.print(f"[yellow]{finding.category}[/] {escape(finding.describe())}", highlight=False)
        else:
            console.print("no ops that reach outside the model")
        raise typer.Exit(1 if findings else 0)


@app.command()
def golden(
    model: ModelArg,
    inputs: InputsOpt = None,
    samples: SamplesOpt = 32,
    seed: SeedOpt = 0,
    shape: ShapeOpt = None,
    int_range: IntRangeOpt = None,
    float_range: FloatRangeOpt = None,
    strings: StringsOpt = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Directory to write (default golden/<model>).")] = None,
    trust: TrustOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Record a golden set: input samples and the outputs the SavedModel computes for them."""
    with _errors_for_people():
        from tfport.golden.recording import make_golden
        from tfport.logfile import native_stderr_to_log
        from tfport.pipeline.convert import model_to_load

        options = _synthesis(samples, seed, shape, int_range, float_range, strings, config)
        info = model_to_load(model, trust)
        with _stage_display() as stage, native_stderr_to_log():
            stage("golden", "recording outputs of the SavedModel")
            golden_set = make_golden(info, out or Path("golden") / info.name, options, inputs)
        counts = ", ".join(f"{k}: {golden_set.sample_count(k)}" for k in golden_set.inputs)
        console.print(f"golden set written to [bold]{golden_set.path}[/] (samples per signature — {counts})")


TARGET_OPTIONS = {"allow_extra_args": True, "ignore_unknown_options": True}


@app.command(context_settings=TARGET_OPTIONS)
def convert(
    context: typer.Context,
    model: ModelArg,
    to: Annotated[str, typer.Option("--to", help="Targets: tflite, onnx,tflite or all (`tfport targets`).")] = "tflite",
    quantize: Annotated[Optional[str], typer.Option("--quantize", help="Quantization modes, e.g. int8 or fp16,int8.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output directory (default dist/<model>).")] = None,
    golden_dir: Annotated[Optional[Path], typer.Option("--golden", help="Golden set to check against.")] = None,
    calibration: Annotated[Optional[Path], typer.Option("--calibration", help=".npz of calibration inputs.")] = None,
    inputs: InputsOpt = None,
    samples: SamplesOpt = 32,
    seed: SeedOpt = 0,
    shape: ShapeOpt = None,
    int_range: IntRangeOpt = None,
    float_range: FloatRangeOpt = None,
    strings: StringsOpt = None,
    trust: TrustOpt = False,
    force: Annotated[bool, typer.Option("--force", help="Convert and record again, ignoring caches.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Artifacts converted and checked at once.")] = 1,
    explain: Annotated[bool, typer.Option("--explain", help="For each artifact failing parity: the first op "
                                          "whose value diverges (as `tfport explain`).")] = False,
    budget: Annotated[Optional[str], typer.Option("--budget", help="int8: keep the fewest ops in float that meet "
                                                  "METRIC=VALUE[,…] (snr_db, cosine, top1).")] = None,
    config: ConfigOpt = None,
    atol: AtolOpt = None,
    rtol: RtolOpt = None,
    min_cosine: CosineOpt = None,
    min_snr_db: SnrOpt = None,
    min_top1: Top1Opt = None,
    release: Annotated[bool, typer.Option("--release", help="Write a release directory (as `tfport release`).")] = False,
    allow_failed: Annotated[bool, typer.Option("--allow-failed", help="Release artifacts that failed parity too, marked.")] = False,
    sign: Annotated[Optional[Path], typer.Option("--sign", help="Sign the release's manifest.json with this SSH key "
                                                 "(ssh-keygen -Y sign, namespace tfport-release).")] = None,
) -> None:
    """Convert, run the artifact on its runtime, compare with the SavedModel, write reports.

    Target-specific options (`tfport targets` lists them) follow as --name value, e.g. --int8-io.
    """
    with _errors_for_people():
        from tfport.pipeline.budget import parse_budget
        from tfport.pipeline.convert import ConvertJob
        from tfport.pipeline.convert import convert as run_convert
        from tfport.registry import parse_option_args, plan
        from tfport.release.make import make_release
        from tfport.reports.terminal import print_report

        if allow_failed and not release:
            raise BadInputError("--allow-failed only applies to releases: add --release or use `tfport release`")
        if sign is not None and not release:
            raise BadInputError("--sign only applies to releases: add --release or use `tfport release`")

        job = ConvertJob(
            model_path=model, targets=plan(to, quantize),
            policy=_policy(config, atol=atol, rtol=rtol, min_cosine=min_cosine,
                           min_snr_db=min_snr_db, min_top1=min_top1),
            out_dir=out, golden_dir=golden_dir, inputs_file=inputs, calibration_file=calibration,
            synthesis=_synthesis(samples, seed, shape, int_range, float_range, strings, config),
            target_options=parse_option_args(context.args), trust=trust, force=force, jobs=jobs, explain=explain,
            budget=parse_budget(budget),
        )
        with _stage_display() as stage:
            if release:
                report, out_dir, manifest = make_release(job, allow_failed, stage, sign)
            else:
                report, out_dir = run_convert(job, stage)
        print_report(report, console)
        if release:
            from tfport.cli.show import print_release

            print_release(manifest, out_dir, console)
            if sign is not None:
                console.print(f"signed: [bold]{out_dir / 'manifest.json.sig'}[/] — check it with "
                              f"`tfport verify {out_dir} --key {sign}.pub`", highlight=False)
        else:
            console.print(f"artifacts and reports in [bold]{out_dir}[/]")
        raise typer.Exit(report.exit_code)


def _release_command(**arguments: Any) -> None:
    """Convert and prove like `convert`, then write a release directory with manifest.json.

    The directory keeps the artifacts that passed parity (--allow-failed keeps the others, marked),
    the golden set and the reports; manifest.json lists per artifact its files with SHA-256, the
    signatures, what the runtime must provide, the verdict and the worst metrics.

    Target-specific options (`tfport targets` lists them) follow as --name value, e.g. --int8-io.
    """
    convert(**arguments, release=True)


# `tfport release` is `tfport convert --release`: the same options, declared once.
_convert_signature = signature_of(convert, eval_str=True)
_release_command.__signature__ = _convert_signature.replace(
    parameters=[p for name, p in _convert_signature.parameters.items() if name != "release"])
_release_command.__annotations__ = {p.name: p.annotation for p in _release_command.__signature__.parameters.values()}
app.command("release", context_settings=TARGET_OPTIONS)(_release_command)


@app.command()
def verify(
    directory: Annotated[Path, typer.Argument(help="A release directory (`tfport release --out DIR`).")],
    report_dir: Annotated[Optional[Path], typer.Option("--report-dir", help="Also write reports here.")] = None,
    key: Annotated[Optional[Path], typer.Option("--key", help="SSH public key the manifest must be signed "
                                                "with; an unsigned or otherwise signed release is refused.")] = None,
) -> None:
    """Re-check a release from the directory alone: with --key the manifest's signature first, then
    every file's SHA-256, then parity on each runtime.

    Exit 0 when all files are intact and every artifact passes again, 1 otherwise.
    """
    with _errors_for_people():
        from tfport.release.signing import signature_path
        from tfport.release.verify import verify_release
        from tfport.reports.terminal import print_report
        from tfport.reports.write import write_reports

        with _stage_display() as stage:
            verification = verify_release(directory, stage, key)
        if verification.signature:
            console.print(f"signature: {escape(verification.signature)}", highlight=False, soft_wrap=True)
        elif signature_path(directory / "manifest.json").is_file():
            console.print("note: manifest.json is signed; pass --key PUBLIC_KEY to check the signature")
        for problem in verification.problems:
            errors.print(f"[bold red]integrity:[/] {escape(problem)}", highlight=False, soft_wrap=True)
        print_report(verification.report, console)
        if report_dir is not None:
            report_dir.mkdir(parents=True, exist_ok=True)
            write_reports(verification.report, report_dir)
            console.print(f"reports in [bold]{report_dir}[/]")
        if verification.problems:
            console.print(f"[bold red]FAIL[/]: {len(verification.problems)} file(s) differ from the manifest")
        raise typer.Exit(verification.exit_code)


@app.command(context_settings=TARGET_OPTIONS)
def parity(
    context: typer.Context,
    artifact: Annotated[Path, typer.Argument(help="An artifact: what tfport wrote, or the official converters' "
                                             "output (a .tflite or .onnx file, a TF.js web_model/ directory).")],
    golden_dir: Annotated[Path, typer.Option("--golden", help="Golden set to check against.")],
    quantize: Annotated[Optional[str], typer.Option("--quantize", help="Mode whose tolerances apply.")] = None,
    signature: Annotated[Optional[str], typer.Option("--signature", help="Check this signature of the golden set "
                         "alone (default: every one; serving_default for a graph that names none).")] = None,
    report_dir: Annotated[Optional[Path], typer.Option("--report-dir", help="Where reports go.")] = None,
    config: ConfigOpt = None,
    atol: AtolOpt = None,
    rtol: RtolOpt = None,
    min_cosine: CosineOpt = None,
    min_snr_db: SnrOpt = None,
    min_top1: Top1Opt = None,
) -> None:
    """Check an existing artifact against a golden set, without converting.

    Runtime options of the artifact's target (`tfport targets` lists them) follow as --name value.
    """
    with _errors_for_people():
        from tfport.pipeline.check import check_artifact
        from tfport.registry import parse_option_args
        from tfport.reports.terminal import print_report

        policy = _policy(config, atol=atol, rtol=rtol, min_cosine=min_cosine,
                         min_snr_db=min_snr_db, min_top1=min_top1)
        with _stage_display() as stage:
            report, where = check_artifact(artifact, golden_dir, policy, quantize, report_dir,
                                           parse_option_args(context.args), stage, signature)
        print_report(report, console)
        console.print(f"reports in [bold]{where}[/]")
        raise typer.Exit(report.exit_code)


@app.command(context_settings=TARGET_OPTIONS)
def explain(
    context: typer.Context,
    artifact: Annotated[Path, typer.Argument(help="An artifact tfport wrote (e.g. a .tflite file).")],
    golden_dir: Annotated[Path, typer.Option("--golden", help="Golden set to compare on.")],
    model: Annotated[Optional[Path], typer.Option("--model", help="The SavedModel to compare with (default: the "
                                                 "one the golden set was recorded from).")] = None,
    quantize: Annotated[Optional[str], typer.Option("--quantize", help="Mode whose tolerances apply.")] = None,
    report_dir: Annotated[Optional[Path], typer.Option("--report-dir", help="Where explain.json goes "
                                                       "(default: beside the artifact).")] = None,
    config: ConfigOpt = None,
    atol: AtolOpt = None,
    rtol: RtolOpt = None,
    min_cosine: CosineOpt = None,
    min_snr_db: SnrOpt = None,
) -> None:
    """Where an artifact starts to differ from its SavedModel: the first op whose value diverges.

    Runs both on every golden sample with their intermediate values exposed, matches them by the
    TensorFlow op names the converter kept, and reports each matched op's error in graph order
    against the output tolerance scaled to that tensor. Writes explain.json beside the artifact.
    """
    with _errors_for_people():
        from tfport.pipeline.explain import explain_artifact
        from tfport.registry import parse_option_args
        from tfport.reports.terminal import print_explanations

        policy = _policy(config, atol=atol, rtol=rtol, min_cosine=min_cosine, min_snr_db=min_snr_db)
        with _stage_display() as stage:
            explanations, where = explain_artifact(artifact, golden_dir, policy, model, quantize,
                                                   parse_option_args(context.args), stage, report_dir)
        print_explanations(explanations, console)
        console.print(f"explanation in [bold]{where}[/]")


@app.command(context_settings=TARGET_OPTIONS)
def bench(
    context: typer.Context,
    path: Annotated[Path, typer.Argument(help="A SavedModel, or a directory `tfport convert`/`release` wrote.")],
    to: Annotated[str, typer.Option("--to", help="For a SavedModel: targets to convert to first.")] = "all",
    quantize: Annotated[Optional[str], typer.Option("--quantize", help="For a SavedModel: modes, e.g. float32,int8.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="For a SavedModel: where artifacts go.")] = None,
    model: Annotated[Optional[Path], typer.Option("--model", help="For a directory: the SavedModel to bench too.")] = None,
    runs: Annotated[int, typer.Option("--runs", min=1, help="Timed runs per signature.")] = 50,
    warmup: Annotated[int, typer.Option("--warmup", min=0, help="Untimed runs first.")] = 5,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Batch size for throughput.")] = 8,
    threads: Annotated[int, typer.Option("--threads", min=1, help="Intra-op threads, the same for every runtime.")] = 1,
    json_file: Annotated[Optional[str], typer.Option("--json", help="Also write JSON here ('-' for stdout).")] = None,
) -> None:
    """Load time, latency p50/p95, throughput and peak memory of each artifact on its runtime, beside the SavedModel.

    Each runtime runs in a fresh process, on the golden set's inputs, with the same thread count.
    A SavedModel is converted first (cached work is reused). TF.js runs on Node.js (not Chromium).
    """
    with _errors_for_people():
        from tfport.bench.run import BenchOptions, bench_directory, bench_table
        from tfport.registry import parse_option_args

        options = BenchOptions(runs=runs, warmup=warmup, batch=batch, threads=threads,
                               target_options=parse_option_args(context.args))
        from tfport.savedmodel.reader import is_saved_model

        directory = path
        if is_saved_model(path):
            from tfport.pipeline.convert import ConvertJob, convert
            from tfport.registry import plan

            job = ConvertJob(model_path=path, targets=plan(to, quantize), policy=_policy(None),
                             out_dir=out, target_options=options.target_options)
            with _stage_display() as stage:
                _, directory = convert(job, stage)
            model = path
        with _stage_display() as stage:
            result = bench_directory(directory, model, options, stage)
        if json_file == "-":
            print(json.dumps(result, indent=2))
        else:
            console.print(bench_table(result))
            if json_file:
                Path(json_file).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


cache_app = typer.Typer(help="Show the cache (where, size, entries), prune it or clear it.",
                        invoke_without_command=True, no_args_is_help=False)
app.add_typer(cache_app, name="cache")


@cache_app.callback()
def cache_show(context: typer.Context) -> None:
    """Where the cache is, its size and entries (least recently used first)."""
    if context.invoked_subcommand is not None:
        return
    with _errors_for_people():
        import time

        from rich.table import Table

        from tfport.logfile import cache_dir
        from tfport.pipeline.cache_admin import entries, other_contents
        from tfport.reports.report import size_text

        found, others = entries(), other_contents()
        total = sum(e.size_bytes for e in found) + sum(others.values())
        console.print(f"cache: [bold]{cache_dir()}[/] ($TFPORT_CACHE), {size_text(total)} — "
                      f"{sum(e.kind == 'artifact' for e in found)} artifact(s), "
                      f"{sum(e.kind == 'parity' for e in found)} parity result(s)", highlight=False, soft_wrap=True)
        table = Table(title_justify="left")
        for column in ("kind", "holds", "size", "last used", "entry"):
            table.add_column(column, overflow="fold")
        for entry in found:
            used = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.last_used))
            table.add_row(entry.kind, escape(entry.label), size_text(entry.size_bytes), used, entry.path.name)
        if found:
            console.print(table)
        for name, size in others.items():
            console.print(f"also: {escape(name)} ({size_text(size)})", highlight=False)


@cache_app.command("prune")
def cache_prune(
    max_size: Annotated[str, typer.Option("--max-size", help="Keep at most this much, e.g. 500MB or 2GB.")],
) -> None:
    """Remove least recently used artifacts and parity results until the cache fits in --max-size."""
    with _errors_for_people():
        from tfport.pipeline.cache_admin import parse_size, prune
        from tfport.reports.report import size_text

        removed = prune(parse_size(max_size))
        for entry in removed:
            console.print(f"removed {entry.kind} {escape(entry.label)} ({size_text(entry.size_bytes)})", highlight=False)
        console.print(f"pruned {len(removed)} entr{'y' if len(removed) == 1 else 'ies'}, "
                      f"{size_text(sum(e.size_bytes for e in removed))} freed")


@cache_app.command("clear")
def cache_clear() -> None:
    """Remove every cached artifact and parity result, and the installed TF.js runtime."""
    with _errors_for_people():
        from tfport.logfile import cache_dir
        from tfport.pipeline.cache_admin import clear
        from tfport.reports.report import size_text

        console.print(f"cleared {cache_dir()}: {size_text(clear())} freed", highlight=False)


@app.command()
def targets() -> None:
    """List the installed targets, their quantization modes and whether their runtime works here."""
    with _errors_for_people():
        from rich.table import Table

        from tfport.registry import broken_targets
        from tfport.registry import targets as installed

        table = Table(title="tfport targets", title_justify="left")
        for column in ("target", "quantization modes", "options", "runtime", "description"):
            table.add_column(column)
        for target in installed().values():
            problem = target.runtime_problem()
            runtime = "[green]usable[/]" if problem is None else f"[yellow]{problem}[/]"
            options = "\n".join(f"--{name.replace('_', '-')}: {option.help}" for name, option in target.options.items())
            table.add_row(target.name, ", ".join(target.quantization_modes), options, runtime, target.description)
        for name, reason in broken_targets().items():
            table.add_row(name, "", "", f"[red]failed to load: {reason}[/]", "")
        console.print(table)


@app.command()
def setup(
    target: Annotated[Optional[str], typer.Argument(help="Only this target (default: every installed one).")] = None,
) -> None:
    """Install ahead of time what targets' runtimes fetch on first use (e.g. JavaScript packages)."""
    with _errors_for_people():
        from tfport.registry import get_target
        from tfport.registry import targets as installed

        chosen = [get_target(target)] if target else list(installed().values())
        for each in chosen:
            summary = each.setup() if each.setup else "nothing to set up"
            console.print(f"{each.name}: {summary}")


def main() -> None:
    from tfport.pipeline import interrupt

    interrupt.install()
    code: int | str | None = 0
    try:
        app()
    except KeyboardInterrupt:
        errors.print("[bold red]interrupted[/] — nothing half-written was left behind")
        code = EXIT_BAD_INPUT
    except SystemExit as exc:
        code = exc.code
    _exit(code)


def _exit(code: int | str | None) -> None:
    """Exit with `code`. Once TensorFlow is loaded, without Python's teardown: its native libraries'
    destructors take a second after the work is done (MobileNetV2's `convert --to all`: 1.0 s of
    15). Every file was closed and every temporary directory removed by the command already."""
    if "tensorflow" not in sys.modules:
        sys.exit(code)
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    import logging

    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)
