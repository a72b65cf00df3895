"""Word analysis beyond Russian and English: per-text language, its Snowball stems and its stop words."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import Stemmer

from rag.abstention import AbstentionPolicy, AnswerContext, EvidenceSignals, measure_signals
from rag.answering.base import REFUSALS, refuse
from rag.models import Retrieval
from rag.text import (
    asked_focus,
    extract_terms,
    find_english_nouns,
    find_names,
    find_quoted_labels,
    find_rare_words,
    find_specific_tokens,
    is_portable_name,
    is_stopword,
    stem_word,
    word_language,
)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Wie lang sollte das Passwort für den Administrator sein?", "de"),
        ("Sur quel port le serveur web écoute-t-il par défaut ?", "fr"),
        ("¿Cómo se configura el servidor web por defecto?", "es"),
        ("Come si configura il server web predefinito?", "it"),
        ("Como configurar o servidor web padrão?", "pt"),
        ("Wann wurde Icinga von Nagios abgespalten?", "de"),  # no stop word, but a German question word
        ("In welchem Jahr wurde OpenSSH 4.3 veröffentlicht?", "de"),  # the question word after a preposition
        ("In Debian, what is apt?", "en"),
        ("Man pages and Info pages", "en"),
        ("Hoe configureer je de webserver?", "nl"),
        ("How do I configure the web server?", "en"),
        ("Как настроить веб-сервер?", "ru"),
        ("IPv6 アドレスは何ビットですか？", None),
        ("Który plik zawiera zwykle numer wersji zainstalowanego systemu Debian?", "pl"),
        # Polish "to", "on", "do" are English function words too: they count for neither language.
        ("Zawiera on zwykle numer wersji systemu (jest to część pakietu base-files).", "pl"),
        ("On emploie le format vhost en standard", "fr"),
        # Nor is a word English uses evidence of another language when no other function word decides.
        ("# Services to check on www-host", "en"),
    ],
)
def test_the_language_of_a_text_is_decided_by_its_function_words(text: str, language: str | None) -> None:
    assert word_language(text) == language


def test_a_german_question_and_a_german_chunk_share_stems() -> None:
    question = extract_terms("Welche Pakete muss ich für Nagios installieren?")
    chunk = extract_terms("Die Installation der Pakete nagios4 und monitoring-plugins konfiguriert Apache.")
    # German inflections share a German stem; the English stemmer kept them apart.
    assert stem_word("partitionen", "de") == stem_word("partition", "de")
    assert stem_word("partitionen") != stem_word("partition")
    assert stem_word("paket", "de") in set(question) & set(chunk)
    # Function words are stop words in their own language only.
    assert not {"welch", "muss", "ich", "fur", "für", "die", "der", "und"} & set(question + chunk)


def test_a_polish_question_and_a_polish_sentence_share_stems() -> None:
    question = set(extract_terms("Który plik zawiera numer wersji zainstalowanego systemu Debian?"))
    sentence = set(extract_terms("Jest w nim zwykle numer wersji zainstalowanych pakietów Debiana."))
    # Polish cases and numbers share a Polish stem; the English stemmer kept them apart.
    assert {stem_word("zainstalowanego", "pl"), stem_word("wersji", "pl")} <= question & sentence
    assert stem_word("zainstalowanego") != stem_word("zainstalowanych")
    assert not {"ktory", "który", "on", "jest"} & (question | sentence)


def test_a_pronoun_after_the_verb_points_back_but_a_polite_sie_does_not() -> None:
    from rag.answering.extractive import _inverted_pronoun

    assert _inverted_pronoun("Zawiera on zwykle numer wersji.", "pl")
    assert _inverted_pronoun("Enthält er die Versionsnummer?", "de")
    assert _inverted_pronoun("Содержит он номер версии.", "ru")
    assert not _inverted_pronoun("Geben Sie den Befehl ein.", "de")
    assert not _inverted_pronoun("Run it now.", "en")
    # After a short opening phrase set off by a comma, the clause's verb comes first.
    assert _inverted_pronoun("W przeciwieństwie do TCP, jest on zorientowany na pakiety.", "pl")
    assert not _inverted_pronoun("W przeciwieństwie do protokołu sieciowego TCP działającego, jest on …", "pl")


def test_stop_words_follow_the_text_language() -> None:
    assert is_stopword("wie", "de") and not is_stopword("wie")
    assert is_stopword("pour", "fr") and not is_stopword("pour", "de")
    assert "die" in extract_terms("Processes die when the kernel kills them.")


def test_french_elisions_and_hyphenated_pronouns_are_dropped() -> None:
    assert extract_terms("Sur quel port le serveur écoute-t-il ?") == ["port", "serveur", "écout"]
    assert extract_terms("Que fait l'option MultiViews d'Apache ?") == ["option", "multiview", "apach"]
    # A German compound stays one word.
    assert "root-passwort" in extract_terms("Wie lang sollte das Root-Passwort sein?")


def test_russian_and_english_stems_are_unchanged() -> None:
    english, russian = Stemmer.Stemmer("english"), Stemmer.Stemmer("russian")
    text = "The packages were installed with apt, пакеты установлены командой apt"
    expected = [
        (russian if word[0] in "пу" or word.startswith("ком") else english).stemWord(word)
        for word in ["packages", "installed", "apt", "пакеты", "установлены", "командой", "apt"]
    ]
    assert extract_terms(text) == expected
    # A Russian text stems its Latin words in English, as before.
    assert extract_terms("Установите пакеты packages", "ru") == ["установ", "пакет", "packag"]


def test_german_nouns_are_not_names_but_french_names_are() -> None:
    assert find_names("Welche Pakete braucht der Server für Nagios und NRPE?") == ["nrpe"]
    assert find_names("Which packages does Nagios need?") == ["nagios"]
    assert find_names("Quelle version de Mozilla Firefox prend en charge SNI ?") == ["mozilla", "firefox", "sni"]
    # The named parts of a German compound are names, the nouns they are joined to are not.
    assert find_names("Wie startet man eine WireGuard-VPN-Verbindung?") == ["wireguard", "vpn"]


def test_quoted_labels_are_short_quotes_in_any_quote_marks() -> None:
    assert find_quoted_labels("Что делает инструмент «Поворот» и команда «Обрезать до содержимого»?") == [
        "Поворот",
        "Обрезать до содержимого",
    ]
    assert find_quoted_labels('What does "Delete cropped pixels" do?') == ["Delete cropped pixels"]
    assert find_quoted_labels("Was macht „Speichern unter“?") == ["Speichern unter"]
    # A quoted sentence is not a label.
    assert find_quoted_labels("Что значит «это длинная фраза из шести слов»?") == []


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Wer hat tcpdump entwickelt?", "de"),
        ("Qui a développé tcpdump ?", "fr"),
        ("¿Quién es el autor de nmap?", "es"),
        ("Chi ha scritto nmap?", "it"),
        ("Quem escreveu o nmap?", "pt"),
        ("Wie heeft nmap geschreven?", "nl"),
        ("nmap を書いたのは誰ですか?", "ja"),
        ("谁写了 nmap?", "zh"),
        ("Кто написал nmap?", "ru"),
        ("Who wrote nmap?", "en"),
        ("Kto jest autorem narzędzia nmap?", "pl"),
        # A language citechat has no words for gets English.
        ("Vem skrev nmap?", "en"),
    ],
)
def test_a_refusal_is_in_the_language_of_the_question(question: str, language: str) -> None:
    assert refuse(question).text == REFUSALS[language]


def test_rare_lower_case_words_used_in_english_too_are_names() -> None:
    assert find_rare_words("Quelle commande active un site dans lighttpd ?") == ["lighttpd"]
    assert find_rare_words("How can I get a root shell during the initramfs stage of boot?") == ["initramfs"]
    # A rare word of the language itself is no name ("lauschenden"), nor are capitalized words (find_names').
    assert find_rare_words("Welcher Befehl zeigt die lauschenden Sockets von Nginx?") == []
    # Russian questions have their Latin words as specific tokens already; a question in a language citechat
    # does not tell (Polish, read as English) has too many rare words for them to be names.
    assert find_rare_words("Какой командой настроить lighttpd?") == []
    assert find_rare_words("Który plik zawiera zwykle numer wersji zainstalowanego systemu Debian?") == []
    assert find_rare_words("Vilket kommando visar paketets beroenden?") == []
    # One rare word is a name even in a question of two content words.
    assert find_rare_words("What does pbuilder let you do?") == ["pbuilder"]


def test_name_rules_hold_in_german_and_a_name_inside_a_compound_is_mentioned() -> None:
    def missing(question: str, evidence: str) -> list[str]:
        retrieval = Retrieval(question, np.zeros(3), extract_terms(question, "de"), [], language="de")
        context = AnswerContext(text=evidence, script="en")
        return measure_signals(retrieval, set(), question, context, context).missing_names

    question = "Welcher UDP-Port ist bei IPsec für den Schlüsselaustausch voreingestellt?"
    assert missing(question, "In IPsec ist der UDP-Port 500 für den Austausch von Schlüsseln voreingestellt.") == []
    assert missing("Wie startet man eine WireGuard-Verbindung?", "Starten Sie die OpenVPN-Verbindung.") == ["wireguard"]
    swapped = EvidenceSignals(0.9, 1.0, 1.0, has_terms=True, unknown_names=[], missing_names=["wireguard"])
    policy = AbstentionPolicy()
    # German compounds keep the word-count rules off, not the name rules.
    assert policy.judge(swapped, same_language=False, same_names=True).abstain
    assert not policy.judge(swapped, same_language=False, same_names=False).abstain
    # Across languages, a name every Latin-script language writes alike is still compared; "Japon" is not.
    portable = dataclasses.replace(swapped, portable_names=["wireguard"])
    assert policy.judge(portable, same_language=False, same_names=False).abstain
    assert is_portable_name("WireGuard", "pl") and is_portable_name("nginx", "en")
    assert not is_portable_name("Japon", "fr") and not is_portable_name("Japan", "en")
    # A name the corpus never mentions refuses also over evidence as close as a single-topic manual's usual.
    elsewhere = EvidenceSignals(0.89, 1.0, 1.0, has_terms=True, unknown_names=["fedora"])
    assert policy.judge(elsewhere, same_language=False, same_names=True).abstain
    question = "Jak uruchomić połączenie WireGuard w Japonii?"
    retrieval = Retrieval(question, np.zeros(3), extract_terms(question, "pl"), [], language="pl")
    assert measure_signals(retrieval, set()).portable_names == ["wireguard"]


def test_hyphenated_words_of_other_languages_are_no_specific_tokens() -> None:
    assert find_specific_tokens("Depuis quelle version Firefox la prend-il en charge ?") == []
    assert find_specific_tokens("Quel port utilise munin-node ?") == []
    assert find_specific_tokens("Quel port utilise munin-node 2.0 ?") == ["2.0"]


def test_each_line_of_a_partly_translated_chunk_is_stemmed_in_its_own_language() -> None:
    german, english = (
        "Die Partitionen werden von dem Installer angelegt, und sie sind nicht verschlüsselt.",
        "The partitions are created by the installer.",
    )
    # The last line is too short to tell: it is read in the chunk's language, German.
    terms = extract_terms(german + "\n" + english + "\nPartitionen")
    assert terms == [*extract_terms(german), *extract_terms(english), stem_word("partitionen", "de")]
    assert stem_word("partitionen", "de") in extract_terms(german) and "partit" in extract_terms(english)
    # The same short line (its terms are kept per process: help pages repeat such lines) is read in the
    # language of each chunk it is in.
    assert extract_terms(english + "\nPartitionen")[-1] == stem_word("partitionen", "en")
    assert extract_terms(german + "\nPartitionen")[-1] == stem_word("partitionen", "de")


def test_question_words_of_other_languages_ask_for_values() -> None:
    from rag.text import asked_qualifiers, expected_answer_type, has_answer_type, missing_qualifiers

    assert word_language("In welchem Jahr wurde der Status eingeführt?") == "de"  # "in" is German too
    assert expected_answer_type("In welchem Jahr wurde der Status eingeführt?") == "date"
    assert expected_answer_type("Seit welcher Version unterstützt Firefox SNI?") == "number"
    assert expected_answer_type("Combien de mois dure la procédure ?") == "number"
    assert expected_answer_type("Quelle commande active un module ?") == "command"
    # "Wer …" asks for a name. German capitalizes every noun: its names are first and last names in a row
    # and words with inner capitals, not the nouns around them.
    who = "Von wem wurde OpenVPN geschrieben?"
    assert expected_answer_type(who) == expected_answer_type("Wer entwickelt Nagios?") == "person"
    assert has_answer_type("OpenVPN wurde von James Yonan geschrieben.", "person", who)
    assert has_answer_type("Die Wireshark Foundation finanziert die Entwicklung.", "person", "Wer finanziert das?")
    assert not has_answer_type("Das Programm, OpenVPN genannt, wurde neu geschrieben.", "person", who)
    assert not has_answer_type("Die Distribution wird von tausend Freiwilligen betreut.", "person", who)
    assert has_answer_type("La procédure dure trois mois.", "number", "Combien de mois dure la procédure ?")
    # "Several" is no count: the text does not say how many.
    assert not has_answer_type("La procédure dure plusieurs mois.", "number", "Combien de mois dure la procédure ?")
    assert not has_answer_type("Несколько стран углубляют связи.", "number", "Сколько стран углубляют связи?")
    assert not has_answer_type("Several countries joined.", "number", "How many countries joined?")
    assert not has_answer_type("Un statut a été introduit.", "date", "En quelle année le statut est-il introduit ?")
    assert asked_qualifiers("Quel est le port par défaut ?") == ["default"]
    assert missing_qualifiers("Quel est le port par défaut ?", "Le port est 80.") == ["default"]
    assert missing_qualifiers("Quel est le port par défaut ?", "Par défaut, le port est 80.") == []


def test_an_inverted_mark_opens_a_spanish_question_and_is_no_name() -> None:
    assert find_names("¿Cuál es una aplicación concreta de ella?") == []
    assert find_names("¡Hola! ¿Qué hace Falcot con DNAT?") == ["falcot", "dnat"]


def test_a_phrase_joined_by_hyphens_is_no_specific_token() -> None:
    question = "Which package contains an easy-to-configure PPTP client, up-to-date for apt-get and pptp-linux?"
    assert find_specific_tokens(question) == ["apt-get", "pptp-linux"]


def test_what_is_counted_or_who_is_asked_about_is_the_focus_in_every_language() -> None:
    assert asked_focus("¿Cuántos bits tiene la llave del certificado raíz?") == stem_word("bits", "es")
    assert asked_focus("Combien de paquets contient l'archive ?") == stem_word("paquets", "fr")
    assert asked_focus("Wie viele Benutzer hat Debian?") == stem_word("benutzer", "de")
    assert asked_focus("Qui est l'auteur du programme pinfo ?") == stem_word("auteur", "fr")
    # A duration needs no word for time beside it.
    assert asked_focus("Combien de temps dure la période de support ?") is None
    assert asked_focus("Сколько времени длится поддержка?") is None


def test_a_question_word_breaks_a_tie_of_function_words_and_pronouns_mark_follow_ups() -> None:
    from rag.conversation import is_follow_up

    assert word_language("Wie zeigt er die Pakete an?") == "de"
    assert word_language("Was the package removed?") == "en"
    assert is_follow_up("Wie zeigt er die Pakete an?")
    assert is_follow_up("¿Cuál es una aplicación concreta de ella?")
    # "es" of "gibt es" and the articles "le", "la" are no pronouns pointing back.
    assert not is_follow_up("Gibt es ein Paket für VPN-Verbindungen?")
    assert not is_follow_up("Quel programme est recommandé pour la documentation info ?")


def test_a_path_neither_asks_nor_states_a_default() -> None:
    from rag.text import asked_qualifiers, missing_qualifiers

    assert asked_qualifiers("What does /etc/default/grub hold?") == []
    assert asked_qualifiers("Which option does --default-release set?") == []
    question = "Welchen Standardwert hat die AUTOSTART-Anweisung in /etc/default/openvpn?"
    assert asked_qualifiers(question) == ["default"]
    assert missing_qualifiers(question, "Setzen Sie AUTOSTART in /etc/default/openvpn auf none.") == ["default"]
    assert missing_qualifiers(question, "Standardmäßig startet OpenVPN alle Netze (AUTOSTART=all).") == []
    # A hyphenated word is no option: "по-умолчанию" still states the default.
    assert missing_qualifiers("Где по умолчанию хранится кэш?", "По-умолчанию кэш хранится в /var/cache.") == []


def test_the_nouns_a_german_compound_adds_to_a_specific_token_are_words() -> None:
    question = "Warum liefert Debian amd64, obwohl 64-bit-Prozessoren auch i386-Software ausführen können?"
    assert find_specific_tokens(question) == ["amd64", "64-bit", "i386"]


def test_german_nouns_written_as_in_english_are_names_the_corpus_must_mention() -> None:
    question = "Welche Datei enthält auf einem Fedora-Server die Versionsnummer des installierten Systems?"
    # "Fedora" (also inside a compound) is written as in English; "Datei", "Versionsnummer" are German nouns.
    assert find_english_nouns(question) == ["fedora"]
    assert find_english_nouns("Wie konfiguriert man einen Proxy mit Squid?") == ["proxy", "squid"]
    assert find_english_nouns("Which file holds the version of Fedora?") == []

    def unknown(vocabulary: set[str]) -> list[str]:
        terms = extract_terms(question, "de")
        retrieval = Retrieval(question, np.zeros(4, dtype=np.float32), terms, [], {}, language="de")
        retrieval.term_presence = {term: 1.0 if term in vocabulary else 0.0 for term in terms}
        retrieval.presence = lambda stem: 1.0 if stem in vocabulary else 0.0
        return measure_signals(retrieval, set()).unknown_names

    known = set(extract_terms(question, "de"))
    assert unknown(known) == ["fedora"]
    assert unknown(known | {stem_word("fedora", "de")}) == []
