"""Every report file of a run, each replaced atomically."""

from __future__ import annotations

from pathlib import Path

from tfport.atomic import write_text_atomically
from tfport.reports.html import html_report
from tfport.reports.junit import junit_xml
from tfport.reports.markdown import markdown
from tfport.reports.report import Report

REPORT_FILES = ("report.json", "junit.xml", "report.md", "report.html")


def write_reports(report: Report, directory: Path) -> list[Path]:
    """report.json, junit.xml, report.md and report.html, each replaced atomically."""
    contents = (report.to_json(), junit_xml(report), markdown(report), html_report(report))
    paths = [Path(directory) / name for name in REPORT_FILES]
    for path, text in zip(paths, contents):
        write_text_atomically(path, text)
    return paths

