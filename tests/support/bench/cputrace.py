"""Where the page's main thread spends the time between Enter and the first painted answer (``--cpu-trace``).

Chromium traces each of ours' measured requests (Playwright's ``browser.start_tracing``) with V8's sampling
profiler on (category ``disabled-by-default-v8.cpu_profiler``: a ``Profile`` event on the thread it samples, then
``ProfileChunk`` events with the call-tree nodes, the sampled node ids and the microseconds between samples) and
the rendering steps (``devtools.timeline``). After the request the benchmark adds performance marks at the
recorder's own times (``MARK_JS``); a mark created with an explicit ``startTime`` lands in the trace at that time
(blink.user_timing, ``ts`` = time origin + startTime; checked: a mark at a keydown's ``timeStamp`` lands 3.5 ms
before that keydown's ``EventDispatch``, which starts after the input event's queueing), so the phases here are the
recorder's phases.

Each sample of the page's main thread counts, until the next sample, for one owner:

* ``idle``        V8's ``(idle)``: the thread had nothing to run (it waited for the network, a timer, a frame);
* ``gc``          ``(garbage collector)``;
* ``open_webui``  JavaScript with a frame from a script the page loaded over http(s): Open WebUI's own code
                  (its SvelteKit bundles; nothing else is loaded from anywhere else), and ``(program)`` (native
                  work sampled with no JavaScript frame, e.g. microtask checkpoints, entering and leaving a
                  callback) inside a call into such a script (``FunctionCall`` / ``EvaluateScript`` with that URL);
* ``measurement`` the same for scripts without a URL: the page recorder and Playwright's scripts (init and
                  evaluation scripts have none);
* ``rendering``   ``(program)`` inside a style, layout, paint or commit step of the main thread;
* ``browser``     other ``(program)``: Chromium's own work on the thread (IPC, task scheduling, frame setup).

For ``(program)`` the innermost of those steps and calls around the sample decides (a forced layout inside
Open WebUI's call counts as rendering).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

CATEGORIES = ["devtools.timeline", "blink.user_timing", "disabled-by-default-v8.cpu_profiler"]
OWNERS = ("idle", "open_webui", "rendering", "browser", "gc", "measurement")
# (phase, from mark, to mark): the recorder's Enter, POST start, first answer frame, first paint
PHASES = (("enter_to_post", "qwen3-enter", "qwen3-post"),
          ("post_to_first_frame", "qwen3-post", "qwen3-first-frame"),
          ("first_frame_to_paint", "qwen3-first-frame", "qwen3-paint"),
          ("enter_to_paint", "qwen3-enter", "qwen3-paint"))
SCRIPT_CALLS = frozenset({"FunctionCall", "EvaluateScript"})
RENDERING_STEPS = frozenset({"UpdateLayoutTree", "Layout", "PrePaint", "Paint", "Layerize", "Commit", "HitTest",
                             "UpdateLayer", "IntersectionObserverController::computeIntersections"})
# The recorder's times (performance.now() ms, browser_page_js) as marks; returns whether all four existed.
MARK_JS = """() => { const w = window.__qwen3 && window.__qwen3.watch;
  const t = w && [['qwen3-enter', w.enter], ['qwen3-post', w.post && w.post.start],
                  ['qwen3-first-frame', w.first_delta], ['qwen3-paint', w.first_visible && w.first_visible[1]]];
  if (!t || t.some((m) => typeof m[1] !== 'number')) return false;
  for (const [name, at] of t) performance.mark(name, { startTime: at });
  return true; }"""


def events_of(data: bytes | str) -> list[dict]:
    """Trace events from Chromium's JSON trace (an object with ``traceEvents`` or a bare list)."""
    doc = json.loads(data)
    return doc["traceEvents"] if isinstance(doc, dict) else doc


def marks(events: Iterable[dict]) -> dict[str, tuple[int, int, float]]:
    """Our marks: name -> (pid, tid, ts in µs); the last of each name wins."""
    names = {m for _, a, b in PHASES for m in (a, b)}
    return {e["name"]: (e["pid"], e["tid"], float(e["ts"])) for e in events
            if e.get("cat") == "blink.user_timing" and e.get("name") in names}


def samples(events: list[dict], pid: int, tid: int) -> tuple[list[tuple[float, int]], dict[int, dict]]:
    """The profiler's samples of one thread as (µs, node id), time-sorted, and its nodes by id."""
    # per profile of this thread: the time of its latest sample, from the profile's start
    clock = {e["id"]: float(e["args"]["data"]["startTime"]) for e in events
             if e.get("name") == "Profile" and e.get("pid") == pid and e.get("tid") == tid}
    nodes: dict[int, dict] = {}
    out: list[tuple[float, int]] = []
    for e in events:  # chunks arrive in order; each carries the deltas since the previous sample
        if e.get("name") != "ProfileChunk" or e.get("pid") != pid or e.get("id") not in clock:
            continue
        data = e["args"]["data"]
        profile = data.get("cpuProfile") or {}
        for node in profile.get("nodes") or []:
            nodes[node["id"]] = node
        for node_id, delta in zip(profile.get("samples") or [], data.get("timeDeltas") or [], strict=False):
            clock[e["id"]] += delta
            out.append((clock[e["id"]], node_id))
    out.sort()
    return out, nodes


def _from_page(url: object) -> bool:
    return str(url or "").startswith(("http://", "https://"))


def owner(node_id: int, nodes: dict[int, dict], around: dict | None) -> str:
    """Who a sample's time belongs to (see the module's docstring); ``around``: the innermost rendering step or
    script call (a trace event) that was running at the sample, if any."""
    node = nodes.get(node_id)
    name = node["callFrame"].get("functionName") if node else "(program)"
    if name == "(idle)":
        return "idle"
    if name == "(garbage collector)":
        return "gc"
    if name in ("(program)", "(root)"):
        if around is None:
            return "browser"
        if around["name"] in RENDERING_STEPS:
            return "rendering"
        return "open_webui" if _from_page(((around.get("args") or {}).get("data") or {}).get("url")) else "measurement"
    while node is not None:
        if _from_page(node["callFrame"].get("url")):
            return "open_webui"
        node = nodes.get(node.get("parent"))
    return "measurement"


def _innermost(events: list[dict], times: list[float]) -> list[dict | None]:
    """For each time (ascending), the latest-starting event still running then (events on one thread nest)."""
    spans = sorted((float(e["ts"]), float(e["ts"]) + float(e.get("dur", 0)), i) for i, e in enumerate(events))
    out: list[dict | None] = []
    active: list[tuple[float, float, int]] = []
    k = 0
    for t in times:
        while k < len(spans) and spans[k][0] <= t:
            active.append(spans[k])
            k += 1
        active = [s for s in active if s[1] > t]
        out.append(events[active[-1][2]] if active else None)
    return out


def phase_split(events: list[dict]) -> dict[str, dict[str, float]]:
    """Per phase (PHASES) the main thread's milliseconds per owner (OWNERS) and the phase's wall time."""
    found = marks(events)
    if "qwen3-enter" not in found:
        return {}
    pid, tid, _ = found["qwen3-enter"]
    sampled, nodes = samples(events, pid, tid)
    steps = [e for e in events if e.get("pid") == pid and e.get("tid") == tid and e.get("ph") == "X"
             and (e.get("name") in RENDERING_STEPS or e.get("name") in SCRIPT_CALLS)]
    around = _innermost(steps, [t for t, _ in sampled])
    owners = [owner(node_id, nodes, around[i]) for i, (_, node_id) in enumerate(sampled)]

    result: dict[str, dict[str, float]] = {}
    for phase, a, b in PHASES:
        if a not in found or b not in found:
            continue
        lo, hi = found[a][2], found[b][2]
        split = dict.fromkeys(OWNERS, 0.0)
        for i, (t, _) in enumerate(sampled[:-1]):
            end = sampled[i + 1][0]
            part = min(end, hi) - max(t, lo)
            if part > 0:
                split[owners[i]] += part / 1000
        covered = sum(split.values())
        split = {k: round(v, 2) for k, v in split.items()}
        split["wall"] = round((hi - lo) / 1000, 2)
        split["unsampled"] = round(max(0.0, (hi - lo) / 1000 - covered), 2)
        result[phase] = split
    return result


def mean_split(rows: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """The per-request splits averaged phase by phase (means add up, so the owners still sum to the wall time)."""
    out: dict[str, dict[str, float]] = {}
    for phase, _, _ in PHASES:
        have = [r[phase] for r in rows if phase in r]
        if have:
            out[phase] = {k: round(sum(r[k] for r in have) / len(have), 1) for k in have[0]}
            out[phase]["n"] = len(have)
    return out
