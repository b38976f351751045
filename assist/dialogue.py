"""What was done and what was promised, taken from the words of a segment.

- steps tried: the caller's own past actions ("I restarted the router twice",
  "I already called the bank"), cut at the next clause;
- next steps: the agent's commitments ("I will book a technician", "let me get
  my supervisor");
- questions: a caller's direct questions, open until the agent answers.

Extractive on purpose: every line is the speaker's own words, traceable to
its segment, so an agent can trust it at a glance.
"""

from __future__ import annotations

import re

# Past-tense actions a caller takes before calling; regular "-ed" verbs are
# found by their ending, minus those that describe what happened to them.
_IRREGULAR = re.compile(
    "sent|went|spoke|paid|made|wrote|took|brought|rang|put|did|gave|tried|reset|"
    "set|ran|read|bought|left|chose|drove|came|phoned|emailed|checked"
)
_NOT_ACTIONS = frozenset(
    "noticed saw seemed wanted needed used received heard thought wondered hoped supposed "
    "charged billed told asked expected happened moved lived loved liked hated owed "
    "started stopped worked failed showed appeared looked called".split()
)
_NOT_VERBS = frozenset("have has had am is are was were know think a the my it this that".split())
# "called" is an action only with someone to call: "called the bank", not "it's called X".
_CALLED = re.compile(r"\bcalled\s+(?:the|my|your|you|them|him|her|support|customer)\b", re.I)
_FIRST_PERSON = re.compile(
    r"^(?:I|we)(?:'ve|'d| have| had(?! a\b))?\s+"
    r"(?:(?:already|also|even|just|actually|then|first)\s+)*",
    re.I,
)
# Words before the subject that do not change the step: "Well, after I updated the app",
# "and I plugged my laptop in".
_LEAD = re.compile(
    r"^(?:(?:well|so|and|but|then|yes|yeah|no|oh|um|uh|okay|ok|after|once|since|before)\b,?\s+)+",
    re.I,
)
# A step's clause runs on into what followed it: "updated the app last night it got worse".
_CONSEQUENCE = re.compile(
    r"\s+(?:it|that|this|they)\s+(?:got|was|is|went|stopped|still|kept|keeps|did|didn't|doesn't|"
    r"won't|wouldn't|just)\b.*$",
    re.I,
)
_FILLER = re.compile(
    r"^(?:honestly|really|though|anyway|either|basically|obviously|actually)$", re.I
)
_ASIDE = re.compile(rf"{_FILLER.pattern}|^(?:twice|once|again|as well|too|\w+ times)$", re.I)
_TRIED_A = re.compile(
    r"^(?:had|took|gave it) a (?:look|go|try)\b", re.I
)  # "I had a look in the app"
# Calling before is a step too: "the third time I'm calling about the same bill".
_CALLED_BEFORE = re.compile(
    r"\b(?:second|third|fourth|fifth|\d+(?:nd|rd|th)|another) time (?:that )?"
    r"(?:I'm|I am|I've been|I have been)"
    r" (?P<step>(?:calling|phoning|ringing|contacting you) about [^,.!?]+)",
    re.I,
)
_OTHER_SUBJECT = re.compile(r"^(?:they|he|she|it|you|the|that|this|there|nobody|someone)\b", re.I)
_SENTENCE_END = re.compile(r"[.!?;]+\s*")
_CLAUSE_BREAK = re.compile(r",\s*|\s+(?:and then|and|but|because|so|which|when)\s+", re.I)
_PROMISE = re.compile(
    r"\b(?:I will|I'll|I am going to|I'm going to|let me|we will|we'll|I can|I'd like to)\s+"
    r"(?P<step>.*)",
    re.I,
)
_VAGUE_PROMISES = re.compile(r"^(?:help|see|understand|check that|do that)\b", re.I)
_QUESTION = re.compile(
    r"(?:^|[.!?]\s+)(?P<q>(?:why|what|when|where|how|who|which|can|could|will|would|is|are|do|"
    r"does|did|should|am)\b[^.!?]*\?)",
    re.I,
)
MIN_STEP_WORDS = 2
MAX_TAIL_WORDS = 3


def steps_tried(text: str) -> list[str]:
    """The caller's own past actions in `text`, one short phrase each."""
    steps: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        acting = False  # inside a run of "I did X, did Y and did Z"
        steps += [m["step"] for m in _CALLED_BEFORE.finditer(sentence)]
        for clause in _CLAUSE_BREAK.split(sentence):
            clause = _LEAD.sub("", clause.strip())
            rest = _CONSEQUENCE.sub("", _FIRST_PERSON.sub("", clause))
            first_person = rest != clause
            # "I already call the bank": after "already" the tense is often lost in recognition
            already = first_person and "already" in clause[: len(clause) - len(rest)].lower()
            if (_is_action(rest) or (already and _is_verb_like(rest))) and (first_person or acting):
                steps.append(rest)
                acting = True
            elif acting and steps and _ASIDE.match(rest):
                steps[-1] += "" if _FILLER.match(rest) else f" {rest}"  # ", twice", ", honestly"
            elif acting and steps and _is_tail(rest) and not first_person:
                steps[-1] = f"{steps[-1]} and {rest}"  # "turned it off and on again"
            else:
                acting = False
    return [s for s in steps if len(s.split()) >= MIN_STEP_WORDS]


def _is_action(phrase: str) -> bool:
    verb = phrase.split(maxsplit=1)[0].lower() if phrase else ""
    if _TRIED_A.match(phrase):
        return True
    if verb == "called":
        return bool(_CALLED.match(phrase))
    regular = verb.endswith("ed") and len(verb) > 4
    return (regular or bool(_IRREGULAR.fullmatch(verb))) and verb not in _NOT_ACTIONS


def _is_tail(phrase: str) -> bool:
    """A short fragment that finishes the step before it ("... off and on again")."""
    return 0 < len(phrase.split()) <= MAX_TAIL_WORDS and not _OTHER_SUBJECT.match(phrase)


def _is_verb_like(phrase: str) -> bool:
    verb = phrase.split(maxsplit=1)[0].lower() if phrase else ""
    return verb.isalpha() and verb not in _NOT_VERBS and verb not in _NOT_ACTIONS


def promises(text: str) -> list[str]:
    """What the agent commits to do, in their words."""
    found = []
    for sentence in _SENTENCE_END.split(text):
        for clause in re.split(r",\s*(?:so|and|but)?\s*", sentence):
            match = _PROMISE.search(clause)
            step = match["step"].strip() if match else ""
            if len(step.split()) >= MIN_STEP_WORDS and not _VAGUE_PROMISES.match(step):
                found.append(step)
    return found


def questions(text: str) -> list[str]:
    return [m["q"].strip() for m in _QUESTION.finditer(text.strip())]
