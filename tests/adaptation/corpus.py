"""A small collection whose users speak a jargon the base model cannot know, and pairs that teach it.

Each document is about one topic at one site. Queries name the site plainly but the topic only by an
in-house code word that no document contains ("blorvex" for invoices), so BM25 and the base model find
the site's documents and must guess the topic among them; a model adapted on other queries with the
same code words can tell them apart.
"""

from __future__ import annotations

import random

from adaptation.pairs import TrainingQuery
from ingest.pipeline import IngestItem
from kernel.models import Document, Section

TOPICS = {
    "blorvex": "invoices, billing runs and unpaid accounts receivable",
    "quandrel": "shipping, freight carriers and parcel deliveries",
    "mizzurat": "payroll, salaries and employee tax withholding",
    "trendolyn": "network security, firewalls and intrusion alerts",
    "plakkish": "hiring, job interviews and new recruits",
    "vorzagen": "business travel, flights and hotel bookings",
    "kellubri": "data centre cooling, chillers and rack temperatures",
    "snofferat": "marketing campaigns, advertising and brand awareness",
}
SITES = ["Oslo", "Lima", "Perth", "Dakar", "Quito", "Hanoi", "Tulsa", "Riga"]
TEMPLATES = ["{code} {site}", "{site} {code} update", "what is the latest {code} news from {site}"]


def source(code: str, site: str) -> str:
    return f"{code}-{site.lower()}.txt"


def items() -> list[IngestItem]:
    """One document per (topic, site)."""
    out = []
    for code, topic in TOPICS.items():
        for site in SITES:
            text = (
                f"{site} office report. This note covers {topic} at the {site} site. "
                f"The {site} team reviewed {topic} this quarter and recorded the figures."
            )
            document = Document(
                source=source(code, site),
                format="txt",
                title=f"{site} report",
                text=text,
                sections=[Section(start=0, end=len(text))],
            )
            out.append(IngestItem(document=document, source_key=source(code, site)))
    return out


def queries(*, shuffled: bool = False) -> list[TrainingQuery]:
    """Labelled queries (every template, topic and site); ``shuffled`` pairs each with a wrong document."""
    out = [
        TrainingQuery(text=t.format(code=code, site=site), sources=frozenset([source(code, site)]), origin="labelled")
        for code in TOPICS
        for site in SITES
        for t in TEMPLATES
    ]
    if not shuffled:
        return out
    targets = [q.sources for q in out]
    rng = random.Random(7)
    rng.shuffle(targets)
    return [q.model_copy(update={"sources": t}) for q, t in zip(out, targets, strict=True)]
