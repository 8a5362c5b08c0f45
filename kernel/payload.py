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
#: Content version of the whole document; a reader that sees two versions keeps the newest.
DOC_VERSION = "doc_version"
INGESTED_AT = "ingested_at"
#: On synthetic points (question, summary, keywords): the parent chunk's text, the answer of a
#: question, and "document" for a document-level summary (linked to the first chunk).
PARENT_TEXT = "parent_text"
ANSWER = "answer"
SCOPE = "scope"
#: On chunks: the header (title, organisation, period, section) indexed with the chunk's text.
CONTEXT = "context"

#: Payload fields that get a keyword index in every adapter.
KEYWORD_FIELDS: tuple[str, ...] = (DOCUMENT_ID, CHUNK_ID, KIND, TAGS, SOURCE)

#: Named vectors of the collection layout.
DENSE_VECTOR = "dense"
SPARSE_VECTOR = "bm25"
