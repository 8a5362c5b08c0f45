"""Names of the payload fields every store adapter writes and filters on."""

from __future__ import annotations

DOCUMENT_ID = "document_id"
CHUNK_ID = "chunk_id"
KIND = "kind"
TAGS = "tags"
SOURCE = "source"
TITLE = "title"
TEXT = "text"
CHUNK_INDEX = "chunk_index"
PAGE = "page"
HEADING = "heading"
START = "start"
END = "end"
CONTENT_HASH = "content_hash"
METADATA = "metadata"

#: Payload fields that get a keyword index in every adapter.
KEYWORD_FIELDS: tuple[str, ...] = (DOCUMENT_ID, CHUNK_ID, KIND, TAGS, SOURCE)

#: Named vectors of the collection layout.
DENSE_VECTOR = "dense"
SPARSE_VECTOR = "bm25"
