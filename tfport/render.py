"""Report formats: the terminal table, JUnit XML for CI, Markdown for pull requests (HTML: html_report)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tfport.atomic import write_text_atomically
from tfport.noise_floor import describe as describe_limits
from tfport.parity import OutputResult
from tfport.report import ArtifactResult, Report

VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "error": "bold yellow"}
REPORT_FILES = ("report.json", "junit.xml", "report.md", "report.html")


def rows(report: Report) -> Iterator[tuple[ArtifactResult, OutputResult | None]]:
    """One row per target x signature x output; an artifact without outputs is one row."""
    for result in report.results:
        if not result.outputs:
            yield result, None
        for output in result.outputs:
            yield result, output


def size_text(size: int | None) -> str:
    if size is None:
        return ""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def _verdict(result: ArtifactResult, output: OutputResult | None) -> str:
    return output.verdict if output else result.verdict


def _detail(result: ArtifactResult, output: OutputResult | None, separator: str = "\n") -> str:
    """The worst check, then the limits behind it (fixed and noise floor) when the golden set knows both."""
    if output is None:
        return result.error
    return separator.join(part for part in (output.summary(), describe_limits(output.limits)) if part)


def terminal_table(report: Report) -> Table:
    table = Table(title=f"tfport parity — {report.model.get('name', '')}", title_justify="left")
    for column in ("target", "quant", "signature", "output", "verdict", "worst metric (limit)", "size"):
        table.add_column(column, overflow="fold")
    previous = None
    for result, output in rows(report):
        first = result is not previous
        previous = result
        verdict = _verdict(result, output)
        table.add_row(
            result.target if first else "", result.quantization if first else "",
            Text(output.signature if output else ""), Text(output.output if output else ""),
            f"[{VERDICT_STYLE[verdict]}]{verdict.upper()}[/]", Text(_detail(result, output)),
            size_text(result.size_bytes) if first else "",
        )
    return table


def verdict_matrix(report: Report) -> Table:
    """target x quantization rows, one column per signature: the verdict of each cell."""
    signatures = list(dict.fromkeys(o.signature for r in report.results for o in r.outputs))
    table = Table(title="verdicts", title_justify="left")
    for column in ("target", "quant", *signatures):
        table.add_column(Text(column))
    for result in report.results:
        cells = [f"[{VERDICT_STYLE[v]}]{v.upper()}[/]" for v in signature_verdicts(result, signatures)]
        table.add_row(result.target, result.quantization, *cells)
    return table


def signature_verdicts(result: ArtifactResult, signatures: list[str]) -> list[str]:
    """The verdict of each signature's outputs (the artifact's own verdict when it has none)."""
    cells = []
    for signature in signatures:
        verdicts = {o.verdict for o in result.outputs if o.signature == signature}
        cells.append(result.verdict if not verdicts else "fail" if "fail" in verdicts else "pass")
    return cells


def print_report(report: Report, console: Console) -> None:
    if len(report.results) > 1:
        console.print(verdict_matrix(report))
    console.print(terminal_table(report))
    for result in report.results:
        for note in result.notes:
            console.print(f"[cyan]note[/] {result.label}: {escape(note)}")
    for where, why in weak_evidence(report).items():
        console.print(f"[yellow]weak evidence[/] {escape(where)}: {escape(why)}")
    style = VERDICT_STYLE[report.verdict]
    console.print(f"[{style}]{report.verdict.upper()}[/] (exit code {report.exit_code})")


def weak_evidence(report: Report) -> dict[str, str]:
    """"signature/output" -> why its golden samples prove little (the same for every artifact: it is
    a property of the reference outputs)."""
    return {f"{o.signature}/{o.output}": o.weak_evidence for r in report.results for o in r.outputs if o.weak_evidence}


def junit_xml(report: Report) -> str:
    suites = ET.Element("testsuites", name="tfport")
    for result in report.results:
        cases = [(o, o.verdict) for o in result.outputs] or [(None, result.verdict)]
        suite = ET.SubElement(
            suites, "testsuite", name=f"tfport.{result.label}", tests=str(len(cases)),
            failures=str(sum(1 for _, v in cases if v == "fail")),
            errors=str(sum(1 for _, v in cases if v == "error")),
            time=f"{sum(result.seconds.values()):.3f}",
        )
        for output, verdict in cases:
            name = f"{output.signature}/{output.output}" if output else "convert"
            case = ET.SubElement(suite, "testcase", classname=f"tfport.{result.label}", name=name)
            detail = _detail(result, output)
            if verdict == "fail":
                ET.SubElement(case, "failure", message=detail).text = _metrics_text(output)
            elif verdict == "error":
                ET.SubElement(case, "error", message=detail or "no parity verdict")
            else:
                ET.SubElement(case, "system-out").text = _metrics_text(output)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def _metrics_text(output: OutputResult | None) -> str:
    if output is None:
        return ""
    return "\n".join(f"{k} = {v:.6g}" for k, v in output.metrics.items())


def markdown(report: Report) -> str:
    icon = {"pass": "✅", "fail": "❌", "error": "⚠️"}
    lines = [
        f"## tfport parity: {report.model.get('name', '')} — {icon[report.verdict]} {report.verdict}",
        "",
        f"SavedModel fingerprint `{report.model.get('fingerprint', '')}`, golden set "
        f"{report.golden.get('samples', '?')} sample(s) per signature.",
        "",
        "| target | quant | signature | output | verdict | worst metric (limit) | size |",
        "|---|---|---|---|---|---|---|",
    ]
    for result, output in rows(report):
        verdict = _verdict(result, output)
        cells = [
            result.target, result.quantization, output.signature if output else "",
            output.output if output else "", f"{icon[verdict]} {verdict}",
            _detail(result, output, "<br>").replace("|", "\\|"), size_text(result.size_bytes),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- **{r.label}**: {n}" for r in report.results for n in r.notes]
    if notes:
        lines += ["", "Notes:", *notes]
    weak = [f"- **{where}**: {why}" for where, why in weak_evidence(report).items()]
    if weak:
        lines += ["", "Weak evidence (the verdicts stand, but prove little for these outputs):", *weak]
    return "\n".join(lines) + "\n"


def write_reports(report: Report, directory: Path) -> list[Path]:
    """report.json, junit.xml, report.md and report.html, each replaced atomically."""
    from tfport.html_report import html_report

    contents = (report.to_json(), junit_xml(report), markdown(report), html_report(report))
    paths = [Path(directory) / name for name in REPORT_FILES]
    for path, text in zip(paths, contents):
        write_text_atomically(path, text)
    return paths
