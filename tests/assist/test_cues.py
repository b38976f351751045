from pathlib import Path

import pytest

from assist.cues import RuleBook, RuleKind
from assist.errors import CatalogError
from contract.events import Severity, Speaker
from contract.settings import SettingsError

RULES = Path(__file__).parents[2] / "assist" / "data" / "rules.toml"


@pytest.fixture(scope="module")
def rules() -> RuleBook:
    return RuleBook.load(RULES, None)


def fired(rules: RuleBook, text: str) -> set[str]:
    return {r.name for r in rules.rules if r.kind == "phrase" and rules.match_phrase(r, text, None)}


@pytest.mark.parametrize(
    "text, rule",
    [
        ("I want to speak to a manager right now.", "manager_request"),
        ("Can I talk to someone in charge?", "manager_request"),
        ("I'm going to switch to another provider.", "churn_threat"),
        ("Then I will just cancel and take my business elsewhere.", "churn_threat"),
        ("If that's how you treat me, I'll just go to Contoso.", "churn_threat"),
        ("I'll tell my bank to do a chargeback.", "payment_dispute_threat"),
        ("I will file a complaint and tell everyone about this.", "public_complaint_threat"),
        ("I'm putting this on social media.", "public_complaint_threat"),
        ("This is the third time I'm calling about this.", "repeat_contact"),
        ("I called you last week and it's still not fixed.", "repeat_contact"),
    ],
)
def test_escalation_phrases(rules, text, rule):
    assert rule in fired(rules, text)


@pytest.mark.parametrize(
    "text",
    [
        "I want to cancel my contract, I am moving abroad.",  # a request, not a threat
        "Could you check whether my manager approved the order?",
        "Yes, I already called the bank.",
        "Thank you, that was really helpful.",
        "My internet has not been working since Monday.",
        "I'll go to the shop and check the router model.",
    ],
)
def test_calm_requests_fire_nothing(rules, text):
    assert fired(rules, text) == set()


def test_the_shipped_rules_load_typed(rules: RuleBook):
    by_name = {rule.name: rule for rule in rules.rules}
    assert len(by_name) == len(rules.rules) == 7
    assert by_name["manager_request"].kind is RuleKind.PHRASE
    assert by_name["manager_request"].severity is Severity.HIGH
    assert by_name["manager_request"].speaker is Speaker.CUSTOMER
    assert by_name["agent_silence"].kind is RuleKind.AGENT_SILENCE
    assert by_name["agent_silence"].silence_s == 30.0
    assert by_name["customer_sentiment_spike"].kind == "sentiment_spike"  # StrEnum: equal


PHRASE = '[[rule]]\nname = "a"\nkind = "phrase"\nreason = "r"\npatterns = ["x"]\n'


def load_rules(tmp_path: Path, text: str) -> RuleBook:
    path = tmp_path / "rules.toml"
    path.write_text(text)
    return RuleBook.load(path, None)


def refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(CatalogError) as caught:
        load_rules(tmp_path, text)
    assert isinstance(caught.value, SettingsError)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'rules.toml'}: ") and "\n" not in message
    return message.removeprefix(f"{tmp_path / 'rules.toml'}: ")


def test_a_deployment_brings_its_own_rules(tmp_path: Path):
    text = PHRASE + '[[rule]]\nname = "b"\nkind = "phrase"\nreason = "r"\nspeaker = "agent"\n'
    book = load_rules(tmp_path, text + 'examples = ["calm down"]\nseverity = "low"\n')
    assert [r.speaker for r in book.rules] == [Speaker.CUSTOMER, Speaker.AGENT]
    assert book.rules[1].severity is Severity.LOW and book.rules[1].examples == ("calm down",)
    assert book.rules[0].patterns[0].search("X")  # case-insensitive
    assert load_rules(tmp_path, "").rules == []


def test_a_speaker_that_is_not_one_is_refused(tmp_path: Path):
    text = PHRASE + '[[rule]]\nname = "b"\nkind = "phrase"\nreason = "r"\nspeaker = "caller"\n'
    message = refused(tmp_path, text + 'patterns = ["y"]\n')
    assert message == "rule[1].speaker: 'caller' is not one of customer, agent"


@pytest.mark.parametrize(
    "extra, message",
    [
        ('kind = "psychic"\n', "rule[0].kind: 'psychic' is not one of phrase, sentiment_spike"),
        ('severity = "urgent"\n', "rule[0].severity: 'urgent' is not one of low, medium, high"),
        ("min_similarity = '0.8'\n", "rule[0].min_similarity: expected float, got str"),
        ("handover = 1\n", "rule[0].handover: expected bool, got int"),
        ('patterns = "x"\n', "rule[0].patterns: expected array, got str"),
        ("patterns = [1]\n", "rule[0].patterns[0]: expected str, got int"),
        ('patterns = ["(x"]\n', "rule[0].patterns[0]: not a regular expression"),
        ("min_similarity = 1.5\n", "rule[0]: rule 'a': min_similarity must be within 0..1"),
        ("silence_s = 0\n", "rule[0]: rule 'a': silence_s must be above 0"),
    ],
)
def test_wrong_values_are_refused_by_key(tmp_path: Path, extra: str, message: str):
    text = PHRASE.replace('kind = "phrase"\n', "") if extra.startswith("kind") else PHRASE
    text = text.replace('patterns = ["x"]\n', "") if extra.startswith("patterns") else text
    assert refused(tmp_path, text + extra).startswith(message)


def test_unknown_keys_are_refused_by_name(tmp_path: Path):
    message = refused(tmp_path, PHRASE + 'speeker = "agent"\n')
    assert message == "rule[0].speeker: unknown key (did you mean speaker?)"
    assert refused(tmp_path, PHRASE.replace("[[rule]]", "[[rules]]")).startswith(
        "rules: unknown key (did you mean rule?)"
    )


def test_rules_that_could_never_fire_are_refused(tmp_path: Path):
    no_patterns = PHRASE.replace('patterns = ["x"]\n', "")
    assert (
        refused(tmp_path, no_patterns) == "rule[0]: phrase rule 'a' has no patterns and no examples"
    )
    silence = '[[rule]]\nname = "s"\nkind = "agent_silence"\nreason = "r"\npatterns = ["x"]\n'
    assert "patterns and examples are for phrase rules" in refused(tmp_path, silence)
    assert refused(tmp_path, PHRASE.replace('reason = "r"\n', "")) == (
        "rule[0]: missing required key 'reason'"
    )


def test_rule_names_are_unique(tmp_path: Path):
    assert refused(tmp_path, PHRASE + PHRASE) == "rule[1].name: 'a' is already the name of rule[0]"


def test_an_unreadable_rules_file_is_named(tmp_path: Path):
    assert refused(tmp_path, "[[rule]\n").startswith("not valid TOML")
