"""Request-time strategy jobs: what a marketer asks, answered from sessions, spend, KPI and models.

Reports, attribution, media mix, budget plans, creative and audience recommendations, industry norms.
Uses ``features`` and ``models``; ``serving`` and ``xmo`` call it; it never imports ``serving`` (what it needs
from a running server, such as a session cache, is passed in).
"""
