from contract.events import Word
from voice.agreement import agreed_prefix, stable_words


def words(text: str, step: float = 0.5) -> tuple[Word, ...]:
    return tuple(Word(w, i * step, (i + 1) * step, 1.0) for i, w in enumerate(text.split()))


def test_agreement_ignores_case_and_punctuation():
    assert agreed_prefix(words("I want to"), words("i want, to cancel")) == 3


def test_agreement_stops_at_first_difference():
    assert agreed_prefix(words("I want a refund"), words("I wanted a refund")) == 1


def test_nothing_agreed_on_first_hypothesis():
    assert agreed_prefix((), words("hello there")) == 0


def test_words_near_the_cut_are_held_back():
    previous = words("my order number is four four")
    current = words("my order number is four four seven")  # ends at 3.5 s
    assert stable_words(previous, current, audio_end_s=3.5, holdback_s=1.0) == 5
    assert stable_words(previous, current, audio_end_s=10.0, holdback_s=1.0) == 6
