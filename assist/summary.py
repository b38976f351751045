"""The rolling, extractive summary of one call: what the caller wants, what they
already tried, the data points named, what the agent promised, what is still open."""

from __future__ import annotations

from dataclasses import dataclass, field

from assist import dialogue, entities
from contract.events import DataPoint, Item, Speaker, Summary

MAX_ITEMS = 12  # per list; a summary is read at a glance


@dataclass
class RollingSummary:
    intent: str | None = None
    steps_tried: list[Item] = field(default_factory=list)
    data_points: list[DataPoint] = field(default_factory=list)
    next_steps: list[Item] = field(default_factory=list)
    open_questions: list[Item] = field(default_factory=list)
    _asked_id: str | None = None  # the kind of number the agent just asked for

    def add(self, segment_id: str, speaker: Speaker, text: str) -> bool:
        """Adds one final segment; True when the summary changed."""
        before = self.snapshot()
        self._add_data_points(entities.extract(text, segment_id, self._asked_id))
        if speaker is Speaker.CUSTOMER:
            self._asked_id = None
            self._extend(self.steps_tried, dialogue.steps_tried(text), segment_id, speaker)
            self._extend(self.open_questions, dialogue.questions(text), segment_id, speaker)
        else:
            self._asked_id = entities.asked_id_kind(text)
            self.open_questions.clear()  # the agent has taken the floor: questions answered
            self._extend(self.next_steps, dialogue.promises(text), segment_id, speaker)
        return self.snapshot() != before

    def set_intent(self, intent: str) -> None:
        self.intent = intent

    def snapshot(self, segment_id: str = "") -> Summary:
        return Summary(
            intent=self.intent,
            steps_tried=tuple(self.steps_tried),
            data_points=tuple(self.data_points),
            next_steps=tuple(self.next_steps),
            open_questions=tuple(self.open_questions),
            segment_id=segment_id,
        )

    def _add_data_points(self, points: list[DataPoint]) -> None:
        known = {(p.kind, p.value) for p in self.data_points}
        for point in points:
            if (point.kind, point.value) not in known and len(self.data_points) < MAX_ITEMS:
                self.data_points.append(point)
                known.add((point.kind, point.value))

    @staticmethod
    def _extend(items: list[Item], texts: list[str], segment_id: str, speaker: Speaker) -> None:
        known = {i.text.lower() for i in items}
        for text in texts:
            if text.lower() not in known and len(items) < MAX_ITEMS:
                items.append(Item(text, segment_id, speaker))
                known.add(text.lower())
