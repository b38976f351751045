"""Support code for the tests, the benchmarks and the scripts; not part of the service.

Not installed (pyproject.toml's package list leaves it out): it is imported from
the repository root, where pytest and `python -m bench.x` / `python -m scripts.x` run.

    server.py     LocalServer: a `callassist serve` process on a free loopback port
    platforms.py  the platforms `callassist play` does not speak: AudioHook, audio fork
    events.py     a call's events as typed values (contract.codec), picked by payload class
    calls.py      labelled two-track calls: load, stream, and score against their labels
    browser.py    Debian's Chromium, as the browser tests and the screenshots launch it
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
