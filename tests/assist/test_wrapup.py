from pathlib import Path

import pytest

from assist.errors import CatalogError
from assist.wrapup import (
    CONFIDENCE_BY_INTENT,
    CONFIDENCE_CONTESTED,
    CONFIDENCE_DEFAULT,
    CONFIDENCE_SHOWN,
    DispositionCatalog,
    WrapupDraft,
)
from contract.events import FollowUpOwner, Speaker

CATALOG = DispositionCatalog.load(Path("assist/data/dispositions.toml"))
AGENT, CUSTOMER = Speaker.AGENT, Speaker.CUSTOMER


def drafted(*lines: tuple[Speaker, str], intent: str | None = None):
    draft = WrapupDraft(CATALOG)
    for k, (speaker, text) in enumerate(lines):
        draft.add(f"s{k}", speaker, text)
    return draft.draft(intent, "What the caller wanted" if intent else "")


@pytest.mark.parametrize(
    "agent, disposition",
    [
        ("Let me transfer you to my team leader now.", "escalated"),
        ("An engineer will come on Thursday between one and six.", "follow_up_scheduled"),
        ("I've cancelled your membership from today, and your final bill follows.", "cancelled"),
        ("The refund goes back to your card within five days.", "refund_issued"),
        ("I've updated the address, that's all sorted.", "resolved"),
    ],
)
def test_the_agents_words_show_the_disposition(agent, disposition):
    wrapup = drafted((CUSTOMER, "Hi, I need some help with my account please."), (AGENT, agent))
    assert (wrapup.disposition, wrapup.confidence) == (disposition, CONFIDENCE_SHOWN)
    assert wrapup.evidence == (agent,)
    assert set(wrapup.choices) == set(CATALOG.names)


def test_the_first_in_the_catalog_wins_and_the_others_are_alternatives():
    wrapup = drafted(
        (AGENT, "The refund goes back to your card within five days."),
        (AGENT, "Let me put you through to my duty manager now."),
    )
    assert wrapup.disposition == "escalated"
    assert wrapup.alternatives == ("refund_issued",)
    assert wrapup.confidence == CONFIDENCE_CONTESTED


def test_without_evidence_the_intent_then_the_default_decides():
    asked = drafted((CUSTOMER, "What are your opening hours on Sunday?"), intent="general_inquiry")
    assert (asked.disposition, asked.confidence) == ("information_given", CONFIDENCE_BY_INTENT)
    unknown = drafted((CUSTOMER, "Is that the pizza place on the corner?"))
    assert unknown.disposition == "information_given"  # no intent at all
    other = drafted((AGENT, "Okay."), intent="billing_dispute")
    assert (other.disposition, other.confidence) == (CATALOG.default.name, CONFIDENCE_DEFAULT)


def test_notes_say_why_what_was_done_and_who_follows_up_when():
    wrapup = drafted(
        (CUSTOMER, "Hi, my parcel arrived damaged and it was a birthday present."),
        (AGENT, "I've sent a replacement by express. You'll get a tracking link this afternoon."),
        (CUSTOMER, "Thanks. I'll send you the photos tonight."),
        (AGENT, "Great, I'll call you back tomorrow morning to check it arrived."),
        intent="delivery_issue",
    )
    notes = wrapup.notes
    assert notes.reason.startswith("What the caller wanted") and "damaged" in notes.reason
    assert any("sent a replacement" in a for a in notes.actions)
    owners = {(f.owner, f.when) for f in notes.follow_ups}
    assert (FollowUpOwner.COMPANY, "this afternoon") in owners
    assert (FollowUpOwner.CUSTOMER, "tonight") in owners
    assert (FollowUpOwner.AGENT, "tomorrow morning") in owners


def test_a_catalog_needs_one_default(tmp_path: Path):
    path = tmp_path / "d.toml"
    path.write_text('[[disposition]]\nname = "done"\n')
    with pytest.raises(CatalogError, match="default"):
        DispositionCatalog.load(path)
    path.write_text('[[disposition]]\nname = "done"\ndefault = true\npatterns = ["(unclosed"]\n')
    with pytest.raises(CatalogError, match="patterns"):
        DispositionCatalog.load(path)


def test_each_commitment_is_one_follow_up_and_the_company_delivers_refunds():
    wrapup = drafted(
        (AGENT, "I'll remove the charges now, and I'll flag the account so it stops."),
        (AGENT, "I'm sending a replacement out today by express."),
        (AGENT, "The refund goes back to your card within five days."),
        (CUSTOMER, "I'm going to Spain next week, I'll call you from there."),
    )
    follow_ups = {(f.what, f.owner) for f in wrapup.notes.follow_ups}
    assert ("remove the charges now", FollowUpOwner.AGENT) in follow_ups
    assert ("flag the account so it stops", FollowUpOwner.AGENT) in follow_ups
    assert ("a replacement out today by express", FollowUpOwner.COMPANY) in follow_ups
    assert ("back to your card within five days", FollowUpOwner.COMPANY) in follow_ups
    assert ("call you from there", FollowUpOwner.CUSTOMER) in follow_ups
    assert not any("Spain" in what for what, _ in follow_ups)  # going somewhere: no promise
