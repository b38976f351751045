"""The supervisors' KPIs: the figures from calls' facts, and GET /v1/kpis and /metrics
over a real service (a scripted decoder) after a caller's first and repeated call."""

from pathlib import Path

from streams.kpis import kpis
from tests.streams.test_callers import call, start_service
from tests.streams.test_server import http_get, http_text


def row(**facts):
    base = {
        "call_id": "c",
        "started_at": "s",
        "ended_at": "e",
        "duration_s": 60.0,
        "intent": "billing_dispute",
        "disposition": None,
        "resolved": None,
        "cues": 0,
        "handovers": 0,
        "sentiment_start": None,
        "sentiment_end": None,
        "summary_line": "",
        "repeat_contact": False,
        "acw_s": None,
        "wrapup_edited": None,
    }
    return base | facts


def test_figures_overall_and_by_intent():
    rows = [
        row(cues=2, handovers=1, sentiment_start=0.2, sentiment_end=-0.6, resolved=False),
        row(repeat_contact=True, acw_s=30.0, wrapup_edited=False, resolved=True),
        row(intent=None, acw_s=90.0, wrapup_edited=True, resolved=True),
        row(intent=None, acw_s=50.0, wrapup_edited=False),
    ]
    figures = kpis(rows, "from", "to")
    overall = figures["overall"]
    assert overall["calls"] == 4
    assert (overall["handover_rate"], overall["escalation_rate"]) == (0.25, 0.25)
    assert overall["cues_per_call"] == 0.5
    assert (overall["sentiment_start"], overall["sentiment_end"]) == (0.2, -0.6)
    assert overall["repeat_contact_rate"] == 0.25
    assert overall["resolved_rate"] == 0.667  # of the calls with a disposition
    assert overall["wrapups_accepted"] == 3 and overall["accepted_unedited_rate"] == 0.667
    assert (overall["acw_p50_s"], overall["acw_p90_s"]) == (50.0, 90.0)
    assert sorted(figures["by_intent"]) == ["billing_dispute", "none"]
    assert figures["by_intent"]["none"]["calls"] == 2


def test_no_calls_no_figures():
    overall = kpis([], "from", "to")["overall"]
    assert overall["calls"] == 0 and overall["acw_p50_s"] is None
    assert overall["handover_rate"] is None


async def test_kpis_and_metrics_after_a_repeated_call(tmp_path: Path):
    service, address = await start_service(tmp_path)
    try:
        await call(address, "first", accept="unresolved")
        await call(address, "second")
        status, figures = await http_get(address, "/v1/kpis?hours=1")
        assert status == 200
        overall = figures["overall"]
        assert overall["calls"] == 2 and overall["repeat_contact_rate"] == 0.5
        assert overall["wrapups_accepted"] == 1 and overall["acw_p50_s"] is not None
        assert overall["resolved_rate"] == 0.5  # first: unresolved; second: its draft
        assert figures["by_intent"]["billing_dispute"]["calls"] == 2

        metrics = await http_text(address, "/metrics")
        assert 'callassist_calls_ended_total{intent="billing_dispute"} 2.0' in metrics
        assert 'callassist_wrapups_accepted_total{edited="yes"} 1.0' in metrics
        assert "callassist_repeat_contacts_total 1.0" in metrics

        status, problem = await http_get(address, "/v1/kpis?hours=nope")
        assert status == 400 and "hours" in problem["error"]
    finally:
        await service.stop()
