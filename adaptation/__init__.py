"""Embedder adaptation: fine-tune the bundled model on a collection's pairs, gate it, re-embed, switch."""
