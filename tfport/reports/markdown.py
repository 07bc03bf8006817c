"""report.md: the verdict table and notes, for a pull-request comment or a CI summary."""

from __future__ import annotations

from tfport.reports.report import Report, detail, row_verdict, rows, size_text, weak_evidence


def markdown(report: Report) -> str:
    icon = {"pass": "✅", "fail": "❌", "error": "⚠️", "unchecked": "❔"}
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
        verdict = row_verdict(result, output)
        cells = [
            result.target_text, result.quantization, output.signature if output else "",
            output.output if output else "", f"{icon[verdict]} {verdict}",
            detail(result, output, "<br>").replace("|", "\\|"), size_text(result.size_bytes),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    notes = [f"- **{r.name}**: {n}" for r in report.results for n in r.notes]
    if notes:
        lines += ["", "Notes:", *notes]
    weak = [f"- **{where}**: {why}" for where, why in weak_evidence(report).items()]
    if weak:
        lines += ["", "Weak evidence (the verdicts stand, but prove little for these outputs):", *weak]
    return "\n".join(lines) + "\n"

