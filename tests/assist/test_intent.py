from pathlib import Path

import pytest

from assist.assistant import DATA_DIR
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
    with pytest.raises(
        CatalogError, match=r"intents\.toml: intent\[0\]: missing required key 'name'"
    ):
        IntentCatalog.load(bad, None)


def test_the_shipped_catalog_loads():
    catalog = IntentCatalog.load(DATA_DIR / "intents.toml", None)
    names = [intent.name for intent in catalog.intents]
    assert "billing_dispute" in names and len(set(names)) == len(names) == 10
    assert all(intent.description and intent.examples for intent in catalog.intents)


def refused(tmp_path: Path, text: str) -> str:
    path = tmp_path / "intents.toml"
    path.write_text(text)
    with pytest.raises(CatalogError) as caught:
        IntentCatalog.load(path, None)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    return message.removeprefix(f"{path}: ")


ROAMING = '[[intent]]\nname = "roaming"\nexamples = ["does my phone work in Spain"]\n'


def test_a_missing_description_is_the_name(tmp_path: Path):
    path = tmp_path / "intents.toml"
    path.write_text(ROAMING)
    assert IntentCatalog.load(path, None).intents[0].description == "roaming"


def test_unknown_keys_are_refused_by_name(tmp_path: Path):
    message = refused(tmp_path, ROAMING + 'keyword = ["roaming"]\n')
    assert message == "intent[0].keyword: unknown key (did you mean keywords?)"
    assert refused(tmp_path, ROAMING + "[other]\nx = 1\n").startswith("other: unknown key")


@pytest.mark.parametrize(
    "extra, message",
    [
        ('keywords = "roaming"\n', "intent[0].keywords: expected array, got str"),
        ("next_action = 5\n", "intent[0].next_action: expected str, got int"),
        ('keywords = ["roaming", " "]\n', "intent[0]: intent 'roaming' has an empty keyword"),
    ],
)
def test_wrong_values_are_refused_by_key(tmp_path: Path, extra: str, message: str):
    assert refused(tmp_path, ROAMING + extra) == message


def test_an_empty_or_doubled_catalog_is_refused(tmp_path: Path):
    assert refused(tmp_path, "# nothing\n") == ("intent: the catalog needs at least one [[intent]]")
    assert refused(tmp_path, ROAMING + ROAMING) == (
        "intent[1].name: 'roaming' is already the name of intent[0]"
    )
