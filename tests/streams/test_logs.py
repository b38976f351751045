import json
import logging

from streams.logs import JsonLinesFormatter


def test_json_lines_carry_ids_not_free_text_fields():
    record = logging.LogRecord(
        "streams.server", logging.INFO, __file__, 1, "call %s ended (%s)", ("c1", "stop"), None
    )
    record.call_id = "c1"
    record.duration_s = 12.5
    line = json.loads(JsonLinesFormatter().format(record))
    assert line["message"] == "call c1 ended (stop)"
    assert line["call_id"] == "c1" and line["duration_s"] == 12.5
    assert line["level"] == "info" and line["ts"].endswith("+00:00")
