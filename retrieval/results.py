"""What a search returns: hits, the mode, where the time went, how the query was read."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from kernel.models import Hit, SearchMode
from retrieval.preference import QueryInterpretation


class SearchTimings(BaseModel):
    """Where a search spent its time, in milliseconds."""

    model_config = ConfigDict(extra="forbid")

    embed_ms: float = 0.0
    store_ms: float = 0.0


class SearchResult(BaseModel):
    """Hits plus timings."""

    model_config = ConfigDict(extra="forbid")

    hits: list[Hit]
    mode: SearchMode
    timings: SearchTimings = Field(default_factory=SearchTimings)
    interpretation: QueryInterpretation | None = Field(
        default=None, description="Periods/organisations the query named and that were preferred."
    )
    vectors: dict[str, list[float]] = Field(
        default_factory=dict, exclude=True, description="Dense vectors of the chunk hits by id, when asked for."
    )
