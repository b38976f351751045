"""The supervisors' KPIs over the calls that ended in a window: `GET /v1/kpis?hours=24`.

Read from each call's facts (streams/facts.py: written with call.ended, and by the
agent's accepted wrap-up), never from its events, so a day of calls is one indexed
read. What the seeds of this product measure a hybrid service by:

- handover and escalation rate, cues per call: how often people were needed;
- customer sentiment at the start and the end of the call;
- repeat-contact rate: calls whose caller had an unresolved call about the same intent
  in the 7 days before (first-contact resolution's proxy), and resolved rate;
- after-call work: seconds from the call's end to the agent's accepted wrap-up (p50,
  p90), and how many wrap-ups were accepted as drafted.

Overall and per intent ("none" for calls with no clear intent).
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from typing import Any

DEFAULT_HOURS = 24.0
MAX_HOURS = 24.0 * 92  # a quarter
NO_INTENT = "none"


def kpis(rows: list[dict[str, Any]], since_iso: str, until_iso: str) -> dict[str, Any]:
    """The KPIs of `rows` (the store's ended_calls), overall and by intent."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[row["intent"] or NO_INTENT].append(row)
    return {
        "from": since_iso,
        "to": until_iso,
        "overall": _figures(rows),
        "by_intent": {intent: _figures(group) for intent, group in sorted(groups.items())},
    }


def _figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    calls = len(rows)
    reviewed = [r for r in rows if r["acw_s"] is not None]
    judged = [r for r in rows if r["resolved"] is not None]
    acw = sorted(r["acw_s"] for r in reviewed)
    return {
        "calls": calls,
        "handover_rate": _share(sum(r["handovers"] > 0 for r in rows), calls),
        "escalation_rate": _share(sum(r["cues"] > 0 for r in rows), calls),
        "cues_per_call": round(sum(r["cues"] for r in rows) / calls, 3) if calls else None,
        "sentiment_start": _mean([r["sentiment_start"] for r in rows]),
        "sentiment_end": _mean([r["sentiment_end"] for r in rows]),
        "repeat_contact_rate": _share(sum(bool(r["repeat_contact"]) for r in rows), calls),
        "resolved_rate": _share(sum(bool(r["resolved"]) for r in judged), len(judged)),
        "wrapups_accepted": len(reviewed),
        "accepted_unedited_rate": _share(
            sum(r["wrapup_edited"] is False for r in reviewed), len(reviewed)
        ),
        "acw_p50_s": _quantile(acw, 0.5),
        "acw_p90_s": _quantile(acw, 0.9),
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def _mean(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.fmean(known), 3) if known else None


def _quantile(ordered: list[float], q: float) -> float | None:
    """The nearest-rank quantile: a value some call really had."""
    if not ordered:
        return None
    rank = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return round(ordered[rank], 1)
