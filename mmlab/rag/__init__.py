"""Retrieval-augmented generation (notebook 06): retrieve, rerank, build a grounded prompt, generate."""
