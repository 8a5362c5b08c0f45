"""Eval orchestrator: index a BEIR corpus once, run every query, score the run."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path

from evaluation.beir import BeirDataset, corpus_fingerprint, load_beir
from evaluation.metrics import EvalReport, evaluate
from evaluation.sample import sample_dataset
from evaluation.synthetic import Collected, collect, documents, top_chunks
from ingest.pipeline import IngestItem, Ingestor, IngestOutcome, StageFn
from kernel.errors import InvalidRequestError
from kernel.ids import sha256_text
from kernel.models import Document, Hit, SearchMode, Section
from kernel.ports import CollectionAdmin
from kernel.tenancy import synthetic_collection
from retrieval.search import Searcher

#: Documents ranked per query; recall@100 needs 100 distinct documents.
RANK_DEPTH = 100
#: Chunks fetched per query so that ``RANK_DEPTH`` distinct documents survive collapsing.
CHUNK_DEPTH = 200


def eval_collection_name(dataset_dir: Path, fingerprint: str, *, sample: str = "") -> str:
    """One collection per dataset content (and sample): a changed corpus gets a fresh index."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", dataset_dir.resolve().name).strip("-") or "dataset"
    return f"eval-{slug[:40]}-{fingerprint[:12]}{sample}"


def prepare_dataset(
    dataset_dir: Path,
    split: str,
    *,
    store: CollectionAdmin,
    ingestor: Ingestor,
    on_progress: Callable[[IngestOutcome], None] | None = None,
    sample_docs: int | None = None,
    seed: int = 0,
    max_relevant_share: float | None = None,
    synthesize: bool = False,
    on_stage: StageFn | None = None,
) -> tuple[BeirDataset, str, bool]:
    """Load a BEIR folder (or a seeded sample of it) and make sure it is indexed: (dataset, collection, indexed now).

    With ``synthesize`` the ingestor's synthesis stage then runs over every document of the
    collection (after all raw chunks are stored, so round-trip filtering sees the whole corpus).
    """
    dataset = load_beir(dataset_dir, split)
    fingerprint = corpus_fingerprint(dataset_dir)
    sample = ""
    if sample_docs is not None:
        dataset = sample_dataset(dataset, sample_docs, seed=seed, max_relevant_share=max_relevant_share)
        sample = f"-s{sample_docs}-{seed}"
        if max_relevant_share is not None:
            # repr: the shortest exact spelling, so distinct shares never share an index; collection
            # names allow only letters, digits, '-' and '_'.
            sample += "-r" + repr(float(max_relevant_share)).replace(".", "_")
    elif max_relevant_share is not None:
        raise InvalidRequestError("--max-relevant-share needs --sample-docs")
    collection = eval_collection_name(dataset_dir, fingerprint, sample=sample)
    indexed = ensure_indexed(
        dataset,
        collection=collection,
        fingerprint=fingerprint + sample,
        store=store,
        ingestor=ingestor,
        on_progress=on_progress,
    )
    if synthesize:
        indexed = (
            ensure_synthesized(
                dataset,
                collection=collection,
                fingerprint=fingerprint + sample,
                store=store,
                ingestor=ingestor,
                on_stage=on_stage,
            )
            or indexed
        )
    return dataset, collection, indexed


def beir_items(dataset: BeirDataset) -> Iterator[IngestItem]:
    """Corpus documents as ingest items; the BEIR id is the document's source."""
    for doc_id, doc in dataset.corpus.items():
        text = f"{doc.title}\n\n{doc.text}".strip() if doc.title else doc.text.strip()
        if not text:
            continue
        document = Document(
            source=doc_id,
            format="txt",
            title=doc.title or doc_id,
            text=text,
            sections=[Section(start=0, end=len(text))],
        )
        yield IngestItem(document=document, source_key=doc_id)


def ensure_indexed(
    dataset: BeirDataset,
    *,
    collection: str,
    fingerprint: str,
    store: CollectionAdmin,
    ingestor: Ingestor,
    on_progress: Callable[[IngestOutcome], None] | None = None,
) -> bool:
    """Index the corpus unless this exact corpus + pipeline is already there; True if work was done."""
    ingestor.prepare(collection)
    key = f"{fingerprint}:{ingestor.config_key}"
    return _once(
        store,
        collection,
        "eval_index",
        key,
        lambda: ingestor.ingest(beir_items(dataset), collection=collection, on_progress=on_progress, synthesize=False),
    )


def ensure_synthesized(
    dataset: BeirDataset,
    *,
    collection: str,
    fingerprint: str,
    store: CollectionAdmin,
    ingestor: Ingestor,
    on_stage: StageFn | None = None,
    only_chunks: Collection[str] | None = None,
) -> bool:
    """Synthesize every document (or only the chunks ``only_chunks``) unless done with this teacher and filter."""
    stage = ingestor.synthesis
    if stage is None:
        raise ValueError("ensure_synthesized needs an ingestor with a synthesis stage")
    key = f"{fingerprint}:{ingestor.config_key}:{stage.key}"
    if only_chunks is not None:
        key += ":top-" + sha256_text("\n".join(sorted(only_chunks)))[:16]
    synthetic = synthetic_collection(collection)

    def build() -> None:
        ingestor.ingest(
            beir_items(dataset), collection=collection, on_stage=on_stage, synthesize=True, only_chunks=only_chunks
        )
        store.optimize(synthetic)  # the companion's indexes too

    return _once(store, collection, "eval_synthetic", key, build)


def _once(store: CollectionAdmin, collection: str, marker: str, key: str, build: Callable[[], object]) -> bool:
    """Run ``build`` unless the collection's ``marker`` metadata already equals ``key``; True if it ran."""
    if store.get_metadata(collection).get(marker) == key:
        return False
    build()
    # Build the HNSW / sparse indexes once after the bulk load, off the query path.
    store.optimize(collection)
    store.set_metadata(collection, {**store.get_metadata(collection), marker: key})
    return True


def collapse(hits: Sequence[Hit], depth: int = RANK_DEPTH) -> list[str]:
    """The hits' documents (BEIR ids: the source), each at its first place, ``depth`` at most."""
    return documents(hits)[:depth]


def run_queries(
    dataset: BeirDataset, searcher: Searcher, *, collection: str, mode: SearchMode, synthetic: bool = False
) -> dict[str, list[str]]:
    """Rank corpus ids for every judged query (chunk hits collapsed to their document).

    ``synthetic`` searches synthetic items too (fused with chunks); otherwise chunks only.
    """
    run: dict[str, list[str]] = {}
    for query_id, text in dataset.queries.items():
        hits = searcher.search(text, collection=collection, k=CHUNK_DEPTH, mode=mode, synthetic=synthetic).hits
        run[query_id] = collapse(hits)
    return run


def score(dataset: BeirDataset, run: dict[str, list[str]]) -> EvalReport:
    """nDCG@10, recall@10/100 and MRR@10 of a run."""
    return evaluate(run, dataset.qrels)


def prepare_synthetic(
    dataset: BeirDataset,
    *,
    collection: str,
    store: CollectionAdmin,
    ingestor: Ingestor,
    searcher: Searcher,
    modes: Sequence[SearchMode],
    k: int,
    depth: int,
    top_n: int | None = None,
    fetch: int = 0,
    on_stage: StageFn | None = None,
) -> list[Collected]:
    """Synthesize an indexed eval collection (once), then collect every mode's candidates and evidence.

    With ``top_n`` only the chunks in the raw top ``top_n`` of some evaluated query in some mode are
    synthesized: re-ranking reads evidence of the raw top ``depth`` only, so with ``top_n >= depth``
    the result is exactly that of synthesizing everything, at a fraction of the teacher's time.
    """
    only: set[str] | None = None
    if top_n is not None:
        before = [collect(dataset, searcher, collection=collection, mode=mode, k=k, depth=depth) for mode in modes]
        only = top_chunks(before, top_n)
    ensure_synthesized(
        dataset,
        collection=collection,
        fingerprint=collection,
        store=store,
        ingestor=ingestor,
        on_stage=on_stage,
        only_chunks=only,
    )
    return [
        collect(dataset, searcher, collection=collection, mode=mode, k=k, depth=depth, fetch=fetch) for mode in modes
    ]
