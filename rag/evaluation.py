"""Gold-set evaluation through the engine's own code path, with the metrics of shared/eval/README.md."""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

from pydantic import BaseModel, Field, ValidationError

from rag.engine import Engine
from rag.errors import UserInputError
from rag.models import Answer, AnswerMode, Turn


class GoldCase(BaseModel):
    """One gold question."""

    id: str
    question: str
    history: list[Turn] = Field(default_factory=list)
    type: str = ""
    must_include: list[list[str]] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    must_abstain: bool = False


def load_gold(path: Path) -> list[GoldCase]:
    """Read a gold JSONL file; raise UserInputError naming the bad line."""
    cases = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UserInputError(f"cannot read gold file {path}: {error}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            cases.append(GoldCase.model_validate_json(line))
        except ValidationError as error:
            raise UserInputError(f"{path}:{number}: not a gold case ({error.errors()[0]['msg']})") from None
    return cases


def normalize_for_scoring(text: str) -> str:
    """Normalize as the gold scorer does: lower case, ё→е, unified dashes, folded white space."""
    text = (text or "").lower().replace("ё", "е").replace("\u00a0", " ")
    text = re.sub(r"[–—]", "-", text)
    return " ".join(text.split())


def contains_at_word_start(text: str, alternative: str) -> bool:
    """Tell whether `alternative` occurs in normalized `text` starting at a word boundary."""
    return re.search(r"(?<!\w)" + re.escape(normalize_for_scoring(alternative)), text) is not None


@dataclass
class CaseResult:
    """The outcome of one gold case."""

    case: GoldCase
    answer: Answer
    retrieved_texts: list[str]
    ok: bool = False
    facts: bool = False
    cited: bool = False
    cited_top1: bool = False
    evidence_rank: int | None = None
    flags: dict[str, bool] = field(default_factory=dict)


def score_case(case: GoldCase, answer: Answer, retrieved_texts: Sequence[str]) -> CaseResult:
    """Score one answer with the shared definitions."""
    result = CaseResult(case, answer, list(retrieved_texts))
    if case.must_abstain:
        result.ok = answer.abstained
        return result
    text = normalize_for_scoring(answer.answer)
    citations = [normalize_for_scoring(citation.text) for citation in answer.citations]
    evidence = [normalize_for_scoring(item) for item in case.evidence]
    result.facts = all(any(contains_at_word_start(text, alt) for alt in group) for group in case.must_include)
    result.cited = any(any(item in citation for item in evidence) for citation in citations)
    result.cited_top1 = bool(citations) and any(item in citations[0] for item in evidence)
    result.ok = result.facts and result.cited and not answer.abstained
    for rank, passage in enumerate(retrieved_texts, start=1):
        if any(item in normalize_for_scoring(passage) for item in evidence):
            result.evidence_rank = rank
            break
    return result


def run_gold(engine: Engine, cases: Iterable[GoldCase]) -> list[CaseResult]:
    """Answer every case through the engine and score it."""
    results = []
    for case in cases:
        answer = engine.ask(case.question, case.history)
        # The question as the engine searched it (an LLM may have condensed a follow-up).
        retrieved = [passage.text for passage in engine.retriever.search(answer.standalone_question).passages]
        results.append(score_case(case, answer, retrieved))
    return results


def _share(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 3) if flags else float("nan")


def summarize(results: Sequence[CaseResult]) -> dict[str, float]:
    """Return the aggregate metrics of a set of results."""
    answerable = [r for r in results if not r.case.must_abstain]
    unanswerable = [r for r in results if r.case.must_abstain]
    ranks = [r.evidence_rank for r in answerable]
    return {
        "n": len(results),
        "answer_facts": _share([r.facts for r in answerable]),
        "evidence_cited": _share([r.cited for r in answerable]),
        "evidence_top1": _share([r.cited_top1 for r in answerable]),
        "abstain_ok": _share([r.answer.abstained for r in unanswerable]),
        "false_abstain": _share([r.answer.abstained for r in answerable]),
        "overall_ok": _share([r.ok for r in results]),
        "mean_answer_chars": round(
            sum(len(normalize_for_scoring(r.answer.answer)) for r in answerable) / max(1, len(answerable))
        ),
        "hit@1": _share([rank == 1 for rank in ranks]),
        "hit@k": _share([rank is not None for rank in ranks]),
        "mrr": round(sum(1.0 / rank for rank in ranks if rank) / len(ranks), 3) if ranks else float("nan"),
    }


COLUMNS = [
    ("n", "n"),
    ("answer_facts", "facts"),
    ("evidence_cited", "cited"),
    ("evidence_top1", "top1"),
    ("abstain_ok", "refused ok"),
    ("false_abstain", "false refusals"),
    ("overall_ok", "overall"),
    ("mean_answer_chars", "mean chars"),
    ("hit@1", "hit@1"),
    ("hit@k", "hit@k"),
    ("mrr", "MRR"),
]


def format_table(results: Sequence[CaseResult]) -> str:
    """Return a markdown table of the metrics per question type and overall."""
    groups: dict[str, list[CaseResult]] = {}
    for result in results:
        groups.setdefault(result.case.type or "untyped", []).append(result)
    rows = [("all", summarize(results))] + [(name, summarize(group)) for name, group in sorted(groups.items())]
    header = "| type | " + " | ".join(label for _, label in COLUMNS) + " |"
    lines = [header, "|" + "---|" * (len(COLUMNS) + 1)]
    for name, metrics in rows:
        cells = []
        for key, _ in COLUMNS:
            value = metrics[key]
            cells.append("–" if value != value else (f"{value:g}" if isinstance(value, float) else str(value)))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def summarize_modes(results: Sequence[CaseResult]) -> dict[str, float]:
    """Return who answered (share per mode), the share of model sentences dropped, and answer latency."""
    modes = [r.answer.mode for r in results]
    dropped = sum(r.answer.dropped_sentences for r in results)
    written = dropped + sum(len(r.answer.sentence_support) for r in results)
    totals = sorted(r.answer.timings_ms.total for r in results)
    summary = {f"mode {mode}": _share([m == mode for m in modes]) for mode in get_args(AnswerMode)}
    summary["dropped sentences"] = round(dropped / written, 3) if written else 0.0
    summary["p50 ms"] = round(statistics.median(totals)) if totals else 0.0
    summary["p95 ms"] = round(totals[min(len(totals) - 1, int(0.95 * len(totals)))]) if totals else 0.0
    return summary


def format_modes(results: Sequence[CaseResult]) -> str:
    """Return one line saying who answered, how many model sentences were dropped, and latency."""
    return " | ".join(f"{name} {value:g}" for name, value in summarize_modes(results).items())


def failures_as_json(results: Sequence[CaseResult]) -> list[str]:
    """Return one JSON line per failed case, for reading what went wrong."""
    return [
        json.dumps(
            {
                "id": r.case.id,
                "question": r.case.question,
                "abstained": r.answer.abstained,
                "facts": r.facts,
                "cited": r.cited,
                "mode": r.answer.mode,
                "fallback_reason": r.answer.fallback_reason,
                "answer": r.answer.answer,
            },
            ensure_ascii=False,
        )
        for r in results
        if not r.ok
    ]
