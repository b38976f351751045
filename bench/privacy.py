"""Redaction benchmark: recall per kind, look-alikes redacted by mistake, time per final.

    .venv/bin/python -m bench.privacy                  # every split of the corpus
    .venv/bin/python -m bench.privacy --split fresh    # the set written last, never tuned to
    .venv/bin/python -m bench.privacy --show-misses    # print what was missed and why

The corpus is `fixtures/privacy/*.jsonl` (see its README): stretches of calls
as recognisers write them, each final labelled with the personal data in it and the
look-alikes that must stay. Every item runs through a fresh `CallRedactor` under a
policy that hides every kind (so each kind's detection is measured), final by final,
as a call would: the context of one final judges the next.

- recall: a labelled value counts as caught when every letter and digit of it lies
  inside a redacted span, in every final it spans (any kind; "kind right" says how
  many got the labelled kind);
- partials: the same, on every word-by-word prefix of each final (what a caller's
  partials look like while the value is still being read);
- look-alikes: the share of `keep` strings with any letter or digit redacted;
- time: milliseconds per final (mean and p95), on this machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from assist import pii
from assist.redaction import Audience, CallRedactor, Policy
from contract.events import PrivateKind, Speaker, TranscriptFinal, TranscriptPartial
from testkit import FIXTURES

CORPUS = FIXTURES / "privacy"
TARGET_RECALL = {  # issue 13
    PrivateKind.CARD_NUMBER: 0.98,
    PrivateKind.SECURITY_CODE: 0.98,
    PrivateKind.NATIONAL_ID: 0.98,
}
TARGET_FALSE = 0.02
SECONDS_PER_FINAL = 3.0


@dataclass
class Tally:
    labelled: Counter[str] = field(default_factory=Counter)
    caught: Counter[str] = field(default_factory=Counter)
    kind_right: Counter[str] = field(default_factory=Counter)
    partial_seen: Counter[str] = field(default_factory=Counter)
    partial_caught: Counter[str] = field(default_factory=Counter)
    keeps: int = 0
    keeps_redacted: int = 0
    final_ms: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)


def everything_hidden() -> Policy:
    every = frozenset(PrivateKind)
    return Policy({audience: every for audience in Audience})


def _where(final_text: str, text: str, occurrence: int) -> tuple[int, int]:
    start = -1
    for _ in range(occurrence + 1):
        start = final_text.index(text, start + 1)
    return start, start + len(text)


def _covered(spans: list[pii.Span], start: int, end: int, text: str) -> set[PrivateKind] | None:
    """The kinds covering every letter and digit of text[start:end]; None if one is bare."""
    kinds: set[PrivateKind] = set()
    for offset in range(start, end):
        if not text[offset].isalnum():
            continue
        over = [s.kind for s in spans if s.start <= offset < s.end]
        if not over:
            return None
        kinds.update(over)
    return kinds


def run_item(item: dict, tally: Tally) -> None:
    redactor = CallRedactor(everything_hidden())
    finals = item["finals"]
    spans_by_final: list[list[pii.Span]] = []
    for index, final in enumerate(finals):
        t = index * SECONDS_PER_FINAL
        speaker = Speaker(final["speaker"])
        for prefix in _prefixes(final["text"]):
            partial = TranscriptPartial(speaker, prefix, t, t + 1, "en")
            _tally_partial(item, index, prefix, redactor.spans(partial), tally)
        update = TranscriptFinal(f"s{index}", speaker, final["text"], t, t + 2, "en", ())
        began = time.perf_counter()
        spans_by_final.append(redactor.spans(update))
        tally.final_ms.append((time.perf_counter() - began) * 1000)
    for secret in item.get("secrets", []):
        kind = secret["kind"]
        tally.labelled[kind] += 1
        covering: set[PrivateKind] = set()
        missed = False
        for piece in secret["pieces"]:
            text = finals[piece["final"]]["text"]
            start, end = _where(text, piece["text"], piece.get("occurrence", 0))
            kinds = _covered(spans_by_final[piece["final"]], start, end, text)
            if kinds is None:
                missed = True
                tally.misses.append(f"{item['id']}: missed {kind} {piece['text']!r} in {text!r}")
            else:
                covering |= kinds
        if not missed:
            tally.caught[kind] += 1
            tally.kind_right[kind] += covering == {PrivateKind(kind)}
    for keep in item.get("keep", []):
        text = finals[keep["final"]]["text"]
        start, end = _where(text, keep["text"], keep.get("occurrence", 0))
        spans = spans_by_final[keep["final"]]
        tally.keeps += 1
        if any(s.start < end and start < s.end for s in spans):
            tally.keeps_redacted += 1
            tally.misses.append(f"{item['id']}: redacted look-alike {keep['text']!r} in {text!r}")


def _prefixes(text: str) -> list[str]:
    words = text.split()
    return [" ".join(words[:n]) for n in range(1, len(words))]


def _tally_partial(
    item: dict, index: int, prefix: str, spans: list[pii.Span], tally: Tally
) -> None:
    """A labelled piece wholly inside this partial must be covered in it."""
    for secret in item.get("secrets", []):
        for piece in secret["pieces"]:
            if piece["final"] != index or piece["text"] not in prefix:
                continue
            start, end = _where(prefix, piece["text"], 0)
            tally.partial_seen[secret["kind"]] += 1
            tally.partial_caught[secret["kind"]] += _covered(spans, start, end, prefix) is not None


def report(name: str, tally: Tally) -> bool:
    """Prints the split's figures; True when the issue's targets are met."""
    print(f"\n== {name}")
    print(f"{'kind':<15}{'labelled':>9}{'recall':>9}{'kind right':>12}{'partials':>10}")
    met = True
    for kind in PrivateKind:
        n = tally.labelled[kind.value]
        if not n:
            continue
        recall = tally.caught[kind.value] / n
        right = tally.kind_right[kind.value] / n
        seen = tally.partial_seen[kind.value]
        partial = tally.partial_caught[kind.value] / seen if seen else float("nan")
        target = TARGET_RECALL.get(kind)
        mark = "" if target is None else (" ok" if recall >= target else f" < {target:.0%}")
        met &= target is None or recall >= target
        print(f"{kind.value:<15}{n:>9}{recall:>9.1%}{right:>12.1%}{partial:>10.1%}{mark}")
    false_rate = tally.keeps_redacted / tally.keeps if tally.keeps else 0.0
    met &= false_rate <= TARGET_FALSE
    print(
        f"look-alikes redacted: {tally.keeps_redacted}/{tally.keeps} = {false_rate:.1%}"
        f" (target <= {TARGET_FALSE:.0%})"
    )
    p95 = statistics.quantiles(tally.final_ms, n=20)[-1] if len(tally.final_ms) > 1 else 0.0
    print(f"time per final: mean {statistics.mean(tally.final_ms):.2f} ms, p95 {p95:.2f} ms")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="a .jsonl file or a folder")
    parser.add_argument("--split", default="all", help="dev, test, fresh or all")
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args(argv)
    files = sorted(args.corpus.glob("*.jsonl")) if args.corpus.is_dir() else [args.corpus]
    items = [
        json.loads(line) for path in files for line in path.read_text().splitlines() if line.strip()
    ]
    present = list(dict.fromkeys(i["split"] for i in items))
    splits = present if args.split == "all" else [args.split]
    met = True
    for split in splits:
        tally = Tally()
        chosen = [i for i in items if i["split"] == split]
        for item in chosen:
            run_item(item, tally)
        met &= report(f"{split}: {len(chosen)} items", tally)
        if args.show_misses:
            print("\n".join(tally.misses))
    print("\ntargets met" if met else "\ntargets NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
