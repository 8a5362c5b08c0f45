"""Documents and jobs: upload (202 + a job per file), list, get, delete, re-ingest, job status, retry."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool

from app.auth import TenantDep
from app.deps import CatalogDep, DocumentsDep, JobsDep, SettingsDep
from app.schemas import DocumentList, DocumentView, JobView, UploadResponse
from ingest.uploads import UploadResult
from kernel.errors import InvalidRequestError, NotFoundError, TooLargeError
from kernel.tenancy import CollectionName
from knowledge.reports import SyntheticReport

router = APIRouter(prefix="/v1", tags=["documents"])

#: Multipart framing allowance on top of the file bytes when judging Content-Length.
_FRAMING = 64 * 1024
_MAX_FILES = 100
#: Largest `offset` of a listing (SQLite integers stop at 2**63 - 1; no listing is this long).
MAX_OFFSET = 1_000_000_000
#: Longest accepted `tags` or `metadata` form field.
_MAX_FIELD_CHARS = 64 * 1024


def _tags(raw: str | None) -> list[str]:
    if not raw:
        return []
    if len(raw) > _MAX_FIELD_CHARS:
        raise InvalidRequestError("tags: at most 50 tags of at most 100 characters")
    try:
        parsed = json.loads(raw) if raw.lstrip().startswith("[") else raw.split(",")
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"tags: not a JSON list ({exc.msg}); send 'a,b' or '[\"a\", \"b\"]'") from exc
    except (ValueError, RecursionError) as exc:  # too deeply nested, or an integer too long to convert
        raise InvalidRequestError("tags: must be a list of strings") from exc
    if not isinstance(parsed, list) or not all(isinstance(t, str) for t in parsed):
        raise InvalidRequestError("tags: must be a list of strings")
    tags = [t.strip() for t in parsed if t.strip()]
    if len(tags) > 50 or any(len(t) > 100 for t in tags):
        raise InvalidRequestError("tags: at most 50 tags of at most 100 characters")
    return tags


def _metadata(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    if len(raw) > _MAX_FIELD_CHARS:
        raise InvalidRequestError("metadata: at most 64 KiB of JSON")
    try:
        parsed = json.loads(raw, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(f"metadata: not valid JSON ({exc.msg})") from exc
    except (ValueError, RecursionError) as exc:  # NaN/Infinity, nesting too deep, an integer too long
        raise InvalidRequestError(f"metadata: not usable JSON ({exc})") from exc
    if not isinstance(parsed, dict):
        raise InvalidRequestError("metadata: must be a JSON object")
    _check_numbers(parsed)
    return parsed


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_numbers(value: Any) -> None:
    # The vector store keeps metadata as payload, which holds only finite 64-bit numbers: anything
    # else would be accepted here and then fail the job in the worker.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidRequestError("metadata: numbers must be finite (a value like 1e400 overflows)")
        elif isinstance(item, int) and not isinstance(item, bool) and not -(2**63) <= item < 2**64:
            raise InvalidRequestError("metadata: integers must fit in 64 bits")


@router.post("/documents", status_code=202, response_model=UploadResponse)
async def upload_documents(
    *,
    request: Request,
    settings: SettingsDep,
    documents: DocumentsDep,
    tenant: TenantDep,
    files: Annotated[list[UploadFile], File(description="One or more files (TXT, Markdown, HTML, PDF, DOCX).")],
    collection: Annotated[str | None, Form()] = None,
    tags: Annotated[str | None, Form(description="Comma-separated or a JSON list.")] = None,
    metadata: Annotated[str | None, Form(description="A JSON object stored with each document.")] = None,
) -> UploadResponse:
    """Validate every file, then queue one job per file; a bad file rejects the whole request."""
    limit = settings.max_upload_bytes
    if len(files) > _MAX_FILES:
        raise InvalidRequestError(f"at most {_MAX_FILES} files per request")
    declared = int(request.headers.get("content-length") or 0)
    if declared > limit * len(files) + _FRAMING:
        raise TooLargeError(f"request of {declared:,} bytes; each file may be at most {limit:,} bytes")
    name = CollectionName(collection) if collection else settings.collection
    tag_list, meta = _tags(tags), _metadata(metadata)
    payloads: list[tuple[str | None, bytes]] = []
    for upload in files:
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise TooLargeError(f"{upload.filename}: larger than the {limit:,}-byte limit")
        payloads.append((upload.filename, data))

    def accept() -> list[UploadResult]:
        return documents.upload_many(tenant=tenant, collection=name, files=payloads, tags=tag_list, metadata=meta)

    return UploadResponse(results=await run_in_threadpool(accept))


@router.get("/documents", response_model=DocumentList)
def list_documents(
    *,
    catalog: CatalogDep,
    tenant: TenantDep,
    collection: str | None = None,
    status: Annotated[str | None, Query(pattern="^(queued|indexing|indexed|failed)$")] = None,
    tag: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> DocumentList:
    """The tenant's documents, newest first, filterable by collection, status and tag."""
    records, total = catalog.list(tenant, collection=collection, status=status, tag=tag, limit=limit, offset=offset)
    views = [DocumentView.from_record(r) for r in records]
    return DocumentList(documents=views, total=total, limit=limit, offset=offset)


@router.get("/documents/{document_id}", response_model=DocumentView)
def get_document(document_id: str, catalog: CatalogDep, jobs: JobsDep, tenant: TenantDep) -> DocumentView:
    """One document with its latest job."""
    record = catalog.get(tenant, document_id)
    job = jobs.latest_for_document(document_id)
    return DocumentView.from_record(record, job=JobView.from_record(job, tenant) if job else None)


@router.delete("/documents/{document_id}")
def delete_document(document_id: str, documents: DocumentsDep, tenant: TenantDep) -> dict[str, Any]:
    """Remove the document, its points and its queued jobs."""
    removed = documents.delete(tenant, document_id)
    return {"deleted": document_id, "points_removed": removed}


@router.post("/documents/{document_id}/reingest", status_code=202, response_model=JobView)
def reingest_document(document_id: str, documents: DocumentsDep, jobs: JobsDep, tenant: TenantDep) -> JobView:
    """Index the document again from its stored original."""
    job_id = documents.reingest(tenant, document_id)
    return JobView.from_record(jobs.get(tenant, job_id), tenant)


@router.get("/jobs/{job_id}", response_model=JobView)
def get_job(job_id: str, jobs: JobsDep, tenant: TenantDep) -> JobView:
    """State, stage, progress and error of a job."""
    return JobView.from_record(jobs.get(tenant, job_id), tenant)


@router.post("/jobs/{job_id}/retry", status_code=202, response_model=JobView)
def retry_job(job_id: str, documents: DocumentsDep, tenant: TenantDep) -> JobView:
    """Queue a failed or cancelled job again (not one of a deleted or since replaced document)."""
    return JobView.from_record(documents.retry(tenant, job_id), tenant)


@router.get("/documents/{document_id}/synthetic", response_model=SyntheticReport)
def get_synthetic(document_id: str, documents: DocumentsDep, jobs: JobsDep, tenant: TenantDep) -> SyntheticReport:
    """The document's synthetic items, kept and dropped (with the reason for each drop), and the counts."""
    report = documents.synthetic(tenant, document_id)
    if report is None:
        job = jobs.latest_for_document(document_id)
        state = f" (its latest job is {job.state}: {job.stage})" if job is not None else ""
        raise NotFoundError(
            f"document {document_id} has no synthetic knowledge{state}: synthesis is off "
            "(SYNTHRAG_SYNTH__ENABLED=false) or has not finished yet"
        )
    return report
