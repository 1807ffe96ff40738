"""Whether a reply asks us to stop: "unsubscribe", "remove me", "not interested", "stop emailing me",
"do not contact", and their usual forms in German, French and Spanish.

Pure: no database, no network, nothing of the app. The subject is read under basic permissions; the
body too under enhanced ones, and then only its new part: a reply quotes our own email below "On …
wrote:", "-----Original Message-----", a "From:" block or "> " lines, and our words are not theirs.
The body is read and dropped (SPEC "Data kept").

Matching is case- and accent-insensitive ("désabonner" = "desabonner") and word-bounded ("stop"
alone, or "unsubscribed" inside "resubscribed", never count).

A judgement call, kept deliberately: "not interested" (and "kein Interesse", "pas intéressé", "no me
interesa") counts unless the same sentence goes on with "but" ("aber", "mais", "pero", "however"):
"Not interested in relocating, but open to remote" keeps the conversation going, so it is a plain
reply; "Not interested, thanks" and "Not interested in this role." read as a request to stop. A
false positive costs little when the recruiter decides (the DM offers the button); the organisation's
automatic setting acts on the same verdict, which is why the contrast rule errs towards "reply".
"""
from __future__ import annotations

import html
import re
import unicodedata
from email.message import Message

_MAX_TEXT = 20_000  # characters of a body part read
_MAX_PARTS = 50

# Phrases that ask to stop, written as they read after folding (lower case, no accents, ' for ’).
_STOP = [
    # English
    r"unsubscribe", r"opt(?:ing)?[- ]?out", r"remove me", r"please remove", r"take me off",
    r"(?:off|from) (?:your|the|this) (?:mailing |email |e-mail |contact )?list",
    r"stop (?:e-?mailing|contacting|messaging|writing to|sending(?: me)?(?: e-?mails)?)(?: me)?",
    r"(?:do not|don't|dont|never) (?:contact|e-?mail|message|write to) me(?: again)?", r"do not contact",
    r"no (?:more|further) (?:e-?mails|emails|messages)", r"leave me alone",
    # German
    r"abmelden", r"abbestellen", r"austragen", r"bitte entfernen", r"entfernen sie mich",
    r"(?:aus|von) (?:ihrem|ihrer|dem|der|eurem|eurer) (?:verteiler|liste|mailingliste)",
    r"keine (?:weiteren |weitere )?(?:e-?mails|mails|nachrichten)(?: mehr)?(?= |$|[.,!;])",
    r"nicht mehr (?:kontaktieren|anschreiben|schreiben|kontaktiert)",
    # French
    r"desabonne\w*", r"desinscri\w*", r"retirez[- ]moi", r"supprimez[- ]moi", r"ne plus me (?:contacter|solliciter|ecrire)",
    r"ne me (?:contactez|sollicitez|ecrivez) plus", r"(?:retirer|supprimer) de (?:votre|vos) (?:liste|listes|fichier)",
    r"plus de (?:e-?mails|mails|messages)",
    # Spanish
    r"dar(?:se|me)? de baja", r"deme de baja", r"denme de baja", r"eliminame", r"eliminarme",
    r"no me (?:contacte|contactes|contacten|escriba|escribas|escriban|envie|envies|envien)(?: mas)?",
    r"dejen? de (?:escribirme|contactarme|enviarme)", r"no (?:mas|quiero mas) (?:correos|emails|e-mails|mensajes)",
]
_NOT_INTERESTED = [
    r"not interested", r"no interest", r"kein interesse", r"nicht interessiert",
    r"pas interesse(?:e|s|es)?", r"ne suis pas interesse(?:e)?", r"no me interesa", r"no estoy interesad[oa]",
]
_STOP_RE = re.compile(r"(?<![\w-])(?:" + "|".join(_STOP) + r")(?![\w-])")
_NOT_INTERESTED_RE = re.compile(r"(?<![\w-])(?:" + "|".join(_NOT_INTERESTED) + r")(?![\w-])")
# The rest of the sentence, after "not interested": a contrast keeps the conversation going.
_SENTENCE_END = re.compile(r"[.!?]")
_CONTRAST = re.compile(r"(?<!\w)(?:but|however|though|although|aber|jedoch|mais|cependant|pero|aunque|sin embargo)(?!\w)")

# Where the quoted message starts in a reply's text: "On … wrote:" (on one line or two), its
# German/French/Spanish forms, Outlook's separators and header block, "> " lines, and a signature.
_QUOTE_START = re.compile(
    r"^[ \t]*(?:>"
    r"|(?:on|am|le|el)\b[^\n]*(?:\n[^\n]*)?\b(?:wrote|schrieb|a ecrit|escribio)\b[^\n]*:[ \t]*$"
    r"|-{2,}[ \t]*(?:original message|urspr\w* nachricht|message d'origine|mensaje original|forwarded message)"
    r"|_{10,}[ \t]*$|(?:from|von|de)[ \t]?:[ \t]\S[^\n]*\n[ \t]*(?:sent|gesendet|envoye|enviado|date|datum|to|an)[ \t]?:"
    r"|--[ \t]?$)", re.MULTILINE)
_HTML_QUOTE = re.compile(r"<(?:blockquote\b|div[^>]*(?:gmail_quote|divRplyFwdMsg|appendonsend)|hr\b)", re.IGNORECASE)


def fold(text: str) -> str:
    """Lower case without accents, one kind of apostrophe, whitespace kept as is."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'").replace("\u00df", "ss"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def new_part(body: str) -> str:
    """The reply's own words: the body up to where it starts quoting (see _QUOTE_START)."""
    text = fold(body[:_MAX_TEXT]).replace("\r\n", "\n")
    found = _QUOTE_START.search(text)
    return text[:found.start()] if found else text


def asks_to_stop(subject: str, body: str | None = None) -> bool:
    """Whether the subject, or the new part of the body when there is one, asks us to stop."""
    if _says_stop(" ".join(fold(subject).split())):
        return True
    return body is not None and _says_stop(" ".join(new_part(body).split()))


def _says_stop(text: str) -> bool:
    if _STOP_RE.search(text):
        return True
    for found in _NOT_INTERESTED_RE.finditer(text):
        end = _SENTENCE_END.search(text, found.end())
        if not _CONTRAST.search(text, found.end(), end.start() if end else len(text)):
            return True
    return False


def body_text(message: Message) -> str:
    """The message's first plain-text part that is not an attachment (else its first HTML part, as
    text, cut where it starts quoting); '' when there is none or it cannot be read."""
    try:
        plain = html_part = None
        for count, part in enumerate(message.walk()):
            if count >= _MAX_PARTS:
                break
            if part.is_multipart() or part.get_content_maintype() != "text":
                continue
            if str(part.get("Content-Disposition", "")).lower().startswith("attachment"):
                continue
            if part.get_content_subtype() == "plain":
                plain = part
                break
            html_part = html_part or part
        part = plain or html_part
        if part is None:
            return ""
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            return ""
        text = data[:_MAX_TEXT * 4].decode(part.get_content_charset() or "utf-8", "replace")[:_MAX_TEXT]
    except (LookupError, ValueError, TypeError, AttributeError, IndexError, KeyError):
        return ""
    if part is html_part:
        quote = _HTML_QUOTE.search(text)
        text = text[:quote.start()] if quote else text
        text = re.sub(r"<(?:br|/p|/div|/tr)\b[^>]*>", "\n", text, flags=re.IGNORECASE)
        text = html.unescape(re.sub(r"<style\b.*?</style>|<[^>]+>", " ", text, flags=re.IGNORECASE | re.DOTALL))
    return text
