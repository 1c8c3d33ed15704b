"""Names from outside are shown without bidi, control or other invisible characters."""

from __future__ import annotations

import pytest

from primitives.text import clean_name, clean_optional


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Acme", "Acme"),
        ("Acme\u202eexe.txt", "Acmeexe.txt"),  # right-to-left override
        ("\u2066Acme\u2069 \u200fCorp\u200e", "Acme Corp"),  # isolates and marks
        ("line\nbreak\tand\x00nul\x1b[2J", "linebreakandnul[2J"),
        ("zero\u200bwidth\ufeff", "zerowidth"),
        ("  many   spaces  ", "many spaces"),
        ("Zoë 東京 🚀", "Zoë 東京 🚀"),
        ("👩\u200d💻 team", "👩\u200d💻 team"),  # the joiner of an emoji sequence stays
        ("para\u2029graph\u2028line", "paragraphline"),
    ],
)
def test_clean_name(raw: str, shown: str) -> None:
    assert clean_name(raw) == shown


def test_clean_name_is_bounded_and_optional() -> None:
    assert clean_name("x" * 1000) == "x" * 255
    assert clean_optional(None) is None
    assert clean_optional("\u202e\u200b") is None
