from pathlib import Path

import pytest

from assist.cues import RuleBook
from assist.errors import CatalogError

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
    ],
)
def test_calm_requests_fire_nothing(rules, text):
    assert fired(rules, text) == set()


def test_rules_file_errors_name_the_rule(tmp_path: Path):
    bad = tmp_path / "rules.toml"
    bad.write_text('[[rule]]\nname = "x"\nkind = "psychic"\nreason = "?"\n')
    with pytest.raises(CatalogError, match="psychic"):
        RuleBook.load(bad, None)
    bad.write_text("[[rule]]\nname = 'x'\nkind = 'phrase'\nreason = 'r'\npatterns = ['(']\n")
    with pytest.raises(CatalogError, match="rule 'x'"):
        RuleBook.load(bad, None)
