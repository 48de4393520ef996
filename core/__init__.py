"""The ground floor: settings, storage layout, tenant registry and API keys.

Every other room may import ``core``; ``core`` imports no other room.
"""
