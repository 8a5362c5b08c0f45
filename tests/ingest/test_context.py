"""Document context: metadata found in a document, headers indexed with its chunks, look-alike documents told apart."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.components import Components
from app.main import create_app
from ingest.context import chunk_header, document_context, indexed_text
from ingest.parse import parse_document
from ingest.pipeline import IngestItem
from kernel.models import Chunk, Document, SearchMode
from retrieval.search import Searcher
from tests.conftest import make_components
from tests.fixtures_docs import make_pdf

BODY = (
    "Good afternoon and thank you for joining us. Product revenue grew {growth}% year over year to {revenue} million. "
    "Remaining performance obligations were {rpo} billion. Net revenue retention was {nrr}%. "
    "We added {customers} customers with trailing twelve-month revenue above one million."
)
# The same opening remarks in every call, long enough that the figures land in a later chunk.
REMARKS = " ".join(
    f"Statement {i}: this call contains forward-looking statements about our business, plans and operations "
    "that are subject to risks and uncertainties described in our filings."
    for i in range(12)
)
QUARTERS = {
    "Q1 2023": {"growth": 84, "revenue": 394, "rpo": "2.6", "nrr": 174, "customers": 31},
    "Q2 2023": {"growth": 83, "revenue": 466, "rpo": "2.7", "nrr": 171, "customers": 40},
    "Q3 2023": {"growth": 67, "revenue": 522, "rpo": "3.0", "nrr": 165, "customers": 41},
}


def _doc(title: str, text: str, heading: str | None = None) -> tuple[Document, Chunk]:
    doc = Document(source="call.pdf", format="pdf", title=title, text=text)
    return doc, Chunk(document_id="d", index=1, text=text[-40:], start=0, end=40, heading=heading, n_tokens=10)


def test_context_reads_period_and_organisation() -> None:
    doc = Document(
        source="Q2 2023 Acme Inc. Earnings Call.pdf",
        format="pdf",
        title="Q2 2023 Acme Inc. Earnings Call",
        text="Corporate Participants\nJane Roe Acme Inc. - CEO\nJohn Doe Acme Inc. - CFO\n" + "words " * 50,
    )
    assert document_context(doc) == {"period": "Q2 2023", "organisation": "Acme"}


def test_header_adds_what_the_chunk_lacks() -> None:
    doc, chunk = _doc("Annual report", "x " * 40 + "the balance sheet", heading="Liquidity")
    header = chunk_header(doc, chunk, {"organisation": "Acme", "period": "FY 2023"})
    assert header == "Annual report | Acme | FY 2023 | Liquidity"
    assert indexed_text(header, chunk.text) == f"{header}\n\n{chunk.text}"
    # Parts the title already holds are not repeated; a first chunk that opens with the title skips it.
    doc2, _ = _doc("Q1 2023 Acme Inc. Earnings Call", "body")
    first = Chunk(document_id="d", index=0, text=doc2.title + " body", start=0, end=10, n_tokens=5)
    assert chunk_header(doc2, first, {"organisation": "Acme", "period": "Q1 2023"}) == ""
    assert indexed_text("", "body") == "body"


def test_long_headers_are_cut_at_a_word() -> None:
    doc, chunk = _doc("word " * 100, "text")
    header = chunk_header(doc, chunk, {})
    assert len(header) <= 200
    assert not header.endswith(" ")


def _ingest_quarters(components: Components, collection: str) -> None:
    items = []
    for quarter, values in QUARTERS.items():
        name = f"{quarter} Acme Inc. Earnings Call.pdf"
        pages = [f"{quarter} Acme Inc. Earnings Call\n\nJane Roe Acme Inc. - CEO\n\n{REMARKS}", BODY.format(**values)]
        items.append(IngestItem(document=parse_document(make_pdf(pages), name), source_key=name))
    # A second company, so that naming one prefers it.
    other = [
        f"Q2 2023 Globex Corp Earnings Call\n\nHank Scorpio Globex Corp - CEO\n\n{REMARKS}",
        BODY.format(**QUARTERS["Q1 2023"]),
    ]
    items.append(IngestItem(document=parse_document(make_pdf(other), "globex-q2.pdf"), source_key="globex-q2.pdf"))
    outcomes = components.ingest.ingestor.ingest(items, collection=collection, synthesize=False)
    assert all(o.status == "indexed" for o in outcomes)


def _top_sources(searcher: Searcher, query: str, collection: str, mode: SearchMode) -> list[str]:
    return [h.source for h in searcher.search(query, collection=collection, k=3, mode=mode).hits]


def test_look_alike_quarters_are_told_apart_in_every_mode(components: Components) -> None:
    _ingest_quarters(components, "calls")
    searcher = components.search.searcher
    for mode in SearchMode:
        top = _top_sources(searcher, "How much did product revenue grow in Q2 fiscal 2023 at Acme?", "calls", mode)
        assert top[0] == "Q2 2023 Acme Inc. Earnings Call.pdf", (mode, top)
    result = searcher.search("net revenue retention in the most recent quarter", collection="calls", k=3)
    assert result.interpretation is not None
    assert result.interpretation.latest and result.interpretation.periods == ["Q3 2023"]
    assert result.hits[0].source.startswith("Q3 2023")
    assert result.hits[0].context is not None and "Q3 2023" in result.hits[0].context
    assert result.hits[0].metadata["period"] == "Q3 2023"
    globex = searcher.search("What did Globex say about revenue?", collection="calls", k=3)
    assert globex.interpretation is not None and globex.interpretation.organisations == ["Globex"]
    assert globex.hits[0].source == "globex-q2.pdf"


def test_preferences_off_report_no_interpretation(tmp_path: Path, embedder: object) -> None:
    from kernel.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", query_preferences=False, context_headers=False)
    components = make_components(settings, embedder)  # type: ignore[arg-type]
    try:
        _ingest_quarters(components, "calls")
        result = components.search.searcher.search("revenue in Q2 2023", collection="calls", k=3)
        assert result.interpretation is None
        assert all(h.context is None for h in result.hits)
        # The metadata is still found (filterable), only not used to prefer.
        assert {h.metadata.get("period") for h in result.hits} <= set(QUARTERS)
    finally:
        components.close()


def test_http_search_shows_interpretation_and_context(components: Components, tmp_path: Path) -> None:
    _ingest_quarters(components, "default")
    app = create_app(components.settings, components=lambda _settings: components)
    with TestClient(app, base_url="http://localhost") as client:
        response = client.post("/v1/search", json={"query": "customers added in Q1 2023", "k": 2})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["interpretation"]["periods"] == ["Q1 2023"]
        assert body["interpretation"]["preferred_hits"] >= 1
        assert body["hits"][0]["source"].startswith("Q1 2023")
        assert "Acme" in body["hits"][0]["context"]
        # An explicit metadata filter on the period wins over the preference.
        filtered = {"query": "customers added in Q1 2023", "filters": {"metadata": {"period": "Q3 2023"}}}
        response = client.post("/v1/search", json=filtered)
        assert response.status_code == 200, response.text
        assert {h["source"] for h in response.json()["hits"]} == {"Q3 2023 Acme Inc. Earnings Call.pdf"}
