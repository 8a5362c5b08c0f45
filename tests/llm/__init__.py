"""Tests of the chat model adapters."""
