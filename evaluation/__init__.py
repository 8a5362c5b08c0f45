"""Offline retrieval evaluation: BEIR-format datasets and standard IR metrics."""
