"""Experiments a marketer designs, runs and reads with xmo: geo tests, on/off (time) tests and visitor holdouts.

``results`` holds the shapes every design and analysis returns; ``geo``, ``time_test`` and ``holdout`` design
and read each kind; ``service`` starts, stops, lists and analyses stored experiments
(``tracking.experiments``) and hands a finished test to the media-mix model as a lift-test row (``handoff``).
"""
