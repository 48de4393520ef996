"""Everything between an HTTP hit and a row in the lake: edge steps, spool, compaction."""
