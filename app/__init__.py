"""FastAPI service and command line."""
