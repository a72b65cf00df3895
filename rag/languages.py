"""Question words and value words of the Latin-script languages stemmed beside Russian and English.

rag/text.py knows these for Russian and English; here German, French, Spanish, Italian, Portuguese, Dutch
and Polish get the same kinds (standard grammar words, not tuned to any question set), so "Combien …",
"Wann …" or "par défaut" ask for the same values as "How many …", "When …" or "by default".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class LanguageWords:
    """One language's question openings by asked kind, and the words that state each kind of value."""

    # Words a question may open with, for telling the language of a short question ("Que …", "Wann …").
    opening: str
    questions: dict[str, str]
    numbers: str
    months: str
    time_units: str
    default_asked: str
    default_stated: str
    # Pronouns and demonstratives a follow-up points back with ("Wie zeigt er …", "… de ella"); none that is
    # also an article ("le", "het") or opens ordinary questions ("es" of "gibt es").
    anaphors: str = ""


# Articles ("un", "ein", "een") are no number words: every sentence would hold a number.
WORDS = {
    "de": LanguageWords(
        opening="wie was wer wann wo warum welche welcher welches welchen welchem wieso weshalb woher wohin",
        questions={
            "duration": r"wie lange",
            "number": r"wie ?viele?|wie (?:lang|groß|hoch|breit|tief|schwer)|"
            r"welche[rsnm]? (?:version|größe|anzahl|länge)",
            "command": r"welche[rns]? (?:befehl|kommando)\w*|mit welchem (?:befehl|kommando)",
            "date": r"wann|seit wann|in welchem (?:jahr|monat)",
            # German capitalizes nouns: its names are those rag.text.find_english_nouns tells from them.
            "person": r"wer|von wem",
        },
        numbers=r"zwei|drei|vier|fünf|sechs|sieben|acht|neun|zehn|hundert|tausend|million\w*|milliard\w*|hälfte|dutzend",
        months=r"januar|februar|märz|april|mai|juni|juli|august|september|oktober|november|dezember|jahrhundert\w*",
        time_units=r"sekunden?|minuten?|stunden?|tage?n?|wochen?|monaten?|monate?|jahren?|jahre?",
        default_asked=r"standardmäßig|standardmässig|voreingestellt|per default|standardwert\w*|standardeinstellung\w*",
        default_stated=r"standard|voreingestellt|default",
        anaphors="er ihn ihm sie ihr ihnen dieser diese dieses diesem diesen",
    ),
    "fr": LanguageWords(
        opening="que qu'est-ce quel quelle quels quelles combien comment pourquoi où quand qui",
        questions={
            "duration": r"combien de temps|pendant combien|en combien de temps",
            "number": r"combien|quel(?:le)?s? (?:version|taille|nombre|pourcentage|quantité|longueur|largeur|hauteur)",
            "command": r"quel(?:le)?s? commandes?|avec quelle commande",
            "date": r"quand|depuis quand|en quel(?:le)? (?:année|mois)|à quelle date",
            "person": r"qui",
        },
        numbers=r"deux|trois|quatre|cinq|six|sept|huit|neuf|dix|cent|mille|millions?|milliards?|moitié|douzaine",
        months=r"janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre|siècles?",
        time_units=r"secondes?|minutes?|heures?|jours?|semaines?|mois|ans|années?",
        default_asked=r"par défaut",
        default_stated=r"défaut",
        anaphors="il elle ils elles lui leur celui celle ceux celles cela ça",
    ),
    "es": LanguageWords(
        opening="qué cuál cuáles cuánto cuánta cuántos cuántas cómo dónde cuándo quién quiénes",
        questions={
            "duration": r"cuánto tiempo|durante cuánto",
            "number": r"cuánt[oa]s?|qué (?:versión|tamaño|cantidad|porcentaje|longitud|anchura|altura)",
            "command": r"qué comandos?|con qué comando|cuál(?:es)? (?:es|son) el comando",
            "date": r"cuándo|en qué (?:año|mes)",
            "person": r"quién(?:es)?",
        },
        numbers=r"dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|cien|ciento|mil|millón|millones|mitad|docena",
        months=r"enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre|siglos?",
        time_units=r"segundos?|minutos?|horas?|días?|semanas?|mes|meses|años?",
        default_asked=r"por defecto|por omisión|predeterminad\w*",
        default_stated=r"defecto|omisión|predetermin",
        anaphors="él ella ellos ellas este esta esto estos estas ese esa eso esos esas",
    ),
    "it": LanguageWords(
        opening="che cosa quale quali quanto quanta quanti quante come dove perché quando chi",
        questions={
            "duration": r"quanto tempo|per quanto tempo",
            "number": r"quant[ioea]|quale (?:versione|dimensione|lunghezza|larghezza|altezza)",
            "command": r"quale comando|quali comandi|che comando|con quale comando",
            "date": r"quando|in (?:che|quale) (?:anno|mese)",
            "person": r"chi",
        },
        numbers=r"due|tre|quattro|cinque|sei|sette|otto|nove|dieci|cento|mille|milioni?|miliardi?|metà|dozzina",
        months=r"gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|ottobre|novembre|dicembre|secol[oi]",
        time_units=r"second[oi]|minut[oi]|ore|giorn[oi]|settiman[ae]|mes[ei]|ann[oi]",
        default_asked=r"predefinit\w*|per impostazione predefinita|di default",
        default_stated=r"predefinit|default",
        anaphors="lui lei loro esso essa essi esse questo questa questi queste quello quella",
    ),
    "pt": LanguageWords(
        opening="que qual quais quanto quanta quantos quantas como onde porque quando quem",
        questions={
            "duration": r"quanto tempo|por quanto tempo",
            "number": r"quant[oa]s?|qual (?:versão|tamanho|quantidade|comprimento|largura|altura)",
            "command": r"qual comando|quais comandos|que comando|com que comando",
            "date": r"quando|em que (?:ano|mês)",
            "person": r"quem",
        },
        numbers=r"dois|duas|três|quatro|cinco|seis|sete|oito|nove|dez|cem|cento|mil|milhão|milhões|metade|dúzia",
        months=r"janeiro|fevereiro|março|abril|maio|junho|julho|agosto|setembro|outubro|novembro|dezembro|séculos?",
        time_units=r"segundos?|minutos?|horas?|dias?|semanas?|mês|meses|anos?",
        default_asked=r"por padrão|por omissão|predefinid\w*",
        default_stated=r"padrão|omissão|predefinid",
        anaphors="ele ela eles elas isso isto este esta estes estas esse essa esses essas",
    ),
    "nl": LanguageWords(
        opening="wat welke welk hoeveel hoe waar waarom wanneer wie",
        questions={
            "duration": r"hoe lang",
            "number": r"hoeveel|hoe (?:groot|hoog|breed|zwaar)|welke (?:versie|grootte|lengte)",
            "command": r"welke? (?:commando|opdracht)\w*|met welk commando",
            "date": r"wanneer|in welk (?:jaar|maand)",
            "person": r"wie",
        },
        numbers=r"twee|drie|vier|vijf|zes|zeven|acht|negen|tien|honderd|duizend|miljoen\w*|miljard\w*|helft|dozijn",
        months=r"januari|februari|maart|april|mei|juni|juli|augustus|september|oktober|november|december|eeuw\w*",
        time_units=r"seconden?|minuut|minuten|uur|uren|dagen|dag|weken|week|maanden|maand|jaar|jaren",
        default_asked=r"standaard",
        default_stated=r"standaard|default",
        anaphors="hij hem zij ze haar deze dit",
    ),
    # Polish inflects its question words and numbers by case ("który", "którego", "którym"); it drops subject
    # pronouns, and "to" opens ordinary questions ("Co to jest …"), so it is no anaphor.
    "pl": LanguageWords(
        opening="co czym czego kto kogo komu który która które którego której którym jaki jaka jakie jakiego "
        "jakiej jakim jakich ile jak gdzie kiedy dlaczego czemu czy skąd dokąd",
        questions={
            "duration": r"jak długo|ile czasu|przez ile (?:dni|lat|godzin|minut|sekund)",
            "number": r"ile|jak wiele|jak\w* (?:wersj\w*|rozmiar\w*|liczb\w*|długoś\w*|szerokoś\w*|wysokoś\w*)",
            "command": r"(?:jak|któr)\w* (?:polecen\w*|komend\w*)",
            "date": r"kiedy|od kiedy|w (?:którym|jakim) (?:roku|miesiącu)",
            "person": r"kto|przez kogo|czyj\w*",
        },
        numbers=r"dwa|dwie|dwóch|trzy|trzech|cztery|czterech|pięć|pięciu|sześć|siedem|osiem|dziewięć|dziesięć|"
        r"sto|stu|tysi[ąę]c\w*|milion\w*|miliard\w*|połow\w*|tuzin\w*",
        months=r"styczeń|stycznia|luty|lutego|marzec|marca|kwiecień|kwietnia|maj|maja|czerwiec|czerwca|lipiec|"
        r"lipca|sierpień|sierpnia|wrzesień|września|październik\w*|listopad\w*|grudzień|grudnia|wiek\w*",
        time_units=r"sekund\w*|minut\w*|godzin\w*|dzień|dnia|dni|tydzień|tygodni\w*|miesiąc\w*|miesięcy|rok|"
        r"roku|lat|lata",
        default_asked=r"domyśln\w*|standardowo",
        default_stated=r"domyśln|standardow|default",
        anaphors="on ona ono oni one go jego jej ich niego niej nim nią nich mu jemu niemu",
    ),
}


@lru_cache(maxsize=len(WORDS) + 1)
def interrogatives(language: str | None) -> frozenset[str]:
    """Return the words a question in a language of WORDS may open with (empty for others)."""
    words = WORDS.get(language or "")
    return frozenset(words.opening.split()) if words else frozenset()


@lru_cache(maxsize=4 * (len(WORDS) + 1))
def question_patterns(language: str | None) -> dict[str, re.Pattern[str]]:
    """Return the question openings of a language of WORDS by kind (empty for others)."""
    words = WORDS.get(language or "")
    if words is None:
        return {}
    return {kind: re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE) for kind, pattern in words.questions.items()}


@lru_cache(maxsize=4 * (len(WORDS) + 1))
def value_pattern(language: str | None, kind: str) -> re.Pattern[str] | None:
    """Return the words that state a number, date or duration in a language of WORDS (None for others)."""
    words = WORDS.get(language or "")
    if words is None:
        return None
    pattern = {"number": words.numbers, "date": words.months, "duration": words.time_units}[kind]
    return re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE)


@lru_cache(maxsize=4 * (len(WORDS) + 1))
def default_patterns(language: str | None) -> tuple[re.Pattern[str], re.Pattern[str]] | None:
    """Return (asked, stated) patterns of "by default" in a language of WORDS (None for others)."""
    words = WORDS.get(language or "")
    if words is None:
        return None
    return re.compile(words.default_asked, re.IGNORECASE), re.compile(words.default_stated, re.IGNORECASE)


@lru_cache(maxsize=len(WORDS) + 1)
def anaphors(language: str | None) -> frozenset[str]:
    """Return the words a follow-up in a language of WORDS points back with (empty for others)."""
    words = WORDS.get(language or "")
    return frozenset(words.anaphors.split()) if words else frozenset()
