"""LLM generation (synthetic knowledge, answers)."""
