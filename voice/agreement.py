"""LocalAgreement: the words two consecutive hypotheses agree on are stable.

Pure logic over word sequences, tested with scripted hypotheses. Whisper
revises its guess about the newest words as more audio arrives; a prefix that
survives one more decode rarely changes again, so it can be committed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from contract.events import Word

_NOT_WORDISH = re.compile(r"[^\w']+")


def comparable(word: str) -> str:
    """A word as agreement compares it: case and punctuation do not count."""
    return _NOT_WORDISH.sub("", word.lower())


def agreed_prefix(previous: Sequence[Word], current: Sequence[Word]) -> int:
    """Number of leading words of `current` that `previous` already had."""
    count = 0
    for before, now in zip(previous, current, strict=False):
        if comparable(before.text) != comparable(now.text):
            break
        count += 1
    return count


def stable_words(
    previous: Sequence[Word], current: Sequence[Word], audio_end_s: float, holdback_s: float
) -> int:
    """How many leading words of `current` may be committed now.

    Words both hypotheses agree on, minus any that end within `holdback_s` of the
    end of the decoded audio: the last word before a cut is often clipped.
    """
    count = agreed_prefix(previous, current)
    while count and current[count - 1].t_end > audio_end_s - holdback_s:
        count -= 1
    return count
