"""Tests for evaluation: IR metrics and the BEIR loader."""
