"""What citechat itself says, in each language it replies in (rag.text.reply_language), English for others.

Refusals, small-talk replies, the note that a quote is in its source's language, and the names of the
languages for those notes and for an LLM's prompt.
"""

from __future__ import annotations

REPLY_LANGUAGES = ("ru", "en", "de", "fr", "es", "it", "pt", "nl", "pl", "ja", "zh")

REFUSALS = {
    "ru": "В документах нет ответа на этот вопрос.",
    "en": "The documents do not answer this question.",
    "de": "Die Dokumente beantworten diese Frage nicht.",
    "fr": "Les documents ne répondent pas à cette question.",
    "es": "Los documentos no responden a esta pregunta.",
    "it": "I documenti non rispondono a questa domanda.",
    "pt": "Os documentos não respondem a esta pergunta.",
    "nl": "De documenten beantwoorden deze vraag niet.",
    "pl": "Dokumenty nie odpowiadają na to pytanie.",
    "ja": "資料にはこの質問への答えがありません。",
    "zh": "文档中没有这个问题的答案。",
}

# Each language's names of the languages of REPLY_LANGUAGES, in that order.
_NAMES = {
    "ru": "русский английский немецкий французский испанский итальянский португальский нидерландский польский "
    "японский китайский",
    "en": "Russian English German French Spanish Italian Portuguese Dutch Polish Japanese Chinese",
    "de": "Russisch Englisch Deutsch Französisch Spanisch Italienisch Portugiesisch Niederländisch Polnisch "
    "Japanisch Chinesisch",
    "fr": "russe anglais allemand français espagnol italien portugais néerlandais polonais japonais chinois",
    "es": "ruso inglés alemán francés español italiano portugués neerlandés polaco japonés chino",
    "it": "russo inglese tedesco francese spagnolo italiano portoghese olandese polacco giapponese cinese",
    "pt": "russo inglês alemão francês espanhol italiano português neerlandês polonês japonês chinês",
    "nl": "Russisch Engels Duits Frans Spaans Italiaans Portugees Nederlands Pools Japans Chinees",
    "pl": "rosyjski angielski niemiecki francuski hiszpański włoski portugalski niderlandzki polski japoński chiński",
    "ja": "ロシア語 英語 ドイツ語 フランス語 スペイン語 イタリア語 ポルトガル語 オランダ語 ポーランド語 日本語 中国語",
    "zh": "俄语 英语 德语 法语 西班牙语 意大利语 葡萄牙语 荷兰语 波兰语 日语 中文",
}

_QUOTE_NOTICES = {
    "ru": "Ответ цитирует источник на его языке: {name}.",
    "en": "The answer quotes the source in its own language: {name}.",
    "de": "Die Antwort zitiert die Quelle in ihrer Sprache: {name}.",
    "fr": "La réponse cite la source dans sa langue : {name}.",
    "es": "La respuesta cita la fuente en su idioma: {name}.",
    "it": "La risposta cita la fonte nella sua lingua: {name}.",
    "pt": "A resposta cita a fonte no seu idioma: {name}.",
    "nl": "Het antwoord citeert de bron in haar eigen taal: {name}.",
    "pl": "Odpowiedź cytuje źródło w jego języku: {name}.",
    "ja": "回答は原文の言語（{name}）のまま引用しています。",
    "zh": "答案按原文的语言（{name}）引用。",
}

# The quote marks around a document's title in a reply, where a language's differ from English '"'.
TITLE_QUOTES = {"ru": ("«", "»"), "ja": ("「", "」"), "zh": ("“", "”")}

# Replies to conversation moves that are not questions (rag.conversation.classify_small_talk); "documents"
# lists the documents' titles after any of them, "empty" replaces it when there are none.
SMALL_TALK_REPLIES = {
    "ru": {
        "greeting": "Здравствуйте! Я отвечаю на вопросы по документам и цитирую источники.",
        "thanks": "Пожалуйста! Задайте следующий вопрос по документам.",
        "capabilities": "Я отвечаю на вопросы по загруженным документам, цитируя фрагменты, "
        "и говорю, когда в документах нет ответа.",
        "overview": "Вот документы, по которым я отвечаю.",
        "documents": "Документы: {titles}.",
        "empty": "Документов пока нет: загрузите их, и я отвечу на вопросы по ним.",
    },
    "en": {
        "greeting": "Hello! I answer questions about the documents and cite my sources.",
        "thanks": "You're welcome! Ask another question about the documents.",
        "capabilities": "I answer questions about the uploaded documents with quoted passages, "
        "and say so when they hold no answer.",
        "overview": "These are the documents I answer from.",
        "documents": "Documents: {titles}.",
        "empty": "There are no documents yet: upload some and ask about them.",
    },
    "de": {
        "greeting": "Hallo! Ich beantworte Fragen zu den Dokumenten und zitiere meine Quellen.",
        "thanks": "Gern geschehen! Stellen Sie eine weitere Frage zu den Dokumenten.",
        "capabilities": "Ich beantworte Fragen zu den hochgeladenen Dokumenten mit zitierten Stellen "
        "und sage es, wenn sie keine Antwort enthalten.",
        "overview": "Das sind die Dokumente, aus denen ich antworte.",
        "documents": "Dokumente: {titles}.",
        "empty": "Es gibt noch keine Dokumente: Laden Sie welche hoch und fragen Sie danach.",
    },
    "fr": {
        "greeting": "Bonjour ! Je réponds aux questions sur les documents et je cite mes sources.",
        "thanks": "Je vous en prie ! Posez une autre question sur les documents.",
        "capabilities": "Je réponds aux questions sur les documents chargés en citant des passages, "
        "et je le dis quand ils ne contiennent pas la réponse.",
        "overview": "Voici les documents d'où je tire mes réponses.",
        "documents": "Documents : {titles}.",
        "empty": "Il n'y a pas encore de documents : chargez-en, puis posez vos questions.",
    },
    "es": {
        "greeting": "¡Hola! Respondo preguntas sobre los documentos y cito mis fuentes.",
        "thanks": "¡De nada! Haga otra pregunta sobre los documentos.",
        "capabilities": "Respondo preguntas sobre los documentos cargados citando pasajes, "
        "y lo digo cuando no contienen la respuesta.",
        "overview": "Estos son los documentos de los que respondo.",
        "documents": "Documentos: {titles}.",
        "empty": "Todavía no hay documentos: suba algunos y pregunte sobre ellos.",
    },
    "it": {
        "greeting": "Ciao! Rispondo alle domande sui documenti e cito le fonti.",
        "thanks": "Prego! Fai un'altra domanda sui documenti.",
        "capabilities": "Rispondo alle domande sui documenti caricati citandone dei passi, "
        "e lo dico quando non contengono la risposta.",
        "overview": "Questi sono i documenti da cui rispondo.",
        "documents": "Documenti: {titles}.",
        "empty": "Non ci sono ancora documenti: caricane alcuni e fai le tue domande.",
    },
    "pt": {
        "greeting": "Olá! Respondo a perguntas sobre os documentos e cito as fontes.",
        "thanks": "De nada! Faça outra pergunta sobre os documentos.",
        "capabilities": "Respondo a perguntas sobre os documentos carregados citando trechos, "
        "e digo quando eles não têm a resposta.",
        "overview": "Estes são os documentos de onde respondo.",
        "documents": "Documentos: {titles}.",
        "empty": "Ainda não há documentos: carregue alguns e pergunte sobre eles.",
    },
    "nl": {
        "greeting": "Hallo! Ik beantwoord vragen over de documenten en citeer mijn bronnen.",
        "thanks": "Graag gedaan! Stel nog een vraag over de documenten.",
        "capabilities": "Ik beantwoord vragen over de geüploade documenten met geciteerde passages, "
        "en zeg het als ze geen antwoord bevatten.",
        "overview": "Dit zijn de documenten waaruit ik antwoord.",
        "documents": "Documenten: {titles}.",
        "empty": "Er zijn nog geen documenten: upload er een paar en stel er vragen over.",
    },
    "pl": {
        "greeting": "Dzień dobry! Odpowiadam na pytania o dokumenty i cytuję źródła.",
        "thanks": "Proszę bardzo! Zadaj kolejne pytanie o dokumenty.",
        "capabilities": "Odpowiadam na pytania o wgrane dokumenty, cytując fragmenty, "
        "i mówię, gdy nie ma w nich odpowiedzi.",
        "overview": "Oto dokumenty, na podstawie których odpowiadam.",
        "documents": "Dokumenty: {titles}.",
        "empty": "Nie ma jeszcze dokumentów: wgraj je i zadaj pytanie.",
    },
    "ja": {
        "greeting": "こんにちは！資料についての質問に、出典を引用して答えます。",
        "thanks": "どういたしまして！資料について次の質問をどうぞ。",
        "capabilities": "アップロードされた資料についての質問に、該当箇所を引用して答えます。"
        "資料に答えがないときはそう伝えます。",
        "overview": "回答に使う資料はこちらです。",
        "documents": "資料：{titles}。",
        "empty": "まだ資料がありません。アップロードしてから質問してください。",
    },
    "zh": {
        "greeting": "你好！我根据文档回答问题，并引用出处。",
        "thanks": "不客气！请继续提问有关文档的问题。",
        "capabilities": "我根据上传的文档回答问题并引用原文段落；文档中没有答案时我会直接说明。",
        "overview": "以下是我用来回答问题的文档。",
        "documents": "文档：{titles}。",
        "empty": "还没有文档：请先上传文档再提问。",
    },
}


def language_name(language: str, in_language: str) -> str:
    """Return the name of a language of REPLY_LANGUAGES as written in another (English for unknown ones)."""
    names = _NAMES.get(in_language, _NAMES["en"]).split()
    return names[REPLY_LANGUAGES.index(language)]


def quote_notice(quoted: str, asked: str) -> str:
    """Return the note, in the question's language, that the answer quotes its source in that source's language."""
    notice = _QUOTE_NOTICES.get(asked, _QUOTE_NOTICES["en"])
    return notice.format(name=language_name(quoted, asked))
