import json
import logging

from streams.logs import JsonLinesFormatter, RedactSecrets


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


def test_personal_data_in_a_quoted_message_is_blanked():
    record = logging.LogRecord(
        "somelib",
        logging.ERROR,
        __file__,
        1,
        "could not parse %r",
        ("my card 4539 1488 0343 6467, ssn 123-45-6789, mail a.b@example.com, port 8765",),
        None,
    )
    RedactSecrets().filter(record)
    message = record.getMessage()
    for value in ("4539", "6467", "123-45", "a.b@example.com"):
        assert value not in message
    assert "[card number]" in message and "port 8765" in message
