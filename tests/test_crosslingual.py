"""Words across languages and what a question is about: the store's vocabulary, translated question words,
and the focus of "who" and "how many" questions. Real Chroma and the bundled embedder throughout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.abstention import AnswerContext, measure_signals, term_strength
from rag.answering.base import AnswerRequest
from rag.answering.extractive import ExtractiveAnswerer, Inspection, ScoredSentence
from rag.config import Settings
from rag.embeddings import Embedder
from rag.engine import Engine, open_store
from rag.models import Passage, Retrieval, Sentence
from rag.text import (
    asked_focus,
    asks_for_reasons,
    detect_language,
    expected_answer_type,
    extract_terms,
    find_names,
    has_answer_type,
    normalize,
    split_into_sentences,
    split_into_words,
    stem_word,
    vocabulary,
)
from ui.runtime import build_corpus_engine


def test_the_vocabulary_keeps_one_written_form_per_stem_and_only_content_words() -> None:
    forms = vocabulary("Пакет пакета, пакета и пакетов: of the ext4 42 --purge apt-get. Packages package")
    assert forms[stem_word("пакета")] == "пакета"  # the most frequent form of the stem
    assert forms[stem_word("packages")] in ("packages", "package")
    assert not {"и", "of", "the", "ext4", "42", "apt-get"} & set(forms.values())


def test_the_focus_of_who_and_how_many_questions() -> None:
    assert asked_focus("Кто сейчас руководит разработкой aptitude?") == stem_word("руководит")
    assert asked_focus("Кто является премьер-министром Японии?") == stem_word("премьер-министром")
    assert asked_focus("Who maintains the firefox-esr package?") == stem_word("maintains")
    assert asked_focus("How many users does KDE Plasma have?") == stem_word("users")
    assert asked_focus("Сколько стран участвовало во встрече?") == stem_word("стран")
    assert asked_focus("Где прошёл первый диалог?") is None
    assert asked_focus("Which key refreshes the list?") is None


def test_who_and_how_many_need_their_focus_in_the_evidence() -> None:
    def missing_type(question: str, evidence: str) -> str | None:
        retrieval = Retrieval(question, np.zeros(4, dtype=np.float32), extract_terms(question), [], {})
        context = AnswerContext(text=evidence, script="en", quoted=evidence, quoted_prose=evidence)
        return measure_signals(retrieval, set(), question, context).missing_type

    question = "Who maintains the firefox-esr package in Debian?"
    assert missing_type(question, "The package firefox-esr is maintained by the Mozilla Maintainers team.") is None
    # A name is there, but nothing says who maintains the package.
    assert missing_type(question, "The ESR release of Firefox is the default in Debian Stable.") == "person"
    question = "How many users does KDE Plasma have?"
    assert missing_type(question, "KDE Plasma has about 20 million users.") is None
    assert missing_type(question, "Debian Bullseye includes version 5.20 of KDE Plasma.") == "number"
    # The focus is not found inside another of the question's words ("failed" in "fail2ban").
    question = "How many failed attempts does fail2ban allow?"
    assert missing_type(question, "fail2ban bans hosts that fail to log in after 5 failed attempts.") is None
    assert missing_type(question, "fail2ban | 2127 | ban IPs that cause multiple authentication errors") == "number"


def test_the_store_keeps_the_vocabulary_of_what_it_ingested(
    tmp_path: Path, settings: Settings, embedder: Embedder
) -> None:
    text = "Пакеты устанавливаются командой apt install. Удержать пакет можно командой apt-mark hold."
    (tmp_path / "apt.txt").write_text(text, encoding="utf-8")
    build_corpus_engine(settings, [tmp_path / "apt.txt"], embedder, notify=lambda _: None)
    store = open_store(settings, embedder)
    stems = sorted(vocabulary(text))
    assert store.missing_words(stems + ["небывальщин"]) == ["небывальщин"]
    assert store.vocabulary_size("ru", 1000) == sum(1 for stem in stems if not stem.isascii())
    assert store.vocabulary_size("en", 1000) == sum(1 for stem in stems if stem.isascii())
    # Each word is stored with its query vector: the nearest Russian stem to "пакет" is its own.
    nearest = store.nearest_words(np.stack([embedder.embed_query("пакет")]), "ru", 1)
    assert nearest[0][0][0] == stem_word("пакет") and nearest[0][0][1] > 0.95
    store.reset()
    assert store.vocabulary_size("ru", 10) == 0


def test_english_question_words_find_their_russian_counterparts(article_engine: Engine) -> None:
    translations = article_engine.retriever.translate("Where did Japan promise to invest?")
    assert any(found.startswith("инвест") for found in translations[stem_word("invest")]), translations
    # A word with no counterpart close enough is left alone rather than guessed.
    assert stem_word("xylophone") not in article_engine.retriever.translate("Which xylophone is mentioned?")
    # The article has too few English words for a Russian question to be looked up in English.
    assert article_engine.retriever.translate("Где используется галлий?") == {}


def test_translated_words_count_as_keyword_evidence() -> None:
    strength = term_strength({"пакет", "устанавлива"}, {"packag": ("пакет",), "instal": ("устан",)})
    assert strength("packag") == 1.0
    assert strength("instal") == 0.5  # a shared prefix of the counterpart, as for the word itself
    assert strength("remov") == 0.0


def test_an_english_question_is_answered_from_the_russian_article(article_engine: Engine) -> None:
    retrieval = article_engine.retriever.search("How many investment agreements did Turkmenistan sign?")
    assert retrieval.translations and "восемь" in retrieval.passages[0].text
    answer = article_engine.ask("How many investment agreements did Turkmenistan sign?")
    assert not answer.abstained and "восемь" in answer.answer


def test_chinese_and_japanese_text_has_sentences_and_searchable_words() -> None:
    text = "この章では IPv4 アドレスだけに注目します。なぜなら最も一般的だからです！IPv6 は「第 10.6 節」で説明します。"
    sentences = [text[start:end] for start, end in split_into_sentences(text)]
    assert sentences == [
        "この章では IPv4 アドレスだけに注目します。",
        "なぜなら最も一般的だからです！",
        "IPv6 は「第 10.6 節」で説明します。",
    ]
    # Runs without spaces are searched by their overlapping character pairs; other words stay whole.
    assert split_into_words("IPv6アドレス Пакеты") == ["ipv6", "アド", "ドレ", "レス", "пакеты"]
    assert set(extract_terms("アドレスの設定")) >= {"アド", "設定"}
    # Pairs of characters are no words to look up in another language.
    assert vocabulary("アドレスの設定 packages") == {stem_word("packages"): "packages"}
    assert split_into_sentences("Первое предложение. Second one!") == [(0, 19), (20, 31)]


def test_small_talk_is_told_with_the_language_it_is_in() -> None:
    from rag.conversation import SmallTalk, classify_small_talk

    greetings = ("Hallo!", "Bonjour", "¡Hola!", "Dzień dobry", "こんにちは", "你好", "Привет", "hi")
    assert [classify_small_talk(text) for text in greetings] == [
        SmallTalk("greeting", language) for language in ("de", "fr", "es", "pl", "ja", "zh", "ru", "en")
    ]
    thanks = ("Danke schön!", "Merci beaucoup", "Grazie mille", "ありがとうございます", "谢谢")
    assert [classify_small_talk(text) for text in thanks] == [
        SmallTalk("thanks", language) for language in ("de", "fr", "it", "ja", "zh")
    ]
    assert classify_small_talk("Was kannst du?") == SmallTalk("capabilities", "de")
    assert classify_small_talk("De quoi parlent ces documents ?") == SmallTalk("overview", "fr")
    assert classify_small_talk("Hallo, wie installiere ich ein Paket?") is None


def test_every_reply_language_has_every_phrase() -> None:
    from rag.replies import _NAMES, _QUOTE_NOTICES, REFUSALS, REPLY_LANGUAGES, SMALL_TALK_REPLIES, language_name

    for table in (REFUSALS, _NAMES, _QUOTE_NOTICES, SMALL_TALK_REPLIES):
        assert set(table) == set(REPLY_LANGUAGES)
    assert all(set(replies) == set(SMALL_TALK_REPLIES["en"]) for replies in SMALL_TALK_REPLIES.values())
    assert all(len(names.split()) == len(REPLY_LANGUAGES) for names in _NAMES.values())
    # Each language names itself as its speakers do.
    assert [language_name(language, language) for language in ("de", "fr", "ja")] == ["Deutsch", "français", "日本語"]


def test_word_rules_know_the_languages_citechat_stems() -> None:
    from rag.text import find_specific_tokens, word_language

    assert word_language("Где используется галлий?") == "ru"
    assert word_language("Which command installs a package?") == "en"
    assert word_language("Welcher Befehl installiert ein Paket?") == "de"
    assert word_language("Comment configurer le réseau ?") == "fr"
    assert word_language("IPv6 アドレスは何ビットですか？") is None
    # A German compound is a word, not a product's name; digits, options and paths still are specific.
    assert find_specific_tokens("Welches Paket hilft, wenn ein Firmware-Paket fehlt?") == []
    assert find_specific_tokens("Wann wurde WPA3 mit apt-get --purge eingeführt?") == ["wpa3", "purge"]
    assert find_specific_tokens("Which command runs apt-get?") == ["apt-get"]


def test_a_german_question_over_german_text_is_answered_not_refused_for_its_nouns(
    tmp_path: Path, settings: Settings, embedder: Embedder
) -> None:
    text = (
        "Drahtlose Netzwerke\n\n"
        "Zuerst müssen Sie das non-free Repository in der Datei sources.list von APT aktivieren. "
        "Dann müssen Sie die entsprechenden Firmware-Pakete installieren. Wenn Sie nicht wissen, welches Paket "
        "Sie benötigen, können Sie das Paket isenkram installieren und dessen Befehl "
        "isenkram-autoinstall-firmware ausführen.\n\n"
        "Der Parameter wpa-psk kann entweder die Klartext-Passphrase oder ihre gehashte Version enthalten."
    )
    (tmp_path / "wlan.txt").write_text(text, encoding="utf-8")
    engine = build_corpus_engine(settings, [tmp_path / "wlan.txt"], embedder, notify=lambda _: None)
    answer = engine.ask("Welches Paket hilft, wenn man nicht weiß, welches Firmware-Paket man braucht?")
    assert not answer.abstained and "isenkram" in answer.answer, answer.answer


def test_a_store_without_a_vocabulary_says_to_reindex(
    tmp_path: Path, settings: Settings, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    from rag.engine import build_engine

    (tmp_path / "apt.txt").write_text("Пакеты устанавливаются командой apt install.", encoding="utf-8")
    build_corpus_engine(settings, [tmp_path / "apt.txt"], embedder, notify=lambda _: None)
    with caplog.at_level("WARNING", logger="citechat"):
        build_engine(settings, embedder)
    assert "reindex" not in caplog.text
    store = open_store(settings, embedder)
    store._words.delete(ids=store._words.get(include=[])["ids"])  # as a store made before the vocabulary
    with caplog.at_level("WARNING", logger="citechat"):
        build_engine(settings, embedder)
    assert "citechat reindex" in caplog.text


def test_a_second_part_of_an_answer_across_languages_joins_through_translated_words() -> None:
    """ "Can address book data be edited?" over Russian text: the best sentence names the address book, the
    next one says editing is impossible. Its words only match the question through their counterparts."""
    first = "Данные адресной книги доступны только для чтения."
    second = "Редактировать адресные данные невозможно."
    passage = Passage("c1", f"{first} {second}", "s", "t", 0, len(first) + 1 + len(second))
    passage.sentences = [Sentence(first, 0, len(first)), Sentence(second, len(first) + 1, passage.end)]
    question = "Can address book data be edited?"
    scored = [
        ScoredSentence(passage.sentences[0], passage, 0, 1.0, set(extract_terms(first))),
        ScoredSentence(passage.sentences[1], passage, 1, 0.97, set(extract_terms(second))),
    ]
    retrieval = Retrieval(question, np.zeros(3), extract_terms(question), [passage])
    answerer = ExtractiveAnswerer()
    assert len(answerer._choose(scored, question, retrieval)) == 1  # no counterparts: nothing new
    retrieval.translations = {stem_word("edited"): (stem_word("редактировать"),)}
    chosen = answerer._choose(scored, question, retrieval)
    assert [item.sentence.text for item in chosen] == [first, second]


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Mandriva Linux は何年に消えましたか?", "date"),
        ("/var/log/dpkg.log は既定で何日間保存されますか?", "duration"),
        ("新しいバージョンは何カ月ごとにリリースされますか?", "number"),
        ("契約に年間いくら支払っていますか?", "number"),
        ("外来アーキテクチャを定義するにはどのコマンドを使いますか?", "command"),
        ("dpkg を書いたのは誰ですか?", "person"),
        ("dpkg はパッケージをインストールしますか?", None),
    ],
)
def test_japanese_questions_ask_for_values_wherever_the_question_word_stands(question: str, kind: str | None) -> None:
    assert expected_answer_type(question) == kind


def test_values_and_names_in_japanese_text() -> None:
    question = "Mandriva Linux は何年に消えましたか?"
    assert has_answer_type("Mandriva Linux は 2015年に消えました。", "date", question)
    assert not has_answer_type(
        "既に消えてしまったもの (Caldera Linux、Mandriva Linux など) も多いです。", "date", question
    )
    assert has_answer_type("ログは 30 日間保存されます。", "duration", "ログは何日間保存されますか?")
    assert not has_answer_type("ログは保存されます。", "duration", "ログは何日間保存されますか?")
    # No capitals in Japanese: a capitalized Latin word is a name even where it opens the question.
    assert find_names("Pidgin は ICE と TURN の両方をサポートしていますか?") == ["pidgin", "ice", "turn"]
    assert asks_for_reasons("ICE と TURN プロトコルはなぜ開発されたのですか?")


def test_a_chinese_year_is_written_with_its_character_and_four_digits_before_a_unit_are_no_year() -> None:
    question = "DKIM 标准是在哪一年发布的？"
    assert not has_answer_type("Debian 中的 opendkim 软件包默认为 2048 字节。", "date", question)
    assert not has_answer_type("鍵の長さは 2048 ビットです。", "date", "いつ導入されましたか?")
    assert has_answer_type("该标准于2011年发布。", "date", question)
    assert has_answer_type("該当する標準は 2011 年に発表されました。", "date", "何年に発表されましたか?")
    assert has_answer_type("会议于4月30日举行。", "date", "会议是什么时候举行的？")


def test_full_width_letters_and_digits_are_the_ascii_ones_a_question_types() -> None:
    # A translation writes "一个Ｕ盘" where the question types "U 盘": the same words, so the same stems.
    assert normalize("一个Ｕ盘　返回０") == "一个u盘 返回0"
    question, text = split_into_words("如何给一个 U 盘指派固定的名字？"), split_into_words("给一个Ｕ盘")
    assert {"一个", "u"} <= set(question) & set(text)


def _inspect(engine: Engine, question: str) -> Inspection | None:
    """Return the answerer's candidate answer and evidence signals for a question."""
    answerer, retrieval = engine.answerer, engine.retriever.search(question)
    assert isinstance(answerer, ExtractiveAnswerer)
    return answerer.inspect(AnswerRequest(question, question, detect_language(question), retrieval))


def _write_pages(folder: Path, label: str, texts: list[str]) -> None:
    """Write each text as a page of its own, titled by `label` and its number."""
    folder.mkdir()
    for number, text in enumerate(texts):
        (folder / f"page{number}.txt").write_text(f"{label} {number}\n\n{text}\n", encoding="utf-8")


def test_word_rules_hold_only_where_most_passages_are_in_the_question_language(
    tmp_path: Path, embedder: Embedder
) -> None:
    """Russian help with one untranslated English paragraph: an English question is a cross-lingual one."""
    folder = tmp_path / "help"
    russian = [
        "Инструмент «Масштаб» изменяет размер слоя, выделения или контура. Вызвать его можно комбинацией "
        "клавиш Shift+S или через меню Инструменты → Преобразование → Масштаб.",
        "Инструмент «Кадрирование» обрезает изображение или слой. Параметры инструмента задают фиксированное "
        "соотношение сторон и положение рамки.",
        "Маска слоя задаёт прозрачность частей слоя. Белые области маски непрозрачны, чёрные прозрачны.",
    ]
    _write_pages(folder, "Страница", russian)
    (folder / "crop.txt").write_text(
        "Кадрирование\n\nA fairly recent change in GIMP is that the canvas size is not changed after cropping.\n",
        encoding="utf-8",
    )
    engine = build_corpus_engine(Settings(data_dir=tmp_path / "data"), [folder], embedder, notify=lambda _: None)
    inspection = _inspect(engine, "Is the canvas size changed after cropping in GIMP?")
    assert inspection is not None and "canvas" in inspection.chosen[0].sentence.text
    assert not inspection.same_language and not inspection.same_names
    inspection = _inspect(engine, "Какой комбинацией клавиш вызывается инструмент «Масштаб»?")
    assert inspection is not None and inspection.same_language


def test_word_rules_read_the_language_of_the_answer_not_of_its_whole_passage(
    tmp_path: Path, embedder: Embedder
) -> None:
    """A partly translated page: an untranslated English paragraph and the Polish one after it share a chunk."""
    folder = tmp_path / "handbook"
    polish = [
        "Brama to system, który łączy wiele sieci komputerowych. Działa jako router i przekazuje pakiety "
        "pomiędzy swoimi interfejsami.",
        "Serwer OpenVPN tworzy wirtualną sieć prywatną. Jego konfiguracja znajduje się w katalogu /etc/openvpn.",
        "Program nmap pozwala sprawdzić, które usługi są uruchomione na maszynie i na jakich portach czekają.",
    ]
    _write_pages(folder, "Strona", polish)
    (folder / "migration.txt").write_text(
        "Migracja serwera\n\nThis is why you should pay attention to any indication that will give away the "
        "presence of external packages, such as deb files in unusual directories or package version numbers with "
        "a special suffix that shows they came from outside the Debian project.\n\n"
        "Pierwszym plikiem do sprawdzenia jest /etc/debian_version. Zawiera on zwykle numer wersji "
        "zainstalowanego systemu Debian.\n",
        encoding="utf-8",
    )
    engine = build_corpus_engine(Settings(data_dir=tmp_path / "data"), [folder], embedder, notify=lambda _: None)
    inspection = _inspect(engine, "Który plik zawiera numer wersji zainstalowanego systemu Debian?")
    assert inspection is not None and "numer wersji" in inspection.chosen[0].sentence.text
    assert inspection.same_language and inspection.same_names
    # "Zawiera on …" puts its pronoun after the verb: it points back at the file the sentence before names.
    answer = engine.ask("Który plik zawiera numer wersji zainstalowanego systemu Debian?")
    assert not answer.abstained and "/etc/debian_version" in answer.answer, answer.answer


def test_an_inverted_pronoun_after_a_heading_is_quoted_without_it(tmp_path: Path, embedder: Embedder) -> None:
    """The heading a section's first sentence speaks of is shown by the citation, not quoted as answer text."""
    folder = tmp_path / "handbook"
    _write_pages(
        folder,
        "Strona",
        ["Program nmap pozwala sprawdzić, które usługi są uruchomione na maszynie i na jakich portach czekają."],
    )
    (folder / "release.md").write_text(
        "# Wydania\n\n## Plik os-release\n\nZawiera on identyfikator dystrybucji oraz nazwę kodową wydania, "
        "na przykład bookworm.\n",
        encoding="utf-8",
    )
    engine = build_corpus_engine(Settings(data_dir=tmp_path / "data"), [folder], embedder, notify=lambda _: None)
    answer = engine.ask("Co zawiera nazwę kodową wydania?")
    assert not answer.abstained and "Zawiera on identyfikator" in answer.answer, answer.answer
    assert "Plik os-release" not in answer.answer


def test_an_english_question_over_german_text_quotes_the_sentence_that_answers_it(
    tmp_path: Path, embedder: Embedder
) -> None:
    """German and English share a script but not words: "Version" in a German sentence is no keyword evidence
    for "version", and "text-only", translated as "reine Textversion", is no token the answer must spell."""
    folder = tmp_path / "handbuch"
    german = [
        "Das Programm netstat zeigt eine Zusammenfassung der Netzaktivitäten eines Rechners. Die Option -c "
        "frischt die Liste der Verbindungen fortlaufend auf.",
        "Das Programm nmap scannt die Ports entfernter Rechner und listet die Ports auf, an denen eine Anwendung "
        "auf Anfragen wartet.",
        "Ein jüngeres Programm, wireshark, zeigt die erfassten Pakete grafisch in einer Gliederung an, die auf den "
        "Protokollschichten beruht. Für den Fall, dass man keine grafische Oberfläche einsetzen kann, gibt es auch "
        "eine reine Textversion von wireshark namens tshark. Falls die grafische Oberfläche erforderlich wird, "
        "können die Pakete in einer Datei gespeichert und in eine grafische Version von wireshark geladen werden.",
    ]
    _write_pages(folder, "Seite", german)
    engine = build_corpus_engine(Settings(data_dir=tmp_path / "data"), [folder], embedder, notify=lambda _: None)
    answer = engine.ask("What is the text-only version of wireshark called?")
    assert not answer.abstained, answer.answer
    assert "namens tshark" in answer.answer.split("[1]")[0], answer.answer
