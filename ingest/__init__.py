"""Ingestion: parse, chunk, embed and store documents."""
