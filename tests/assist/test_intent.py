from pathlib import Path

import pytest

from assist.errors import CatalogError
from assist.intent import IntentCatalog, IntentTracker


def detect(assistant, *sentences: str) -> str | None:
    tracker = IntentTracker(assistant.intents)
    for k, text in enumerate(sentences):
        embedder = assistant.embedder
        tracker.update(f"s{k}", text, embedder.embed([text])[0] if embedder else None)
    return tracker.current


@pytest.mark.parametrize(
    "sentence, intent",
    [
        ("I see the same payment twice on my statement this month", "billing_dispute"),
        ("I sent the jacket back three weeks ago and still have no money", "refund_request"),
        ("I'm moving overseas so I need to end my contract", "cancel_service"),
        ("the wifi drops every few minutes since yesterday", "technical_problem"),
        ("my parcel still hasn't come and it was due on Friday", "delivery_issue"),
        ("it keeps telling me my password is wrong", "account_access"),
        ("I moved house and need my address updated", "change_details"),
        ("I'd like a faster broadband package", "upgrade_plan"),
        ("what time are you open on Saturdays", "general_inquiry"),
    ],
)
def test_paraphrases_find_their_intent_by_meaning(assistant, sentence, intent):
    assert detect(assistant, sentence) == intent


def test_keywords_alone_work_without_the_model(keyword_assistant):
    assert detect(keyword_assistant, "I was charged twice this month") == "billing_dispute"
    assert detect(keyword_assistant, "Hello there, good morning") is None


def test_one_stray_sentence_does_not_flip_the_intent(assistant):
    intent = detect(
        assistant,
        "I was charged twice for my monthly plan.",
        "Yes, I already called the bank about the double charge.",
        "This is ridiculous, I want to make a complaint.",
    )
    assert intent == "billing_dispute"


def test_small_talk_gives_no_intent(assistant):
    assert detect(assistant, "Hi, good morning.", "Yes, that's me.") is None


def test_a_deployment_brings_its_own_catalog(tmp_path: Path, assistant):
    catalog = tmp_path / "intents.toml"
    catalog.write_text(
        '[[intent]]\nname = "roaming"\ndescription = "Using the phone abroad"\n'
        'examples = ["does my phone work in Spain"]\nkeywords = ["roaming"]\n'
        '[[intent]]\nname = "other"\ndescription = "anything else"\nexamples = ["hello"]\n'
    )
    loaded = IntentCatalog.load(catalog, assistant.embedder)
    tracker = IntentTracker(loaded)
    text = "will I pay extra for calls when I travel to France"
    event = tracker.update("s1", text, assistant.embedder.embed([text])[0])
    assert event is not None and event.intent == "roaming" and event.evidence


def test_a_broken_catalog_names_the_file(tmp_path: Path):
    bad = tmp_path / "intents.toml"
    bad.write_text("[[intent]]\ndescription = 'no name'\n")
    with pytest.raises(CatalogError, match=r"intents\.toml"):
        IntentCatalog.load(bad, None)
