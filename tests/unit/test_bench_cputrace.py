"""The browser benchmark's CPU attribution (support.bench.cputrace) on a trace from a test double.

``trace`` builds a Chromium JSON trace by hand. Its event shapes are copied from a trace Chromium (Debian's
``chromium``, Playwright ``browser.start_tracing`` with cputrace.CATEGORIES) wrote on this machine: the ``Profile``
event sits on the sampled thread, its ``ProfileChunk`` events come from V8's profiler thread (same pid, other tid)
with incremental ``cpuProfile.nodes`` and ``timeDeltas``; a mark made with an explicit startTime is an ``I`` event
of ``blink.user_timing`` on the main thread.
"""

import json

from support.bench import cputrace as ct

PID, MAIN, PROFILER = 100, 100, 133
BUNDLE = "http://127.0.0.1:41000/_app/immutable/nodes/2.js"


def node(node_id, parent, name, url=""):
    return {"id": node_id, "parent": parent, "callFrame": {"functionName": name, "url": url, "codeType": "JS"}}


def trace(marks_us, chunks, steps=()):
    events = [{"name": "thread_name", "ph": "M", "pid": PID, "tid": MAIN, "cat": "__metadata",
               "args": {"name": "CrRendererMain"}},
              {"name": "Profile", "ph": "P", "id": "0x1", "pid": PID, "tid": MAIN, "ts": 0,
               "cat": "disabled-by-default-v8.cpu_profiler", "args": {"data": {"startTime": 0}}}]
    for name, ts in marks_us.items():
        events.append({"name": name, "ph": "I", "s": "t", "pid": PID, "tid": MAIN, "ts": ts,
                       "cat": "blink.user_timing", "args": {"data": {"startTime": ts / 1000}}})
    for nodes, ids, deltas in chunks:
        events.append({"name": "ProfileChunk", "ph": "P", "id": "0x1", "pid": PID, "tid": PROFILER, "ts": 0,
                       "cat": "disabled-by-default-v8.cpu_profiler",
                       "args": {"data": {"cpuProfile": {"nodes": nodes, "samples": ids}, "timeDeltas": deltas}}})
    for name, start, dur, url in steps:
        events.append({"name": name, "ph": "X", "pid": PID, "tid": MAIN, "ts": start, "dur": dur,
                       "cat": "devtools.timeline", "args": {"data": {"url": url}} if url is not None else {}})
    return {"traceEvents": events}


NODES = [node(1, None, "(root)"), node(2, 1, "(program)"), node(3, 1, "(idle)"), node(4, 1, ""),
         node(5, 4, "submitPrompt", BUNDLE), node(6, 5, "structuredClone"), node(7, 1, "(garbage collector)"),
         node(8, 1, "sample")]
MARKS = {"qwen3-enter": 0, "qwen3-post": 10_000, "qwen3-first-frame": 30_000, "qwen3-paint": 40_000}


def test_each_sample_counts_until_the_next_for_its_owner():
    # 1 ms samples: 0-10 ms Open WebUI's JS (a native callee counts for its JS caller), 10-30 idle,
    # 30-34 the recorder, 34-37 (program) inside a layout, 37-38 (program) outside any step, 38-40 GC
    chunks = [(NODES, [5] * 5 + [6] * 5 + [3] * 10, [0] + [1000] * 19),  # the first sample at the profile's start
              ([], [3] * 10 + [8] * 4 + [2] * 4 + [7] * 2 + [3], [1000] * 21)]
    split = ct.phase_split(ct.events_of(json.dumps(trace(MARKS, chunks, [("Layout", 34_000, 3_000, None)]))))
    assert split["enter_to_post"]["open_webui"] == 10.0
    assert split["post_to_first_frame"]["idle"] == 20.0
    paint = split["first_frame_to_paint"]
    assert (paint["measurement"], paint["rendering"], paint["browser"], paint["gc"]) == (4.0, 3.0, 1.0, 2.0)
    whole = split["enter_to_paint"]
    assert whole["wall"] == 40.0 and whole["unsampled"] == 0.0
    assert sum(whole[k] for k in ct.OWNERS) == 40.0


def test_native_work_counts_for_the_innermost_call_or_step_around_it():
    # (program) from 0 to 10 ms inside Open WebUI's FunctionCall [0, 10) with a forced layout [4, 6) in it,
    # then inside a FunctionCall of a script without a URL [10, 13), then outside everything
    chunks = [(NODES, [2] * 15, [0] + [1000] * 14)]
    steps = [("FunctionCall", 0, 10_000, BUNDLE), ("Layout", 4_000, 2_000, None), ("FunctionCall", 10_000, 3_000, "")]
    marks = {"qwen3-enter": 0, "qwen3-post": 14_000, "qwen3-first-frame": 14_000, "qwen3-paint": 14_000}
    split = ct.phase_split(ct.events_of(json.dumps(trace(marks, chunks, steps))))["enter_to_post"]
    assert (split["open_webui"], split["rendering"], split["measurement"], split["browser"]) == (8.0, 2.0, 3.0, 1.0)


def test_gaps_without_samples_are_reported_not_guessed():
    chunks = [(NODES, [5, 5, 3], [1000, 1000, 1000])]  # samples at 1, 2, 3 ms; the phases run to 40 ms
    split = ct.phase_split(ct.events_of(json.dumps(trace(MARKS, chunks))))
    assert split["enter_to_post"]["open_webui"] == 2.0  # [1, 3) ms; the last sample has no length
    assert split["enter_to_paint"]["unsampled"] == 38.0


def test_no_marks_no_split_and_means_add_up():
    assert ct.phase_split(ct.events_of(json.dumps(trace({}, [(NODES, [3], [1000])])))) == {}
    rows = [{"enter_to_paint": {"idle": 10.0, "open_webui": 30.0, "wall": 40.0}},
            {"enter_to_paint": {"idle": 20.0, "open_webui": 40.0, "wall": 60.0}}]
    assert ct.mean_split(rows) == {"enter_to_paint": {"idle": 15.0, "open_webui": 35.0, "wall": 50.0, "n": 2}}
