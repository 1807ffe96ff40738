"""Opt-out replies recognised from the subject (basic permissions) and the new part of the body
(enhanced), per language, and what must not count."""
from __future__ import annotations

from email.message import EmailMessage

import pytest

from providers.opt_out import asks_to_stop, body_text, new_part

SUBJECTS = [  # (language, subject) that ask to stop
    ("en", "Re: unsubscribe"), ("en", "UNSUBSCRIBE"), ("en", "Please remove me"), ("en", "Re: Backend role - remove me"),
    ("en", "Not interested"), ("en", "Stop emailing me"), ("en", "Do not contact"), ("en", "opt-out"),
    ("de", "AW: Abmelden"), ("de", "Bitte entfernen"), ("de", "Kein Interesse"), ("de", "Keine weiteren E-Mails"),
    ("fr", "RE: Désabonner"), ("fr", "desinscription"), ("fr", "Retirez-moi de votre liste"), ("fr", "Pas intéressé"),
    ("es", "RE: Darse de baja"), ("es", "Elimíname"), ("es", "No me interesa"), ("es", "No me contacte más"),
]
BODIES = [  # (language, new text of the body) that ask to stop
    ("en", "Hi Rita,\nplease take me off your list.\nThanks"), ("en", "Please stop contacting me."),
    ("en", "I'm not interested, thanks."), ("en", "Don’t email me again"), ("en", "Remove me from your mailing list"),
    ("en", "Not interested in this role."), ("en", "Please do not contact me"),
    ("de", "Hallo, bitte nehmen Sie mich aus Ihrem Verteiler."), ("de", "Ich habe kein Interesse."),
    ("de", "Bitte keine weiteren E-Mails."), ("de", "Bitte nicht mehr kontaktieren"), ("de", "Ich möchte mich abmelden"),
    ("fr", "Merci de ne plus me contacter."), ("fr", "Je ne suis pas intéressée."), ("fr", "Retirez-moi s'il vous plaît"),
    ("fr", "Je souhaite me DÉSINSCRIRE"), ("fr", "Ne me contactez plus"),
    ("es", "Por favor, darme de baja."), ("es", "Quiero dar de baja mi correo"), ("es", "No me interesa, gracias"),
    ("es", "Por favor no me contacten más"), ("es", "Dejen de escribirme"), ("es", "No estoy interesada"),
]
NEGATIVES = [  # (subject, body): plain replies
    ("Re: Backend role at Acme", "Sounds good, let's talk Tuesday."),
    ("Re: Backend role at Acme", "I'm not interested in relocating, but open to remote work."),
    ("Re: Backend role", "Kein Interesse an einem Umzug, aber remote gerne."),
    ("Re: Poste", "Pas intéressé par Paris, mais Lyon oui."),
    ("Re: Puesto", "No me interesa mudarme, pero remoto sí."),
    ("Re: role", "Stop by our office any time!"),  # "stop" alone
    ("Re: role", "Happy to be removed from the other process; yes, let's talk."),
    ("Re: role", "I resubscribed to your newsletter"),
    ("Re: role", "Interested! When can we talk?"),
    ("Re: role", "Call me: I have no interests in ... wait, I do. Yes."),  # "no interests" is not "no interest"
    ("Automatic reply: out of office", ""),
    ("Re: Baja California trip", "See you there"),
]


@pytest.mark.parametrize("language,subject", SUBJECTS)
def test_a_subject_that_asks_to_stop(language: str, subject: str) -> None:
    assert asks_to_stop(subject), (language, subject)


@pytest.mark.parametrize("language,body", BODIES)
def test_a_body_that_asks_to_stop(language: str, body: str) -> None:
    assert not asks_to_stop("Re: Backend role at Acme")
    assert asks_to_stop("Re: Backend role at Acme", body), (language, body)


@pytest.mark.parametrize("subject,body", NEGATIVES)
def test_plain_replies_do_not_count(subject: str, body: str) -> None:
    assert not asks_to_stop(subject, body)


QUOTED = [  # our own email quoted under the reply: its words are not theirs
    "Yes, let's talk.\n\nOn Mon, 7 Dec 2026 at 10:00, Rita <rita@acme.example> wrote:\n> Reply unsubscribe to stop.",
    "Yes, let's talk.\n\nOn Mon, 7 Dec 2026 at 10:00, Rita Recruiter <rita@acme.example>\nwrote:\n\n"
    "Not interested? Reply unsubscribe.",
    "Yes.\r\n-----Original Message-----\r\nFrom: Rita\r\nIf you are not interested, say so.",
    "Ja, gerne.\n\nAm 07.12.2026 um 10:00 schrieb Rita <rita@acme.example>:\n> abmelden",
    "Oui.\n\nLe lun. 7 déc. 2026 à 10:00, Rita <rita@acme.example> a écrit :\n> désabonner",
    "Sí.\n\nEl lun, 7 dic 2026 a las 10:00, Rita (<rita@acme.example>) escribió:\n> darse de baja",
    "Sure.\n> unsubscribe here",
    "Sure.\n\nFrom: Rita <rita@acme.example>\nSent: Monday\nTo: Ana\nSubject: role\n\nunsubscribe",
]


@pytest.mark.parametrize("body", QUOTED)
def test_quoted_text_of_our_email_does_not_count(body: str) -> None:
    assert not asks_to_stop("Re: Backend role", body)


def test_new_part_stops_at_the_quote() -> None:
    assert new_part("Please remove me\nOn Mon, Rita wrote:\n> hi").strip() == "please remove me"


def test_body_text_reads_plain_or_html_and_skips_attachments() -> None:
    message = EmailMessage()
    message.set_content("Please remove me.")
    message.add_alternative("<p>Please <b>remove</b> me.</p>", subtype="html")
    message.add_attachment(b"unsubscribe", maintype="application", subtype="octet-stream", filename="x.bin")
    assert body_text(message).strip() == "Please remove me."
    only_html = EmailMessage()
    only_html.set_content("<div>Bitte entfernen</div><div class=gmail_quote>abmelden</div>", subtype="html")
    assert asks_to_stop("AW: Stelle", body_text(only_html))
    quoted = EmailMessage()
    quoted.set_content("<div>Ja gerne</div><blockquote>abmelden</blockquote>", subtype="html")
    assert not asks_to_stop("AW: Stelle", body_text(quoted))
