"""First names read from full names (bot/names.py): the kept parser's answer, fast for plain names."""
from __future__ import annotations

import string

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from nameparser import HumanName

from bot.names import first_and_last
from bot.templates import candidate_values, render


@pytest.mark.parametrize(("name", "first", "last"), [
    ("Dr. Pat O'Brien, Jr.", "Pat", "O'Brien"),
    ("Mr Li Wei", "Li", "Wei"),
    ("van der Berg, Jan", "Jan", "van der Berg"),
    ("José María García", "José", "García"),
    ("Madonna", "Madonna", ""),
    ("Dr.", "Dr.", ""),  # nothing but a title: the greeting keeps what was given
    ("  Noor   Haddad ", "Noor", "Haddad"),
    ("", "", ""),
])
def test_titles_suffixes_and_surname_first_names_are_read_as_people_write_them(name: str, first: str, last: str) -> None:
    assert first_and_last(name) == (first, last)


def test_a_template_greets_the_first_name_and_a_given_first_name_wins() -> None:
    assert render("Hi {{ first_name }},", candidate_values("Dr. Pat O'Brien, Jr.", {})) == "Hi Pat,"
    assert render("Hi {{ first_name }},", candidate_values("Dr. Pat O'Brien, Jr.", {"first_name": "Patricia"})) == \
        "Hi Patricia,"


_WORD = st.text(string.ascii_letters + string.digits + "'-", min_size=1, max_size=12).filter(
    lambda w: w[0].isalnum())


@settings(max_examples=500, deadline=None)
@given(st.lists(_WORD, min_size=1, max_size=2))
@example(["00", "IX"])  # a roman numeral ends a name as a suffix
def test_the_fast_split_of_plain_names_gives_the_parsers_answer(words: list[str]) -> None:
    name = " ".join(words)
    parsed = HumanName(name)
    assert first_and_last(name) == ((parsed.first or words[0]), parsed.last)
