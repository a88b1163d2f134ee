"""Which language a customer writes in: German ("de") or English ("en").

Plain Python with no downloads: word lists and spelling cues of the two
languages. A message is scored by the words it shares with each list
("nicht", "mein", "geht" against "not", "my", "working"), umlauts and ß,
English contractions ("doesn't", "I'm") and a few word endings ("-ung",
"-keit" against "-ing"). Words both languages use ("Router", "WLAN",
"Internet", "ok", "TV") count for neither.

The conversation keeps its language until a message clearly says otherwise
(`follow`): "ok", "Router" or "ja" alone do not switch it. Where the
conversation starts, the widget's hint (`data-lang`, the browser's language)
decides (`from_hint`).

Measured with `scripts/eval_language.py` (docs/nlu.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from bot import vocabulary

SUPPORTED = vocabulary.LANGUAGES
DEFAULT = vocabulary.DEFAULT_LANGUAGE
# A message must be at least this sure of its language to change the conversation's.
SWITCH_CONFIDENCE = 0.6

# Frequent German words that are not English words as well (function words,
# everyday verbs and the words of support chats). Spellings without umlauts
# ("fuer", "moechte") and chat forms ("nich", "nix") are included.
GERMAN_WORDS = frozenset(
    """
    aber alle alles allem allen aller also andere anderen anders auch auf aus außer ausser
    bei beim bereits besser bis bisher bitte bleibt bloß bräuchte brauche brauchen braucht
    da dabei dafür dagegen daher damit dann darf darauf darum das dass daß dein deine deinem
    deinen deiner dem den denn der deren des dessen deshalb dich dir doch dort drauf drei
    du durch dürfen ein eine einem einen einer eines einfach einmal eigentlich endlich
    er erst es etwas euch euer eure eurem euren eurer fehlt fehler funktioniert funktionieren
    funktioniere funzt für fuer ganz gar geben gegen gehe gehen geht gemacht genau gerade
    gerät geräte gestern gestartet gibt ging gut guten habe haben hallo hast hat hatte
    hätte heute hier hilft hilfe ich ihm ihn ihnen ihr ihre ihrem ihren ihrer immer indem
    ist jede jedem jeden jeder jedes jemand jetzt kann kannst kaputt kein keine keinem
    keinen keiner keines komme kommen kommt könnte können könnt konnte leider läuft
    lauft machen macht mache mal manchmal mehr mein meine meinem meinen meiner meines
    mich mir mit morgen muss müssen musste möchte möchten moechte nach nachdem nein neu
    neue neuen neuer nicht nichts nich  nie noch nochmal nun nur nix ob oder ohne
    schon sehr sein seine seinem seinen seiner seit selbst sich sie sind soll sollte
    sondern sonst statt stunde stunden tag tage tagen trotzdem über ueber um uns unser
    unsere unserem unseren und unter viel viele vielleicht vom von vor wann warum was
    weg weil weiß weiss welche welcher welches wenn wer werde werden wieder wie wieso
    will wir wird wo woche wochen wurde würde zu zum zur zurück zwei zwischen
    angeschlossen ausgeschaltet eingeschaltet neustart neugestartet versucht probiert
    steckdose stecker kabel fernseher fernbedienung lämpchen lampe leuchtet blinkt
    störung stoerung verbindung bild ton empfang anmelden passwort rechnung
    vertrag techniker termin ersatz danke dank vielen schönen schoenen tschüss
    ja jo jep bin im so am an will nö ne nee genau stimmt richtig falsch hab gehts klappt
    langsam schnell ständig staendig dauernd ab aus los bricht abbrüche abbruch stürzt
    hängt haengt startet neustarten lädt laedt zeigt sagt sehe seh passiert gelöst
    erledigt klar passt prima lieber gerne gern besten tausend grüß grüss gott
    zusammen leute moin servus tschau bildschirm tastatur maus drucker druckt handy
    festplatte netzteil ladegerät akku kopfhörer lautsprecher gelb rot weiß weiss
    schwarz blau grün heißt heisst bedeutet zuhause wohnung zimmer wohnzimmer keller
    anruf anrufen rückruf mitarbeiter mensch menschen kundenservice kundendienst
    sprechen reden schreiben geschrieben meldung fehlermeldung internetverbindung
    leitung fernsehen empfänger senderliste sendersuchlauf kaum total komplett völlig
    voellig wirklich echt bestimmt natürlich sofort später spaeter früh frueh abends
    morgens nachts seitdem wochenende montag dienstag mittwoch donnerstag freitag
    samstag sonntag uhr minuten sekunden monat monaten jahr jahren gekauft bestellt
    geliefert geschickt erhalten bekommen bekomme kriege kriegen wollte wollen sollen
    kaufen zahlen bezahlen kosten kostet geld verbunden getrennt ausgefallen ausfall
    defekt tot heiß heiss laut leise garnicht überhaupt ueberhaupt schlecht schlechter
    katastrophe frechheit unverschämtheit sauer ärgerlich nervt nervig zufrieden
    unzufrieden steht stehen liegt lief
    """.split()
)

# Frequent English words that are not German words as well.
ENGLISH_WORDS = frozenset(
    """
    a about after again against all already also am an and any anyone anything are
    around as at back be because been before being both but by can cannot could
    did do does doing done down during each either else even ever every everything
    for from get gets getting got had has have having he her here hers him his how
    i if into is it its just keep keeps know last like look me more most my myself
    need needs never new next no nobody nor not nothing now of off on once one only
    or other our out over own please really right said same say says see seems she
    should since so some someone something still such than thank thanks that the
    their them then there these they this those through to today too tried try
    trying under until up us very was way we were what when where which while who
    why with won't would yes yesterday you your yours hello help working works
    work broken fix fixed keeps stopped doesnt dont cant wont isnt ive will
    unplugged plugged restarted turned showing shows screen light lights
    blinking flashing red green connection connect connected slow speed
    password bill engineer appointment replacement remote someone
    talk speak call weeks week days day hours hour since morning tonight
    frozen stuck loading load loads dropping drops dropped disconnecting disconnects
    disconnected slower outage lost missing gone dead died crashed crashes crash
    freezes froze hangs unable anymore rebooted replaced bought ordered delivered
    received sent charged refund cancel cancelled contract home room upstairs
    downstairs phone black white blue yellow printer keyboard mouse charger battery
    headphones speaker channel channels picture sound guide whole terrible awful
    worst useless ridiculous customer cheers bye goodbye evening afternoon night
    monday tuesday wednesday thursday friday saturday sunday minutes seconds month
    months year years ago yet though although anyway maybe probably sure fine great
    good better worse
    """.split()
)

# Written the same in both, or too short to tell: these count for neither.
_SHARED = GERMAN_WORDS & ENGLISH_WORDS
_GERMAN = GERMAN_WORDS - _SHARED
_ENGLISH = ENGLISH_WORDS - _SHARED

_WORD = re.compile(r"[a-zäöüß]+(?:'[a-z]+)?")
_UMLAUT = re.compile(r"[äöüß]")
# English contractions: "doesn't", "I'm", "it's", "we've", "you're", "I'll", "I'd".
_CONTRACTION_ENDINGS = ("t", "m", "re", "ve", "ll", "d")
_GERMAN_ENDINGS = ("ung", "ungen", "keit", "heit", "lich", "chen", "schaft", "ieren", "iert")
_ENGLISH_ENDINGS = ("ing", "ed", "ly")


@dataclass(frozen=True)
class LanguageGuess:
    """What a message says about its language.

    `language` is None when the message gives no cue either way ("ok", "Router").
    `confidence` is from 0 (no idea) to 1 (certain); one cue word alone is 0.5.
    """

    language: Optional[str]
    confidence: float
    german: float = 0.0
    english: float = 0.0


def normalise(code: object) -> Optional[str]:
    """ "de", "de-AT", "DE_ch" → "de"; "en-GB" → "en"; anything else → None."""
    if not isinstance(code, str):
        return None
    primary = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    return primary if primary in SUPPORTED else None


def from_hint(hint: object) -> str:
    """The language a new conversation starts in: the hint if we speak it, else English."""
    return normalise(hint) or DEFAULT


def _word_evidence(word: str) -> tuple[float, float]:
    """(German, English) evidence of one lower-case word."""
    if word in _GERMAN:
        return 1.0, 0.0
    if word in _ENGLISH:
        return 0.0, 1.0
    if word in _SHARED:
        return 0.0, 0.0
    german = english = 0.0
    if _UMLAUT.search(word):
        german += 1.0
    if "'" in word:
        stem, _, tail = word.partition("'")
        if stem in _GERMAN:  # "geht's", "gibt's"
            return 1.0, 0.0
        if stem in _ENGLISH or tail in _CONTRACTION_ENDINGS:
            return 0.0, 1.0
        word = stem
    if len(word) >= 6:
        if word.endswith(_GERMAN_ENDINGS) or "sch" in word:
            german += 0.5
        elif word.endswith(_ENGLISH_ENDINGS) or "th" in word:
            english += 0.5
    return german, english


def detect(text: str) -> LanguageGuess:
    """The language of one message, with how sure that is."""
    lowered = text.lower().replace("’", "'")
    german = english = 0.0
    for word in _WORD.findall(lowered):
        g, e = _word_evidence(word)
        german += g
        english += e
    if german == english:
        return LanguageGuess(None, 0.0, german, english)
    winner, loser = max(german, english), min(german, english)
    # The +1 keeps a single cue word from being certain: "ja" alone is 0.5.
    confidence = round((winner - loser) / (winner + loser + 1.0), 3)
    language = "de" if german > english else "en"
    return LanguageGuess(language, confidence, german, english)


# "Can we talk in English?", „Geht das auch auf Deutsch?“: the language asked for,
# in a short request that is not about a device's own language ("the box menu is in
# German now").
_LANGUAGE_NAMES = {"english": "en", "englisch": "en", "german": "de", "deutsch": "de"}
_REQUEST_WORDS = frozenset(
    """
    can could may please speak talk write chat continue switch prefer rather
    bitte können könnten kannst sprechen sprichst reden schreiben weiter weitermachen
    geht lieber
    """.split()
)
_ABOUT_A_DEVICE = frozenset(
    """
    menu menü box receiver tv fernseher subtitles untertitel audio ton sound channel
    channels sender app windows keyboard tastatur settings einstellungen netflix
    """.split()
)
_MAX_REQUEST_WORDS = 10
# A request ends near the language's name ("… in English with me?"); more after it is
# a message of its own, in that language.
_MAX_WORDS_AFTER = 3


def asked_for(text: str) -> Optional[str]:
    """The language a short request asks the chat to go on in, or None."""
    words = _WORD.findall(text.lower())
    if not words or len(words) > _MAX_REQUEST_WORDS or set(words) & _ABOUT_A_DEVICE:
        return None
    named = {_LANGUAGE_NAMES[w] for w in words if w in _LANGUAGE_NAMES}
    if len(named) != 1 or not (set(words) & _REQUEST_WORDS or len(words) <= 2):
        return None
    last = max(i for i, w in enumerate(words) if w in _LANGUAGE_NAMES)
    if len(words) - 1 - last > _MAX_WORDS_AFTER:
        return None  # „lieber auf Deutsch: die Lämpchen blinken rot“ says more
    return named.pop()


def follow(current: Optional[str], text: str) -> str:
    """The conversation's language after the customer wrote `text`.

    It changes when the customer asks for the other language ("can we talk in
    English?"), or when the message is clearly in it (`SWITCH_CONFIDENCE`); short
    or mixed messages keep the current one.
    """
    requested = asked_for(text)
    if requested is not None:
        return requested
    current = normalise(current) or DEFAULT
    guess = detect(text)
    if (
        guess.language is not None
        and guess.language != current
        and guess.confidence >= SWITCH_CONFIDENCE
    ):
        return guess.language
    return current
