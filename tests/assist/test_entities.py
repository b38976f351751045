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
        ("it started two weeks ago", "date", "two weeks ago"),
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
    ["I may be a bit late", "this is the third time", "it takes ten business days", "hello"],
)
def test_no_data_points_in_ordinary_words(text):
    assert extract(text, "s1") == []
