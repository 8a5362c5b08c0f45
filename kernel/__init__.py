"""Shared kernel: settings, domain models, ports and the error hierarchy."""
