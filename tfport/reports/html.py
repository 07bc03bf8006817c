"""report.html: the parity report for people — verdicts first, then each output's metrics with
plots. One self-contained file (inline CSS and SVG, no script): it opens offline, from a CI
artifact or an e-mail attachment, exactly as written."""

from __future__ import annotations

from html import escape

from tfport.parity.metrics import OutputResult
from tfport.parity.noise_limit import describe as describe_limits
from tfport.reports.report import ArtifactResult, Report, detail, explanation_summary, signature_verdicts, size_text
from tfport.reports.svg_plots import divergence_plot, error_histogram, reference_scatter, snr_bars

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1160px; color: #1f2328; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #d0d7de; }
h3 { font-size: 15px; margin: 18px 0 6px; }
table { border-collapse: collapse; margin: 8px 0; } td, th { border: 1px solid #d0d7de; padding: 3px 8px; }
th { background: #f6f8fa; text-align: left; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { background: #dafbe1; color: #116329; font-weight: 600; }
.fail { background: #ffebe9; color: #a40e26; font-weight: 600; }
.unchecked { background: #f3e8ff; color: #6b21a8; font-weight: 600; }
.error { background: #fff8c5; color: #7d4e00; font-weight: 600; }
.output { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 12px; margin: 12px 0; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.note { color: #57606a; } code { font-size: 12px; word-break: break-all; }
svg .axis { stroke: #57606a; } svg .bar { fill: #0969da; } svg .bar-fail { fill: #cf222e; }
svg .point { fill: #0969da; fill-opacity: .55; } svg .diagonal { stroke: #8c959f; stroke-dasharray: 4 3; }
svg .limit { stroke: #1f2328; stroke-width: 2; stroke-dasharray: 3 2; }
svg .ring { fill: none; stroke: #cf222e; stroke-width: 2; } svg circle.bar-fail { fill: #cf222e; }
svg .tick { font-size: 11px; fill: #57606a; } svg .label { font-size: 12px; fill: #1f2328; }
"""


def html_report(report: Report) -> str:
    model = report.model
    versions = ", ".join(f"{escape(k)} {escape(str(v))}" for k, v in report.versions.items())
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        # The browser itself enforces "nothing is fetched": no scripts, no remote styles or images.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>tfport parity — {escape(str(model.get('name', '')))}</title><style>{STYLE}</style></head><body>",
        f"<h1>tfport parity — {escape(str(model.get('name', '')))}: {_verdict(report.verdict)}</h1>",
        f"<p>SavedModel <code>{escape(str(model.get('path', '')))}</code>, fingerprint "
        f"<code>{escape(str(model.get('fingerprint', '')))}</code>. Golden set "
        f"<code>{escape(str(report.golden.get('path', '')))}</code>, {escape(str(report.golden.get('samples', '?')))} "
        f"sample(s) per signature. Versions: {versions or 'not recorded'}.</p>",
        "<h2>Verdicts</h2>", _matrix(report),
        "<h2>Artifacts</h2>", _artifacts(report),
    ]
    judged_by_snr = [r for r in report.results if _snr_rows(r)]
    if judged_by_snr:
        parts.append("<h2>SNR per output (artifacts judged by SNR)</h2><div class='plots'>")
        parts += [f"<div><h3>{escape(r.name)}</h3>{snr_bars(_snr_rows(r))}</div>" for r in judged_by_snr]
        parts.append("</div>")
    for result in report.results:
        parts.append(f"<h2 id='{escape(_anchor(result))}'>{escape(result.name)}: {_verdict(result.verdict)}</h2>")
        if result.error or result.unchecked:
            parts.append(f"<p class='{escape(result.verdict)}'>{escape(detail(result, None))}</p>")
        if result.error:
            parts.append(_ran_on(report.golden))
        parts += [_output_section(output) for output in result.outputs]
        parts += [_explanation_section(explanation) for explanation in result.explanations]
        if result.metadata and "budget" in result.metadata.target_data:
            parts.append(_budget_section(result.metadata.target_data["budget"]))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _ran_on(golden: dict) -> str:
    """For an error: the golden inputs it ran on and the SavedModel's outputs, by shape — an empty
    one is the likely cause of a runtime's failure."""
    rows = ["<tr><th>signature</th><th>tensor</th><th>dtype</th><th>shape per sample</th><th></th></tr>"]
    for key, sides in golden.get("tensors", {}).items():
        for side, tensors in sides.items():
            for name, spec in tensors.items():
                empty = 0 in spec["shape"]
                rows.append(f"<tr><td>{escape(key)}</td><td>{escape(side[:-1])} {escape(name)}</td>"
                            f"<td>{escape(spec['dtype'])}</td><td class='num'>{escape(str(spec['shape']))}</td>"
                            f"<td>{'<b>empty: the likely cause</b>' if empty else ''}</td></tr>")
    if len(rows) == 1:
        return ""
    return f"<p>What it ran on (golden inputs, and the SavedModel's outputs for them):</p><table>{''.join(rows)}</table>"


def _budget_section(search: dict) -> str:
    """--budget: each mix tried, plain int8 first, with its size and what it reached."""
    wanted = ", ".join(f"{name} ≥ {value:g}" for name, value in search["budget"].items())
    rows = ["<tr><th>mix</th><th>values in float</th><th>size</th><th>reached</th></tr>"]
    for trial in search["trials"]:
        reached = ", ".join(f"{name} {value:.4g}" for name, value in trial["reached"].items())
        rows.append(f"<tr><td>{escape(trial['mix'])}</td><td class='num'>{trial['kept_float']}</td>"
                    f"<td class='num'>{escape(size_text(trial['size_bytes']))}</td><td>{escape(reached)}</td></tr>")
    verdict = "met" if search["met"] else "not met"
    return (f"<h3>--budget {escape(wanted)}: {verdict}</h3><p>{search['matched_ops']} ops matched the SavedModel's; "
            f"the artifact is the {'smallest mix that meets it' if search['met'] else 'closest mix'}.</p>"
            f"<table>{''.join(rows)}</table>")


def _explanation_section(explanation: dict) -> str:
    """convert --explain: where the port starts to diverge, as a plot and a sentence."""
    first = explanation["first_divergent"]
    points = [(op["depth"], op["snr_db"], op["diverges"]) for op in explanation["ops"]]
    return (f"<h3>where {escape(explanation['signature'])} diverges</h3><div class='plots'>"
            f"{divergence_plot(points, first['depth'] if first else None)}</div>"
            f"<p>{escape(explanation_summary(explanation))}</p>")


def _anchor(result: ArtifactResult) -> str:
    return result.name.replace(" ", "-").replace("(", "").replace(")", "")


def _verdict(verdict: str) -> str:
    return f"<span class='{escape(verdict)}'>{escape(verdict.upper())}</span>"


def _matrix(report: Report) -> str:
    # An artifact with no verdicts (an error) still has a row under the golden set's signatures.
    signatures = list(dict.fromkeys(o.signature for r in report.results for o in r.outputs)) or list(
        report.golden.get("samples_per_signature", {})) or ["verdict"]
    head = "".join(f"<th>{escape(s)}</th>" for s in signatures)
    rows = [f"<tr><th>target</th><th>quantization</th>{head}</tr>"]
    for result in report.results:
        cells = "".join(f"<td class='{v}'>{v.upper()}</td>" for v in signature_verdicts(result, signatures))
        rows.append(f"<tr><td>{escape(result.target_text)}</td><td>{escape(result.quantization)}</td>{cells}</tr>")
    return f"<table>{''.join(rows)}</table>"


def _artifacts(report: Report) -> str:
    rows = ["<tr><th>artifact</th><th>verdict</th><th>size</th><th>SHA-256</th><th>convert s</th>"
            "<th>parity s</th><th>notes</th></tr>"]
    for r in report.results:
        why = f"<br><a href='#{escape(_anchor(r))}'>why: below</a>" if r.error or r.unchecked else ""  # said once, there
        notes = "<br>".join(escape(n) for n in r.notes) + why
        seconds = [r.seconds.get(k) for k in ("convert", "parity")]
        rows.append(
            f"<tr><td><code>{escape(r.artifact or r.label)}</code>{escape(f' ({r.runtime})' if r.runtime else '')}</td><td class='{r.verdict}'>{r.verdict.upper()}</td>"
            f"<td class='num'>{escape(size_text(r.size_bytes))}</td><td><code>{escape((r.sha256 or '')[:16])}</code></td>"
            + "".join(f"<td class='num'>{'' if s is None else f'{s:.2f}'}</td>" for s in seconds)
            + f"<td class='note'>{notes}</td></tr>")
    return f"<table>{''.join(rows)}</table>"


def _snr_rows(result: ArtifactResult) -> list[tuple[str, float, float | None]]:
    return [(f"{o.signature}/{o.output}", o.metrics["snr_db"], o.tolerance["min_snr_db"])
            for o in result.outputs if "snr_db" in o.metrics and o.tolerance.get("min_snr_db") is not None]


def _output_section(output: OutputResult) -> str:
    limits = {c.metric: c for c in output.checks}
    rows = []
    for name, value in output.metrics.items():
        check = limits.get(name)
        limit = f"{'≤' if check.at_most else '≥'} {check.limit:.6g}" if check else ""
        verdict = ("pass" if check.passed else "fail") if check else ""
        rows.append(f"<tr><td>{escape(name)}</td><td class='num'>{value:.6g}</td><td>{limit}</td>"
                    f"<td class='{verdict}'>{verdict}</td></tr>")
    rows += [f"<tr><td>{escape(c.metric)}</td><td class='num'>{c.value:.6g}</td><td>{'≤' if c.at_most else '≥'} "
             f"{c.limit:.6g}</td><td class='{'pass' if c.passed else 'fail'}'>{'pass' if c.passed else 'fail'}</td></tr>"
             for c in output.checks if c.metric not in output.metrics]
    plots = output.plots
    if plots.get("scatter") is not None and "abs_error_histogram" in plots:
        histogram = plots["abs_error_histogram"]
        figures = (error_histogram(histogram["edges"], histogram["counts"], histogram["zeros"])
                   + reference_scatter(plots["scatter"]))
    else:
        figures = "<p class='note'>no plots: the output is not a float tensor (compared element by element)</p>"
    message = f"<p class='fail'>{escape(output.message)}</p>" if output.message else ""
    if output.limits:
        message += f"<p class='note'><b>limits:</b> {escape(describe_limits(output.limits))}</p>"
    if output.weak_evidence:
        message += f"<p class='note'><b>weak evidence:</b> {escape(output.weak_evidence)}</p>"
    return (f"<div class='output'><h3>{escape(output.signature)} / {escape(output.output)}: "
            f"{_verdict(output.verdict)}</h3>{message}<div class='plots'><table><tr><th>metric</th><th>value</th>"
            f"<th>limit</th><th></th></tr>{''.join(rows)}</table>{figures}</div></div>")
