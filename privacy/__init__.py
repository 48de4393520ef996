"""Cross-cutting privacy: key vault, pseudonyms, IP truncation (and, later, erasure and purge).

``privacy`` imports only ``core``; the rooms above register their part of forgetting with it.
"""
