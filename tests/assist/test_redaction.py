"""Redaction of personal data: what is found in recogniser text, and what each audience gets.

The recall and false-redaction figures over the labelled corpus are
`python -m bench.privacy`'s; these tests pin the behaviours one by one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assist import pii
from assist.redaction import (
    Audience,
    CallRedactor,
    Policy,
    PolicyError,
    redact_text,
    redact_words,
)
from contract.events import (
    CallStarted,
    DataPoint,
    PrivateKind,
    Protocol,
    Speaker,
    Summary,
    TranscriptFinal,
    TranscriptPartial,
    Translation,
    TranslationEngine,
    Word,
)

CARD = PrivateKind.CARD_NUMBER


def kinds(text: str, primed: pii.Context = pii.UNSET) -> list[tuple[str, str]]:
    return [(s.kind.value, text[s.start : s.end]) for s in pii.find(text, primed)]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("My card number is 4111 1111 1111 1111.", [("card_number", "4111 1111 1111 1111")]),
        ("it's 4-1-1-1, 1-1-1-1, 1111, 1111", [("card_number", "4-1-1-1, 1-1-1-1, 1111, 1111")]),
        # the recogniser heard 22 digits for 16, and there is no keyword at all
        ("4111111111111111111111", [("card_number", "4111111111111111111111")]),
        (
            "card: four five three nine, one four double eight, oh three four three",
            [("card_number", "four five three nine, one four double eight, oh three four three")],
        ),
        ("4111 1111 1111 1111, that's my Visa", [("card_number", "4111 1111 1111 1111")]),
        ("The security code is 737.", [("security_code", "737")]),
        ("the three digits on the back are 7 3 7", [("security_code", "7 3 7")]),
        ("It expires oh four twenty seven.", [("expiry_date", "oh four twenty seven")]),
        ("valid until April 2027", [("expiry_date", "April 2027")]),
        ("My social security number is 123-45-6789.", [("national_id", "123-45-6789")]),
        ("123-45-6789", [("national_id", "123-45-6789")]),
        ("my NI number is QQ 12 34 56 C", [("national_id", "QQ 12 34 56 C")]),
        ("routing number 021000021", [("bank_account", "021000021")]),
        ("IBAN GB29 NWBK 6016 1331 9268 19", [("bank_account", "GB29 NWBK 6016 1331 9268 19")]),
        ("I was born on the 3rd of March 1985.", [("date_of_birth", "3rd of March 1985")]),
        ("john dot smith at gmail dot com", [("email", "john dot smith at gmail dot com")]),
        ("call me on 07700 900123", [("phone", "07700 900123")]),
        ("I live at 12 Elm Street", [("address", "12 Elm Street")]),
    ],
)
def test_personal_data_is_found_as_recognisers_write_it(text, found):
    assert kinds(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "order 58213 was $89.99 and I paid eighty nine ninety nine on Friday",
        "the card ending in 1111 was charged twice",  # the last four may be shown
        "my account number is 4471",  # an account with us, not a bank account
        "I waited 3 hours on the road",
        "the plan is 45 dollars a month from March 3rd",
        "my zip code is 94107",
        "I've called 3 times in 2 weeks",
        "ticket number 77319204",
    ],
)
def test_look_alikes_survive(text):
    assert kinds(text) == []


def test_a_keyword_from_the_last_final_judges_a_bare_number():
    assert kinds("737", primed=PrivateKind.SECURITY_CODE) == [("security_code", "737")]
    assert kinds("58213", primed=None) == []  # "what's the order number?"
    assert pii.last_context("And the three digit code on the back?") is PrivateKind.SECURITY_CODE
    assert pii.last_context("Thanks, that's all.") is pii.UNSET


def test_labels_replace_spans_and_redactions_point_at_them():
    text = "card 4111 1111 1111 1111 and code 737 ok"
    spans = pii.find(text)
    redacted, redactions = redact_text(text, spans)
    assert redacted == "card [card number] and code [security code] ok"
    assert [redacted[r.start : r.end] for r in redactions] == ["[card number]", "[security code]"]
    assert [r.kind for r in redactions] == [CARD, PrivateKind.SECURITY_CODE]
    four, _ = redact_text(text, spans[:1], keep_last_four=True)
    assert four == "card [card number ending 1111] and code 737 ok"


def test_the_words_of_a_span_become_one_word():
    text = "It's 4111 1111, thanks."
    words = tuple(
        Word(w, float(i), float(i) + 0.5, 0.9 - i / 100)
        for i, w in enumerate(["It's", "4111", "1111,", "thanks."])
    )
    redacted = redact_words(words, text, pii.find(text, CARD))
    assert [w.text for w in redacted] == ["It's", "[card number],", "thanks."]
    assert (redacted[1].t_start, redacted[1].t_end, redacted[1].probability) == (1.0, 2.5, 0.88)


# --- a call's redactor ---------------------------------------------------------------------
def final(text: str, t: float, speaker: Speaker = Speaker.CUSTOMER) -> TranscriptFinal:
    words = tuple(Word(w, t, t + 0.3, 0.9) for w in text.split())
    return TranscriptFinal(f"{speaker.value}-{t}", speaker, text, t, t + 2, "en", words)


def test_a_card_read_over_several_finals_is_redacted_in_each():
    redactor = CallRedactor(Policy.load())
    texts = ["My card number is 4539 1488", "0343", "6467.", "Expires 04/27."]
    stored = [redactor.transcript(final(t, 10.0 + i * 3)).store.text for i, t in enumerate(texts)]
    assert stored == [
        "My card number is [card number]",
        "[card number]",
        "[card number].",
        "Expires [expiry date].",
    ]


def test_the_agents_question_primes_the_callers_answer_and_partials_too():
    redactor = CallRedactor(Policy.load())
    redactor.transcript(final("And the security code on the back?", 5.0, Speaker.AGENT))
    partial = TranscriptPartial(Speaker.CUSTOMER, "It's 73", 8.0, 8.5, "en")
    assert redactor.transcript(partial).desktop.text == "It's [security code]"
    answer = redactor.transcript(final("737.", 8.0)).store
    assert isinstance(answer, TranscriptFinal)
    assert answer.text == "[security code]."
    assert [w.text for w in answer.words] == ["[security code]."]


def test_the_prime_runs_out():
    redactor = CallRedactor(Policy.load())
    redactor.transcript(final("What's the card number?", 5.0, Speaker.AGENT))
    later = redactor.transcript(final("I have been waiting 4567 seconds", 60.0)).store
    assert later.text == "I have been waiting 4567 seconds"


def test_each_audience_gets_its_view_and_the_copilot_reads_the_desktops():
    redactor = CallRedactor(Policy.load())  # built-in: a birth date is shown live to the agent
    views = redactor.transcript(
        final("My date of birth is March 3rd 1985 and card 4111 1111 1111 1111", 3.0)
    )
    assert (
        views[Audience.DESKTOP].text == "My date of birth is March 3rd 1985 and card [card number]"
    )
    assert views.store.text == "My date of birth is [date of birth] and card [card number]"
    assert views.supervisor.text == views.store.text
    # the co-pilot saw the desktop's words: its events are cleaned for the others
    summary = Summary(
        intent="verify",
        data_points=(
            DataPoint("date", "1985-03-03", "March 3rd 1985", "customer-3.0"),
            DataPoint("number", "1985", "1985", "customer-3.0"),  # quoted apart
        ),
    )
    scrubbed = redactor.derived(summary)
    assert scrubbed.desktop is summary
    point = scrubbed.store.data_points[0]
    assert (point.text, point.value) == ("[date of birth]", "[date of birth]")
    assert scrubbed.supervisor.data_points[0].text == "[date of birth]"
    assert scrubbed.store.data_points[1].value == "[date of birth]"


def test_translations_are_searched_too():
    redactor = CallRedactor(Policy.load())
    translation = Translation(
        "customer-1.0",
        "de",
        "en",
        "My card number is 4111 1111 1111 1111",
        TranslationEngine.WHISPER,
    )
    views = redactor.translation(translation)
    assert views.desktop.text == "My card number is [card number]"
    assert views.store.redactions[0].kind is CARD
    assert redactor.desktop_text("the code is 737") == "the code is [security code]"


def test_nothing_is_searched_when_the_policy_shows_everything(tmp_path: Path):
    policy_file = tmp_path / "privacy.toml"
    kinds_off = "\n".join(f"{k.value} = []" for k in PrivateKind)
    policy_file.write_text(f"[redact]\n{kinds_off}\n")
    redactor = CallRedactor(Policy.load(policy_file))
    update = final("card 4111 1111 1111 1111", 1.0)
    assert redactor.transcript(update).store is update


# --- the policy file -----------------------------------------------------------------------
def test_the_built_in_policy_hides_card_data_and_ids_everywhere():
    policy = Policy.load()
    for audience in Audience:
        assert {CARD, PrivateKind.SECURITY_CODE, PrivateKind.NATIONAL_ID} <= policy.hides(audience)
    assert PrivateKind.DATE_OF_BIRTH not in policy.hides(Audience.DESKTOP)
    assert PrivateKind.DATE_OF_BIRTH in policy.hides(Audience.STORE)


def test_a_policy_file_overrides_kind_by_kind(tmp_path: Path):
    path = tmp_path / "privacy.toml"
    path.write_text('[redact]\nemail = ["store", "supervisor"]\n')
    policy = Policy.load(path)
    assert PrivateKind.EMAIL in policy.hides(Audience.STORE)
    assert PrivateKind.EMAIL not in policy.hides(Audience.DESKTOP)
    assert CARD in policy.hides(Audience.DESKTOP)  # not named: the built-in line


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[redact]\nemail = ["desktop"]\n', "redact.email: hidden from desktop but stored"),
        ('[redact]\ncard = ["store"]\n', "card"),
        ('[redact]\nemail = ["everyone"]\n', "everyone"),
        ("[redact\n", "not valid TOML"),
        ('[redacted]\nemail = ["store"]\n', "redacted: unknown key"),
    ],
)
def test_a_policy_that_cannot_be_used_is_refused_by_name(tmp_path: Path, body, message):
    path = tmp_path / "privacy.toml"
    path.write_text(body)
    with pytest.raises(PolicyError, match=message) as raised:
        Policy.load(path)
    assert str(path) in str(raised.value)


def test_a_missing_policy_file_is_refused(tmp_path: Path):
    with pytest.raises(PolicyError, match="cannot read"):
        Policy.load(tmp_path / "nope.toml")


def test_tiny_en_on_a_payment_call():
    """What tiny.en wrote for fixtures/calls/payment_card: a "$" before each number, and
    the agent's question between the caller's numbers."""
    redactor = CallRedactor(Policy.load())
    turns = [
        (Speaker.AGENT, "So, what is the card number please?"),
        (Speaker.CUSTOMER, "It's $4929.4061.7253.0866."),
        (Speaker.AGENT, "On the expiry date."),
        (Speaker.CUSTOMER, "$0927."),
        (Speaker.AGENT, "And the three digit security code on the back."),
        (Speaker.CUSTOMER, "$737."),
        (Speaker.AGENT, "Thank you. That's 89.99 paid on the card ending 0866."),
    ]
    stored = [
        redactor.transcript(final(text, i * 3.0, who)).store for i, (who, text) in enumerate(turns)
    ]
    kinds = [[r.kind.value for r in s.redactions] for s in stored]
    assert kinds == [[], ["card_number"], [], ["expiry_date"], [], ["security_code"], []]
    assert stored[-1].text == turns[-1][1]


# --- what a review found ------------------------------------------------------------------
def test_a_birth_date_never_carries_a_card_to_the_desktop():
    redactor = CallRedactor(Policy.load())
    text = "my date of birth is the 3rd of March 1985 4111 1111 1111 1111 expires 04 27"
    desktop = redactor.transcript(final(text, 1.0)).desktop.text
    assert "4111" not in desktop and "[card number]" in desktop


def test_a_value_said_again_is_hidden_again_without_its_keyword():
    redactor = CallRedactor(Policy.load())
    redactor.transcript(final("My date of birth is March 3rd 1985.", 1.0))
    for i, text in enumerate(["Okay, let me look.", "One moment please.", "Right, found it."]):
        redactor.transcript(final(text, 4.0 + i * 3, Speaker.AGENT))
    again = redactor.transcript(final("Just to confirm, that was March 3rd 1985, right?", 20.0))
    assert again.store.text == "Just to confirm, that was [date of birth], right?"
    assert again.desktop.text.count("1985") == 1


def test_values_from_translations_and_spoken_words_are_remembered():
    redactor = CallRedactor(Policy.load())
    said = Translation("c-1", "es", "en", "I was born on March 3, 1985", TranslationEngine.ARGOS)
    assert redactor.translation(said).store.text == "I was born on [date of birth]"
    redactor.transcript(final("My date of birth is March third nineteen eighty five.", 5.0))
    summary = Summary(
        intent=None,
        data_points=(
            DataPoint("date", "March 3", "March 3", "c-1"),
            DataPoint("number", "1985", "1985", "c-2"),
        ),
    )
    stored = redactor.derived(summary).store
    assert all("1985" not in p.text and "1985" not in p.value for p in stored.data_points)


def test_platform_metadata_is_searched_in_lists_numbers_and_by_key():
    redactor = CallRedactor(Policy.load())
    metadata = {"l": ["card 4111 1111 1111 1111"], "n": 4111111111111111, "ssn": "123456789"}
    started = CallStarted(Protocol.NATIVE, ("en",), (Speaker.CUSTOMER,), metadata=metadata)
    stored = redactor.started(started).store.metadata
    assert stored == {"l": ["card [card number]"], "n": "[card number]", "ssn": "[national id]"}


def test_one_word_holding_two_spans_hides_both():
    text = "codes 1234,5678 ok"
    words = tuple(Word(w, float(i), i + 0.5, 0.9) for i, w in enumerate(text.split()))
    spans = [
        pii.Span(CARD, 6, 10, "1234"),
        pii.Span(PrivateKind.SECURITY_CODE, 11, 15, "5678"),
    ]
    shown = [w.text for w in redact_words(words, text, spans)]
    assert shown == ["codes", "[card number],[security code]", "ok"]


def test_a_unit_word_in_a_question_does_not_hide_its_topic():
    # "ma'am" holds "am", a time's unit: the question is still about the card
    assert pii.last_context("What's the number on the card, ma'am?") is CARD


def test_a_dollar_before_groups_of_four_is_the_recognisers():
    assert kinds("$5457 5924") == [("card_number", "5457 5924")]
    assert kinds("It costs $5457.") == []


def test_a_part_of_a_hidden_id_said_again_is_hidden_but_a_cards_last_four_is_not():
    redactor = CallRedactor(Policy.load())
    redactor.transcript(final("My social security number is 471-09-2258.", 1.0))
    assert redactor.transcript(final("Ending in 2258, got it.", 4.0, Speaker.AGENT)).store.text == (
        "Ending in [national id], got it."
    )
    redactor.transcript(final("The card is 4929 4061 7253 0866.", 7.0))
    readback = redactor.transcript(final("Thanks, the card ending 0866.", 10.0, Speaker.AGENT))
    assert readback.store.text == "Thanks, the card ending 0866."


def test_an_order_number_read_over_two_finals_stays():
    redactor = CallRedactor(Policy.load())
    redactor.transcript(final("The order number is 6631", 1.0))
    assert redactor.transcript(final("0092 7714.", 3.0)).store.text == "0092 7714."


# --- what recognisers and callers do that the corpus showed -------------------------------
def test_a_digit_that_finishes_the_callers_last_number_is_judged_with_it():
    redactor = CallRedactor(Policy.load())
    redactor.transcript(final("And the CVV, please?", 1.0, Speaker.AGENT))
    redactor.transcript(final("eight one", 4.0))
    assert redactor.transcript(final("three.", 6.0)).store.text == "[security code]."


def stored_after(question: str, *answers: str) -> list[str]:
    """What the store keeps of the caller's answers to the agent's question."""
    redactor = CallRedactor(Policy.load())
    redactor.transcript(final(question, 1.0, Speaker.AGENT))
    return [redactor.transcript(final(a, 4.0 + 2 * i)).store.text for i, a in enumerate(answers)]


def test_a_code_begun_with_one_digit_in_its_own_final_is_hidden_from_the_first():
    assert stored_after("Security code?", "Six", "four nine.") == [
        "[security code]",
        "[security code].",
    ]


def test_a_bare_code_answering_a_question_that_names_nothing_is_hidden():
    assert stored_after("And the one from the front?", "4408.") == ["[security code]."]
    assert stored_after("And what year was that?", "2019.") == ["2019."]
    assert stored_after("And how much was it?", "$120.") == ["$120."]
    assert stored_after("Anything else?", "Yes, order 5521.") == ["Yes, order 5521."]


def test_after_a_card_a_question_with_no_keyword_asks_for_its_code():
    redactor = CallRedactor(Policy.load())
    redactor.transcript(final("The card is 4539 1288 0476 2231.", 1.0))
    redactor.transcript(final("Lovely, and the last bit?", 6.0, Speaker.AGENT))
    assert redactor.transcript(final("It's 552.", 9.0)).store.text == "It's [security code]."


def test_a_keyword_qualified_by_what_it_belongs_to_keeps_its_kind():
    asked = "Last thing, the social security number on the account."
    assert stored_after(asked, "318-220-4471.") == ["[national id]."]
    assert stored_after("And the date of birth on the account?", "12-11-1958.") == [
        "[date of birth]."
    ]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("The security code is 9... 3... 1.", [("security_code", "9... 3... 1")]),
        ("The CVV is five, uh, one, six.", [("security_code", "five, uh, one, six")]),
        ("The code on the back is nine for six.", [("security_code", "nine for six")]),
        (
            "for five three nine, 2271, 0834, 6609.",
            [("card_number", "for five three nine, 2271, 0834, 6609")],
        ),
        ("My NI number is n.r. 72 40 15 d.", [("national_id", "n.r. 72 40 15 d")]),
        ("The number by the signature strip is 258.", [("security_code", "258")]),
    ],
)
def test_hesitations_and_mishearings_inside_a_number(text, found):
    assert kinds(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "Use the Mastercard, last four 3316.",
        "You can pay by transfer to our account, sort code 60-83-71, account 00420915.",
        "You can call us any time on 0800 046 2291.",
        "I waited for 5 days.",
        "That was for two people.",
    ],
)
def test_more_look_alikes_survive(text):
    assert kinds(text) == []


def test_a_question_about_an_amount_or_a_time_leaves_a_bare_number_alone():
    assert stored_after("How much was the charge?", "Twelve forty nine.") == ["Twelve forty nine."]
    assert stored_after("When was that?", "830.") == ["830."]


def test_a_tracking_number_read_over_two_finals_stays():
    assert (
        stored_after("Could you read me the tracking number?", "9400 1118 9922", "3308 4417 65.")[1]
        == "3308 4417 65."
    )


def test_an_amount_said_before_the_word_card_is_no_card():
    text = "So we'll put forty-nine ninety-nine on the card ending 2207."
    assert kinds(text) == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("S.K. 62 09 18 C.", [("national_id", "S.K. 62 09 18 C")]),
        # letters spelled out, digits as words
        (
            "That's N R seven one, four four, zero nine, B.",
            [("national_id", "N R seven one, four four, zero nine, B")],
        ),
        # letters run into the digits, a hyphen where the caller paused
        ("my NI number is AB123-456C", [("national_id", "AB123-456C")]),
        ("It's PX 40 1922 D", [("national_id", "PX 40 1922 D")]),
    ],
)
def test_a_national_insurance_number_as_recognisers_write_it(text, found):
    assert kinds(text) == found


def test_a_month_with_no_year_is_no_expiry_date():
    assert kinds("The old card expired in June, so they sent a new one.") == []
    assert kinds("It expires in June 2029.") == [("expiry_date", "June 2029")]


def test_a_final_cut_inside_a_card_number_is_redacted_before_the_rest_comes():
    redactor = CallRedactor(Policy.load())
    texts = ["Yeah it's 5321 40", "87 6612 0934."]
    stored = [redactor.transcript(final(t, 1.0 + i * 2)).store.text for i, t in enumerate(texts)]
    assert stored == ["Yeah it's [card number]", "[card number]."]
    redactor = CallRedactor(Policy.load())
    turns = [(Speaker.CUSTOMER, "3714"), (Speaker.AGENT, "Uh-huh."), (Speaker.CUSTOMER, "6622")]
    stored = [
        redactor.transcript(final(t, i * 2.0, who)).store.text for i, (who, t) in enumerate(turns)
    ]
    assert stored == ["[card number]", "Uh-huh.", "[card number]"]
    # a platform's value is whole, never cut short
    started = CallStarted(Protocol.NATIVE, ("en",), (Speaker.CUSTOMER,), metadata={"port": 5060})
    assert redactor.started(started).store.metadata == {"port": 5060}


@pytest.mark.parametrize(
    "text",
    [
        "We moved here in 2019",  # a year: no card starts 19 or 20
        "It was 2012 or so",
        "I think it was 4500.",  # said to the end: no cut
    ],
)
def test_a_number_that_ends_a_final_is_not_a_card_for_that_alone(text):
    assert kinds(text) == []


def test_nine_digits_with_no_keyword_are_an_id():
    assert kinds("Sure, 512774093.") == [("national_id", "512774093")]
    assert kinds("It cost $125000000.") == []


def test_the_companys_own_number_in_groups_of_four_stays():
    assert kinds("You can reach our claims desk on 0345 600 7788 any time.") == []


def test_a_bank_keyword_turns_account_into_a_bank_account_only_in_its_sentence():
    text = "Your Acme account is ZX-88102. What bank account do you want the money in?"
    assert kinds(text) == []
    assert kinds("The sort code is 20-32-06 and the account 41129937.") == [
        ("bank_account", "20-32-06"),
        ("bank_account", "41129937"),
    ]


def test_the_account_asked_for_after_a_routing_number_is_the_bank_account():
    redactor = CallRedactor(Policy.load())
    turns = [
        (Speaker.AGENT, "Can you read me the routing number?"),
        (Speaker.CUSTOMER, "026009593."),
        (Speaker.AGENT, "Great, and then the account number?"),
        (Speaker.CUSTOMER, "7730 1244 58."),
    ]
    stored = [
        redactor.transcript(final(t, i * 3.0, who)).store.text for i, (who, t) in enumerate(turns)
    ]
    assert stored[1] == "[bank account]." and stored[3] == "[bank account]."
    # with no talk of banks, "account" is the company's
    redactor = CallRedactor(Policy.load())
    redactor.transcript(final("What's the account number on your bill?", 1.0, Speaker.AGENT))
    assert redactor.transcript(final("7730 1244 58.", 4.0)).store.text == "7730 1244 58."


def test_good_till_is_an_expiry():
    assert kinds("It's good till March of 2031.") == [("expiry_date", "March of 2031")]
