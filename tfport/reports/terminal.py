"""The report in the terminal: the verdict matrix, one row per output, notes, the verdict line."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tfport.reports.report import Report, detail, row_verdict, rows, signature_verdicts, size_text, weak_evidence

VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "error": "bold yellow", "unchecked": "bold magenta"}


def terminal_table(report: Report) -> Table:
    table = Table(title=f"tfport parity — {report.model.get('name', '')}", title_justify="left")
    for column in ("target", "quant", "signature", "output", "verdict", "worst metric (limit)", "size"):
        table.add_column(column, overflow="fold")
    previous = None
    for result, output in rows(report):
        first = result is not previous
        previous = result
        verdict = row_verdict(result, output)
        table.add_row(
            result.target if first else "", result.quantization if first else "",
            Text(output.signature if output else ""), Text(output.output if output else ""),
            f"[{VERDICT_STYLE[verdict]}]{verdict.upper()}[/]", Text(detail(result, output)),
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

