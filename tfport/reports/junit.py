"""junit.xml: one test suite per artifact, one test case per signature output, for CI dashboards."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tfport.parity.metrics import OutputResult
from tfport.reports.report import Report, detail


def junit_xml(report: Report) -> str:
    suites = ET.Element("testsuites", name="tfport")
    for result in report.results:
        cases = [(o, o.verdict) for o in result.outputs] or [(None, result.verdict)]
        suite = ET.SubElement(
            suites, "testsuite", name=_suite(result), tests=str(len(cases)),
            failures=str(sum(1 for _, v in cases if v == "fail")),
            errors=str(sum(1 for _, v in cases if v == "error")),
            skipped=str(sum(1 for _, v in cases if v == "unchecked")),
            time=f"{sum(result.seconds.values()):.3f}",
        )
        for output, verdict in cases:
            name = f"{output.signature}/{output.output}" if output else "convert"
            case = ET.SubElement(suite, "testcase", classname=_suite(result), name=name)
            if output and output.weak_evidence:
                ET.SubElement(ET.SubElement(case, "properties"), "property", name="weak_evidence",
                              value=output.weak_evidence)
            text = detail(result, output)
            if verdict == "fail":
                ET.SubElement(case, "failure", message=text).text = _metrics_text(output)
            elif verdict == "error":
                ET.SubElement(case, "error", message=text or "no parity verdict")
            elif verdict == "unchecked":
                ET.SubElement(case, "skipped", message=text)
            else:
                ET.SubElement(case, "system-out").text = _metrics_text(output)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _metrics_text(output: OutputResult | None) -> str:
    """The metrics, then the weak-evidence warning (CI dashboards show this text with the case)."""
    if output is None:
        return ""
    lines = [f"{k} = {v:.6g}" for k, v in output.metrics.items()]
    return "\n".join(lines + ([f"weak evidence: {output.weak_evidence}"] if output.weak_evidence else []))



def _suite(result) -> str:
    """tfport.tfjs-float32, or tfport.tfjs-float32.wasm for one of several runtimes."""
    return f"tfport.{result.label}" + (f".{result.runtime.replace(' ', '-')}" if result.runtime else "")
