"""Retrieval: embedding, stores, search modes and evaluation."""
