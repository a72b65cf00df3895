"""The web chat: a Gradio Blocks page over the shared services (chat with clickable citations, documents tab)."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from ingest.loaders import ACCEPTED_SUFFIXES
from ingest.pipeline import FileReport
from rag.errors import CitechatError, StoreError, UserInputError
from rag.feedback import Feedback
from rag.models import Answer, AnswerDelta, AnswerDone, AnswerProgress, Citation, DocumentInfo, Turn
from ui.services import Services
from ui.uploads import IncomingFile
from ui.web_text import WebText, text_for

log = logging.getLogger("citechat.web")

MARKER = re.compile(r"\[(\d+)\]")
CHAT_EVENT_LIMIT = 16  # the engine is thread-safe; Gradio's default of 1 would queue every user behind one answer
# The page calls its handlers through Gradio's queue; none is offered as a named API (the REST API is that).
PAGE_ONLY = "private"

# Gradio 6 takes page CSS/JS only from launch() or mount_gradio_app(); shipping them in a gr.HTML `head`
# keeps the Blocks self-contained, so whoever mounts it needs no extra arguments.
STYLE = """
<style>
#cc-header h1 { margin: 0; font-size: 1.6rem; }
#cc-header p { margin: .2rem 0 0; color: var(--body-text-color-subdued); }
#cc-chat a.cc-marker {
  text-decoration: none; font-weight: 600; font-size: .78em; vertical-align: super; line-height: 1;
  padding: .05em .3em; border-radius: 4px; color: var(--color-accent); background: var(--color-accent-soft);
  margin-left: 2px;
}
#cc-chat a.cc-marker:hover { background: var(--color-accent); color: white; }
.cc-refusal, .cc-error { display: flex; gap: .7em; align-items: flex-start; padding: .7em .9em; border-radius: 8px; }
.cc-meta { margin-top: .4em; font-size: .8em; opacity: .7; }
.cc-refusal { background: #eef4ff; border: 1px solid #c9d9f5; color: #1f3a66; }
.cc-error { background: #fff6e5; border: 1px solid #f0d9a8; color: #5c4003; }
.dark .cc-refusal { background: #1d2a40; border-color: #2f4670; color: #cfe0ff; }
.dark .cc-error { background: #3a2e14; border-color: #6b5322; color: #ffe4a8; }
.cc-icon { flex: none; width: 1.5em; height: 1.5em; border-radius: 50%; display: inline-flex; align-items: center;
  justify-content: center; font-weight: 700; font-family: Georgia, serif; color: white; margin-top: .1em; }
.cc-refusal .cc-icon { background: #4a7bd0; }
.cc-error .cc-icon { background: #d99a1e; font-family: inherit; }
.cc-refusal .cc-label { display: block; font-weight: 600; margin-bottom: .15em; }
#cc-chat .bot.message:has(.cc-refusal), #cc-chat .bot.message:has(.cc-error) {
  background: transparent; border: none; padding: 0; box-shadow: none; }
.cc-cursor { animation: cc-blink 1s steps(2) infinite; }
.cc-status { color: var(--body-text-color-subdued); font-style: italic; margin-right: .3em; }
@keyframes cc-blink { 50% { opacity: 0; } }
.cc-sources h3 { margin: 0 0 .5rem; font-size: 1.05rem; }
.cc-sources .cc-hint { color: var(--body-text-color-subdued); font-size: .9em; }
.cc-turn:not(.cc-active) { display: none; }
.cc-question { margin: 0 0 .6rem; font-size: .9em; color: var(--body-text-color-subdued); }
.cc-nearest { margin: 0 0 .6rem; font-size: .9em; color: #4a7bd0; }
.cc-passage { border: 1px solid var(--border-color-primary); border-radius: 8px; margin-bottom: .6rem;
  background: var(--background-fill-secondary); scroll-margin: 12px; }
.cc-passage summary { cursor: pointer; padding: .5rem .7rem .3rem; display: flex; flex-wrap: wrap; gap: .1em .5em;
  align-items: baseline; }
.cc-passage summary .cc-num { font-weight: 700; color: var(--color-accent); }
.cc-passage summary .cc-title { font-weight: 600; }
.cc-passage summary .cc-where { flex-basis: 100%; color: var(--body-text-color-subdued); font-size: .8em; }
.cc-passage .cc-text { margin: .2rem .7rem .7rem; padding-left: .7rem; font-size: .92em; line-height: 1.55;
  border-left: 3px solid var(--border-color-primary); }
.cc-passage mark { background: #ffe58a; color: inherit; padding: 0 .1em; border-radius: 2px; }
.dark .cc-passage mark { background: #7a6300; }
.cc-passage.cc-selected { border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent-soft); }
.cc-passage.cc-flash { animation: cc-flash 1.2s ease-out; }
@keyframes cc-flash { from { background: var(--color-accent-soft); } }
#cc-documents .cc-docs table { width: 100%; border-collapse: collapse; font-size: .95em; border: none; margin: 0; }
#cc-documents .cc-docs tr { border: none; }
#cc-documents .cc-docs th, #cc-documents .cc-docs td { text-align: left; padding: .5rem .7rem; border: none;
  border-bottom: 1px solid var(--border-color-primary); }
#cc-documents .cc-docs th { font-weight: 600; color: var(--body-text-color-subdued); font-size: .9em; }
#cc-documents .cc-docs .cc-chunks { text-align: right; }
.cc-docs td.cc-path { color: var(--body-text-color-subdued); font-size: .85em; word-break: break-all; }
.cc-report ul { margin: .3rem 0; padding-left: 1.2rem; }
.cc-report .cc-failed { color: #b3261e; }
</style>
"""

# Markers in chat messages are plain anchors (Gradio's sanitizer keeps href, class and id); one capturing
# listener turns a click into "show that answer's sources, open and flash the passage".
MARKER_SCRIPT = """
if (!window.citechatMarkers) {
  window.citechatMarkers = true;
  document.addEventListener('click', (event) => {
    const link = event.target.closest && event.target.closest('a[href^="#cite-"]');
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const passage = document.getElementById(link.getAttribute('href').slice(1));
    if (!passage) return;
    document.querySelectorAll('.cc-turn.cc-active').forEach((turn) => turn.classList.remove('cc-active'));
    passage.closest('.cc-turn').classList.add('cc-active');
    document.querySelectorAll('.cc-passage.cc-selected').forEach((p) => p.classList.remove('cc-selected', 'cc-flash'));
    passage.open = true;
    void passage.offsetWidth;
    passage.classList.add('cc-selected', 'cc-flash');
    passage.scrollIntoView({behavior: 'smooth', block: 'nearest'});
  }, true);
}
"""


@dataclass
class Conversation:
    """One browser session's chat: the messages shown and, aligned with them, the answers behind them."""

    messages: list[dict[str, str]] = field(default_factory=list)
    answers: list[Answer | None] = field(default_factory=list)

    def add(self, role: str, content: str, answer: Answer | None = None) -> None:
        """Append a message (and the answer it shows, if any)."""
        self.messages.append({"role": role, "content": content})
        self.answers.append(answer)

    def history(self, limit: int) -> list[Turn]:
        """Return the last `limit` turns of answered exchanges, oldest first."""
        turns: list[Turn] = []
        for answer in self.answers:
            if answer is not None:
                turns += [Turn(role="user", content=answer.question), Turn(role="assistant", content=answer.answer)]
        return turns[-limit:] if limit > 0 else []


def render_answer(answer: Answer, turn: int, text: WebText) -> str:
    """Return an answer as chat HTML: markers become links to their passages; refusals get their own box."""
    known = {citation.marker for citation in answer.citations}

    def link(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if number not in known:
            return match.group(0)
        return f'<a class="cc-marker" href="#cite-{turn}-{number}" title="{number}">[{number}]</a>'

    body = MARKER.sub(link, html.escape(answer.answer, quote=False)).replace("\n", "<br>")
    if answer.mode == "reply":
        return f'<div class="cc-answer cc-reply">{body}</div>'
    if answer.abstained:
        return (
            f'<div class="cc-refusal"><span class="cc-icon">i</span>'
            f'<div><span class="cc-label">{html.escape(text.refusal_label)}</span>{body}</div></div>'
        )
    facts = [f"{html.escape(text.confidence_label)}: {answer.confidence:.0%}"]
    if answer.mode in ("llm", "llm-fallback"):
        facts.append(html.escape(text.by_model if answer.mode == "llm" else text.by_fallback))
    if answer.notice:
        facts.append(html.escape(answer.notice))
    return f'<div class="cc-answer">{body}<div class="cc-meta">{" · ".join(facts)}</div></div>'


def render_partial(shown: str, status: str = "") -> str:
    """Return answer text still being produced, with a blinking cursor (and what is going on, before any text)."""
    note = f'<span class="cc-status">{html.escape(status)}</span>' if status and not shown else ""
    return f'<div class="cc-answer">{note}{html.escape(shown, quote=False)}<span class="cc-cursor">▍</span></div>'


def render_error(message: str) -> str:
    """Return a problem notice for the chat."""
    return f'<div class="cc-error"><span class="cc-icon">!</span><div>{html.escape(message)}</div></div>'


def mark_highlights(citation: Citation) -> str:
    """Return the passage as HTML with the answering sentences wrapped in <mark>."""
    pieces: list[str] = []
    position = 0
    for highlight in sorted(citation.highlights, key=lambda h: h.start):
        start, end = max(highlight.start, position), min(highlight.end, len(citation.text))
        if start >= end:
            continue
        pieces.append(html.escape(citation.text[position:start]))
        pieces.append(f"<mark>{html.escape(citation.text[start:end])}</mark>")
        position = end
    pieces.append(html.escape(citation.text[position:]))
    return "".join(pieces).replace("\n", "<br>")


def render_sources(conversation: Conversation, text: WebText) -> str:
    """Return the sources panel: one section per answer, the latest shown; markers switch sections."""
    sections: list[str] = []
    answered = [(turn, answer) for turn, answer in enumerate(conversation.answers) if answer is not None]
    for turn, answer in answered:
        active = " cc-active" if turn == answered[-1][0] else ""
        parts = [
            f'<section class="cc-turn{active}" id="cc-turn-{turn}">',
            f'<p class="cc-question">{html.escape(text.sources_for)}: «{html.escape(answer.question)}»</p>',
        ]
        if answer.abstained and answer.mode != "reply":
            notice = text.nearest_passages if answer.citations else text.refusal_sources
            parts.append(f'<p class="cc-nearest">{html.escape(notice)}</p>')
        for citation in answer.citations:
            parts.append(render_passage(citation, turn, text))
        sections.append("".join(parts) + "</section>")
    body = "".join(sections) or f'<p class="cc-hint">{html.escape(text.sources_empty)}</p>'
    return f'<div class="cc-sources"><h3>{html.escape(text.sources_title)}</h3>{body}</div>'


def render_passage(citation: Citation, turn: int, text: WebText) -> str:
    """Return one cited passage as an expandable card anchored at #cite-<turn>-<marker>."""
    name = Path(citation.source).name or citation.source
    where = f"{name} · {text.characters} {citation.start}–{citation.end}"
    return (
        f'<details class="cc-passage" id="cite-{turn}-{citation.marker}" open>'
        f'<summary><span class="cc-num">[{citation.marker}]</span>'
        f'<span class="cc-title">{html.escape(citation.title)}</span>'
        f'<span class="cc-where" title="{html.escape(citation.source)}">{html.escape(where)}</span></summary>'
        f'<div class="cc-text">{mark_highlights(citation)}</div></details>'
    )


def render_documents(documents: Sequence[DocumentInfo], text: WebText) -> str:
    """Return the documents table."""
    if not documents:
        return f'<div class="cc-docs"><p>{html.escape(text.documents_empty)}</p></div>'
    rows = "".join(
        f"<tr><td>{html.escape(doc.title)}</td><td class='cc-path'>{html.escape(doc.source)}</td>"
        f"<td class='cc-chunks'>{doc.chunks}</td></tr>"
        for doc in documents
    )
    return (
        f'<div class="cc-docs"><table><thead><tr><th>{html.escape(text.column_title)}</th>'
        f"<th>{html.escape(text.column_source)}</th><th class='cc-chunks'>{html.escape(text.column_chunks)}</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></div>"
    )


def render_report(title: str, reports: Sequence[FileReport], text: WebText) -> str:
    """Return what happened to each file of an upload or deletion."""
    items = "".join(
        f"<li class='cc-{report.status}'>{html.escape(Path(report.path).name)}: "
        f"{html.escape(text.status.get(report.status, report.status))}"
        f"{' — ' + html.escape(report.error) if report.error else ''}</li>"
        for report in reports
    )
    return f'<div class="cc-report"><strong>{html.escape(title)}</strong><ul>{items}</ul></div>'


class WebHandlers:
    """The event handlers of the page, bound to the services; they only adapt, the engine answers."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.text = text_for(services.settings.ui_language)

    def ask(self, question: str, conversation: Conversation) -> Iterator[tuple[Any, ...]]:
        """Stream an answer into the chat; yields (input box, chat, sources panel, conversation)."""
        if not question or not question.strip():
            gr.Warning(self.text.empty_question)
            yield question, gr.skip(), gr.skip(), conversation
            return
        engine = self.services.engine
        events = engine.stream(question, conversation.history(engine.limits.max_history_turns))
        conversation.add("user", html.escape(question.strip()))
        conversation.add("assistant", render_partial("", self.text.searching))
        yield "", conversation.messages, gr.skip(), conversation
        try:
            shown = ""
            answer: Answer | None = None
            for event in events:
                if isinstance(event, AnswerDelta):
                    shown += event.text
                    conversation.messages[-1]["content"] = render_partial(shown)
                    yield gr.skip(), conversation.messages, gr.skip(), conversation
                elif isinstance(event, AnswerProgress) and event.stage == "writing":
                    conversation.messages[-1]["content"] = render_partial("", self.text.writing)
                    yield gr.skip(), conversation.messages, gr.skip(), conversation
                elif isinstance(event, AnswerDone):
                    answer = self.services.sources.answer(event.answer)
            if answer is None:
                raise RuntimeError("the engine ended without a final answer")
        except UserInputError as error:
            del conversation.messages[-2:], conversation.answers[-2:]
            gr.Warning(f"{self.text.bad_input}: {error}")
            yield question, conversation.messages, gr.skip(), conversation
            return
        except Exception as error:  # a person sees a notice, the log keeps the traceback
            log.exception("web chat: answering %r failed", question)
            message = str(error) if isinstance(error, CitechatError) else self.text.internal_error
            conversation.messages[-1]["content"] = render_error(message)
            yield gr.skip(), conversation.messages, gr.skip(), conversation
            return
        turn = len(conversation.messages) - 1
        conversation.messages[-1]["content"] = render_answer(answer, turn, self.text)
        conversation.answers[-1] = answer
        yield gr.skip(), conversation.messages, render_sources(conversation, self.text), conversation

    def ask_example(self, conversation: Conversation, selection: gr.SelectData) -> Iterator[tuple[Any, ...]]:
        """Ask the example question the person clicked."""
        value = selection.value
        question = value.get("text", "") if isinstance(value, dict) else str(value)
        yield from self.ask(question, conversation)

    def new_chat(self) -> tuple[Any, ...]:
        """Return an empty input, chat, sources panel and conversation."""
        conversation = Conversation()
        return "", conversation.messages, render_sources(conversation, self.text), conversation

    def rate(self, conversation: Conversation, like: gr.LikeData) -> None:
        """Store a thumbs up/down for the rated answer in the feedback log."""
        index = like.index[0] if isinstance(like.index, (list, tuple)) else like.index
        answer = conversation.answers[index] if 0 <= index < len(conversation.answers) else None
        rating = {True: "up", "Like": "up", False: "down", "Dislike": "down"}.get(like.liked)
        if answer is None or rating is None:
            return
        self.services.feedback.append(
            Feedback(
                question=answer.question,
                answer=answer.answer,
                rating=rating,  # type: ignore[arg-type]
                citations=answer.citations,
                channel="web",
            )
        )
        gr.Info(self.text.thanks_up if rating == "up" else self.text.thanks_down, duration=3)

    def documents(self) -> tuple[str, Any]:
        """Return the documents table and the choices of the delete box."""
        documents = self.services.sources.documents(self.services.engine.documents())
        choices = [(f"{doc.title} — {Path(doc.source).name}", doc.source) for doc in documents]
        return render_documents(documents, self.text), gr.update(choices=choices, value=[])

    def upload(self, files: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
        """Ingest uploaded files; returns (report, file box, documents table, delete box)."""
        if not files:
            gr.Warning(self.text.upload_nothing)
            return (gr.skip(), gr.skip(), *self.documents())

        def show_progress(number: int, total: int, report: FileReport) -> None:
            progress((number, total), desc=f"{self.text.upload_progress}: {Path(report.path).name}")

        progress((0, len(files)), desc=self.text.upload_progress)
        # Gradio's temp copies are cleaned up; the shared upload path validates each and stores it for good.
        incoming = [IncomingFile(Path(name).name, Path(name)) for name in files]
        try:
            uploaded = self.services.add_uploads(incoming, show_progress)
        except StoreError as error:
            gr.Warning(str(error))
            return (gr.skip(), gr.skip(), gr.skip(), gr.skip())
        return (render_report(self.text.upload_done, uploaded.report.files, self.text), None, *self.documents())

    def delete(self, sources: list[str] | None) -> tuple[Any, ...]:
        """Remove the chosen documents; returns (report, documents table, delete box)."""
        if not sources:
            gr.Warning(self.text.delete_nothing)
            return (gr.skip(), *self.documents())
        stored = [doc.source for doc in self.services.engine.documents()]
        found, unknown = self.services.sources.resolve(sources, stored)
        report = self.services.remove(found)
        report.files += [FileReport(name, "failed", error=self.text.status["failed"]) for name in unknown]
        return (render_report(self.text.delete_done, report.files, self.text), *self.documents())


def build_web_ui(services: Services) -> gr.Blocks:
    """Return the web chat page (chat with cited sources, documents tab) bound to `services`."""
    handlers = WebHandlers(services)
    text = handlers.text
    with gr.Blocks(title="citechat", analytics_enabled=False) as page:
        conversation = gr.State(Conversation())
        gr.HTML(
            f"<h1>citechat</h1><p>{html.escape(text.subtitle)}</p>",
            elem_id="cc-header",
            head=STYLE,
            js_on_load=MARKER_SCRIPT,
        )
        with gr.Tabs():
            with gr.Tab(text.chat_tab, id="chat"):
                build_chat_tab(handlers, conversation)
            with gr.Tab(text.documents_tab, id="documents") as documents_tab:
                table, choices = build_documents_tab(handlers)
        documents_tab.select(
            handlers.documents, outputs=[table, choices], show_progress="hidden", api_visibility=PAGE_ONLY
        )
        page.load(handlers.documents, outputs=[table, choices], show_progress="hidden", api_visibility=PAGE_ONLY)
    return page


def build_chat_tab(handlers: WebHandlers, conversation: gr.State) -> None:
    """Lay out the chat, its input row and the sources panel, and wire their events."""
    text = handlers.text
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=360):
            chat = gr.Chatbot(
                label=text.chat_label,
                show_label=False,
                elem_id="cc-chat",
                height=560,
                layout="bubble",
                placeholder=text.placeholder,
                examples=[{"text": example} for example in text.examples],
                buttons=["copy_all"],
                feedback_options=("Like", "Dislike"),
                latex_delimiters=[],
            )
            with gr.Row(equal_height=True):
                question = gr.Textbox(
                    placeholder=text.input_placeholder,
                    show_label=False,
                    lines=1,
                    max_lines=6,
                    scale=6,
                    elem_id="cc-question",
                    container=False,
                    autofocus=True,
                )
                send = gr.Button(text.send, variant="primary", scale=1, min_width=120, elem_id="cc-send")
                new = gr.Button(text.new_chat, variant="secondary", scale=1, min_width=140, elem_id="cc-new")
        with gr.Column(scale=2, min_width=320):
            sources = gr.HTML(
                render_sources(Conversation(), text),
                elem_id="cc-sources",
                js_on_load=None,
                max_height=690,
                padding=True,
                container=True,
            )
    chat_outputs = [question, chat, sources, conversation]
    gr.on(
        [question.submit, send.click],
        handlers.ask,
        inputs=[question, conversation],
        outputs=chat_outputs,
        concurrency_limit=CHAT_EVENT_LIMIT,
        show_progress="hidden",
        api_visibility=PAGE_ONLY,
    )
    chat.example_select(
        handlers.ask_example,
        inputs=[conversation],
        outputs=chat_outputs,
        concurrency_limit=CHAT_EVENT_LIMIT,
        show_progress="hidden",
        api_visibility=PAGE_ONLY,
    )
    new.click(handlers.new_chat, outputs=chat_outputs, show_progress="hidden", api_visibility=PAGE_ONLY)
    chat.clear(handlers.new_chat, outputs=chat_outputs, show_progress="hidden", api_visibility=PAGE_ONLY)
    chat.like(handlers.rate, inputs=[conversation], concurrency_limit=CHAT_EVENT_LIMIT, api_visibility=PAGE_ONLY)


def build_documents_tab(handlers: WebHandlers) -> tuple[gr.HTML, gr.Dropdown]:
    """Lay out the documents table, upload and delete controls; return the table and the delete box."""
    text = handlers.text
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            gr.Markdown(f"### {text.documents_title}")
            table = gr.HTML(render_documents([], text), elem_id="cc-documents", js_on_load=None)
        with gr.Column(scale=2, min_width=320):
            files = gr.File(
                label=text.upload_label,
                file_count="multiple",
                file_types=sorted(ACCEPTED_SUFFIXES),
                elem_id="cc-upload",
            )
            upload = gr.Button(text.upload_button, variant="primary", elem_id="cc-upload-button")
            choices = gr.Dropdown(label=text.delete_label, multiselect=True, choices=[], elem_id="cc-delete-choice")
            delete = gr.Button(text.delete_button, variant="stop", elem_id="cc-delete-button")
            report = gr.HTML("", elem_id="cc-report", js_on_load=None)
    upload.click(
        handlers.upload,
        inputs=[files],
        outputs=[report, files, table, choices],
        concurrency_limit=1,
        api_visibility=PAGE_ONLY,
    )
    delete.click(
        handlers.delete,
        inputs=[choices],
        outputs=[report, table, choices],
        concurrency_limit=1,
        api_visibility=PAGE_ONLY,
    )
    return table, choices
