"""Report files are read by machines: each one parses back and says what the run said."""

import json
import xml.etree.ElementTree as ET

import numpy as np

from tfport.parity.metrics import compare_output
from tfport.parity.tolerance import Tolerance
from tfport.reports.markdown import markdown
from tfport.reports.report import ArtifactResult, Report
from tfport.reports.write import write_reports


def sample_report() -> Report:
    reference = np.ones((2, 3), np.float32)
    passing = compare_output("serving_default", "y", reference, reference, Tolerance(atol=1e-4))
    failing = compare_output("serving_default", "z", reference, reference * 3, Tolerance(atol=1e-4))
    return Report(
        model={"name": "m", "fingerprint": "abc"}, golden={"samples": 2},
        results=[
            ArtifactResult("tflite", "float32", artifact="tflite-float32/m.tflite", size_bytes=10,
                           outputs=[passing, failing], notes=["a note"]),
            ArtifactResult("tflite", "int8", error="TFLite conversion failed: boom (ops: Erfinv)"),
        ],
    )


def test_report_files_parse_back(tmp_path):
    report = sample_report()
    write_reports(report, tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["schema"] == "tfport-report" and data["schema_version"] == 1
    assert data["verdict"] == "error" and data["exit_code"] == 3
    outputs = data["results"][0]["outputs"]
    assert [o["verdict"] for o in outputs] == ["pass", "fail"]
    assert outputs[1]["checks"][0]["metric"] == "tolerance_used"

    suites = ET.parse(tmp_path / "junit.xml").getroot()
    cases = suites.findall(".//testcase")
    assert [c.get("name") for c in cases] == ["serving_default/y", "serving_default/z", "convert"]
    assert cases[1].find("failure") is not None and cases[2].find("error") is not None
    assert "Erfinv" in cases[2].find("error").get("message")

    md = (tmp_path / "report.md").read_text()
    assert md.count("\n| tflite |") == 3 and "❌ fail" in md and "a note" in md


def test_exit_code_is_the_worst_result():
    report = sample_report()
    assert report.exit_code == 3
    report.results.pop()
    assert report.exit_code == 1
    report.results[0].outputs.pop()
    assert report.exit_code == 0 and "✅" in markdown(report)


def test_unchecked_is_neither_a_pass_nor_worse_than_a_failure(tmp_path):
    report = sample_report()
    report.results.pop()
    unchecked = ArtifactResult("tflite", "dynamic", artifact="tflite-dynamic/m.tflite",
                               unchecked="it needs Select TF ops (Flex: MatrixDeterminant); no interpreter here")
    report.results.append(unchecked)
    assert unchecked.verdict == "unchecked" and report.exit_code == 1, "a parity failure outranks it"
    report.results[0].outputs.pop()
    assert report.verdict == "unchecked" and report.exit_code == 4
    write_reports(report, tmp_path)
    skipped = ET.parse(tmp_path / "junit.xml").getroot().findall(".//testcase/skipped")
    assert len(skipped) == 1 and "cannot be checked here: it needs Select TF ops" in skipped[0].get("message")
    assert "❔ unchecked" in (tmp_path / "report.md").read_text()
    assert "cannot be checked here" in (tmp_path / "report.html").read_text()
    assert Report.from_json((tmp_path / "report.json").read_text()).results[1].unchecked == unchecked.unchecked


def test_matrix_has_a_verdict_per_target_quantization_and_signature():
    from rich.console import Console

    from tfport.reports.terminal import verdict_matrix

    console = Console(width=120, record=True)
    console.print(verdict_matrix(sample_report()))
    text = console.export_text()
    assert "serving_default" in text
    rows = [line for line in text.splitlines() if "tflite" in line]
    assert "FAIL" in rows[0] and "ERROR" in rows[1]


def test_weak_evidence_reaches_every_report(tmp_path):
    from tfport.parity.metrics import OutputResult
    from tfport.reports.markdown import markdown
    from tfport.reports.report import ArtifactResult, Report
    from tfport.reports.write import write_reports

    output = OutputResult("serving_default", "count", "pass", weak_evidence="every sample gives the same value — …")
    report = Report(model={"name": "m"}, golden={}, results=[ArtifactResult("onnx", "float32", outputs=[output])])
    assert "Weak evidence" in markdown(report) and "serving_default/count" in markdown(report)
    write_reports(report, tmp_path)
    assert "weak evidence:" in (tmp_path / "report.html").read_text()
    assert '"weak_evidence": "every sample gives the same value' in (tmp_path / "report.json").read_text()
