import pytest

from assist.sentiment import SpeakerSentiment, text_score
from contract.events import Prosody

CALM = Prosody(loudness_dbfs=-22.0, pitch_hz=100.0, voiced_s=3.0)
ANGRY = Prosody(loudness_dbfs=-14.0, pitch_hz=135.0, voiced_s=2.6)


@pytest.mark.parametrize(
    "text",
    [
        "Nothing works. I'm furious.",  # VADER alone reads this as positive
        "This is ridiculous, the third time I am calling.",
        "My internet is still not working.",
        "A fee? Nobody told me about any fee. This is unacceptable.",
        # sarcasm: praise said of something bad
        "Oh great. Two more weeks without internet, that's just perfect. Thanks so much.",
    ],
)
def test_complaints_read_negative(text):
    score, why = text_score(text)
    assert score < -0.3 and why


@pytest.mark.parametrize(
    "text",
    [
        "No problem at all, thanks.",
        "It's not ridiculous, just a question.",  # negated complaint word
        "That would be great, thank you so much for your help.",
        "Could you please check my bill?",
        "Oh great, thanks so much, that's brilliant.",  # praise alone is praise
        "Thanks a lot, that sorted it, I still have the email.",
    ],
)
def test_politeness_and_negation_do_not_read_negative(text):
    assert text_score(text)[0] >= 0


def test_a_raised_faster_voice_is_aroused_against_the_speakers_own_start():
    tracker = SpeakerSentiment()
    words = "I would like to ask about the payment on my account please"
    calm = [tracker.read(words, CALM, may_spike=True) for _ in range(2)]
    angry = tracker.read(words, ANGRY, may_spike=True)
    assert all(r.arousal < 0.3 for r in calm)
    assert angry.arousal > 0.9
    assert "louder" in angry.reason and "higher" in angry.reason


def test_spike_needs_a_turn_from_the_start_and_says_why():
    tracker = SpeakerSentiment()
    tracker.read("Hello, I have a question about my bill.", CALM, may_spike=True)
    tracker.read("The account number is 4471.", CALM, may_spike=True)
    reading = tracker.read(
        "This is ridiculous. I want to speak to a manager right now.", ANGRY, may_spike=True
    )
    assert reading.spike and "ridiculous" in reading.reason and "louder" in reading.reason


def test_calm_complaint_about_a_fault_is_no_spike():
    tracker = SpeakerSentiment()
    tracker.read("Hello, my internet has not been working since Monday.", CALM, may_spike=True)
    reading = tracker.read("Yes, I restarted the router twice.", CALM, may_spike=True)
    assert not reading.spike


def test_agents_never_spike():
    tracker = SpeakerSentiment()
    tracker.read("Hello, how can I help?", CALM, may_spike=False)
    tracker.read("Sure.", CALM, may_spike=False)
    assert not tracker.read("This is ridiculous and unacceptable!", ANGRY, may_spike=False).spike


def test_a_raised_voice_alone_spikes_when_the_words_are_lost():
    tracker = SpeakerSentiment()
    tracker.read("Hello, thank you, I have a quick question.", CALM, may_spike=True)
    tracker.read("It is about my refund.", CALM, may_spike=True)
    garbled = tracker.read("Ten weeks are you there I have been waiting", ANGRY, may_spike=True)
    assert garbled.spike and "louder" in garbled.reason
    kind = tracker.read("Oh that is wonderful, thank you so much!", ANGRY, may_spike=True)
    assert not kind.spike  # a delighted shout is no escalation
