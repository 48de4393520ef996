"""The traffic simulator: a seeded world with ground truth, and the hits it makes.

- ``world``: campaigns, creatives, response curves, organic sources, rates (``build_world``)
- ``traffic``: sessions with their truth, raw hits, daily spend (``simulate``)
- ``hits``: sessions → hits, and hits → the edge's raw-hit DataFrame
- ``truth``: the truth on disk (``write_truth``, ``load_truth``)
- ``runner``: hits through ``Collector.ingest`` into the spool (``simulate_into_spool``)
- ``http``: hits to a running pixel over HTTP (``send_via_http``)
- ``cli``: ``xmo simulate``
"""
