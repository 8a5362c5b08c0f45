"""Teacher profiles: how much a teacher's synthetic knowledge may move search results, and what it generates.

A profile belongs to a teacher model and is stored with each collection it synthesized (collection
metadata ``synthetic_profile``). Its numbers are fitted by ``synthrag calibrate`` on a train split
by paired comparison; a teacher whose items do not help gets strengths of 0, and then only what
users see is generated (the document notes), not chunk items that no search would use.
Bundled profiles ship in ``knowledge/profiles/*.json``; a teacher without one gets :func:`default_profile`.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kernel.errors import ConfigError
from kernel.models import PointKind, SearchMode

#: Collection metadata key holding the profile the collection's synthetic knowledge was made under.
METADATA_KEY = "synthetic_profile"

#: Chunk item kinds a teacher can be asked for (the document summary is not a ranking signal).
CHUNK_ITEM_KINDS: tuple[PointKind, ...] = (PointKind.QUESTION, PointKind.SUMMARY, PointKind.KEYWORDS, PointKind.QUERY)


class Calibration(BaseModel):
    """Where a profile's numbers came from: the data and the paired comparison that chose them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(description="Dataset, split and sample the numbers were fitted on.")
    queries: int = Field(ge=0, description="Queries compared.")
    chosen: dict[str, Any] = Field(
        default_factory=dict, description="Per mode and method: delta nDCG@10, its 95% interval, wins/ties/losses."
    )


class TeacherProfile(BaseModel):
    """What a teacher's synthetic knowledge is used for, and how strongly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    teacher: str = Field(description="The teacher's model id (or the part of it a bundled profile matches).")
    rerank_lambda: float = Field(
        default=0.0, ge=0.0, le=50.0, description="Raw places that full item evidence is worth (0 = off)."
    )
    expansion_alpha: float = Field(
        default=0.0, ge=0.0, le=50.0, description="Raw places that full expansion evidence is worth (0 = off)."
    )
    item_kinds: list[PointKind] = Field(
        default_factory=lambda: list(CHUNK_ITEM_KINDS),
        description="Chunk item kinds generated and used as evidence; empty = no chunk items at all.",
    )
    search_modes: list[SearchMode] = Field(
        default_factory=list,
        description="Modes whose searches use the synthetic re-ranking by default (point estimate above 0).",
    )
    calibration: Calibration | None = Field(default=None, description="How the numbers were fitted; None = not.")

    @property
    def uses_items(self) -> bool:
        """Whether some search uses chunk items by default (so they are worth generating)."""
        return bool(self.item_kinds and self.search_modes) and (self.rerank_lambda > 0 or self.expansion_alpha > 0)


def default_profile(teacher: str) -> TeacherProfile:
    """An uncalibrated teacher: every item kind generated, none used until ``synthrag calibrate`` says so."""
    return TeacherProfile(teacher=teacher)


def bundled_profile(teacher: str) -> TeacherProfile | None:
    """The shipped profile whose ``teacher`` occurs in the model id, if any."""
    folder = resources.files("knowledge") / "profiles"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        profile = parse_profile(entry.read_text(encoding="utf-8"), source=f"knowledge/profiles/{entry.name}")
        if profile.teacher in teacher:
            return profile
    return None


def profile_for(teacher: str, *, path: str = "") -> TeacherProfile:
    """The profile a new synthesis with this teacher starts from: the file at ``path``, the bundled one, the default.

    Raises:
        ConfigError: ``path`` is given but is not a readable profile.
    """
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read teacher profile {path}: {exc}") from exc
        return parse_profile(text, source=path)
    return bundled_profile(teacher) or default_profile(teacher)


def parse_profile(text: str, *, source: str) -> TeacherProfile:
    """A profile from its JSON text; ConfigError naming ``source`` when it is not one."""
    try:
        return TeacherProfile.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise ConfigError(f"invalid teacher profile {source}: {exc}") from exc


def stored_profile(metadata: dict[str, Any]) -> TeacherProfile | None:
    """The profile recorded in a collection's metadata (None when none or unreadable)."""
    raw = metadata.get(METADATA_KEY)
    if not isinstance(raw, dict):
        return None
    try:
        return TeacherProfile.model_validate(raw)
    except ValidationError:
        return None
