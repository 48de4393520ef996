"""docs/settings.md lists every XMO_* variable the code reads, none that it does not, with the code's defaults."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from core.settings import ENV_FILE_VARIABLE, Settings

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "privacy", "tracking", "features", "models", "training", "strategy", "serving", "xmo")
_NAME = re.compile(r"\bXMO_[A-Z][A-Z0-9_]*\b")
# an environment read outside the packages: os.environ.get("XMO_…"), os.environ["XMO_…"], os.getenv("XMO_…")
_ENV_READ = re.compile(r"""(?:environ\.get\(|environ\[|getenv\()\s*\\?["'](XMO_[A-Z0-9_]+)""")
_ROW = re.compile(r"^\| `(XMO_[A-Z0-9_]+)` \| ([^|]*) \|", re.MULTILINE)


def _documented() -> dict[str, str]:
    text = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    rows = _ROW.findall(text)
    names = [name for name, _ in rows]
    assert len(names) == len(set(names)), "a variable has two rows"
    return {name: default.strip() for name, default in rows}


def _in_code() -> set[str]:
    """Every XMO_* name in the package sources, the settings' fields, and the environment reads of the notebooks
    and tests."""
    names = {f"XMO_{field.upper()}" for field in Settings.model_fields} | {ENV_FILE_VARIABLE}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*"):
            if path.suffix in {".py", ".html", ".js"} and "migrations" not in path.parts:
                names |= set(_NAME.findall(path.read_text(encoding="utf-8")))
    for folder, pattern in (("notebooks", "*.ipynb"), ("tests", "*.py")):
        for path in (REPO / folder).rglob(pattern):
            names |= set(_ENV_READ.findall(path.read_text(encoding="utf-8")))
    return names


def _shown(default: Any) -> str:
    """A default as the table writes it."""
    if default is None or default == ():
        return "unset"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, float) and default.is_integer():
        return f"`{int(default)}`"
    if isinstance(default, tuple):
        return f"`{', '.join(default)}`"
    return f"`{default}`"


def test_every_variable_the_code_reads_has_a_row() -> None:
    missing = sorted(_in_code() - set(_documented()))
    assert not missing, f"add these to docs/settings.md: {missing}"


def test_every_row_names_a_variable_the_code_reads() -> None:
    stale = sorted(set(_documented()) - _in_code())
    assert not stale, f"docs/settings.md names variables nothing reads: {stale}"


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_defaults_in_the_table_are_the_code_defaults(field: str) -> None:
    default = Settings.model_fields[field].default
    assert _documented()[f"XMO_{field.upper()}"] == _shown(default)


def test_readme_links_the_reference() -> None:
    assert "(docs/settings.md)" in (REPO / "README.md").read_text(encoding="utf-8")
