import pytest

from assist.entities import asked_id_kind, extract, written


@pytest.mark.parametrize(
    "spoken, text",
    [
        ("the account number is four four seven one", "the account number is 4471"),
        ("call me on zero seven seven", "call me on 077"),
        ("it's 4, 4, 7, 1", "it's 4471"),
        ("ten business days", "10 business days"),
    ],
)
def test_spoken_numbers_are_written_as_digits(spoken, text):
    assert written(spoken) == text


@pytest.mark.parametrize(
    "text, kind, value",
    [
        ("Sure, the account number is four four seven one.", "account_number", "4471"),
        ("two payments of eighty nine dollars ninety nine", "amount", "89.99"),
        ("I was charged $89.99 twice", "amount", "89.99"),
        ("it costs fifteen dollars and fifty cents", "amount", "15.50"),
        ("my order number is AB-12345", "order_number", "AB-12345"),
        ("contract number 99-1234-7", "contract_number", "99-1234-7"),
        ("not working since Monday", "date", "since Monday"),
        ("moving abroad at the end of March", "date", "the end of March"),
        ("it is john dot smith at example dot com", "email", "john.smith@example.com"),
        ("from the first of April", "date", "from the 1st of April"),
        ("it started two weeks ago", "date", "2 weeks ago"),
        ("after I updated the app last night", "date", "last night"),
        # read digit by digit, in groups with a pause, with "oh" for zero
        ("Seven three three, nine zero two.", "number", "733902"),
        ("Sure, it's sixty one, four zero seven.", "number", "61407"),
        ("733 902", "number", "733902"),  # as the recogniser writes the groups
        ("Show it 61-407.", "number", "61407"),
        ("It's 27-mill lane Bristol.", "address", "27 Mill Lane"),
        ("it's oh seven seven oh oh, nine one two, four five six", "phone", "07700912456"),
        ("call me on oh one six one, four nine six, oh oh oh oh", "phone", "01614960000"),
        # spelled out, as people spell
        ("Yes, it's S W one A, two B Q.", "postcode", "SW1A 2BQ"),
        ("the reference is R C three three eight one five", "reference_number", "RC33815"),
        ("It's O, K, A, F, O, R.", "name", "OKAFOR"),
        ("B as in bravo, E, N, seven", "reference", "BEN7"),
        ("The new address is 12 Baker Street, London", "address", "12 Baker Street"),
        ("It's an Android, a Pixel seven.", "product", "Pixel 7"),
        # amounts said with no currency, where the words around say it is money
        ("it's fifty four ninety nine a month", "amount", "54.99"),
        ("my plan is forty five", "amount", "45"),
        ("I paid eighty nine ninety nine for it", "amount", "89.99"),
    ],
)
def test_data_points_as_spoken_and_as_written(text, kind, value):
    points = extract(text, "s1")
    assert (kind, value) in {(p.kind, p.value) for p in points}, points
    assert all(p.segment_id == "s1" for p in points)


def test_a_bare_number_takes_the_kind_the_agent_asked_for():
    kind = asked_id_kind("Can you give me your account number please?")
    assert kind == "account_number"
    assert [(p.kind, p.value) for p in extract("Sure, it's 4471.", "s2", kind)] == [
        ("account_number", "4471")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "I may be a bit late",
        "this is the third time",
        "it takes ten business days",
        "hello",
        "I have one or two questions",
        "I was on plan B for a while",
        "we waited 30, 40 minutes",
        "I waited 2 hours in the park",
    ],
)
def test_no_data_points_in_ordinary_words(text):
    assert extract(text, "s1") == []


def test_a_thousands_separator_is_one_amount():
    assert [(p.kind, p.value) for p in extract("it costs 1,200 pounds", "s1")] == [
        ("amount", "1200")
    ]


def test_a_postcode_is_one_data_point():
    assert [p.kind for p in extract("it's S W one A, two B Q", "s1")] == ["postcode"]
