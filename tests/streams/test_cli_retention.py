"""`callassist purge` and `callassist erase`, run as a user would, on a data directory that
a running service (an open Store, writing) holds at the same time."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract.events import (
    CallEnded,
    CallStarted,
    EndReason,
    IntentDetected,
    Protocol,
    Speaker,
    TranscriptFinal,
)
from streams.hub import Hub
from streams.store import Store
from voice.clock import ManualClock, SystemClock

ROOT = Path(__file__).parents[2]
MARKER = "QX7-CLI-ERASE-ME-378282"
LONG_AGO = "2020-01-01T00:00:00"  # ended long before any --older-than used here


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a directory of its own, with no CALLASSIST_ setting but those given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CALLASSIST_")}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def talk(hub: Hub, call_id: str, said: str, *, end: bool = True) -> None:
    hub.start_call(call_id, CallStarted(Protocol.NATIVE, ("en",), (Speaker.CUSTOMER,)))
    for turn in range(40):
        text = f"my card is {said} " + "and so on " * 30
        hub.publish(
            call_id, TranscriptFinal(f"s{turn}", Speaker.CUSTOMER, text, turn, turn + 1, "en", ())
        )
    hub.publish(call_id, IntentDetected("s0", "billing", "", 0.9, (said,)))
    if end:
        hub.end_call(call_id, CallEnded(40.0, EndReason.STOP))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Store]:
    """A data directory with: an old ended call, a recent ended one and a live one; the
    store stays open (the service's connection) while the CLI runs."""
    data = tmp_path / "data"
    store = Store(data / "calls.sqlite3")
    talk(Hub(store, ManualClock(wall=LONG_AGO)), "old", MARKER)
    now = Hub(store, SystemClock())
    talk(now, "recent", "RECENT-CALL")
    talk(now, "live", "LIVE-CALL", end=False)
    yield store
    store.close()


def files_saying(directory: Path, text: str) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if text.encode() in p.read_bytes())


def test_erase_removes_the_call_and_prints_counts_only(tmp_path, service):
    done = run(tmp_path, "erase", "old", "--data-dir", "data")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "erased call old: 43 events, 3 alert-feed rows\n"
    assert MARKER not in done.stdout + done.stderr
    assert service.call_row("old") is None
    assert service.call_row("recent") is not None
    assert files_saying(tmp_path / "data", MARKER) == []


def test_erase_names_an_unknown_and_a_live_call_and_exits_1(tmp_path, service):
    done = run(tmp_path, "erase", "nobody", "old", "live", "--data-dir", "data")
    assert done.returncode == 1
    assert "callassist: no call 'nobody' is stored" in done.stderr
    assert "callassist: call 'live' is live: erase it once it has ended" in done.stderr
    assert done.stdout.startswith("erased call old: ")  # the others are still erased
    assert service.call_row("old") is None and service.call_row("live") is not None


def test_purge_takes_calls_ended_before_the_age_and_keeps_the_rest(tmp_path, service):
    done = run(tmp_path, "purge", "--older-than", "30d", "--data-dir", "data")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("purged 1 call(s) that ended before 20")
    assert done.stdout.endswith(" (43 events, 3 alert-feed rows)\n")
    assert service.call_row("old") is None
    assert service.call_row("recent") is not None and service.call_row("live") is not None
    assert files_saying(tmp_path / "data", MARKER) == []
    again = run(tmp_path, "purge", "--older-than", "12h", "--data-dir", "data")
    assert again.stdout.startswith("purged 0 call(s)")


def test_purge_reads_the_same_configuration_as_serve(tmp_path, service):
    environment = {"CALLASSIST_SERVER_DATA_DIR": "data", "CALLASSIST_RETENTION_DAYS": "30"}
    done = run(tmp_path, "purge", **environment)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("purged 1 call(s)") and service.call_row("old") is None
    (tmp_path / "site.toml").write_text('[server]\ndata_dir = "data"\n[retention]\ndays = 1\n')
    assert run(tmp_path, "purge", "--config", "site.toml").stdout.startswith("purged 0 call(s)")
    no_days = run(tmp_path, "purge", "--data-dir", "data")
    assert no_days.returncode == 2
    assert "purge needs --older-than (such as 30d), or [retention] days" in no_days.stderr


@pytest.mark.parametrize("age", ["30", "30x", "-1d", "1.5d", "thirty"])
def test_purge_refuses_an_age_it_cannot_read(tmp_path, service, age):
    done = run(tmp_path, "purge", f"--older-than={age}", "--data-dir", "data")
    assert done.returncode == 2
    assert "give a whole number of days, hours or minutes, such as 30d, 12h or 90m" in done.stderr
    assert service.call_row("old") is not None


def test_a_missing_database_is_not_created(tmp_path):
    done = run(tmp_path, "erase", "old", "--data-dir", "nowhere")
    assert done.returncode == 2
    assert "no database at nowhere/calls.sqlite3" in done.stderr
    assert not (tmp_path / "nowhere").exists()
