"""Where personal data sits in a transcript, as recognisers write it.

A caller reads a card number as "4111 1111 1111 1111", "4-1-1-1", "four one one
one, double seven", or across two finals with a pause between the groups, and
Whisper adds or drops a digit now and then. So the digits are found first, as
*runs* (number tokens joined only by spaces, commas, hyphens, slashes or a
sentence's full stop), and each run is judged by its *context*: the nearest
keyword ("card", "security code", "expires", "social security", "order",
"ending in", "$" ...) within reach before or after it, else the keyword that
ended one of the call's last finals (the agent's "and the security code?").
The digit count only sets bounds (a code has 2-5 digits); a Luhn check is never
required, because the recogniser's count is not to be trusted. Without any
context, a run of 13+ digits is taken as a card number, an SSN-shaped one or one
of 9 digits as a national id and a 10-12 digit one as a phone number; a final
cut off on a card's first group ("It's 4716 22") is a card, and a number that
goes on with the same speaker's last one is judged on their digits together.

Dates (expiry, birth) are followed from their keyword; emails, IBANs, UK
national insurance numbers and street addresses are matched by shape.
`find` returns spans in the text's own character offsets; what to do with them
is `assist.redaction`'s business.
"""

from __future__ import annotations

import bisect
import dataclasses
import enum
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from contract.events import PrivateKind

# --- number tokens ----------------------------------------------------------------------
_UNITS = {
    "zero": "0",
    "nought": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_WEAK_ZEROS = {"oh", "o"}  # zero only beside other numbers ("four oh seven")
_TEENS = {
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "thirteen": "13",
    "fourteen": "14",
    "fifteen": "15",
    "sixteen": "16",
    "seventeen": "17",
    "eighteen": "18",
    "nineteen": "19",
}
_TENS = {
    "twenty": "2",
    "thirty": "3",
    "forty": "4",
    "fifty": "5",
    "sixty": "6",
    "seventy": "7",
    "eighty": "8",
    "ninety": "9",
}
_REPEATS = {"double": 2, "triple": 3}
_ORDINALS = {
    "first": "1",
    "second": "2",
    "third": "3",
    "fourth": "4",
    "fifth": "5",
    "sixth": "6",
    "seventh": "7",
    "eighth": "8",
    "ninth": "9",
    "tenth": "10",
    "eleventh": "11",
    "twelfth": "12",
    "thirteenth": "13",
    "fourteenth": "14",
    "fifteenth": "15",
    "sixteenth": "16",
    "seventeenth": "17",
    "eighteenth": "18",
    "nineteenth": "19",
    "twentieth": "20",
    "thirtieth": "30",
}
_MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
# Letters and digits together are one token: "SAVE20" and "1Z999AA1" are codes, not numbers.
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W\d_]+)?", re.UNICODE)
_ORDINAL_DIGITS = re.compile(r"(\d{1,2})(?:st|nd|rd|th)")
# What may stand between two tokens of one run: spaces, commas, hyphens, slashes,
# brackets, a plus, or a full stop that ends a group ("4111. 1111.") or a hesitation
# ("9... 3... 1"), never "89.99".
_DASHES = "\u2013\u2014"  # en and em dash
_RUN_GAP = re.compile(rf"[\s,\-{_DASHES}/()+]*(?:(?:\.{{1,3}}|\u2026)(?=\s)[\s,\-{_DASHES}/()+]*)?")
# Between two spans of one kind: separators, or one letter or two the recogniser put in
# the middle of a number ("2-3-W-3").
_JUNK_GAP = re.compile(rf"[\s,\-{_DASHES}/()+.]*(?:[A-Za-z]{{1,2}}[\s,\-{_DASHES}/()+.]+)?")
_DATE_GAP = re.compile(rf"[\s,\-{_DASHES}/.]*")


@dataclass(frozen=True, slots=True)
class _Token:
    start: int
    end: int
    word: str  # lower case
    digits: str  # "" when it is not a number
    weak: bool = False  # a number only inside a run ("oh")


@dataclass(frozen=True, slots=True)
class Run:
    """Number tokens read as one number: their digits and where they stand."""

    first: int  # token indices, inclusive
    last: int
    start: int  # character offsets, end exclusive
    end: int
    digits: str
    groups: tuple[int, ...] = ()  # digits per spoken group: (4, 4, 4, 4), (3, 2, 4) for an SSN


@dataclass(frozen=True, slots=True)
class Span:
    kind: PrivateKind
    start: int
    end: int
    digits: str = ""  # the digits it covers, for "[card number ending 1111]"


def _tokens(text: str) -> list[_Token]:
    raw = [(m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(text)]
    tokens: list[_Token] = []
    repeat = 1
    for index, (start, end, word) in enumerate(raw):
        if word in _REPEATS and index + 1 < len(raw) and _unit(raw[index + 1][2]):
            repeat = _REPEATS[word]
            tokens.append(_Token(start, end, word, "", weak=True))
            continue
        digits = _number(word, raw[index + 1][2] if index + 1 < len(raw) else "")
        if word == "for" and _four_misheard([w for _, _, w in raw], index):
            digits = "4"
        tokens.append(_Token(start, end, word, digits * repeat, weak=word in _WEAK_ZEROS))
        repeat = 1
    return tokens


def _four_misheard(words: list[str], index: int) -> bool:
    """ "for" among digits read one by one is a four ("Nine for six", "for five three
    nine, ..."): between two digits, or opening the final before two of them."""
    after = words[index + 1 : index + 3]
    if index > 0:
        return bool(after) and bool(_unit(words[index - 1])) and bool(_unit(after[0]))
    return len(after) == 2 and all(_unit(w) for w in after)


def _unit(word: str) -> str:
    """The digit a word is, if it is one ("double" repeats only these)."""
    if word.isdigit() and len(word) == 1:
        return word
    return _UNITS.get(word) or ("0" if word in _WEAK_ZEROS else "")


def _number(word: str, following: str) -> str:
    """The digits a token stands for ("forty" before "one" is just the 4 of 41)."""
    if word.isdigit():
        return word
    if ordinal := _ORDINAL_DIGITS.fullmatch(word):
        return ordinal.group(1)
    if any(c.isdigit() for c in word):
        return ""  # a code such as SAVE20
    if word in _TENS:
        return _TENS[word] if following in _UNITS and following != "zero" else _TENS[word] + "0"
    return (
        _UNITS.get(word)
        or _TEENS.get(word)
        or _ORDINALS.get(word)
        or ("0" if word in _WEAK_ZEROS else "")
    )


def runs(text: str, tokens: list[_Token] | None = None) -> list[Run]:
    """Maximal runs of number tokens; a run of only "oh"s is no number."""
    tokens = _tokens(text) if tokens is None else tokens
    found: list[Run] = []
    first: int | None = None
    for index, token in enumerate([*tokens, None]):
        joins = token is not None and (
            token.digits != ""
            or token.word in _REPEATS
            or _is_junk(text, tokens, index)
            or _is_filler(tokens, index)
        )
        if joins and first is not None and token is not None:
            gap = text[tokens[index - 1].end : token.start]
            if not _RUN_GAP.fullmatch(gap) and not _group_stop(gap, token):
                found.extend(_run(text, tokens, first, index - 1))
                first = None
        if joins and first is None:
            first = index
        elif not joins and first is not None:
            found.extend(_run(text, tokens, first, index - 1))
            first = None
    return found


def _group_stop(gap: str, following: _Token) -> bool:
    """A full stop between digit groups ("4929.4061.7253") joins them; one before two
    digits is a decimal point ("89.99") and one before one is a version ("1.5")."""
    return gap == "." and following.word.isdigit() and len(following.word) >= 3


def _is_junk(text: str, tokens: list[_Token], index: int) -> bool:
    """A capital letter the recogniser put between two digits ("2-3-W-3")."""
    token = tokens[index]
    if len(token.word) != 1 or token.word in "ai" or not text[token.start].isupper():
        return False
    around = (
        tokens[index - 1] if index else None,
        tokens[index + 1] if index + 1 < len(tokens) else None,
    )
    return all(t is not None and t.digits for t in around)


_FILLERS = frozenset({"uh", "um", "er", "erm", "uhm", "ah"})


def _is_filler(tokens: list[_Token], index: int) -> bool:
    """A hesitation between two digits ("five, uh, one, six")."""
    inside = 0 < index < len(tokens) - 1
    return (
        inside
        and tokens[index].word in _FILLERS
        and bool(tokens[index - 1].digits and tokens[index + 1].digits)
    )


def _run(text: str, tokens: list[_Token], first: int, last: int) -> Iterator[Run]:
    members = tokens[first : last + 1]
    if all(t.weak or not t.digits for t in members):
        return
    digits = "".join(t.digits for t in members)
    yield Run(first, last, tokens[first].start, tokens[last].end, digits, _groups(text, members))


def _groups(text: str, members: list[_Token]) -> tuple[int, ...]:
    """Digits per group as the caller read them: a comma or a full stop ends a group, so
    does a space or hyphen between two written numbers ("4532 6170", "123-45-6789"), but
    not one between single digits or words ("4-1-1-1", "five six two, one nine")."""
    groups = [0]
    for previous, token in zip([None, *members], members, strict=False):
        if previous is not None and token.digits:
            gap = text[previous.end : token.start]
            written = len(previous.digits) > 1 and len(token.digits) > 1
            if "," in gap or "." in gap or written:
                groups.append(0)
        groups[-1] += len(token.digits)
    return tuple(g for g in groups if g)


# --- context ----------------------------------------------------------------------------
_ADJACENT = 2  # the reach of a unit's keyword: "89 dollars", "5 pm"


@dataclass(frozen=True, slots=True)
class _Cue:
    """A keyword: what it says about the numbers near it, and how far it reaches."""

    pattern: re.Pattern[str]
    kind: PrivateKind | None  # None: the number it names is not personal (an order, a price)
    before: int  # tokens: how far ahead of a number it may stand
    after: int  # how far behind


def _cue(words: str, kind: PrivateKind | None, before: int = 12, after: int = 6) -> _Cue:
    return _Cue(re.compile(rf"\b(?:{words})\b", re.IGNORECASE), kind, before, after)


_CUES = (
    _cue(
        r"(?:credit |debit |bank )?card(?: number| no)?|visa|master ?card|amex|american express"
        r"|discover card|long number|(?:16|sixteen)[- ]digit(?: number)?|kartennummer|karte"
        r"|tarjeta|carte|numéro de carte",
        PrivateKind.CARD_NUMBER,
    ),
    _cue(
        r"security (?:code|number|digits)|cvv2?|cvc|csc|csv|cv2|verification (?:code|number)"
        r"|(?:next to|by|on) the signature(?: panel| strip| box)?"
        r"|(?:three|four|3|4)[- ]digit(?:s| code| number)?|on the back|code on the back"
        r"|sicherheitscode|prüfziffer|código de seguridad|cryptogramme",
        PrivateKind.SECURITY_CODE,
    ),
    _cue(r"code|pin", PrivateKind.SECURITY_CODE, before=4, after=2),
    _cue(
        r"expir\w*|exp(?:iry)?\.? date|(?:valid|good) (?:until|thru|through|till)"
        r"|gültig bis|ablaufdatum|vencimiento|caduca\w*",
        PrivateKind.EXPIRY_DATE,
    ),
    _cue(
        r"social security(?: number)?|social insurance(?: number)?|ssn|social"
        r"|national insurance(?: number)?|ni number|national id\w*|tax id\w*|taxpayer"
        r"|sin(?= (?:is|number|no))|pps(?: number)?|personal public service(?: number)?"
        r"|passport(?: number)?|driver'?s licen[cs]e(?: number)?"
        r"|sozialversicherungs\w*|steuer-?id",
        PrivateKind.NATIONAL_ID,
    ),
    _cue(
        r"bank account(?: number)?|(?:checking|savings|current) account(?: number)?"
        r"|routing(?: number)?|sort code|iban|swift|bic|aba|kontonummer|bankverbindung"
        r"|cuenta bancaria|numéro de compte",
        PrivateKind.BANK_ACCOUNT,
    ),
    _cue(
        r"date of birth|birth ?date|birthday|born|d\.?o\.?b|geburtsdatum|geboren"
        r"|fecha de nacimiento|date de naissance",
        PrivateKind.DATE_OF_BIRTH,
    ),
    _cue(
        r"phone(?: number)?|mobile(?: number)?|cell(?: number)?|telephone|landline"
        r"|call me (?:back )?(?:on|at)|reach me (?:on|at)|callback number|contact number"
        r"|number to call|text me (?:on|at)",
        PrivateKind.PHONE,
    ),
    # Numbers that are not personal: the summary needs them.
    _cue(
        r"order|reference|ref|ticket|case|invoice|tracking|confirmation|booking|policy"
        r"|membership|member|customer (?:number|id)|account|extension|ext|zip code|zip"
        r"|postcode|post code|postal code|serial|model|flight|room|version|claim|receipt"
        r"|transaction|(?:promo|discount|voucher|coupon|gift|tracking|confirmation) code",
        None,
        before=6,
        after=3,
    ),
    # Dates and numbers that belong to the company or to a product, not to the caller.
    _cue(
        r"(?:promotion|offer|contract|trial|subscription|warranty|plan|deal|discount|voucher"
        r"|coupon|quote|price|membership|policy)s? (?:\w+ ){0,2}"
        r"(?:expires?|ends?|runs? out|renews?)(?: on)?"
        r"|call us(?: back)? (?:on|at)|our (?:number|phone number|helpline|hotline)|helpline"
        r"|hotline|customer service(?: number)?|imei|device id|meter(?: number)?"
        r"|social (?:media|worker|services|club)|birthday (?:present|gift|party|card|cake)",
        None,
        before=12,
        after=3,
    ),
    # The last four of a card may be shown (PCI DSS), and are how agents confirm one.
    _cue(r"ending(?: in| with)?|ends(?: in| with)?|last (?:four|4)(?: digits)?", None, 3, 0),
    _cue(
        r"plan|price|costs?|charged?|paid|pay|bill\w*|refund\w*|fee|dollars?|bucks|pounds?"
        r"|euros?|cents?|pence|percent|per cent|minutes?|hours?|days?|weeks?|months?|years?"
        r"|gb|mbps|am|pm|o'clock|times|items?|units?|people",
        None,
        before=_ADJACENT,
        after=_ADJACENT,
    ),
)


@dataclass(frozen=True, slots=True)
class _Mention:
    """A keyword found in the text: its kind (None = not personal) and token position."""

    kind: PrivateKind | None
    first: int  # token indices it spans
    last: int
    before: int
    after: int
    start: int  # characters
    end: int


def _mentions(text: str, tokens: list[_Token]) -> list[_Mention]:
    """Every cue in the text; where two overlap, the longer one ("bank account" over
    "account")."""
    starts = [t.start for t in tokens]
    found: list[_Mention] = []
    for cue in _CUES:
        for match in cue.pattern.finditer(text):
            first = _token_at(starts, match.start())
            last = max(first, _token_at(starts, match.end() - 1))
            found.append(
                _Mention(cue.kind, first, last, cue.before, cue.after, match.start(), match.end())
            )
    found.sort(key=lambda m: (m.start, -(m.end - m.start)))
    kept: list[_Mention] = []
    for mention in found:
        if kept and mention.start < kept[-1].end:
            continue  # inside a longer (or earlier) one
        kept.append(mention)
    return kept


def _token_at(starts: list[int], offset: int) -> int:
    """Index of the token that starts at or before `offset`."""
    return max(0, bisect.bisect_right(starts, offset) - 1)


# --- judging runs -----------------------------------------------------------------------
_SSN_SHAPE = re.compile(r"\d{3}[- ]\d{2}[- ]\d{4}")
_CURRENCY = re.compile(r"[$£€¥]\s*$")
_DECIMALS = re.compile(r"\d\.$")
# The company's own numbers and places: "our fraud team is on 0800 ...", "our warehouse at".
_OURS = re.compile(
    r"\b(?:our|us at|us on|call us|warehouse|office|store|branch|headquarters)\W+(?:\w+\W+){0,4}$",
    re.I,
)
_OUR_SENTENCE = re.compile(r"\bour\b[^.?!]*$", re.I)
# An id of the company's that looks like a personal one: "policy number HF 20 44 81 C".
_ID_BEFORE = re.compile(
    r"\b(?:policy|order|reference|ref|ticket|case|invoice|claim|booking|confirmation|tracking"
    r"|serial|model)\b\W+(?:\w+\W+){0,2}$",
    re.I,
)
# An id's leading letters, spelled one by one or said together: "T W ", "JG-".
_NINO_LETTERS = re.compile(r"\b(?:[A-Z]\.?[ ,-]?[A-Z]\.?|[a-z]\.[ ,-]?[a-z]\.)[ ,-]*$")  # "S.K."
_NINO_SUFFIX = re.compile(r"[ ,-]*[A-D]\b")
# A card's first group: Visa 4, Mastercard 5 and 22-27, Amex, Diners and JCB 3, Discover 6;
# never a year (19xx, 20xx).
# What ties a personal keyword to the thing it belongs to: "... number on the account".
_QUALIFIER = re.compile(
    r"(?:\s+number)?\s+(?:on|for|in|from|with|linked to"
    r"|to (?:pull up|find|look up|locate|access|open|check|verify))\s+(?:the|your|this|that)\s+"
)
_COUNTED = re.compile(r"\d|three|four|digit", re.I)  # "the three digits of the ticket": not
_CARD_GROUP = re.compile(r"(?:[3-6]\d|2[2-7])\d\d\b")
_SENTENCE_END = re.compile(r"[.?!](?:\s|$)")
_CENTS = re.compile(r"\.\d\d(?!\d)")
_DIGIT_BOUNDS: dict[PrivateKind, tuple[int, int]] = {
    PrivateKind.CARD_NUMBER: (3, 40),
    PrivateKind.SECURITY_CODE: (2, 11),
    PrivateKind.EXPIRY_DATE: (2, 8),
    PrivateKind.NATIONAL_ID: (2, 20),  # "532, / 70, / 1184." over three finals
    PrivateKind.BANK_ACCOUNT: (4, 40),
    PrivateKind.DATE_OF_BIRTH: (1, 8),
    PrivateKind.PHONE: (6, 16),
}


class _Unset(enum.Enum):
    UNSET = "unset"


_NUMBER_KINDS = (
    PrivateKind.CARD_NUMBER,
    PrivateKind.SECURITY_CODE,
    PrivateKind.NATIONAL_ID,
    PrivateKind.BANK_ACCOUNT,
)
_WHOLE_CARD = 12  # a number said before the word "card" is one only when it is whole
_INHERIT_TOKENS = 8  # a number this close after a personal one is more of the same
_GROUP_GAP_TOKENS = 3  # "4111 1111, and then 1111 1111": still one card
UNSET = _Unset.UNSET  # no context at all (None is a context: "not personal")
Context = PrivateKind | None | Literal[_Unset.UNSET]


def _money_is_noise(count: int, groups: tuple[int, ...], context: Context) -> bool:
    """Whisper often writes a "$" before numbers read out on a payment call ("It's
    $4929, 4061, ...", "$737"): a price is never 12 digits long, nor asked for as a code,
    an expiry date or an id, and a card is read in groups of four."""
    if context is PrivateKind.CARD_NUMBER:
        return count >= 4  # a group of the card: "$120 on my card" stays a price
    if groups.count(4) >= 2:
        return True  # "$5457 5924": no price is written in groups of four
    return count >= 12 or context not in (PrivateKind.PHONE, None, UNSET)


def _judge(run: Run, context: Context, text: str, carried: int = 0) -> PrivateKind | None:
    """The kind of personal data a run is, given its context (UNSET: none at all).
    `carried`: digits of the same number said in the speaker's last final, which count
    toward its length ("five two" / "six." is a three-digit code)."""
    count = len(run.digits)
    if _DECIMALS.search(text, 0, run.start):
        return None  # the cents of "$45.00", the 5 of "1.5"
    money = _CURRENCY.search(text[: run.start])
    cents = _CENTS.match(text, run.end)
    written = "," in text[run.start : run.end]  # "$4,444.44": thousands, not a card's group
    card_group = context is PrivateKind.CARD_NUMBER and count == 4 and not written
    price = money and (
        (cents and not card_group) or not _money_is_noise(count, run.groups, context)
    )
    if text[run.end : run.end + 1] == "%" or price:
        return None
    if context is None:  # an order, a price, a card's last four
        return PrivateKind.NATIONAL_ID if _SSN_SHAPE.fullmatch(text[run.start : run.end]) else None
    if isinstance(context, PrivateKind):
        if context is PrivateKind.SECURITY_CODE and count >= 12:
            return PrivateKind.CARD_NUMBER  # the code's keyword, then the card itself
        low, high = _DIGIT_BOUNDS.get(context, (1, 40))
        if context in _NUMBER_KINDS and _bare(run, text):
            low = 1  # the answer is the number alone: "Security code?" / "Six" / "four nine."
        return context if low <= count + carried <= high else _unprompted(run, text)
    return _unprompted(run, text)


def _bare(run: Run, text: str) -> bool:
    """The final says the number and nothing else."""
    return not text[: run.start].strip(" ,.-") and not text[run.end :].strip(" ,.!?-")


_YEAR = re.compile(r"(?:19|20)\d\d")


def bare_code(text: str) -> Span | None:
    """`text` as a security code when it is three or four digits and nothing else (not a
    year): judged by the caller, who knows that the question before it named nothing."""
    found = runs(text)
    if len(found) != 1 or not _bare(found[0], text) or len(found[0].digits) not in (3, 4):
        return None
    if _YEAR.fullmatch(found[0].digits) or _CURRENCY.search(text[: found[0].start]):
        return None
    return Span(PrivateKind.SECURITY_CODE, found[0].start, found[0].end, found[0].digits)


def _unprompted(run: Run, text: str) -> PrivateKind | None:
    if _SSN_SHAPE.fullmatch(text[run.start : run.end]):
        return PrivateKind.NATIONAL_ID
    if _spoken_nino(run, text):
        return PrivateKind.NATIONAL_ID
    if run.groups == (3, 2, 4):
        return PrivateKind.NATIONAL_ID  # an SSN read as it is written, in words too
    if run.groups.count(4) >= 2:
        return PrivateKind.CARD_NUMBER  # read out in fours
    return _unprompted_count(len(run.digits))


def _cut_inside_card(run: Run, text: str) -> bool:
    """The recogniser cut the final while a card was being read ("It's 4716 22" /
    "01 8853 0049."): the final stops on the number, with no full stop, and the number
    opens with a written group of four that a card may start with."""
    return (
        not text[run.end :].strip()
        and _CARD_GROUP.match(text, run.start) is not None
        and run.groups[:1] == (4,)
    )


def _spoken_nino(run: Run, text: str) -> bool:
    """A UK national insurance number read out: two letters, six digits (often in words),
    a letter A-D ("T W nine eight, two two, six one, A")."""
    return (
        len(run.digits) == 6
        and _NINO_LETTERS.search(text, 0, run.start) is not None
        and _NINO_SUFFIX.match(text, run.end) is not None
    )


def _unprompted_count(count: int) -> PrivateKind | None:
    if count >= 13:
        return PrivateKind.CARD_NUMBER  # what else is read out 13+ digits long
    if 10 <= count <= 12:
        return PrivateKind.PHONE
    if count == 9:
        return PrivateKind.NATIONAL_ID  # an SSN run together (or a routing number: personal too)
    return None


def _context_of(run: Run, mentions: list[_Mention], all_runs: list[Run], text: str) -> Context:
    """The nearest mention within its reach; on a tie the one before the number, then a
    personal kind. UNSET: none. Another number between a keyword and this run, more
    than a few words from it, ends the keyword's reach ("ssn 123-45-6789, mail ...,
    port 8765"); so does the end of a sentence for a keyword after the number
    ("order 58213. Card number?")."""
    best: tuple[int, int, int, PrivateKind | None] | None = None
    for mention in mentions:
        if mention.last < run.first:
            distance = run.first - mention.last
            reach = mention.before
            between = (r for r in all_runs if mention.last < r.first and r.last < run.first)
        elif mention.first > run.last:
            if mention.kind is PrivateKind.CARD_NUMBER and len(run.digits) < _WHOLE_CARD:
                continue  # "forty-nine ninety-nine on the card": a card's part comes after it
            distance = mention.first - run.last
            reach = 0 if _SENTENCE_END.search(text, run.end, mention.start) else mention.after
            between = (r for r in all_runs if run.last < r.first and r.last < mention.first)
        else:
            continue  # the keyword is inside the run ("three digit")
        if distance > reach or any(_apart(r, run) > _GROUP_GAP_TOKENS for r in between):
            continue
        after = 1 if mention.first > run.last else 0
        rank = (distance, after, 0 if mention.kind is not None else 1, mention.kind)
        if best is None or rank[:3] < best[:3]:
            best = rank
    return UNSET if best is None else best[3]


def _apart(one: Run, other: Run) -> int:
    """Tokens between two runs."""
    return max(other.first - one.last, one.first - other.last) - 1


# --- dates, after their keyword -----------------------------------------------------------
_DATE_KINDS = (PrivateKind.EXPIRY_DATE, PrivateKind.DATE_OF_BIRTH)
_DATE_DIGITS = 8  # 03151985: no date has more
_DATE_FILLER = frozenset(
    "is it's its was on in the of my at date until till end it her his their our and by".split()
)


def _date_after(text: str, tokens: list[_Token], mention: _Mention) -> tuple[int, int] | None:
    """The date that follows an expiry or birth keyword: "is the 3rd of March 1985"."""
    index = mention.last + 1
    skipped = 0
    while index < len(tokens) and tokens[index].word in _DATE_FILLER and skipped < 4:
        index += 1
        skipped += 1
    first = last = None
    previous_end = tokens[index - 1].end if index > 0 else 0
    digits = 0
    while index < len(tokens):
        token = tokens[index]
        digits += len(token.digits)
        is_date = bool(token.digits) or token.word in _MONTHS or token.word in ("of", "the")
        is_date = is_date and digits <= _DATE_DIGITS  # "1985 4111 ...": a card follows
        if not is_date or (
            first is not None and not _DATE_GAP.fullmatch(text[previous_end : token.start])
        ):
            break
        if token.digits or token.word in _MONTHS:
            first = index if first is None else first
            last = index
        previous_end = token.end
        index += 1
    if first is None or last is None:
        return None
    if mention.kind is PrivateKind.EXPIRY_DATE and not any(
        t.digits for t in tokens[first : last + 1]
    ):
        return None  # "the old card expired in June": a card's expiry has a year
    return tokens[first].start, tokens[last].end


# --- shapes ---------------------------------------------------------------------------------
_TLD = r"(?:com|net|org|edu|gov|io|co|uk|de|fr|es|it|nl|info|biz|me|us|ca|au)"
_SHAPES: tuple[tuple[PrivateKind, re.Pattern[str]], ...] = (
    (PrivateKind.EMAIL, re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    (
        PrivateKind.EMAIL,
        re.compile(
            rf"\b[a-z0-9]+(?:(?: (?:dot|underscore|dash) |[._-])[a-z0-9]+)* at "
            rf"[a-z0-9-]+(?: dot [a-z]{{2,}})*(?: dot {_TLD})\b",
            re.IGNORECASE,
        ),
    ),
    (
        PrivateKind.BANK_ACCOUNT,
        re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
    ),
    (
        PrivateKind.NATIONAL_ID,
        re.compile(r"\b[A-Za-z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-Da-d]\b"),  # UK national insurance,
    ),
    # ... with its letters run into the digits and a pause anywhere: "JG103-759D"
    (PrivateKind.NATIONAL_ID, re.compile(r"\b[A-Z]{2}[ -]?(?:\d[ -]?){6}[A-D]\b")),
    (
        PrivateKind.ADDRESS,
        re.compile(
            r"\b(?:\d{1,5}[A-Za-z]?|(?:one|two|three|four|five|six|seven|eight|nine|ten"
            r"|eleven|twelve|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred)"
            r"(?:[ -](?:one|two|three|four|five|six|seven|eight|nine|hundred))*),?"
            r"(?: [A-Z][\w'-]*){1,3} (?:Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr"
            r"|Boulevard|Blvd|Court|Ct|Way|Place|Pl|Close|Crescent|Terrace|Square|Parkway"
            r"|Highway|Hwy|Row|Gardens|Grove|Hill|Mews|Walk)\b\.?"
            r"(?:,? (?:Apartment|Apt|Flat|Suite|Unit) \w+)?"
        ),
    ),
)


# --- the whole text ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Lead:
    """The number a speaker's previous final ended on, which this final may go on with."""

    kind: PrivateKind | None  # what it was judged to be
    digits: int


def find(
    text: str, primed: Context = UNSET, lead: Lead | None = None, *, transcript: bool = True
) -> list[Span]:
    """Personal data in `text`, in order, not overlapping. `primed` is the context the
    call's last finals left (`last_context`): it judges a run that has none of its own.
    `lead`: the same speaker's last final ended on a number; a number that opens this
    one continues it ("It's 4024 00" / "71 8834 55" / "12."). `transcript`: the text is a
    recogniser's, which may stop inside a number (not a platform's metadata value)."""
    tokens = _tokens(text)
    mentions = _bank_accounts(_mentions(text, tokens), text, primed)
    spans: list[Span] = []
    for kind, pattern in _SHAPES:
        for match in pattern.finditer(text):
            if kind is PrivateKind.ADDRESS and _OURS.search(text, 0, match.start()):
                continue  # "return it to our warehouse at 1 Commerce Way"
            if kind is not PrivateKind.EMAIL and _ID_BEFORE.search(text, 0, match.start()):
                continue
            spans.append(Span(kind, match.start(), match.end()))
    for mention in mentions:
        date_kind = mention.kind
        if date_kind in (PrivateKind.EXPIRY_DATE, PrivateKind.DATE_OF_BIRTH):
            extent = _date_after(text, tokens, mention)
            if extent is not None and date_kind is not None:
                spans.append(Span(date_kind, *extent))
    found = _outside(runs(text, tokens), mentions, text, tokens)
    previous: tuple[Run, PrivateKind] | None = None
    dates = [(s.start, s.end) for s in spans if s.kind in _DATE_KINDS]
    for run in found:
        if any(start <= run.start and run.end <= end for start, end in dates):
            continue  # its keyword already took it as a date ("born March 3rd 1985 and card")
        context = _context_of(run, mentions, found, text)
        if context is UNSET:
            context = _inherited(run, previous, lead, primed, spans)
        judged = _judge_spoken(run, context, text, lead, transcript)
        if judged is None or _companys(judged, context, text, run):
            continue
        start, end = run.start, run.end
        if judged in (PrivateKind.EXPIRY_DATE, PrivateKind.DATE_OF_BIRTH):
            start, end = _widen_date(tokens, run)
        elif judged in (PrivateKind.NATIONAL_ID, PrivateKind.BANK_ACCOUNT):
            start, end = _widen_letters(text, tokens, run)
        spans.append(Span(judged, start, end, run.digits))
        previous = (run, judged)
    return merge(spans, text)


def _outside(
    found: list[Run], mentions: list[_Mention], text: str, tokens: list[_Token]
) -> list[Run]:
    """Runs without the number words of a keyword ("last four 3316", "three digit code")."""
    kept: list[Run] = []
    for run in found:
        inside = {i for m in mentions for i in range(m.first, m.last + 1)}
        if not inside.intersection(range(run.first, run.last + 1)):
            kept.append(run)
            continue
        first = None
        for index in [*range(run.first, run.last + 1), None]:
            if index is not None and index not in inside:
                first = index if first is None else first
            elif first is not None:
                kept.extend(
                    _run(text, tokens, first, (index if index is not None else run.last + 1) - 1)
                )
                first = None
    return kept


def _judge_spoken(
    run: Run, context: Context, text: str, lead: Lead | None, transcript: bool
) -> PrivateKind | None:
    """`_judge`, with what a transcript adds: the number the speaker's last final ended on,
    which this one may finish, and a final the recogniser cut inside a card."""
    carried = lead.digits if lead is not None and run.first <= 1 else 0
    judged = _judge(run, context, text, carried)
    if judged is None and carried and context is UNSET:
        return _unprompted_count(len(run.digits) + carried)
    if judged is None and transcript and context is UNSET and _cut_inside_card(run, text):
        return PrivateKind.CARD_NUMBER
    return judged


def _companys(judged: PrivateKind, context: Context, text: str, run: Run) -> bool:
    """A number of the company's ("our fraud team is on 0800 123 4567"): a phone number,
    or any number that no keyword names."""
    if judged is PrivateKind.BANK_ACCOUNT:  # "pay by transfer to our account, sort code ..."
        return _OUR_SENTENCE.search(text, 0, run.start) is not None
    ours = judged is PrivateKind.PHONE or context is UNSET
    return ours and _OURS.search(text, 0, run.start) is not None


def _bank_accounts(mentions: list[_Mention], text: str, primed: Context) -> list[_Mention]:
    """ "Account" is the company's account number, unless the talk is of banks: the last
    finals' ("the routing number?" ... "and the account number?"), or a bank keyword in
    its sentence ("sort code 40-47-84, account 70872490", but not "your Acme account is
    AC-30291. Which bank account ...")."""
    banks = [m for m in mentions if m.kind is PrivateKind.BANK_ACCOUNT]
    return [
        dataclasses.replace(m, kind=PrivateKind.BANK_ACCOUNT)
        if m.kind is None
        and text[m.start : m.end].lower().startswith("account")
        and (primed is PrivateKind.BANK_ACCOUNT or any(_same_sentence(m, b, text) for b in banks))
        else m
        for m in mentions
    ]


def _same_sentence(one: _Mention, other: _Mention, text: str) -> bool:
    """No sentence ends between two mentions."""
    start, end = min(one.end, other.end), max(one.start, other.start)
    return _SENTENCE_END.search(text, start, end) is None


def _inherited(
    run: Run,
    previous: tuple[Run, PrivateKind] | None,
    lead: Lead | None,
    primed: Context,
    spans: list[Span],
) -> Context:
    """A number with no keyword near it takes the kind of the one just before it in this
    final ("..., sorry, the third group is 3309") unless something else personal stands
    between them ("ssn ..., mail a@b.com, port 8765"), or of the number the last final
    ended on when it opens this one, else the call's context."""
    if previous is not None and previous[1] in _NUMBER_KINDS:
        near = _apart(previous[0], run) <= _INHERIT_TOKENS
        between = any(previous[0].end <= s.start and s.end <= run.start for s in spans)
        if near and not between:
            return previous[1]
    if lead is not None and lead.kind is not None and run.first <= 1:
        return lead.kind
    return primed


def _widen_letters(text: str, tokens: list[_Token], run: Run) -> tuple[int, int]:
    """An id's letters around its digits ("JG-103-7590", "...56 C")."""
    start, end = run.start, run.end
    before = tokens[run.first - 1] if run.first > 0 else None
    after = tokens[run.last + 1] if run.last + 1 < len(tokens) else None
    if before and len(before.word) <= 2 and text[before.start : before.end].isupper():
        start = before.start if _RUN_GAP.fullmatch(text[before.end : run.start]) else start
    if letters := _NINO_LETTERS.search(text, 0, run.start):
        start = min(start, letters.start())  # "T W nine eight ...": both letters
    spelled = after and len(after.word) == 1 and (text[after.start].isupper() or start < run.start)
    if spelled and after:
        end = after.end if _RUN_GAP.fullmatch(text[run.end : after.start]) else end
    return start, end


def _widen_date(tokens: list[_Token], run: Run) -> tuple[int, int]:
    """A date's numbers and the month names and "of"s around them ("July 3rd, 1992")."""
    first, last = run.first, run.last
    while first > 0 and tokens[first - 1].word in (*_MONTHS, "of", "the"):
        first -= 1
    while last + 1 < len(tokens) and (
        tokens[last + 1].word in _MONTHS or tokens[last + 1].word == "of" or tokens[last + 1].digits
    ):
        last += 1
    while tokens[first].word == "of":  # "the" may lead a date: "the 22nd of November"
        first += 1
    while tokens[last].word == "of" and last + 1 < len(tokens):  # kept at the end: cut there
        last -= 1
    return tokens[first].start, tokens[last].end


# When two kinds claim the same characters, the one that must be hidden from more people
# (under any sane policy) names the merged span: a card is never shown as a birth date.
_PRIORITY = (
    PrivateKind.CARD_NUMBER,
    PrivateKind.SECURITY_CODE,
    PrivateKind.NATIONAL_ID,
    PrivateKind.BANK_ACCOUNT,
    PrivateKind.EXPIRY_DATE,
    PrivateKind.DATE_OF_BIRTH,
    PrivateKind.PHONE,
    PrivateKind.EMAIL,
    PrivateKind.ADDRESS,
)


def merge(spans: list[Span], text: str) -> list[Span]:
    """Overlapping spans become one, of the stricter kind; spans of one kind with only a
    run's separators (or a stray letter) between them, too."""
    spans = sorted(spans, key=lambda s: (s.start, -s.end))
    merged: list[Span] = []
    for span in spans:
        if merged:
            last = merged[-1]
            touching = last.kind is span.kind and _JUNK_GAP.fullmatch(text[last.end : span.start])
            if span.start < last.end or touching:
                kind = min(last.kind, span.kind, key=_PRIORITY.index)
                end = max(last.end, span.end)
                merged[-1] = Span(kind, last.start, end, last.digits + span.digits)
                continue
        merged.append(span)
    return merged


def trailing(text: str, spans: list[Span]) -> Lead | None:
    """The number `text` ends on (only punctuation after it), as a `Lead` for the next
    final of the same speaker; None when it ends on words."""
    found = runs(text)
    if not found or text[found[-1].end :].strip(" .,;!?-"):
        return None
    last = found[-1]
    kind = next((s.kind for s in spans if s.start < last.end and last.start < s.end), None)
    if kind is None and last_context(text) is None:
        return None  # "the order number is 6631": what follows is more of the order number
    return Lead(kind, len(last.digits))


_AMOUNT_QUESTION = re.compile(
    r"\b(?:how (?:much|many|long|often|old)|when|what (?:time|year|day))\b", re.I
)


def names_nothing(question: str) -> bool:
    """A question with no keyword at all, nor a unit or an amount ("And the last bit?",
    but not "How much was the charge?")."""
    if not question.rstrip().endswith("?") or _AMOUNT_QUESTION.search(question):
        return False
    return not _mentions(question, _tokens(question))


def last_context(text: str, primed: Context = UNSET) -> Context:
    """What the last keyword of a final says, for the finals that follow it ("and the
    security code?" -> SECURITY_CODE); UNSET when it has none. `primed`: the context the
    call was in, which says whose "account" it is."""
    tokens = _tokens(text)
    mentions = _bank_accounts(_mentions(text, tokens), text, primed)
    # Units and times ("dollars", "am") speak of the number beside them, not of the topic:
    # "What's the number on the card, ma'am?" is about the card.
    topics = [m for m in mentions if m.before > _ADJACENT]
    while (
        len(topics) > 1
        and topics[-1].kind is None
        and topics[-2].kind is not None
        and not _COUNTED.search(text, topics[-2].start, topics[-2].end)
        and _QUALIFIER.fullmatch(text, topics[-2].end, topics[-1].start)
    ):
        topics.pop()  # "the social security number on the account?" asks for the SSN
    return topics[-1].kind if topics else UNSET
