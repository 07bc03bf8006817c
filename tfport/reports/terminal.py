"""The report in the terminal: the verdict matrix, one row per output, notes, the verdict line."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tfport.reports.report import (
    Report,
    detail,
    explanation_summary,
    row_verdict,
    rows,
    signature_verdicts,
    size_text,
    weak_evidence,
)

EXPLAIN_ROWS = 24  # ops shown around the first divergent one
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
            result.target_text if first else "", result.quantization if first else "",
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
        table.add_row(result.target_text, result.quantization, *cells)
    return table


def print_report(report: Report, console: Console) -> None:
    if len(report.results) > 1:
        console.print(verdict_matrix(report))
    console.print(terminal_table(report))
    for result in report.results:
        for note in result.notes:
            console.print(f"[cyan]note[/] {escape(result.name)}: {escape(note)}")
    for result in report.results:
        for explanation in result.explanations:
            console.print(f"[red]explain[/] {escape(result.name)}: {escape(explanation_summary(explanation))}")
    for where, why in weak_evidence(report).items():
        console.print(f"[yellow]weak evidence[/] {escape(where)}: {escape(why)}")
    style = VERDICT_STYLE[report.verdict]
    console.print(f"[{style}]{report.verdict.upper()}[/] (exit code {report.exit_code})")



def explanation_table(explanation: dict) -> Table:
    """The matched ops of one signature in graph order, around the first divergent one."""
    first = explanation["first_divergent"]
    ops = explanation["ops"]
    if len(ops) > EXPLAIN_ROWS:
        at = next((i for i, op in enumerate(ops) if first and op["op"] == first["op"]), len(ops) - 1)
        ops = ops[max(0, at - EXPLAIN_ROWS // 4):max(0, at - EXPLAIN_ROWS // 4) + EXPLAIN_ROWS]
    table = Table(title=f"{explanation['signature']}: {explanation['matched']} of {explanation['reference_ops']} "
                        "TensorFlow ops matched in the artifact", title_justify="left")
    for column in ("depth", "op", "type", "tolerance used", "SNR dB", ""):
        table.add_column(column)
    for op in ops:
        mark = "[bold red]first divergent[/]" if first and op["op"] == first["op"] else (
            "[red]outside[/]" if op["diverges"] else "")
        table.add_row(str(op["depth"]), Text(op["op"]), op["type"], f"{op['tolerance_used']:.3g}",
                      f"{op['snr_db']:.1f}", mark)
    return table


def print_explanations(explanations: list[dict], console: Console) -> None:
    for explanation in explanations:
        console.print(explanation_table(explanation))
        console.print(escape(explanation_summary(explanation)))
