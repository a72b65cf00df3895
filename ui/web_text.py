"""Interface strings of the web chat, in Russian and English."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class WebText:
    """Every visible string of the web interface in one language."""

    subtitle: str
    chat_tab: str
    documents_tab: str
    chat_label: str
    placeholder: str
    input_placeholder: str
    send: str
    new_chat: str
    examples: tuple[str, ...]
    sources_title: str
    sources_empty: str
    sources_for: str
    nearest_passages: str
    refusal_sources: str
    characters: str
    refusal_label: str
    confidence_label: str
    bad_input: str
    empty_question: str
    internal_error: str
    searching: str
    by_model: str
    by_fallback: str
    writing: str
    thanks_up: str
    thanks_down: str
    documents_title: str
    documents_empty: str
    column_title: str
    column_source: str
    column_chunks: str
    upload_label: str
    upload_button: str
    upload_nothing: str
    upload_progress: str
    upload_done: str
    delete_label: str
    delete_button: str
    delete_nothing: str
    delete_done: str
    status: dict[str, str]


RUSSIAN = WebText(
    subtitle="Ответы по вашим статьям — каждое утверждение со ссылкой на источник",
    chat_tab="Чат",
    documents_tab="Документы",
    chat_label="Диалог",
    placeholder=(
        "### Спросите о статье\nНапример, о чём договорились на саммите. Можно спрашивать по-русски или по-английски."
    ),
    input_placeholder="Ваш вопрос о статье…",
    send="Спросить",
    new_chat="Новый чат",
    examples=(
        "О чём договорились на саммите Японии и стран Центральной Азии?",
        "Где используется галлий?",
        "Какие страны региона особенно важны для Японии?",
        "What role does Japan want to play in Central Asia?",
    ),
    sources_title="Источники",
    sources_empty=(
        "Здесь появятся фрагменты, на которые ссылается ответ. Нажмите на [n] в ответе, чтобы перейти к фрагменту."
    ),
    sources_for="Вопрос",
    nearest_passages="Ответа в документах не нашлось. Ближайшие фрагменты:",
    refusal_sources="Ответа в документах не нашлось, поэтому ссылок нет.",
    characters="символы",
    refusal_label="Нет ответа в документах",
    confidence_label="Уверенность",
    bad_input="Не получилось задать вопрос",
    empty_question="Введите вопрос о статье.",
    internal_error="Что-то пошло не так при подготовке ответа. Попробуйте ещё раз.",
    searching="Ищу в документах…",
    by_model="сформулировано моделью, каждое предложение сверено с источником",
    by_fallback="цитаты: ответ модели не подошёл",
    writing="Нашёл фрагменты, пишу ответ…",
    thanks_up="Спасибо! Отметили ответ как полезный.",
    thanks_down="Спасибо! Отметили ответ как неудачный.",
    documents_title="Загруженные документы",
    documents_empty="Документов пока нет.",
    column_title="Название",
    column_source="Файл",
    column_chunks="Фрагментов",
    upload_label="Добавить файлы (.txt, .md, .html, .pdf, также .gz)",
    upload_button="Загрузить в базу",
    upload_nothing="Сначала выберите файлы.",
    upload_progress="Обработка",
    upload_done="Готово",
    delete_label="Выберите документы для удаления",
    delete_button="Удалить",
    delete_nothing="Сначала выберите документ.",
    delete_done="Удалено",
    status={
        "added": "добавлен",
        "updated": "обновлён",
        "unchanged": "без изменений",
        "removed": "удалён",
        "failed": "ошибка",
    },
)

ENGLISH = WebText(
    subtitle="Answers about your articles — every statement cites its source",
    chat_tab="Chat",
    documents_tab="Documents",
    chat_label="Conversation",
    placeholder=(
        "### Ask about the article\nFor example, what the summit agreed on. You can ask in English or Russian."
    ),
    input_placeholder="Your question about the article…",
    send="Ask",
    new_chat="New chat",
    examples=(
        "What did the summit of Japan and Central Asia agree on?",
        "Where is gallium used?",
        "Which countries of the region matter most to Japan?",
        "Где прошёл первый диалог «Центральная Азия плюс Япония»?",
    ),
    sources_title="Sources",
    sources_empty="Passages the answer cites appear here. Click a [n] in the answer to jump to its passage.",
    sources_for="Question",
    nearest_passages="The documents do not answer this. Nearest passages:",
    refusal_sources="The documents do not answer this, so nothing is cited.",
    characters="characters",
    refusal_label="Not answered by the documents",
    confidence_label="Confidence",
    bad_input="Could not ask that",
    empty_question="Type a question about the article.",
    internal_error="Something went wrong while preparing the answer. Please try again.",
    searching="Searching the documents…",
    by_model="phrased by the model, every sentence checked against its source",
    by_fallback="quotes: the model's reply was not usable",
    writing="Found passages, writing the answer…",
    thanks_up="Thanks! Marked the answer as helpful.",
    thanks_down="Thanks! Marked the answer as unhelpful.",
    documents_title="Ingested documents",
    documents_empty="No documents yet.",
    column_title="Title",
    column_source="File",
    column_chunks="Chunks",
    upload_label="Add files (.txt, .md, .html, .pdf, also .gz)",
    upload_button="Add to the library",
    upload_nothing="Choose files first.",
    upload_progress="Processing",
    upload_done="Done",
    delete_label="Choose documents to delete",
    delete_button="Delete",
    delete_nothing="Choose a document first.",
    delete_done="Deleted",
    status={
        "added": "added",
        "updated": "updated",
        "unchanged": "unchanged",
        "removed": "removed",
        "failed": "failed",
    },
)


def text_for(language: Literal["ru", "en"]) -> WebText:
    """Return the interface strings for `language`."""
    return ENGLISH if language == "en" else RUSSIAN
