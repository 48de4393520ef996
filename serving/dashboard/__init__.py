"""The marketer dashboard: sign-in with the API key, a session cookie, and pages drawn by one small script.

Kept free of imports so that ``serving.deps`` can use :mod:`serving.dashboard.sign_in` without a cycle.
"""
