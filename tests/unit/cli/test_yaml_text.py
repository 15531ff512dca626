"""``--output yaml``: every string reads back as itself with a YAML 1.1 reader (PyYAML).

A plain scalar YAML takes for something else (``12:30`` is 750, ``yes`` is True, ``@x``
is an error) would hand a script another value than the API's, or none at all.
"""

from __future__ import annotations

import random
import string

import pytest
import yaml

from keyplane.cli.yaml_text import dump

NASTY = ":-@#&*!|>%'\"` ,[]{}?0123456789abxo._~ \t" + string.ascii_letters
NAMED = [
    "", " ", "@x", "a@b", "12:30", "5:0", "1:2:3", "0b101", "0x1F", "0o17", "017", "1_000",
    "1e5", "1e+5", "+1", "-.5", ".5", ".inf", "-.Inf", ".nan", "~", "null", "Null", "yes",
    "No", "on", "OFF", "y", "n", "true", "<<", "=", "2024-1-1", "2024-01-01", "2024-01-01 10:00",
    " lead", "trail ", "- x", "-x", "? x", "?x", ": x", ":x", "x:", "a: b", "a #b", "#", "`x",
    "%x", "!x", "&x", "*x", "|x", ">x", "'x", '"x', "[x]", "{x}", ",x", "---", "...", "a\tb",
    "two\nlines", "\r\n", "\\", "\x00", "\x7f", "\x85", "a\u2028b", "\u2029", "\ufeffbom",
    "\ud800", "\ufffe", "é", "日本", "\U0001f511", "https://x.example/a?b=c#d",
]  # fmt: skip


def shapes(text: str) -> list[object]:
    """``text`` everywhere dump() puts a string: alone, in a list, as key and value."""
    return [text, [text], {text: text}, {"k": [text, {text: [text]}]}, [{text: {text: text}}]]


def round_trips(data: object) -> bool:
    return bool(yaml.safe_load(dump(data)) == data)


@pytest.mark.parametrize("text", NAMED)
def test_named_strings_read_back_as_themselves(text: str) -> None:
    assert all(round_trips(shape) for shape in shapes(text)), dump(shapes(text))


def test_random_strings_read_back_as_themselves() -> None:
    rng = random.Random(20261204)  # fixed: a failure is the same string on every run
    texts = ["".join(rng.choices(NASTY, k=rng.randint(1, 8))) for _ in range(4000)]
    wrong = [text for text in texts if not all(round_trips(shape) for shape in shapes(text))]
    assert wrong == []


@pytest.mark.parametrize("length", [1023, 1024, 1025, 3000])
def test_long_keys_read_back(length: int) -> None:
    for key in ("k" * length, "\n" * length):
        assert round_trips({key: 1}) and round_trips([{key: {"a": [1]}, "b": 2}])


def test_ordinary_values_stay_plain() -> None:
    shown = dump({"id": "cabc123", "email": "owner@acme.example", "url": "https://x.example/a"})
    assert shown == "id: cabc123\nemail: owner@acme.example\nurl: https://x.example/a\n"
