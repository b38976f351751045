"""End to end: a caller reads a card number, its expiry and its security code over
/v1/twilio; nothing the service writes or sends may hold them.

The call (fixtures/calls/payment_card.*) is synthesised speech: 4929 4061 7253 0866,
expiring 09/27, code 737, for order 62419 of $89.99. The server logs at DEBUG into a
file; afterwards the desktop's events, the supervisors' feed, the call record, every
file in the data directory (database, WAL, shared memory) and the log are searched,
as bytes, for the digits as the recogniser may write them. The order number and the
amount must survive, and the agent's "card ending 0866" may.
"""

from __future__ import annotations

import asyncio
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from contract import codec
from contract.events import PrivateKind, TranscriptFinal
from testkit import FIXTURES
from testkit.calls import LabelledCall, stream_call
from testkit.server import LocalServer

SPEED = 2.0
CALL_ID = "privacy-payment"
# Groups of the card before its last four, and the code: as digits, and as words.
SECRETS = ("4929", "4061", "7253", "737")
WORDS = {"0": "(?:zero|oh)", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five"}
WORDS |= {"6": "six", "7": "seven", "8": "eight", "9": "nine"}


def as_digits(group: str) -> re.Pattern[bytes]:
    """The group as digits: together (alone or leading a longer run) or one by one with
    separators; never inside a decimal or a clock (t_end 12.737, 19:58:49,290)."""
    spaced = r"[\s,.-]{1,2}".join(group)
    return re.compile(rf"(?<![\d.:,]){group}|(?<![\d.:,]){spaced}(?!\d)".encode())


def as_words(group: str) -> re.Pattern[bytes]:
    spoken = r"[\s,.-]+".join(WORDS[d] for d in group)
    return re.compile(spoken.encode(), re.IGNORECASE)


def leaks(data: bytes) -> list[str]:
    found = []
    for group in SECRETS:
        for pattern in (as_digits(group), as_words(group)):
            for match in pattern.finditer(data):
                context = data[max(0, match.start() - 40) : match.end() + 40]
                found.append(f"{group}: ...{context!r}...")
    return found


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LocalServer]:
    folder = tmp_path_factory.mktemp("privacy")
    process = LocalServer(folder / "data", log_level="DEBUG", log_path=folder / "server.log")
    process.start()
    yield process
    process.stop()


async def test_card_data_read_on_a_call_is_nowhere_the_service_writes(server):
    call = LabelledCall.load(FIXTURES / "calls" / "payment_card")
    observed = await stream_call(server.ws, call, CALL_ID, SPEED)
    finals = observed.of(TranscriptFinal)
    kinds = {r.kind for f in finals for r in f.redactions}
    said = " ".join(f.text for f in finals)
    # heard and redacted, not merely unheard
    assert {PrivateKind.CARD_NUMBER, PrivateKind.SECURITY_CODE} <= kinds, said
    assert "62419" in said.replace(" ", "") or "89.99" in said, f"look-alikes lost: {said}"

    record = await asyncio.to_thread(_get, f"{server.http}/v1/calls/{CALL_ID}")
    sent = b"\n".join(codec.encode(e).encode() for e in [*observed.events, *observed.alerts])
    server.stop()  # the log and the files are complete once it has stopped
    assert leaks(sent) == []
    assert leaks(record) == []
    assert server.log_path is not None
    log = server.log_path.read_bytes()
    assert b"transcript.final" in log or b"TEXT" in log, "DEBUG logging did not run"
    assert leaks(log) == []
    files = [p for p in server.data_dir.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".sqlite3") for p in files)
    for path in files:
        assert leaks(path.read_bytes()) == [], path


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def test_the_patterns_catch_what_a_recogniser_writes():
    samples = [b"It's 4929-4061-7253-0866.", b"4929406172530866", b"four nine two nine", b"7 3 7"]
    assert all(leaks(s) for s in samples)
    assert leaks(b'"t_end": 12.737, "ts": "2026-11-23T10:07:37", 19:58:49,290') == []
    assert leaks(Path(__file__).read_bytes())  # this file names them, of course
