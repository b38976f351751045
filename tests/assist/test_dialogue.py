import pytest

from assist.dialogue import promises, questions, steps_tried


@pytest.mark.parametrize(
    "text, steps",
    [
        ("Yes, I already called the bank and they told me it was you.", ["called the bank"]),
        (
            "I restarted the router twice and I also checked all the cables.",
            ["restarted the router twice", "checked all the cables"],
        ),
        (
            "I reinstalled the app, cleared the cache and reset my password.",
            ["reinstalled the app", "cleared the cache", "reset my password"],
        ),
        ("I have sent two emails and nobody answered.", ["sent two emails"]),
        ("I've already tried turning it off and on again", ["tried turning it off and on again"]),
        ("I already call the bank", ["call the bank"]),  # tense lost by the recogniser
        # in passing, after a lead-in, with an aside, and what followed cut off
        ("Well, after I updated the app last night it got worse.", ["updated the app last night"]),
        (
            "Yes, I restarted the router, twice, and I plugged my laptop in with a cable.",
            ["restarted the router twice", "plugged my laptop in with a cable"],
        ),
        ("I had a look in the app, but I couldn't find it.", ["had a look in the app"]),
        (
            "This is the third time I'm calling about the same bill.",
            ["calling about the same bill"],
        ),
    ],
)
def test_steps_the_caller_already_took(text, steps):
    assert steps_tried(text) == steps


@pytest.mark.parametrize(
    "text",
    [
        "I was charged twice for my monthly plan.",  # done to them, not by them
        "I noticed two payments on my card.",
        "It is called Fiber Max.",
        "They restarted my line yesterday.",
        "I had a problem with the app.",
    ],
)
def test_not_steps(text):
    assert steps_tried(text) == []


def test_agent_promises_are_next_steps():
    text = "I can see a fault on the line, so I will book a technician for tomorrow morning."
    assert promises(text) == ["book a technician for tomorrow morning"]
    assert promises("Let me get my supervisor for you.") == ["get my supervisor for you"]
    assert promises("I can help with that. I understand.") == []


def test_questions():
    assert questions("Ten days? Why was I charged twice? Fine.") == ["Why was I charged twice?"]
