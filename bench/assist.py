"""Assist benchmark: intent, escalations, false alarms, data points, steps and latency.

    .venv/bin/python -m bench.assist                # live: real server, /v1/twilio, real time
    .venv/bin/python -m bench.assist --speed 2      # twice real time
    .venv/bin/python -m bench.assist --text         # the scripts' own words, no recogniser
    .venv/bin/python -m bench.assist --scripts DIR  # other call scripts (JSON, see fixtures/)
    .venv/bin/python -m bench.assist --neural --split test   # the neural-voice set, its test half
    .venv/bin/python -m bench.assist --neural --auto-language  # no language from the platform
    .venv/bin/python -m bench.assist --neural --hotwords "postcode, email, dot com"

`--neural`: the 24 labelled scripts of fixtures/calls/neural, synthesised with neural
voices by scripts/synth-calls (../shared/eval/synth_neural.py in a pinned venv of its
own, first run only) into .cache/neural-calls; they sound far closer to real callers
than espeak-ng does. Their labels carry a dev/test split: tune on dev, report test.
`--auto-language`: the platform passes no language, so the service's default
(identification) decides it, as on a Twilio stream with no custom parameter.

Calls: the labelled calls of fixtures/calls (the three of ../shared/eval/calls and
our German one, with their audio) and the scripts of fixtures/calls/scripts,
synthesised first with ../shared/eval/synth_call.py (needs espeak-ng and sox).
Where ../shared/eval or espeak-ng is missing, it says so and runs the calls with audio only.

Per call and in total it prints: the intent found against the label; whether the
escalation was caught while the escalating turn or the agent's reply to it was
still running, and how many seconds after the escalating sentence ended the cue
arrived (call-audio seconds); false alarms (a cue on a calm call, or before the
escalating turn); labelled data points and steps found in the final summary; and
assist latency p50/p95: from a transcript.final reaching the desktop to the last
event it caused (live), or the time of AssistSession.on_final (--text); the wrap-up's
disposition against the label, and (live) the wrap-up's arrival after the last audio
was sent; and (live) the handover package's arrival after the agent's Transfer, which
the benchmark clicks once the agent has answered the escalating turn of each call
labelled for a handover.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from assist.assistant import Assistant
from assist.session import AssistSession
from bench.corpus import SYNTH_CALL, missing
from contract.events import (
    Alert,
    Event,
    HandoverCue,
    HandoverPackage,
    IntentDetected,
    Sentiment,
    Suggestion,
    Summary,
    TranscriptFinal,
    Wrapup,
)
from testkit import FIXTURES
from testkit.calls import (
    LabelledCall,
    Observed,
    final_summary,
    found_data_point,
    found_follow_up,
    found_step,
    script_finals,
    stream_call,
)
from testkit.events import numbered, payloads
from testkit.server import LocalServer

CALLS = FIXTURES / "calls"
REPO = Path(__file__).resolve().parent.parent
ASSIST_TYPES = (Sentiment, IntentDetected, Summary, Suggestion, HandoverCue, Alert)


@dataclass
class Score:
    name: str
    split: str
    expected_intent: str | None
    intent: str | None
    intent_ok: bool
    escalation: str  # "caught", "late", "missed", "-" (none expected)
    delay_s: float | None
    false_alarms: int
    points: tuple[int, int]
    steps: tuple[int, int]
    disposition: tuple[str | None, str | None] = (None, None)  # (labelled, drafted)
    follow_ups: tuple[int, int] = (0, 0)  # labelled follow-ups the draft has, of all labelled
    wrapup_s: float | None = None  # live: the draft's arrival after the last audio was sent
    package_s: float | None = None  # live: the handover package's arrival after Transfer
    missed: list[str] = field(default_factory=list)  # labelled data points and steps not found
    latencies_s: list[float] = field(default_factory=list)


def score(call: LabelledCall, events: list[Event], arrived: dict[int, float]) -> Score:
    """`arrived`: seq -> the call-audio second the event reached the desktop at."""
    labels = call.labels
    intents = payloads(events, IntentDetected)
    intent = intents[-1].intent if intents else None
    summary = final_summary(events) or Summary(intent=None)
    cue_times = [arrived[seq] for seq, _ in numbered(events, HandoverCue)]
    window = call.escalation_window_s()
    escalation, delay, false_alarms = "-", None, 0
    if window is None or labels.escalation_turn is None:
        false_alarms = len(cue_times)
    else:
        false_alarms = sum(t < window[0] for t in cue_times)
        in_time = [t for t in cue_times if t >= window[0]]
        turn_end = call.turns[labels.escalation_turn].end_s
        if in_time:
            delay = in_time[0] - turn_end
            escalation = "caught" if in_time[0] <= window[1] else "late"
        else:
            escalation = "missed"
    points = [found_data_point(p, summary) for p in labels.data_points]
    steps = [found_step(s, summary) for s in labels.steps_tried]
    missed = [f"data {p!r}" for p, ok in zip(labels.data_points, points, strict=True) if not ok]
    missed += [f"step {s!r}" for s, ok in zip(labels.steps_tried, steps, strict=True) if not ok]
    drafts = payloads(events, Wrapup)
    disposition = (labels.disposition, drafts[-1].disposition if drafts else None)
    drafted = drafts[-1].notes.follow_ups if drafts else ()
    follow_ups = [found_follow_up(f, drafted) for f in labels.follow_ups]
    return Score(
        call.name,
        labels.split,
        labels.intent,
        intent,
        intent == labels.intent,
        escalation,
        delay,
        false_alarms,
        (sum(points), len(points)),
        (sum(steps), len(steps)),
        disposition,
        (sum(follow_ups), len(follow_ups)),
        missed=missed,
    )


def live_latencies(observed: Observed) -> list[float]:
    """Per final: from its arrival to the arrival of the last assist event it caused."""
    final_at = {
        final.segment_id: observed.arrived_wall_s[seq]
        for seq, final in numbered(observed.events, TranscriptFinal)
    }
    last: dict[str, float] = {}
    for event in observed.events:
        payload = event.payload
        if isinstance(payload, ASSIST_TYPES) and payload.segment_id in final_at:
            last[payload.segment_id] = observed.arrived_wall_s[event.seq]
    return [last[s] - final_at[s] for s in last]


def package_latency(observed: Observed) -> float | None:
    packages = numbered(observed.events, HandoverPackage)
    if not packages or observed.transfer_sent_wall_s is None:
        return None
    return observed.arrived_wall_s[packages[0][0]] - observed.transfer_sent_wall_s


def transfer_time(call: LabelledCall) -> float | None:
    """Where the labels expect a handover: the agent transfers once they have answered
    the escalating turn (the reply the cue asks for)."""
    window = call.escalation_window_s()
    return window[1] if call.labels.handover_expected and window is not None else None


def wrapup_latency(observed: Observed) -> float | None:
    drafts = numbered(observed.events, Wrapup)
    if not drafts or observed.audio_sent_wall_s is None:
        return None
    return observed.arrived_wall_s[drafts[-1][0]] - observed.audio_sent_wall_s


async def run_live(
    calls: list[LabelledCall], speed: float, declare_language: bool, hotwords: str = ""
) -> list[Score]:
    env = {"CALLASSIST_ASR_HOTWORDS": hotwords} if hotwords else {}
    server = LocalServer(Path(tempfile.mkdtemp(prefix="bench-assist-")), env=env).start()
    scores = []
    try:
        for k, call in enumerate(calls):
            observed = await stream_call(
                server.ws,
                call,
                f"bench-{k}-{call.name}",
                speed,
                declare_language=declare_language,
                transfer_at_s=transfer_time(call),
            )
            result = score(call, observed.events, observed.arrived_audio_s)
            result.latencies_s = live_latencies(observed)
            result.wrapup_s = wrapup_latency(observed)
            result.package_s = package_latency(observed)
            scores.append(result)
            print_row(result)
    finally:
        server.stop()
    return scores


def run_text(calls: list[LabelledCall]) -> list[Score]:
    assistant = Assistant.load()
    scores = []
    for call in calls:
        if call.language != "en":
            print(f"{call.name:24} skipped: its words need a translation (live mode has one)")
            continue
        session = AssistSession(assistant)
        events: list[Event] = []
        arrived: dict[int, float] = {}
        latencies = []
        for final in script_finals(call):
            started = time.perf_counter()
            out = session.on_final(final) + session.on_time(final.t_end)
            latencies.append(time.perf_counter() - started)
            for payload in out:
                events.append(Event(call.name, len(events) + 1, "", payload))
                arrived[len(events)] = final.t_end
        events.append(Event(call.name, len(events) + 1, "", session.wrapup()))
        result = score(call, events, arrived)
        result.latencies_s = latencies
        scores.append(result)
        print_row(result)
    return scores


def load_calls(script_dirs: list[Path]) -> list[LabelledCall]:
    """The calls of fixtures/calls, and those of `script_dirs` synthesised (where the
    synthesiser of ../shared/eval and espeak-ng are there; if not, it says so and skips them)."""
    bases = sorted(p.with_suffix("").with_suffix("") for p in CALLS.glob("*.script.json"))
    scripts = [s for d in script_dirs for s in sorted(d.glob("*.json"))]
    if scripts and can_synthesise(f"synthesising the {len(scripts)} call scripts"):
        bases += synthesise(scripts)
    return [LabelledCall.load(base) for base in bases]


def neural_calls() -> list[Path]:
    """The neural-voice scripts, synthesised (once) by scripts/synth-calls."""
    out = REPO / ".cache" / "neural-calls"
    made = subprocess.run([str(REPO / "scripts" / "synth-calls"), str(out)], check=False)
    if made.returncode != 0:
        sys.exit("bench.assist: scripts/synth-calls failed (see above)")
    return sorted(out / p.stem for p in (CALLS / "neural").glob("*.json"))


def can_synthesise(needed_for: str) -> bool:
    if missing(SYNTH_CALL, needed_for):
        return False
    if shutil.which("espeak-ng") is None:
        print(
            f"missing: espeak-ng, needed for {needed_for} (apt-get install espeak-ng sox)",
            file=sys.stderr,
        )
        return False
    return True


def synthesise(scripts: list[Path]) -> list[Path]:
    """Each script as two 8 kHz tracks and a timeline; the bases of those that were made."""
    out = Path(tempfile.mkdtemp(prefix="bench-calls-"))
    bases = []
    for script in scripts:
        print(f"synthesising {script.name} ...", file=sys.stderr)
        made = subprocess.run(
            [sys.executable, str(SYNTH_CALL), str(script), str(out), "--rate", "8000"],
            capture_output=True,
            text=True,
        )
        if made.returncode != 0:
            why = (made.stderr.strip().splitlines() or ["no message"])[-1]
            print(f"{script.name} skipped: synthesis failed: {why}", file=sys.stderr)
            continue
        bases.append(out / json.loads(script.read_text())["name"])
    return bases


def print_row(s: Score) -> None:
    delay = f"{s.delay_s:+.1f} s" if s.delay_s is not None else ""
    wrong = "" if s.intent_ok else f" (labelled {s.expected_intent or 'none'})"
    print(
        f"{s.name:28} intent {s.intent or '-':18} {'ok ' if s.intent_ok else 'BAD'}  "
        f"escalation {s.escalation:7} {delay:8} false alarms {s.false_alarms}  "
        f"data {s.points[0]}/{s.points[1]}  steps {s.steps[0]}/{s.steps[1]}{wrong}"
    )
    labelled, drafted = s.disposition
    if labelled is not None and labelled != drafted:
        print(f"{'':28} disposition {drafted or '-'} (labelled {labelled})")
    for miss in s.missed:
        print(f"{'':28} missed {miss}")


def print_totals(scores: list[Score]) -> None:
    for split in sorted({s.split for s in scores} - {""}):
        print(f"\n== {split} half")
        print_total([s for s in scores if s.split == split])
    if len({s.split for s in scores}) > 1 or "" in {s.split for s in scores}:
        print("\n== all")
        print_total(scores)


def print_total(scores: list[Score]) -> None:
    expected = [s for s in scores if s.escalation != "-"]
    caught = [s for s in expected if s.escalation == "caught"]
    delays = [s.delay_s for s in caught if s.delay_s is not None]
    latencies = [x for s in scores for x in s.latencies_s]
    calm = [s for s in scores if s.escalation == "-"]
    print(f"calls: {len(scores)}")
    print(f"intent accuracy: {sum(s.intent_ok for s in scores)}/{len(scores)}")
    print(
        f"escalations caught in time: {len(caught)}/{len(expected)}"
        + (f", cue {np.median(delays):+.1f} s (median) after the sentence ended" if delays else "")
    )
    print(
        f"false alarms: {sum(s.false_alarms for s in calm)} cue(s) on {len(calm)} calm calls, "
        f"{sum(s.false_alarms for s in expected)} early cue(s) on escalating calls"
    )
    print(
        f"data points found: {sum(s.points[0] for s in scores)}/{sum(s.points[1] for s in scores)}"
        f"   steps found: {sum(s.steps[0] for s in scores)}/{sum(s.steps[1] for s in scores)}"
    )
    labelled = [s for s in scores if s.disposition[0] is not None]
    if labelled:
        right = sum(s.disposition[0] == s.disposition[1] for s in labelled)
        print(f"wrap-up disposition: {right}/{len(labelled)}")
        found, total = (sum(s.follow_ups[k] for s in scores) for k in (0, 1))
        print(f"wrap-up follow-ups (labelled ones drafted, owner right): {found}/{total}")
    wrapups = [s.wrapup_s for s in scores if s.wrapup_s is not None]
    if wrapups:
        print(
            f"wrap-up after the last audio: p50 {np.median(wrapups):.1f} s, "
            f"max {max(wrapups):.1f} s ({len(wrapups)} calls)"
        )
    packages = [s.package_s for s in scores if s.package_s is not None]
    if packages:
        print(
            f"handover package after Transfer: p50 {np.median(packages) * 1000:.0f} ms, "
            f"max {max(packages) * 1000:.0f} ms ({len(packages)} calls)"
        )
    if latencies:
        p50, p95 = np.percentile(latencies, [50, 95])
        print(
            f"assist latency: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms "
            f"({len(latencies)} finals)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--speed", type=float, default=1.0, help="1 = real time")
    parser.add_argument("--text", action="store_true", help="script words, no recogniser")
    parser.add_argument("--scripts", type=Path, action="append", default=None)
    parser.add_argument("--neural", action="store_true", help="the neural-voice call set")
    parser.add_argument("--split", choices=("dev", "test"), help="one half of a split set")
    parser.add_argument(
        "--auto-language", action="store_true", help="the platform declares no language"
    )
    parser.add_argument(
        "--hotwords", default="", help="live: [asr] hotwords for the server (default none)"
    )
    args = parser.parse_args()
    if args.neural:
        calls = [LabelledCall.load(base) for base in neural_calls()]
    else:
        calls = load_calls(args.scripts or [CALLS / "scripts"])
    if args.split:
        calls = [c for c in calls if c.labels.split == args.split]
    if args.text:
        scores = run_text(calls)
    else:
        scores = asyncio.run(run_live(calls, args.speed, not args.auto_language, args.hotwords))
    print_totals(scores)


if __name__ == "__main__":
    main()
