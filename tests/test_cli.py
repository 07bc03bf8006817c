"""The command line as users meet it: fast help, clear errors, exit codes."""

import subprocess
import sys
import time

import pytest

from tfport.errors import EXIT_BAD_INPUT


def test_help_is_fast_and_does_not_import_tensorflow():
    script = (
        "import sys, time; t = time.perf_counter(); from tfport.cli.app import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('TF' if 'tensorflow' in sys.modules else 'no TF', time.perf_counter() - t)"
    )
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert time.perf_counter() - started < 3.0  # interpreter start included; the import itself is below
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("no TF")
    assert float(last.split()[-1]) < 1.0


def test_version_alone_prints_the_version(cli):
    from tfport import __version__

    result = cli("--version")
    assert result.exit_code == 0 and result.output.strip() == f"tfport {__version__}"


def test_messages_print_verbatim_brackets_included(capsys):
    from rich.console import Console

    from tfport.parity.metrics import OutputResult
    from tfport.reports.report import ArtifactResult, Report
    from tfport.reports.terminal import print_report

    message = "Consider providing the following inputs: [y,z,x]"
    result = ArtifactResult(target="onnx", quantization="float32", error=message,
                            notes=["needs [bold]nothing[/]"], outputs=[])
    report = Report(model={"name": "m"}, golden={}, results=[result, ArtifactResult(
        target="tflite", quantization="float32", outputs=[OutputResult("[sig]", "[y]", "fail", "lost [x]")])])
    console = Console(width=300, force_terminal=False)
    with console.capture() as captured:
        print_report(report, console)
    text = captured.get()
    assert message in text and "needs [bold]nothing[/]" in text and "lost [x]" in text and "[sig]" in text


def test_errors_print_verbatim(cli):
    result = cli("inspect", "models/[bold]v2[/]")
    assert result.exit_code == EXIT_BAD_INPUT and "no such path: models/[bold]v2[/]" in result.output


def test_targets_lists_tflite_with_its_modes(cli):
    result = cli("targets")
    assert result.exit_code == 0
    assert "tflite" in result.output and "int16x8" in result.output and "usable" in result.output


@pytest.mark.parametrize("args, message", [
    (["inspect", "no/such/model"], "no such path"),
    (["convert", "."], "no saved_model.pb in"),
    (["convert", ".", "--to", "coreml"], "unknown target 'coreml'"),
    (["golden", ".", "--shape", "x=a,b"], "whole numbers"),
])
def test_bad_input_is_one_line_exit_2_no_traceback(cli, args, message):
    result = cli(*args)
    assert result.exit_code == EXIT_BAD_INPUT
    assert message in result.output
    assert "Traceback" not in result.output


def test_unknown_quantization_mode_names_the_choices(cli, saved_model):
    result = cli("convert", saved_model("keras_mlp"), "--quantize", "int4")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "float32, fp16, dynamic, int8, int16x8" in result.output


def test_target_options_are_checked_against_the_target(cli, saved_model):
    result = cli("convert", saved_model("keras_mlp"), "--opset", "13")
    assert result.exit_code == EXIT_BAD_INPUT
    assert "unknown option --opset for target tflite — its options: --bundle, --dynamic-batch, --int8-io" in result.output


def test_several_quantization_modes_in_one_run(cli, saved_model, tmp_path):
    import json

    result = cli("convert", saved_model("unknown_batch_cnn"), "--quantize", "float32,dynamic", "--samples", "4")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "dist" / "unknown_batch_cnn" / "report.json").read_text())
    assert [(r["target"], r["quantization"]) for r in report["results"]] == [("tflite", "float32"), ("tflite", "dynamic")]


def test_inspect_json_does_not_import_tensorflow(saved_model):
    script = (
        "import sys, json\nfrom tfport.cli.app import app\n"
        f"try:\n    app(['inspect', r'{saved_model('keras_mlp')}', '--json'])\nexcept SystemExit:\n    pass\n"
        "print('TF' if 'tensorflow' in sys.modules else 'no TF')"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "no TF"
    assert '"serving_default"' in result.stdout


def test_targets_and_parity_of_tflite_and_onnx_do_not_import_tensorflow(cli, saved_model, tmp_path):
    import os

    from tfport_process import run_tfport

    out = tmp_path / "out"
    converted = cli("convert", saved_model("keras_mlp"), "--to", "tflite,onnx", "--samples", "4", "--out", out)
    assert converted.exit_code == 0, converted.output
    assert run_tfport("targets", cwd=tmp_path, env=os.environ).splitlines()[-2:] == ["exit 0", "no TF"]
    for artifact in (out / "tflite-float32" / "keras_mlp.tflite", out / "onnx-float32" / "keras_mlp.onnx"):
        output = run_tfport("parity", artifact, "--golden", out / "golden", "--report-dir", tmp_path / artifact.name,
                            cwd=tmp_path, env=os.environ)
        assert output.splitlines()[-2:] == ["exit 0", "no TF"], output
