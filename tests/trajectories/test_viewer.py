"""The viewer page: structure and escaping from the HTML, then rendered in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from agentdistill.schema import write_trajectories
from agentdistill.trajectories.viewer import render_page, write_viewer

from ..conftest import skip_or_fail
from .samples import INJECTION, all_samples

ASSISTANT_STEPS = 2 * 5 + 1 + 1 + 7  # per sample: 2 steps x5, gsm8k 1, failed 1, max-steps 6 + final answer
ALL_STEPS = ASSISTANT_STEPS + 8  # plus one task prelude per episode


def test_page_structure_and_escaping():
    page = render_page(all_samples(), title="<samples>")
    assert page.count('<section class="episode"') == 8
    assert len(re.findall(r'<li class="step[^"]*" data-step=', page)) == ASSISTANT_STEPS
    # trained vs masked, failed steps, reflections
    assert len(re.findall(r'class="step masked[^"]*failed"', page)) == 2  # parse error + ZeroDivisionError
    assert len(re.findall(r'class="step trained reflection"', page)) == 1
    assert page.count('<pre class="code">') == sum(
        1 for t in all_samples() for m in t.messages if m.role == "assistant" and "```py" in m.content
    )
    # model-written text is escaped: no live tags from trajectories
    assert INJECTION not in page
    assert "&lt;script&gt;document.body.setAttribute(&#x27;data-pwned&#x27;" in page
    assert "<title>&lt;samples&gt;</title>" in page
    # self-contained: no external resources
    assert not re.search(r'(src|href)="(https?:)?//', page)
    # the stale stored score of ep-wrong is flagged by re-scoring
    wrong = page.split('id="ep-ep-wrong"')[1].split("</section>")[0]
    assert 'class="pill bad rescored"' in wrong


def test_write_viewer_limit(tmp_path):
    src = tmp_path / "t.jsonl"
    write_trajectories(src, all_samples())
    assert write_viewer(src, tmp_path / "p.html", limit=3) == 3
    page = (tmp_path / "p.html").read_text(encoding="utf-8")
    assert page.count('<section class="episode"') == 3
    assert "first 3 of 8 episodes" in page


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
        *args,
    ]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, env={**os.environ, "LANG": "C.UTF-8"}
    )


def test_viewer_renders_in_headless_chromium(tmp_path):
    binary = _chromium()
    if binary is None:
        skip_or_fail("chromium not installed (apt-get install -y chromium)")
    src = tmp_path / "trajectories.jsonl"
    write_trajectories(src, all_samples())
    page = tmp_path / "page.html"
    write_viewer(src, page)
    url = page.resolve().as_uri()

    dom = _run_chromium(binary, tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    html = dom.stdout
    body = re.search(r"<body[^>]*>", html)
    assert body is not None, html[:500]
    # the page's script ran to the end without errors, and counted the rendered steps
    assert 'data-ok="1"' in body.group(0), body.group(0)
    assert f'data-rendered-steps="{ALL_STEPS}"' in body.group(0)
    assert 'id="render-ok"' in html
    assert 'class="js-error"' not in html
    assert "showing 8 of 8 episodes" in html
    # no model-written script ran
    assert "data-pwned" not in body.group(0)
    assert "Uncaught" not in dom.stderr and "SyntaxError" not in dom.stderr, dom.stderr[-2000:]
    assert len(re.findall(r'<li class="step[^"]*" data-step=', html)) == ASSISTANT_STEPS

    # the search box filters episodes (prefilled from the URL: page.html#q=...)
    searched = _run_chromium(binary, tmp_path / "profile-q", "--dump-dom", url + "#q=Einstein%20munich")
    assert "showing 1 of 8 episodes" in searched.stdout
    assert len(re.findall(r'<section class="episode hidden"', searched.stdout)) == 7
    shown = re.findall(r'<section class="episode" id="([^"]+)"', searched.stdout)
    assert shown == ["ep-ep-wrong"]

    shot = tmp_path / "viewer.png"
    res = _run_chromium(
        binary, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,2000", url
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 20_000  # a rendered page, not a blank image
    if out := os.environ.get("AGENTDISTILL_TEST_ARTIFACTS"):
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(out) / "trajectory_viewer.png")
        shutil.copy(page, Path(out) / "trajectory_viewer.html")


def test_viewer_reports_script_errors(tmp_path):
    """The error hook works: a page whose script throws is not marked ok and shows the error."""
    binary = _chromium()
    if binary is None:
        skip_or_fail("chromium not installed (apt-get install -y chromium)")
    page_text = render_page(all_samples()[:1]).replace("apply();", "apply(); undefinedFunction();", 1)
    page = tmp_path / "broken.html"
    page.write_text(page_text, encoding="utf-8")
    dom = _run_chromium(binary, tmp_path / "profile", "--dump-dom", page.resolve().as_uri())
    body = re.search(r"<body[^>]*>", dom.stdout)
    assert body is not None and 'data-ok="0"' in body.group(0)
    assert 'class="js-error"' in dom.stdout and "undefinedFunction" in dom.stdout


@pytest.mark.parametrize("limit", [None, 1])
def test_cli_view(tmp_path, limit):
    from typer.testing import CliRunner

    from agentdistill.trajectories.cli import trajectories_app

    src = tmp_path / "t.jsonl"
    write_trajectories(src, all_samples())
    args = ["view", str(src), "--out", str(tmp_path / "v.html")] + (["--limit", str(limit)] if limit else [])
    r = CliRunner().invoke(trajectories_app, args)
    assert r.exit_code == 0, r.output
    assert f"({limit or 8} episodes)" in r.output
