"""report.html: self-contained, plots per output, safe with hostile names, and renders in Chromium."""

import re
import struct
import subprocess
import zlib

import pytest

from tfport.parity.metrics import OutputResult
from tfport.reports.report import ArtifactResult, Report
from tfport.targets.browser import CHROMIUM_FLAGS, NO_GPU, chromium_path

needs_chromium = pytest.mark.skipif(chromium_path() is None, reason="Chromium is not installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def report_html(tmp_path_factory, saved_model):
    """report.html of keras_mlp to tflite float32 + int8 and of the string-vocabulary model."""
    from tfport.golden.synthesis import SynthesisOptions
    from tfport.parity.tolerance import load_policy
    from tfport.pipeline.convert import ConvertJob, convert

    pages = {}
    for name, modes in (("keras_mlp", ("float32", "int8")), ("string_vocabulary", ("float32",))):
        out = tmp_path_factory.mktemp(name)
        convert(ConvertJob(model_path=saved_model(name), targets=[("tflite", m) for m in modes],
                           policy=load_policy(search_dir=out), out_dir=out, synthesis=SynthesisOptions(samples=6)))
        pages[name] = out / "report.html"
    return pages


def test_report_is_self_contained_with_plots_per_output(report_html):
    page = report_html["keras_mlp"].read_text()
    assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", page), "nothing fetched at view time"
    assert "<script" not in page and "<link" not in page
    assert "<h2>Verdicts</h2>" in page and "tflite-int8" in page
    outputs = page.count("<div class='output'>")
    assert outputs == 4, "2 artifacts x 2 signatures (serve, serving_default) x 1 output"
    assert page.count('aria-label="histogram of absolute errors"') == outputs
    assert page.count('aria-label="converted vs reference') == outputs
    assert "SNR per output (artifacts judged by SNR)" in page, "int8 gets its SNR chart"


def test_non_float_outputs_say_why_they_have_no_plots(report_html):
    page = report_html["string_vocabulary"].read_text()
    assert "no plots: the output is not a float tensor" in page


def test_names_from_the_model_are_escaped(tmp_path):
    from tfport.reports.html import html_report

    hostile = "<script>alert(1)</script>"
    result = ArtifactResult(target="tflite", quantization="int8", notes=[hostile],
                            outputs=[OutputResult(hostile, hostile, "pass", metrics={"snr_db": 40.0})])
    page = html_report(Report(model={"name": hostile}, golden={}, results=[result]))
    assert "<script>" not in page and "&lt;script&gt;" in page


def png_colours(png: bytes) -> int:
    """How many distinct rows the screenshot has: 1 means a blank page."""
    assert png.startswith(b"\x89PNG")
    chunks, offset = b"", 8
    while offset < len(png):
        length, kind = struct.unpack(">I4s", png[offset:offset + 8])
        if kind == b"IDAT":
            chunks += png[offset + 8:offset + 8 + length]
        offset += 12 + length
    width = struct.unpack(">I", png[16:20])[0]
    raw = zlib.decompress(chunks)
    stride = 1 + width * 4 if png[25] == 6 else 1 + width * 3
    return len({raw[i:i + stride][1:] for i in range(0, len(raw), stride)})


@needs_chromium
def test_report_renders_in_chromium_without_console_errors(report_html, tmp_path):
    def render(page):
        screenshot = tmp_path / f"{page.stem}.png"
        log = subprocess.run(
            [chromium_path(), *CHROMIUM_FLAGS, *NO_GPU, f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
             "--v=0", f"--screenshot={screenshot}", "--window-size=1200,1600", page.as_uri()],
            capture_output=True, text=True, timeout=120).stderr
        return screenshot.read_bytes(), [line for line in log.splitlines() if ":CONSOLE" in line]

    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>undefinedFunction()</script></body></html>")
    assert render(broken)[1], "the console check sees errors when there are some"
    screenshot, console = render(report_html["keras_mlp"])
    assert console == []
    assert png_colours(screenshot) > 50, "the page shows tables and plots, not a blank screen"
