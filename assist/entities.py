"""Data points named in a call: account, order and contract numbers, amounts, dates, emails.

Speech arrives as words ("four four seven one", "eighty nine dollars ninety
nine") or, from Whisper, often as digits already ("$89.99"). Both are first
brought to one written form (text2num for number words, then spoken digit runs
joined), and the patterns run on that.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from text_to_num import alpha2digit

from contract.events import DataPoint

ID_KINDS = (
    "account",
    "order",
    "contract",
    "customer",
    "reference",
    "ticket",
    "case",
    "invoice",
    "policy",
    "tracking",
    "booking",
    "confirmation",
    "membership",
    "member",
    "serial",
)
_ID_KIND = "|".join(ID_KINDS)
_WEEKDAYS = "monday|tuesday|wednesday|thursday|friday|saturday|sunday"
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_ORDINAL_WORDS = (
    r"(?:(?:twenty|thirty)[- ])?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)"
    r"|tenth|eleventh|twelfth|thirteenth|fourteenth|fifteenth|sixteenth|seventeenth"
    r"|eighteenth|nineteenth|twentieth|thirtieth"
)
_DAY = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|{_ORDINAL_WORDS})"
_COUNT = r"(?:\d+|a|one|two|three|four|five|six|seven|eight|nine|ten|a few|several|couple of)"

_DIGIT_RUN = re.compile(r"\b0?\d(?:(?:, ?| |-)\d\b)+")  # "4 4 7 1" as text2num writes spoken digits
_DOUBLE = re.compile(r"\b(double|triple) (\d)\b", re.I)
_ID = re.compile(
    rf"\b(?P<kind>{_ID_KIND})(?:\s+(?:number|no\.?|num|id|code|#))?(?:\s+(?:is|was|it's))?"
    r"[\s:#]*(?P<value>(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{2,})\b",
    re.I,
)
_AMOUNT_SYMBOL = re.compile(r"(?P<cur>[$€£])\s?(?P<value>\d[\d,]*(?:\.\d{1,2})?)")
_AMOUNT_WORD = re.compile(
    r"\b(?P<value>\d[\d,]*(?:\.\d{1,2})?)\s+(?P<cur>dollar|buck|euro|pound)s?"
    r"(?:\s+(?:and\s+)?(?P<cents>\d{1,2})(?:\s+cents?)?\b)?",
    re.I,
)
_DATE = re.compile(
    r"\b(?:(?:since|on|by|until|till|before|after|from|last|next|this|early|late)\s+)?"
    r"(?:(?:the\s+)?(?:end|beginning|start|middle)\s+of\s+)?"
    rf"(?:(?:the\s+)?{_DAY}\s+of\s+(?:{_MONTHS})|(?:{_MONTHS})(?:\s+{_DAY})?|(?:{_WEEKDAYS})"
    r"|\d{1,2}/\d{1,2}(?:/\d{2,4})?|yesterday|today|tomorrow(?:\s+(?:morning|afternoon|evening))?"
    rf"|(?:last|next|this)\s+(?:week|month|year)|{_COUNT}\s+(?:days?|weeks?|months?)\s+ago)\b",
    re.I,
)
_SPOKEN_EMAIL = re.compile(
    r"\b([\w.+-]+(?:\s+dot\s+[\w-]+)*)\s+at\s+([\w-]+(?:\s+dot\s+[\w-]+)+)\b"
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?:phone|mobile|cell|call me (?:on|at))\D{0,20}(?P<value>\+?\d[\d -]{6,}\d)")
_ASKED_ID = re.compile(rf"\b(?P<kind>{_ID_KIND})\s+(?:number|no|id|code)\b", re.I)
_BARE_NUMBER = re.compile(r"\b\d{4,}\b")


def written(text: str) -> str:
    """Number words as digits, spoken digit runs joined: "four four seven one" -> "4471"."""
    text = alpha2digit(text, "en")
    text = _DOUBLE.sub(lambda m: m[2] * (2 if m[1].lower() == "double" else 3), text)
    return _DIGIT_RUN.sub(lambda m: re.sub(r"[ ,-]", "", m[0]), text)


def asked_id_kind(text: str) -> str | None:
    """The kind of number an agent's question asks for ("your account number?" -> account)."""
    match = _ASKED_ID.search(text) if "?" in text or "give me" in text.lower() else None
    return f"{match['kind'].lower()}_number" if match else None


def extract(text: str, segment_id: str, expected_id: str | None = None) -> list[DataPoint]:
    """Data points in one segment. `expected_id` is what the agent just asked for, so that
    "Sure, it's 4471." after "your account number?" is an account number."""
    normal = written(text)
    points = list(_ids(normal, segment_id))
    points += _amounts(normal, segment_id)
    points += _dates(normal, segment_id)
    points += _emails(normal, segment_id)
    points += [
        DataPoint("phone", re.sub(r"[ -]", "", m["value"]), m[0], segment_id)
        for m in _PHONE.finditer(normal)
    ]
    taken = {p.value.split()[0] for p in points} | {p.text for p in points}
    for match in _BARE_NUMBER.finditer(normal):
        if match[0] not in taken and not any(match[0] in t for t in taken):
            points.append(DataPoint(expected_id or "number", match[0], match[0], segment_id))
    return points


def _ids(text: str, segment_id: str) -> Iterator[DataPoint]:
    for match in _ID.finditer(text):
        yield DataPoint(f"{match['kind'].lower()}_number", match["value"], match[0], segment_id)


def _amounts(text: str, segment_id: str) -> Iterator[DataPoint]:
    for match in _AMOUNT_SYMBOL.finditer(text):
        value = match["value"].replace(",", "")
        yield DataPoint("amount", _money(value), match[0], segment_id)
    for match in _AMOUNT_WORD.finditer(text):
        value = match["value"].replace(",", "")
        if match["cents"] and "." not in value:
            value = f"{value}.{int(match['cents']):02d}"
        yield DataPoint("amount", _money(value), match[0], segment_id)


def _money(value: str) -> str:
    return f"{float(value):.2f}" if "." in value else value


def _dates(text: str, segment_id: str) -> Iterator[DataPoint]:
    for match in _DATE.finditer(text):
        phrase = match[0]
        if phrase.lower() == "may" or phrase.lower().startswith(("this ", "today")):
            continue  # "may" is mostly a verb; "today" and "this week" say little
        value = re.sub(_ORDINAL_WORDS, lambda m: _ordinal_digits(m[0]), phrase, flags=re.I)
        yield DataPoint("date", value, phrase, segment_id)


_ORDINALS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
).split()


def _ordinal_digits(words: str) -> str:
    """ "twenty-first" -> "21st" """
    parts = re.split(r"[- ]", words.lower())
    tens = {"twenty": 20, "thirty": 30}.get(parts[0], 0)
    last = parts[-1]
    number = tens + (_ORDINALS.index(last) + 1 if last in _ORDINALS else 0)
    if last == "thirtieth":
        number = 30
    teen = 10 <= number % 100 <= 20
    suffix = "th" if teen else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def _emails(text: str, segment_id: str) -> Iterator[DataPoint]:
    spoken = _SPOKEN_EMAIL.sub(
        lambda m: f"{m[1]}@{m[2]}".replace(" dot ", ".").replace(" ", ""), text
    )
    for match in _EMAIL.finditer(spoken):
        yield DataPoint("email", match[0].lower(), match[0], segment_id)
