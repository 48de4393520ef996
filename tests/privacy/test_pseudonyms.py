from __future__ import annotations

from privacy.pseudonyms import IdentifierKind, pseudonymize


def test_pseudonym_is_keyed_normalized_and_kind_separated() -> None:
    key_a, key_b = b"a" * 32, b"b" * 32
    p = pseudonymize(key_a, IdentifierKind.EMAIL, "Ann@Example.com ")
    assert p == pseudonymize(key_a, IdentifierKind.EMAIL, "ann@example.com")
    assert len(p) == 64 and "ann" not in p
    assert p != pseudonymize(key_b, IdentifierKind.EMAIL, "ann@example.com"), "another client's key differs"
    assert pseudonymize(key_a, IdentifierKind.MEMBER, "ann@example.com") != p
    assert pseudonymize(key_a, IdentifierKind.MEMBER, "M001") != pseudonymize(key_a, IdentifierKind.MEMBER, "m001")
