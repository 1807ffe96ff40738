"""The return date read from an out-of-office reply, per language, with what must give no date."""
from __future__ import annotations

from datetime import date

import pytest

from providers.return_date import return_date

SAT = date(2026, 12, 5)  # the message's day: a Saturday
D14 = date(2026, 12, 14)

ENGLISH = [
    ("I'm out of the office until 14 December", D14),
    ("I am back on Monday 12/14", D14),
    ("Returning Dec 14th, with limited access to email", D14),
    ("Out until 2026-12-14.", D14),
    ("I\u2019ll be back in the office on December 14, 2026", D14),
    ("Away until Monday, no access to email", date(2026, 12, 7)),
    ("Back on 14/12", D14),  # 14 cannot be a month
    ("out of office till Jan 4", date(2027, 1, 4)),  # the next occurrence: next year
]
GERMAN = [
    ("Ich bin bis zum 14.12. nicht im Büro", D14),
    ("Ab dem 14. Dezember wieder erreichbar", D14),
    ("Abwesend bis 14.12.2026", D14),
    ("Zurück am Montag, 14. Dezember", D14),
    ("bis 3.4.", None),  # April 3: more than 90 days ahead
]
FRENCH = [
    ("Je suis absent jusqu'au 14 décembre", D14),
    ("De retour le 14/12", D14),
    ("Absente jusqu\u2019au lundi 14 decembre inclus", D14),
    ("De retour le 03/01", date(2027, 1, 3)),  # day first in French: 3 January
]
SPANISH = [
    ("Estoy fuera de la oficina hasta el 14 de diciembre", D14),
    ("De vuelta el 14/12", D14),
    ("Hasta el lunes", date(2026, 12, 7)),
]
NEGATIVES = [
    ("I was out until yesterday", None),
    ("Out of office until 1 December", None),  # passed: next year is too far ahead
    ("Back on 03/04", None),  # English and both parts <= 12: cannot tell
    ("Our event on 14 December was great", None),  # a date, but no cue
    ("Call me on +49 30 1234 5678 or 12/14", None),
    ("Out of office until 2026-11-30", None),  # in the past
    ("Out until 2027-06-01", None),  # more than 90 days ahead
    ("Automatic reply: Platform role at Acme", None),
    ("until 31/02", None),  # no such day
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), ENGLISH + GERMAN + FRENCH + SPANISH + NEGATIVES)
def test_return_date(text: str, expected: date | None) -> None:
    assert return_date(text, sent_on=SAT) == expected


def test_the_subject_is_read_first_then_the_body() -> None:
    assert return_date("Out until 8 December", "back on 14 December", sent_on=SAT) == date(2026, 12, 8)
    assert return_date("Automatic reply", "back on 14 December", sent_on=SAT) == D14
    assert return_date(None, "nothing here", sent_on=SAT) is None


def test_a_date_on_the_messages_own_day_counts() -> None:
    assert return_date("until 5 December", sent_on=SAT) == SAT
