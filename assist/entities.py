"""Data points named in a call: account, order and contract numbers, amounts, dates,
emails, phone numbers, street addresses, and ids and names spelled out.

Speech arrives as words ("four four seven one", "eighty nine dollars ninety
nine", "oh seven seven oh oh", "A as in apple, B, seven seven four") or, from
Whisper, often as digits already ("$89.99"). Both are first brought to one
written form (text2num for number words, then spoken digit runs joined), and the
patterns run on that.
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

# "4 4 7 1", "9 02" as text2num writes spoken digits (it groups a zero with what follows)
_DIGIT_RUN = re.compile(r"\b0?\d(?:(?:, ?| |-)(?:0\d*|\d)\b)+")
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
    r"|\d{1,2}/\d{1,2}(?:/\d{2,4})?|yesterday|today|tonight|tomorrow(?:\s+(?:morning|afternoon|evening))?"
    r"|(?:last|next|this)\s+(?:week|month|year)|last night"
    r"|(?:yesterday|this)\s+(?:morning|afternoon|evening)"
    rf"|{_COUNT}\s+(?:days?|weeks?|months?)\s+ago)\b",
    re.I,
)
_SPOKEN_EMAIL = re.compile(
    r"\b([\w.+-]+(?:\s+dot\s+[\w-]+)*)\s+at\s+([\w-]+(?:\s+dot\s+[\w-]+)+)\b"
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_PHONE = re.compile(r"(?:phone|mobile|cell|call me (?:on|at))\D{0,20}(?P<value>\+?\d[\d -]{6,}\d)")
_ASKED_ID = re.compile(rf"\b(?P<kind>{_ID_KIND})\s+(?:number|no|id|code)\b", re.I)
_BARE_NUMBER = re.compile(r"\b\d{4,}\b")
_NUMBER_WORD = (
    r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty"
    r"|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred|double|triple|\d+)"
)
# "oh" for zero between digits: "oh seven seven oh oh", "nine oh four one"
_OH = re.compile(
    rf"\boh\b(?=[\s,-]+(?:oh\b|{_NUMBER_WORD}\b))|(?<=\d[\s,-])oh\b|(?<=\boh\s)oh\b|(?<=\bzero\s)oh\b",
    re.I,
)
_AS_IN = re.compile(r"\b([A-Z]),? as in \w+", re.I)  # "A as in apple" -> "A"
# Letters (and digit groups) read one by one: "P, A, T, E, L, 72", "R C 33815", "W-E-B-B".
_DIGIT_WORDS = "zero one two three four five six seven eight nine".split()
_PIECE = rf"(?:[A-Z]|\d+|{'|'.join(_DIGIT_WORDS)})"  # text2num leaves a lone "one" a word
_SPELLED = re.compile(rf"\b(?:{_PIECE}(?:,\s*|\s+|-|\.\s*)){{2,}}{_PIECE}\b")
_STREET = (
    r"Road|Rd|Street|St|Avenue|Ave|Lane|Close|Drive|Way|Place|Court|Crescent|Terrace|Grove"
    r"|Gardens|Square|Hill|Park|Row|Boulevard|Mews|Walk|Parade"
)
# "12 Baker Street", and as the recogniser writes it: "27-mill lane"
_ADDRESS = re.compile(
    rf"\b\d{{1,4}}[A-Za-z]?(?:,?\s+(?:[A-Z][\w']*\s+){{1,3}}(?:{_STREET})"
    rf"|-(?:[A-Za-z][\w']*\s+){{1,3}}(?i:{_STREET}))\b"
)
# An amount said with no currency: "fifty four ninety nine a month", "my plan is forty five"
_PRICE_CUE = (
    r"price|prices|cost|costs|pay|paying|paid|charge|charged|charges|refund|fee|bill|plan is"
    r"|plan was|worth|spent|owe|discount|tariff|package|subscription|return|bundle"
)
_PAIR = re.compile(
    r"\b(?P<units>[1-9]\d{0,2}) (?P<cents>\d{2})\b"
    r"(?! (?:days?|weeks?|months?|years?|hours?|minutes?|percent))"
)
_PER = re.compile(
    r"\b(?P<value>\d{1,4}(?:\.\d{2})?)(?: (?P<cents>\d{2}))? (?:a|per) (?:month|year|week)\b"
)
_CUED = re.compile(
    rf"\b(?:{_PRICE_CUE})\b(?:\s+(?:is|was|of|for|at))?\s+(?P<value>\d{{1,4}})"
    r"(?:\s+(?P<cents>\d{2}))?\b(?![,.]\d)(?!\s*(?:days?|weeks?|months?|years?|%))",
    re.I,
)
_MONEY_TALK = re.compile(rf"\b(?:{_PRICE_CUE})\b", re.I)
# A phone number read in groups: "077 00912456", "0161 496 0000" (10 or 11 digits from 0).
_PHONE_GROUPS = re.compile(r"(?<![\d.])0\d{1,10}(?:[ ,-]+\d{2,8}){0,3}\b")
# Digit groups read with a pause: "seven three three, nine zero two" -> "733, 902" ->
# "733902"; the recogniser writes "733 902" or "61-407" too. Groups of 2-3 digits, or 4
# from a 0, then groups of 3 (or 4 from a 0), so "2019, 2020" and "30, 40" stay apart.
_GROUPS = re.compile(r"\b(?:\d{2,3}|0\d{3})(?:(?:, | |-)(?:\d{3}|0\d{3}))+\b(?![.,]\d)")
# A UK postcode once spelled letters are joined: "SW1A2BQ" -> "SW1A 2BQ".
_POSTCODE = re.compile(r"\b(?P<out>[A-Z]{1,2}\d[A-Z\d]?) ?(?P<in>\d[A-Z]{2})\b")
# A product or plan named with a number: "a Pixel 7", "the Essentials 20".
_MODEL = re.compile(
    rf"(?<=[a-z,] )(?!(?i:{_WEEKDAYS}|{_MONTHS})\b|I\b)(?P<value>[A-Z][a-z]+ \d{{1,3}})\b"
    r"(?! (?:pounds?|dollars?|euros?|percent|days?|weeks?|months?|years?|minutes?|hours?"
    r"|times?|of)\b)"
)
_COUNT_DIGITS = {
    w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten".split())
}


def written(text: str) -> str:
    """Number words as digits, spoken digit runs joined: "four four seven one" -> "4471"."""
    text = alpha2digit(_OH.sub("zero", text), "en")
    text = _DOUBLE.sub(lambda m: m[2] * (2 if m[1].lower() == "double" else 3), text)
    return _DIGIT_RUN.sub(lambda m: re.sub(r"[ ,-]", "", m[0]), text)


def asked_id_kind(text: str) -> str | None:
    """The kind of number an agent's question asks for ("your account number?" -> account)."""
    match = _ASKED_ID.search(text) if "?" in text or "give me" in text.lower() else None
    return f"{match['kind'].lower()}_number" if match else None


def extract(text: str, segment_id: str, expected_id: str | None = None) -> list[DataPoint]:
    """Data points in one segment. `expected_id` is what the agent just asked for, so that
    "Sure, it's 4471." after "your account number?" is an account number."""
    normal = _grouped(_joined(written(_AS_IN.sub(r"\1", text))))
    points = list(_ids(normal, segment_id))
    points += [
        DataPoint("postcode", f"{m['out']} {m['in']}", m[0], segment_id)
        for m in _POSTCODE.finditer(normal)
    ]
    points += [DataPoint("product", m["value"], m[0], segment_id) for m in _MODEL.finditer(normal)]
    points += _spelled(normal, segment_id)
    points += _addresses(normal, segment_id)
    points += _amounts(normal, segment_id)
    points += _dates(normal, segment_id)
    points += _emails(normal, segment_id)
    points += [
        DataPoint("phone", re.sub(r"[ -]", "", m["value"]), m[0], segment_id)
        for m in _PHONE.finditer(normal)
    ]
    points += _phones(normal, segment_id, {p.value for p in points})
    taken = {p.value.split()[0] for p in points} | {p.text for p in points}
    for match in _BARE_NUMBER.finditer(normal):
        if match[0] not in taken and not any(match[0] in t for t in taken):
            points.append(DataPoint(expected_id or "number", match[0], match[0], segment_id))
    return points


def _joined(text: str) -> str:
    """Letters and digit groups read one by one, as one token: "R C 33815" -> "RC33815"."""

    def join(match: re.Match[str]) -> str:
        pieces = re.split(r"[,\s.-]+", match[0])
        letters = sum(len(p) == 1 and p.isalpha() for p in pieces)
        if letters < 2 or letters < len(pieces) / 2 - 1:
            return match[0]  # a number already, or words
        return "".join(str(_DIGIT_WORDS.index(p)) if p in _DIGIT_WORDS else p for p in pieces)

    return _SPELLED.sub(join, text)


def _grouped(text: str) -> str:
    return _GROUPS.sub(lambda m: re.sub(r"[, -]", "", m[0]), text)


def _spelled(text: str, segment_id: str) -> Iterator[DataPoint]:
    """What `_joined` made of a spelling that no id keyword claimed: a name or a reference."""
    for match in re.finditer(r"\b[A-Z][A-Z0-9]{2,}\b", text):
        value = match[0]
        if value.isalpha() and value in text.split() and not _was_spelled(value):
            continue
        if _POSTCODE.fullmatch(value):
            continue  # a postcode, already taken
        yield DataPoint(
            "reference" if any(c.isdigit() for c in value) else "name", value, value, segment_id
        )


def _was_spelled(value: str) -> bool:
    return len(value) >= 3 and value.isupper() and value not in _ACRONYMS


_ACRONYMS = frozenset({"USA", "ATM", "VAT", "SIM", "APP", "TV", "WIFI", "PIN", "CVV", "GDPR"})


def _phones(text: str, segment_id: str, known: set[str]) -> Iterator[DataPoint]:
    for match in _PHONE_GROUPS.finditer(text):
        digits = re.sub(r"\D", "", match[0])
        if len(digits) in (10, 11) and digits not in known:
            yield DataPoint("phone", digits, match[0], segment_id)


def _addresses(text: str, segment_id: str) -> Iterator[DataPoint]:
    for match in _ADDRESS.finditer(text):
        words = re.split(r"[,\s-]+", match[0])
        value = " ".join(w[:1].upper() + w[1:] for w in words)  # "27-mill lane" -> "27 Mill Lane"
        yield DataPoint("address", value, match[0], segment_id)


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
    yield from _plain_amounts(text, segment_id)


def _plain_amounts(text: str, segment_id: str) -> Iterator[DataPoint]:
    """Amounts said without a currency, where the words around say it is money."""
    seen: set[tuple[int, int]] = set()
    for pattern in (_PER, _CUED):
        for match in pattern.finditer(text):
            seen.add(match.span("value"))
            yield DataPoint("amount", _price(match["value"], match["cents"]), match[0], segment_id)
    if _MONEY_TALK.search(text):
        for match in _PAIR.finditer(text):
            if match.span("units") not in seen:
                yield DataPoint(
                    "amount", _price(match["units"], match["cents"]), match[0], segment_id
                )


def _price(value: str, cents: str | None) -> str:
    return f"{value}.{cents}" if cents and "." not in value else value


def _money(value: str) -> str:
    return f"{float(value):.2f}" if "." in value else value


def _dates(text: str, segment_id: str) -> Iterator[DataPoint]:
    for match in _DATE.finditer(text):
        phrase = match[0]
        if phrase.lower() == "may" or phrase.lower().startswith(("this ", "today")):
            continue  # "may" is mostly a verb; "today" and "this week" say little
        value = re.sub(_ORDINAL_WORDS, lambda m: _ordinal_digits(m[0]), phrase, flags=re.I)
        value = re.sub(r"\b\w+\b", lambda m: _COUNT_DIGITS.get(m[0].lower(), m[0]), value)
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
