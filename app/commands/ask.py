"""``synthrag ask``: a cited answer from the shell."""

from __future__ import annotations

import argparse
import json

from app.components import build_configured
from kernel.settings import Settings
from kernel.tenancy import CollectionName


def run_ask(args: argparse.Namespace, settings: Settings) -> int:
    """Print the answer and its sources (or JSON)."""
    collection = CollectionName(args.collection or settings.collection)
    components = build_configured(settings, answers=True, synthesis=False)
    try:
        svc = components.answer_service()
        answer = svc.generate(svc.plan(args.question, collection=collection), svc.params())
    finally:
        components.close()
    if args.json:
        print(json.dumps(answer.model_dump(mode="json"), indent=2, ensure_ascii=False))
        return 0
    print(answer.answer)
    for citation in answer.citations:
        where = citation.source + (f", page {citation.page}" if citation.page else "")
        quote = " ".join(citation.quote.split())
        print(f'  [{citation.number}] {where}: "{quote[:200]}"')
    return 0
