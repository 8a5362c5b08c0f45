"""Synthesis of documents' knowledge at ingest: generation, the filter's orchestration, synthetic points.

The stage is built by :func:`ingest.synthesis.build.build_synthesis_stage`.
"""

from ingest.synthesis.generation import ChunkDoneFn
from ingest.synthesis.stage import ChunkSearch, SynthesisStage
from ingest.synthesis.storage import AddLengths, SynthTarget
from kernel.models import SYNTHETIC_KINDS

__all__ = ["SYNTHETIC_KINDS", "AddLengths", "ChunkDoneFn", "ChunkSearch", "SynthTarget", "SynthesisStage"]
