"""Where the benchmarks find the evaluation corpus: ../shared/eval, beside the checkout.

A clone on its own has no ../shared. The benchmarks that need it say which path
is missing and stop (or skip that part); none of them fails with a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

from testkit import ROOT

SHARED_EVAL = ROOT.parent / "shared" / "eval"
SPEECH = SHARED_EVAL / "speech"  # refs.tsv and audio/: real recordings with references
SPEECH_REFS = SPEECH / "refs.tsv"
SYNTH_CALL = SHARED_EVAL / "synth_call.py"  # call script (JSON) -> two tracks and a timeline
EXIT_MISSING = 2


def missing(path: Path, needed_for: str) -> bool:
    """True, after a line on stderr naming the path, when `path` is not there."""
    if path.exists():
        return False
    print(
        f"missing: {path}, needed for {needed_for} "
        "(the evaluation corpus, ../shared/eval beside the checkout)",
        file=sys.stderr,
    )
    return True


def require(path: Path, needed_for: str) -> Path:
    """`path`, or a line naming it and a clean exit with status 2 when it is missing."""
    if missing(path, needed_for):
        raise SystemExit(EXIT_MISSING)
    return path
