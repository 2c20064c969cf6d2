from __future__ import annotations

import pytest

from services.errors import InvalidInputError
from services.inputs import read_text


def test_read_text_removes_control_characters_but_keeps_lines() -> None:
    assert read_text("a\x00b\x1b[31m\nc\td") == "ab[31m\nc\td"


def test_read_text_keeps_emoji_and_non_latin_scripts() -> None:
    text = "Привет 你好 👩‍👩‍👧"
    assert read_text(text) == text


def test_read_text_normalises_to_nfc() -> None:
    assert read_text("Cafe\u0301") == "Café"


def test_read_text_refuses_long_text() -> None:
    with pytest.raises(InvalidInputError, match=r"The text is 11 characters; the limit is 10"):
        read_text("x" * 11, max_chars=10)


def test_read_text_refuses_non_text() -> None:
    with pytest.raises(InvalidInputError, match="Expected text, got bytes"):
        read_text(b"abc")  # type: ignore[arg-type]
