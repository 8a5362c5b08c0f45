"""Grounded answers: prompt building, generation, citation mapping."""
