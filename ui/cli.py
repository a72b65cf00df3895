"""`citechat`: ask, chat, ingest, eval, serve and slack from the command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import TypeAdapter, ValidationError

from rag.config import Settings, load_settings
from rag.embeddings import limit_embedder_threads
from rag.errors import CitechatError, UserInputError
from rag.models import Answer, AnswerDelta, AnswerDone, Turn
from ui.logs import choose_level, configure_logging, level_of_flag

if TYPE_CHECKING:
    from ingest.pipeline import IngestReport
    from ui.progress import ProgressPrinter
    from ui.writer_lock import WriterRecord

HISTORY = TypeAdapter(list[Turn])
# Commands that run until stopped log what they do by default.
LONG_RUNNING = frozenset({"serve", "slack"})


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(data_dir=getattr(args, "data_dir", None), top_k=getattr(args, "top_k", None))


def _engine(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from ui.runtime import open_engine

    return open_engine(_settings(args))


def read_history(path: Path) -> list[Turn]:
    """Read a JSON list of {"role", "content"} turns; raise UserInputError when it is malformed."""
    try:
        return HISTORY.validate_json(path.read_bytes())
    except OSError as error:
        raise UserInputError(f"cannot read history file {path}: {error.strerror}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise UserInputError(
            f'history file {path} is not a JSON list of {{"role": "user"|"assistant", "content": str}} '
            f"({where}: {first['msg']})"
        ) from None


def render_answer(answer: Answer, color: bool) -> str:
    """Return the answer and its cited passages, answering sentences marked, for a terminal."""
    lines = [answer.answer]
    if answer.citations:
        lines.append("")
        lines.append("Источники / Sources:" if not answer.abstained else "")
    for citation in answer.citations:
        marked = citation.text
        for highlight in sorted(citation.highlights, key=lambda h: -h.start):
            opener, closer = ("\033[1;4m", "\033[0m") if color else ("»", "«")
            marked = (
                marked[: highlight.start]
                + opener
                + marked[highlight.start : highlight.end]
                + closer
                + marked[highlight.end :]
            )
        lines.append(
            f"[{citation.marker}] {citation.title} — {citation.source} (chars {citation.start}–{citation.end})"
        )
        lines.append("    " + marked.replace("\n", "\n    "))
    return "\n".join(lines)


def command_ask(args: argparse.Namespace) -> int:
    """Answer one question, or a batch file of them."""
    if args.batch:
        return _ask_batch(args)
    if args.question is None:
        raise UserInputError('give a question, e.g. citechat ask "Где прошёл диалог?", or --batch FILE.jsonl')
    from rag.engine import Limits, validate_question
    from ui.runtime import open_engine

    history = read_history(args.history) if args.history else []
    settings = _settings(args)
    # Reject bad input before the engine loads models or seeds an empty store.
    limits = Limits(max_question_chars=settings.max_question_chars, max_history_turns=settings.max_history_turns)
    validate_question(args.question, history, limits)
    answer = open_engine(settings).ask(args.question, history)
    if args.json:
        print(answer.model_dump_json())
    else:
        print(render_answer(answer, color=sys.stdout.isatty()))
    return 0


def _ask_batch(args: argparse.Namespace) -> int:
    try:
        lines = args.batch.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UserInputError(f"cannot read batch file {args.batch}: {error}") from None
    engine = _engine(args)
    status = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        identifier: object = None
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or "question" not in item:
                raise UserInputError('each line must be an object with "question"')
            identifier = item.get("id", number)
            history = HISTORY.validate_python(item.get("history") or [])
            answer = engine.ask(item["question"], history)
            record = {"id": identifier, **answer.model_dump()}
        except (json.JSONDecodeError, ValidationError, UserInputError) as error:
            status = 2
            message = str(error).splitlines()[0]
            print(f"citechat: {args.batch}:{number}: {message}", file=sys.stderr)
            record = {"id": identifier, "error": {"code": "bad_input", "message": message}}
        if args.json:
            print(json.dumps(record, ensure_ascii=False), flush=True)
        else:
            print(f"# {identifier}\n{record.get('answer', record.get('error'))}\n", flush=True)
    return status


def command_chat(args: argparse.Namespace) -> int:
    """Hold a terminal conversation; follow-up questions use the earlier turns."""
    engine = _engine(args)
    history: list[Turn] = []
    print("citechat — ask about the documents. Empty line or Ctrl-D quits; /new starts over.", file=sys.stderr)
    while True:
        try:
            question = input("\n? ").strip()
        except EOFError:
            return 0
        if not question:
            return 0
        if question == "/new":
            history.clear()
            continue
        try:
            answer = None
            for event in engine.stream(question, history[-engine.limits.max_history_turns :]):
                if isinstance(event, AnswerDelta):
                    print(event.text, end="", flush=True)
                elif isinstance(event, AnswerDone):
                    answer = event.answer
            print()
        except UserInputError as error:
            print(f"citechat: {error}", file=sys.stderr)
            continue
        if answer is not None:
            print("\n" + render_answer(answer, sys.stdout.isatty()).split("\n", 1)[-1].lstrip("\n"))
            history += [Turn(role="user", content=question), Turn(role="assistant", content=answer.answer)]


def command_ingest(args: argparse.Namespace) -> int:
    """Add, update or remove documents (through the running server when one holds the data directory)."""
    from ingest.pipeline import IngestStopped
    from ui.progress import ProgressPrinter

    settings = _settings(args)
    paths = [Path(p) for p in args.paths]
    printer = ProgressPrinter(sys.stderr)
    with _data_dir_writer(settings) as server:
        if server is None:
            try:
                report = _ingest_here(settings, paths, args.remove, printer)
            except IngestStopped as stopped:
                printer.close()
                print(stopped.report.summary())
                raise
            printer.close()
        else:
            from ui.local_ingest import ingest_through_server

            print(
                f"citechat: {server.describe()} holds {settings.data_dir}; sending the files to it, "
                "so it answers from them at once",
                file=sys.stderr,
            )
            token = settings.api_token.get_secret_value() if settings.api_token else None
            report = ingest_through_server(server, paths, args.remove, token, _say)
            for number, item in enumerate(report.files, start=1):
                printer.file_done(number, len(report.files), item)
    for failed in report.failed:
        if id(failed) not in printer.shown:
            print(f"citechat: skipped {failed.error}", file=sys.stderr)
    print(report.summary())
    return 2 if report.failed else 0


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def _data_dir_writer(settings: Settings) -> Iterator[WriterRecord | None]:
    """Yield None while this process holds the store's writer lock, or the record of the server holding it."""
    from ui.writer_lock import ServerHoldsDataDir, WriterRecord, hold_writer_lock

    if settings.chroma_url:  # a Chroma server serializes writers itself
        yield None
        return
    try:
        with hold_writer_lock(settings.data_dir, WriterRecord(kind="ingest", pid=os.getpid()), _say):
            yield None
    except ServerHoldsDataDir as busy:
        yield busy.record


def _ingest_here(settings: Settings, paths: list[Path], remove: bool, printer: ProgressPrinter) -> IngestReport:
    from rag.embeddings import build_embedder
    from rag.engine import open_store
    from ui.runtime import build_ingestor

    embedder = build_embedder(settings)
    store = open_store(settings, embedder)
    if not remove:
        store.ensure_compatible()
    ingestor = build_ingestor(settings, store, embedder)
    return ingestor.remove(paths) if remove else ingestor.ingest(paths, printer.file_done, printer.watch)


def command_reindex(args: argparse.Namespace) -> int:
    """Re-ingest every stored source with the configured embedder (refused while a server uses the store)."""
    from rag.embeddings import build_embedder
    from rag.engine import open_store
    from ui.progress import ProgressPrinter
    from ui.runtime import build_ingestor

    settings = _settings(args)
    with _data_dir_writer(settings) as server:
        if server is not None:
            raise UserInputError(
                f"{server.describe()} is serving {settings.data_dir}; a reindex replaces every vector under it. "
                "Stop the server, run `citechat reindex`, then start the server again"
            )
        embedder = build_embedder(settings)
        printer = ProgressPrinter(sys.stderr)
        try:
            report = build_ingestor(settings, open_store(settings, embedder), embedder).reindex(watch=printer.watch)
        finally:
            printer.close()
    for failed in report.failed:
        print(f"citechat: skipped {failed.error}", file=sys.stderr)
    print(report.summary())
    return 2 if report.failed else 0


def command_eval(args: argparse.Namespace) -> int:
    """Run a gold set through the engine and print the metrics table."""
    from rag.evaluation import failures_as_json, format_modes, format_table, load_gold, run_gold

    cases = load_gold(args.gold)
    if args.docs:
        with tempfile.TemporaryDirectory(prefix="citechat-eval-") as scratch:
            results = run_gold(_corpus_engine(args, Path(scratch)), cases)
    else:
        results = run_gold(_engine(args), cases)
    print(format_table(results))
    print(format_modes(results))
    if args.verbose:
        for line in failures_as_json(results):
            print("FAIL", line)
    return 0


def _corpus_engine(args: argparse.Namespace, scratch: Path):  # type: ignore[no-untyped-def]
    """Ingest `args.docs` into `--data-dir` (kept, so a re-run only re-ingests changes) or a scratch store."""
    from ui.runtime import build_corpus_engine

    settings = _settings(args)
    if args.data_dir is None:
        settings = settings.model_copy(update={"data_dir": scratch})
    return build_corpus_engine(settings, args.docs)


def command_config(args: argparse.Namespace) -> int:
    """Print the effective configuration, secrets masked."""
    for name, value in _settings(args).describe().items():
        print(f"CITECHAT_{name.upper()}={value}")
    return 0


def command_serve(args: argparse.Namespace) -> int:
    """Serve the web chat and HTTP API."""
    from ui.server import serve

    # The flag's level goes into the settings, which worker processes (--workers N) rebuild theirs from.
    settings = load_settings(
        data_dir=args.data_dir,
        host=args.host,
        port=args.port,
        workers=args.workers,
        top_k=args.top_k,
        log_level=level_of_flag(args.verbose),
    )
    return serve(settings, public=args.public)


def command_slack(args: argparse.Namespace) -> int:
    """Run the Slack bot (Socket Mode, or HTTP Events with --http)."""
    from ui.slack_bot import run_slack

    return run_slack(http=args.http, port=args.port)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser; its help text is the command-line documentation."""
    parser = argparse.ArgumentParser(
        prog="citechat",
        description="Answers questions about your documents; every answer cites the passages it comes from.",
    )
    verbosity = argparse.ArgumentParser(add_help=False)
    verbosity.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log what citechat does to stderr (-v info: dropped LLM sentences, fallbacks; -vv debug); "
        "default $CITECHAT_LOG_LEVEL, else warnings (info for serve and slack)",
    )
    common = argparse.ArgumentParser(add_help=False, parents=[verbosity])
    common.add_argument("--data-dir", type=Path, help="data directory (default: $CITECHAT_DATA_DIR or ./data)")
    common.add_argument("--top-k", type=int, help="passages considered per answer (default $CITECHAT_TOP_K, else 6)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ask = commands.add_parser("ask", parents=[common], help="answer one question with citations")
    ask.add_argument("question", nargs="?", help="the question, in Russian or English")
    ask.add_argument("--json", action="store_true", help="print the answer object as JSON")
    ask.add_argument("--history", type=Path, help="JSON file: list of earlier {role, content} turns")
    ask.add_argument("--batch", type=Path, help="JSONL file of {id, question, history?}; one JSON answer a line")
    ask.set_defaults(run=command_ask)

    chat = commands.add_parser("chat", parents=[common], help="terminal conversation with follow-ups")
    chat.set_defaults(run=command_chat)

    ingest = commands.add_parser(
        "ingest", parents=[common], help="add or update files and folders (.txt .md .html .pdf, also .gz)"
    )
    ingest.add_argument("paths", nargs="+", help="files or folders (recursive)")
    ingest.add_argument("--remove", action="store_true", help="delete these documents from the store instead")
    ingest.set_defaults(run=command_ingest)

    reindex = commands.add_parser("reindex", parents=[common], help="rebuild the store with the configured embedder")
    reindex.set_defaults(run=command_reindex)

    evaluate = commands.add_parser(
        "eval",
        parents=[common],
        help="score a gold set (default: the bundled dev set); with -v also print the failed cases",
    )
    evaluate.add_argument("--gold", type=Path, default=Path(__file__).resolve().parents[1] / "tests" / "gold_qa.jsonl")
    evaluate.add_argument(
        "--docs",
        type=Path,
        nargs="+",
        help="files or folders to answer from instead of the store: ingested into a fresh scratch store "
        "(or into --data-dir, kept between runs)",
    )
    evaluate.set_defaults(run=command_eval)

    config = commands.add_parser("config", parents=[common], help="print the effective configuration")
    config.set_defaults(run=command_config)

    serve = commands.add_parser("serve", parents=[common], help="web chat and HTTP API on one port")
    serve.add_argument("--host", help="bind address (default 127.0.0.1; 0.0.0.0 for all interfaces)")
    serve.add_argument("--port", type=int, help="port (default 7860)")
    serve.add_argument("--workers", type=int, help="uvicorn worker processes (default 1)")
    serve.add_argument(
        "--public",
        action="store_true",
        help="serve without any credential on a non-loopback host (refused otherwise; see README, Security)",
    )
    serve.set_defaults(run=command_serve)

    slack = commands.add_parser(
        "slack", parents=[verbosity], help="Slack bot that answers through the citechat HTTP API"
    )
    slack.add_argument("--http", action="store_true", help="serve Slack's Events API instead of Socket Mode")
    slack.add_argument("--port", type=int, default=3000, help="port for --http (default 3000)")
    slack.set_defaults(run=command_slack)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; errors become one line on stderr and an exit code (2 bad input, 1 internal)."""
    args = build_parser().parse_args(argv)
    limit_embedder_threads()
    try:
        default = "INFO" if args.command in LONG_RUNNING else "WARNING"
        configure_logging(choose_level(args.verbose, load_settings().log_level, default))
        return int(args.run(args))
    except CitechatError as error:
        print(f"citechat: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # the last line of defence: never a bare traceback for a user
        if os.environ.get("CITECHAT_DEBUG"):
            traceback.print_exc()
        print(
            f"citechat: internal error: {type(error).__name__}: {error} (set CITECHAT_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
