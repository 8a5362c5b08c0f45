"""Chat model adapters (llama.cpp in-process, OpenAI-compatible HTTP), their factory and JSON repair."""
