"""Tests for retrieval.eval: IR metrics and the BEIR loader."""
