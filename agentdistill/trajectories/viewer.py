"""One self-contained HTML page for reading trajectories: each episode's task, answers and steps.

Reading episodes is how a user finds out why a filter dropped half the data or what the student
learns from, so the page shows each step's thought, code and observation, marks which messages are
trained (``train: true``) and which are masked, highlights reflections and failed steps, and has a
search box. Inline CSS and JS, no network, so it opens from a laptop's disk or a CI artifact. Every
piece of trajectory text is model-written, hence escaped (``html.escape``) before it reaches the page.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Iterable
from pathlib import Path

from agentdistill.agents.parsing import parse_action
from agentdistill.schema import Message, Trajectory
from agentdistill.tasks.metrics import is_success
from agentdistill.trajectories.filters import rescore
from agentdistill.trajectories.store import iter_trajectories


def _e(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


_CSS = """
:root { --trained:#1a7f37; --masked:#8c959f; --refl:#bf8700; --fail:#cf222e; --bg:#f6f8fa; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1f2328; background: #fff; }
header { position: sticky; top: 0; z-index: 2; background: #fff; border-bottom: 1px solid #d0d7de; padding: 10px 18px; }
header h1 { font-size: 18px; margin: 0 0 6px; }
.controls { display: flex; gap: 14px; align-items: center; flex-wrap: wrap; }
#search { width: 380px; padding: 5px 8px; border: 1px solid #d0d7de; border-radius: 6px; font-size: 14px; }
.legend span { display: inline-block; margin-right: 10px; font-size: 12px; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: -2px; margin-right: 4px; border-radius: 2px; }
#js-errors { background: #ffebe9; color: var(--fail); padding: 8px 18px; font-family: monospace; }
main { padding: 12px 18px 40px; }
.episode { border: 1px solid #d0d7de; border-radius: 8px; margin: 0 0 18px; padding: 12px 14px; }
.episode.hidden { display: none; }
.episode > h2 { font-size: 15px; margin: 0 0 6px; font-family: ui-monospace, monospace; }
.meta { display: flex; flex-wrap: wrap; gap: 6px 16px; font-size: 12px; color: #57606a; margin-bottom: 8px; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; }
.pill.ok { background: var(--trained); } .pill.bad { background: var(--fail); } .pill.none { background: var(--masked); }
.pill.status-max_steps { background: var(--refl); } .pill.status-failed { background: var(--fail); }
.pill.status-ok { background: #0969da; }
.pill.rescored { background: #fff; border: 2px solid; padding: 0 7px; }
.pill.rescored.ok { color: var(--trained); } .pill.rescored.bad { color: var(--fail); }
.qa { display: grid; grid-template-columns: 110px 1fr; gap: 4px 10px; background: var(--bg); padding: 8px 10px; border-radius: 6px; margin-bottom: 8px; }
.qa .k { font-weight: 600; color: #57606a; }
.qa .v { white-space: pre-wrap; word-break: break-word; }
details.system summary, details.steps-box summary { cursor: pointer; color: #57606a; font-size: 12px; }
ol.steps { list-style: none; padding: 0; margin: 6px 0 0; }
.step { border-left: 5px solid var(--trained); background: #fff; margin: 8px 0; padding: 6px 10px; border-radius: 0 6px 6px 0; box-shadow: 0 0 0 1px #d0d7de inset; }
.step.masked { border-left-color: var(--masked); background: repeating-linear-gradient(135deg, #fafbfc, #fafbfc 8px, #f0f2f4 8px, #f0f2f4 16px); }
.step.failed { border-left-color: var(--fail); }
.step.prelude { border-left-color: #d0d7de; }
.step-head { font-size: 12px; color: #57606a; margin-bottom: 4px; display: flex; gap: 8px; align-items: center; }
.badge { font-size: 11px; font-weight: 700; padding: 0 6px; border-radius: 4px; border: 1px solid; }
.badge.trained { color: var(--trained); border-color: var(--trained); }
.badge.masked { color: var(--masked); border-color: var(--masked); }
.badge.failed { color: #fff; background: var(--fail); border-color: var(--fail); }
.badge.reflection { color: #fff; background: var(--refl); border-color: var(--refl); }
.label { font-size: 11px; font-weight: 700; text-transform: uppercase; color: #57606a; margin-top: 4px; }
.thought { white-space: pre-wrap; word-break: break-word; }
.step.reflection { background: #fffbea; }
.reflection-text { white-space: pre-wrap; background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px; padding: 6px 8px; margin: 4px 0; }
pre { margin: 4px 0; padding: 6px 8px; border-radius: 6px; overflow: auto; max-height: 360px; white-space: pre-wrap; word-break: break-word; font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre.code { background: #0d1117; color: #e6edf3; }
pre.obs { background: var(--bg); border: 1px solid #d0d7de; }
pre.obs.error { background: #ffebe9; border-color: #ff8182; color: #82071e; }
pre.raw { background: var(--bg); }
.msg + .msg { margin-top: 6px; }
.msg.user[data-train="0"] .label::after { content: " (masked: context, not trained)"; text-transform: none; font-weight: 400; }
#status-line { font-size: 12px; color: #57606a; }
"""

_JS_ERRORS = """
window.onerror = function (msg, src, line, col) {
  var box = document.getElementById('js-errors');
  var d = document.createElement('div');
  d.className = 'js-error';
  d.textContent = 'script error: ' + msg + ' (line ' + line + ':' + col + ')';
  box.appendChild(d); box.hidden = false;
  document.body.setAttribute('data-ok', '0');
};
"""

_JS_MAIN = """
(function () {
  var episodes = Array.prototype.slice.call(document.querySelectorAll('section.episode'));
  var search = document.getElementById('search');
  var onlyFailed = document.getElementById('only-failed');
  var onlyWrong = document.getElementById('only-wrong');
  var statusLine = document.getElementById('status-line');
  var texts = episodes.map(function (e) { return e.textContent.toLowerCase(); });
  function apply() {
    var words = search.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown = 0;
    episodes.forEach(function (e, i) {
      var ok = words.every(function (w) { return texts[i].indexOf(w) !== -1; });
      if (onlyFailed.checked) ok = ok && e.querySelector('.step.failed') !== null;
      if (onlyWrong.checked) ok = ok && e.getAttribute('data-correct') !== '1';
      e.classList.toggle('hidden', !ok);
      if (ok) shown += 1;
    });
    statusLine.textContent = 'showing ' + shown + ' of ' + episodes.length + ' episodes';
  }
  search.addEventListener('input', apply);
  onlyFailed.addEventListener('change', apply);
  onlyWrong.addEventListener('change', apply);
  document.getElementById('expand').addEventListener('click', function () {
    document.querySelectorAll('details.steps-box').forEach(function (d) { d.open = true; });
  });
  document.getElementById('collapse').addEventListener('click', function () {
    document.querySelectorAll('details.steps-box').forEach(function (d) { d.open = false; });
  });
  var m = /^#q=(.*)$/.exec(window.location.hash);  // a shareable search: page.html#q=words
  if (m) search.value = decodeURIComponent(m[1]);
  apply();
  var steps = document.querySelectorAll('li.step').length;
  document.body.setAttribute('data-rendered-steps', String(steps));
  if (!document.querySelector('#js-errors .js-error')) {
    document.body.setAttribute('data-ok', '1');
    var marker = document.createElement('div');
    marker.id = 'render-ok'; marker.hidden = true;
    document.body.appendChild(marker);
  }
})();
"""


def _score_pill(t: Trajectory) -> str:
    """The stored score, and the evaluation metrics' score when it disagrees (a stale or judge score)."""
    if t.score is None:
        out = '<span class="pill none">unscored</span>'
    else:
        out = f'<span class="pill {"ok" if is_success(t.score) else "bad"}">score {t.score:.2f}</span>'
    metric = rescore(t)
    if metric is not None and metric != t.score:
        cls = "ok" if is_success(metric) else "bad"
        out += f' <span class="pill {cls} rescored" title="re-scored with evaluation metrics">metrics {metric:.2f}</span>'
    return out


def _user_message(m: Message) -> str:
    kind = m.kind or "user"
    css = "obs error" if kind == "error" else "obs"
    return (
        f'<div class="msg user kind-{_e(kind)}" data-train="{int(m.train)}">'
        f'<div class="label">{_e(kind)}</div><pre class="{css}">{_e(m.content)}</pre></div>'
    )


def _assistant_message(m: Message) -> str:
    parts = [f'<div class="msg assistant kind-{_e(m.kind or "assistant")}" data-train="{int(m.train)}">']
    if m.kind in ("action", "reflection"):
        p = parse_action(m.content)
        if p.reflection:
            parts.append(
                f'<div class="label">reflection</div><div class="reflection-text">{_e(p.reflection)}</div>'
            )
        if p.thought:
            parts.append(f'<div class="label">thought</div><div class="thought">{_e(p.thought)}</div>')
        if p.code is not None:
            parts.append(f'<div class="label">code</div><pre class="code">{_e(p.code)}</pre>')
        else:
            parts.append(
                f'<div class="label">unparsed reply ({_e(p.error)})</div><pre class="raw">{_e(m.content)}</pre>'
            )
    else:
        parts.append(
            f'<div class="label">{_e(m.kind or "assistant")}</div><div class="thought">{_e(m.content)}</div>'
        )
    parts.append("</div>")
    return "".join(parts)


def _steps(t: Trajectory) -> tuple[str, str]:
    """(system prompt block, list of steps): a step is an assistant message and the observations after it."""
    system = "".join(
        f'<details class="system"><summary>system prompt ({len(m.content)} chars)</summary>'
        f'<pre class="raw">{_e(m.content)}</pre></details>'
        for m in t.messages
        if m.role == "system"
    )
    groups: list[list[Message]] = []
    for m in t.messages:
        if m.role == "system":
            continue
        if m.role == "assistant" or not groups:
            groups.append([m])
        else:
            groups[-1].append(m)
    items: list[str] = []
    n = 0
    for group in groups:
        head = group[0]
        if head.role != "assistant":
            body = "".join(_user_message(m) for m in group)
            items.append(f'<li class="step prelude"><div class="step-head">prompt</div>{body}</li>')
            continue
        n += 1
        failed = any(m.kind == "error" for m in group[1:])
        classes = ["step", "trained" if head.train else "masked"]
        badges = [
            f'<span class="badge {"trained" if head.train else "masked"}">'
            f"{'trained' if head.train else 'masked (not trained)'}</span>"
        ]
        if head.kind == "reflection" or parse_action(head.content).reflection:
            classes.append("reflection")
            badges.append('<span class="badge reflection">reflection</span>')
        if failed:
            classes.append("failed")
            badges.append('<span class="badge failed">&#x2717; failed step</span>')
        body = _assistant_message(head) + "".join(_user_message(m) for m in group[1:])
        items.append(
            f'<li class="{" ".join(classes)}" data-step="{n}" data-train="{int(head.train)}">'
            f'<div class="step-head">step {n} &middot; {_e(head.kind or "assistant")} {"".join(badges)}</div>'
            f"{body}</li>"
        )
    return system, "".join(items)


def render_episode(t: Trajectory) -> str:
    """One ``<section class="episode">`` for a trajectory."""
    correct = is_success(t.score)
    system, steps = _steps(t)
    n_steps = t.agent_steps
    meta = " ".join(
        f"<span>{_e(k)}: <b>{_e(v)}</b></span>"
        for k, v in (
            ("task", t.task.id),
            ("source", t.task.source or "-"),
            ("domain", t.task.domain),
            ("model", t.agent.model),
            ("role", t.agent.role),
            ("steps", n_steps),
            ("tokens", t.stats.prompt_tokens + t.stats.completion_tokens),
        )
    )
    rows = [("question", t.task.question), ("gold answer", t.task.answer), ("final answer", t.final_answer)]
    if t.first_thought_prefix:
        rows.append(("first-thought prefix", t.first_thought_prefix))
    if t.error:
        rows.append(("error", t.error))
    qa = "".join(
        f'<div class="k">{_e(k)}</div><div class="v">{_e(v if v is not None else "-")}</div>' for k, v in rows
    )
    return (
        f'<section class="episode" id="ep-{_e(t.id)}" data-id="{_e(t.id)}" data-status="{_e(t.status)}" '
        f'data-correct="{int(correct)}">'
        f"<h2>{_e(t.id)}</h2>"
        f'<div class="meta">{_score_pill(t)} <span class="pill status-{_e(t.status)}">{_e(t.status)}</span> {meta}</div>'
        f'<div class="qa">{qa}</div>{system}'
        f'<details class="steps-box" open><summary>{n_steps} step{"" if n_steps == 1 else "s"}</summary>'
        f'<ol class="steps">{steps}</ol></details></section>'
    )


def render_page(
    trajectories: Iterable[Trajectory], *, title: str = "trajectories", total: int | None = None
) -> str:
    """The whole page as a string; ``total`` (when larger than what is shown) is stated in the header."""
    sections = [render_episode(t) for t in trajectories]
    shown = len(sections)
    scope = f"{shown} episodes" if total is None or total == shown else f"first {shown} of {total} episodes"
    legend = (
        '<span><i class="swatch" style="background:var(--trained)"></i>trained step (train: true)</span>'
        '<span><i class="swatch" style="background:var(--masked)"></i>masked step (train: false)</span>'
        '<span><i class="swatch" style="background:var(--refl)"></i>reflection</span>'
        '<span><i class="swatch" style="background:var(--fail)"></i>failed step (error observation)</span>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        '<body data-ok="0">'
        f"<script>{_JS_ERRORS}</script>"
        f"<header><h1>{_e(title)} &middot; {_e(scope)}</h1>"
        '<div class="controls">'
        '<input id="search" type="search" placeholder="search text, ids, answers…" autocomplete="off">'
        '<label><input type="checkbox" id="only-failed"> with failed steps</label>'
        '<label><input type="checkbox" id="only-wrong"> not correct</label>'
        '<button id="expand" type="button">expand all</button>'
        '<button id="collapse" type="button">collapse all</button>'
        '<span id="status-line"></span></div>'
        f'<div class="legend">{legend}</div></header>'
        '<div id="js-errors" hidden></div>'
        f"<main>{''.join(sections) or '<p>No trajectories.</p>'}</main>"
        f"<script>{_JS_MAIN}</script></body></html>\n"
    )


def write_viewer(source: str | Path, out: str | Path, *, limit: int | None = None) -> int:
    """Write the page for a trajectory directory or JSONL file; returns the number of episodes shown."""
    source, out = Path(source), Path(out)
    stream = iter_trajectories(source)
    shown = list(itertools.islice(stream, limit)) if limit is not None else list(stream)
    total = len(shown) + sum(1 for _ in stream)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_page(shown, title=source.name or str(source), total=total), encoding="utf-8")
    return len(shown)
