"""Cross-cutting privacy: the master key and key vault, pseudonyms, IP truncation, aggregates' floors,
retention, erasure and export for a person, client purge, the scan that proves nothing is left, the audit of each.

``privacy`` imports only ``core``; the rooms above register their part of forgetting (``privacy.stores``) and of
handing data over (``privacy.export``) through entry points, so privacy orchestrates them without importing them.
"""
