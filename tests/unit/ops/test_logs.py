"""The text log keeps one record on one line, whatever a request's path holds."""

from __future__ import annotations

import logging
import logging.config

from keyplane.ops.logs import log_config


def _text_formatter() -> logging.Formatter:
    config = log_config("text", "info")["formatters"]["default"]
    formatter: logging.Formatter = logging.config.DictConfigurator({}).configure_formatter(config)
    return formatter


def _line(message: str, *args: object) -> str:
    record = logging.makeLogRecord({"msg": message, "args": args, "levelname": "INFO"})
    record.request_id = "req-1"
    return _text_formatter().format(record)


def test_a_path_cannot_break_or_forge_a_line() -> None:
    line = _line("GET %s 404", "/v1/x\nFORGED LINE 200\r\u2028\x85\x00")

    assert "\n" not in line and "\r" not in line and "\u2028" not in line and "\x00" not in line
    assert line.endswith("GET /v1/x\\x0aFORGED LINE 200\\x0d\\u2028\\x85\\x00 404")
    assert "[req-1]" in line


def test_ordinary_text_is_left_as_it_is() -> None:
    assert _line("signed in carol@münchen.example").endswith("signed in carol@münchen.example")
