"""Repetition loops, Whisper's failure on short or unclear audio: "3. 3. 3. 3. 3. 3.",
"Was für den Land und der Land und der Land und der Land ...".

A decode is looping when its text compresses too well (Whisper's own test: a gzip ratio
over 2.4) or when a run of one to eight words comes back more than MAX_REPEATS times in a
row. The engine then decodes once more, forbidding repeated trigrams, and what still loops
is cut to one occurrence of the repeated run. Speech that really repeats ("no, no, no")
stays: three times is not a loop.
"""

from __future__ import annotations

import re
import zlib

COMPRESSION_RATIO_LIMIT = 2.4  # Whisper's threshold for a looping decode
MIN_CHARS_FOR_RATIO = 40  # shorter texts compress badly anyway: the ratio means nothing
MAX_REPEATS = 3  # a run of words said more often than this in a row is a loop
MAX_RUN_WORDS = 8
_WORD = re.compile(r"\S+")


def loops(text: str) -> bool:
    return _compresses_too_well(text) or trim(text) != text


def trim(text: str) -> str:
    """`text` with every run of 1-8 words repeated more than MAX_REPEATS times in a row
    cut to its first occurrence (punctuation and case ignored when comparing)."""
    words = _WORD.findall(text)
    kept: list[str] = []
    index = 0
    while index < len(words):
        run, count = _longest_repeat(words, index)
        kept.extend(words[index : index + run])
        index += run * count if count > MAX_REPEATS else run
    return " ".join(kept) if len(kept) < len(words) else text


def _longest_repeat(words: list[str], start: int) -> tuple[int, int]:
    """The run length (1-8 words) starting at `start` that repeats most, and how often
    (1: no repeat)."""
    best_run, best_count = 1, 1
    for run in range(1, MAX_RUN_WORDS + 1):
        unit = [_plain(w) for w in words[start : start + run]]
        if len(unit) < run:
            break
        count = 1
        while [_plain(w) for w in words[start + count * run : start + (count + 1) * run]] == unit:
            count += 1
        if count > MAX_REPEATS and count * run > best_count * best_run:
            best_run, best_count = run, count
    return best_run, best_count


def _plain(word: str) -> str:
    return word.strip(".,!?;:\"'").lower()


def _compresses_too_well(text: str) -> bool:
    data = text.encode()
    if len(data) < MIN_CHARS_FOR_RATIO:
        return False
    return len(data) / len(zlib.compress(data)) > COMPRESSION_RATIO_LIMIT
