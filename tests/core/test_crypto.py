"""Sealing and keyed lookup hashes of sensitive values."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from app.core.crypto import FieldCipher

CIPHER = FieldCipher("test-secret-for-crypto", "account")


@given(st.text(max_size=40))
def test_the_bulk_hasher_gives_the_bytes_of_hmac_sha256(value: str) -> None:
    hasher = CIPHER.lookup_hasher()
    assert hasher(value) == CIPHER.lookup_hash(value)
    assert hasher(value) == hmac.new(CIPHER._mac_key, value.encode(), hashlib.sha256).digest()


def test_encrypt_and_decrypt_round_trip() -> None:
    sealed = CIPHER.encrypt("6221880000000000017")
    assert b"6221880000000000017" not in sealed
    assert CIPHER.decrypt(sealed) == "6221880000000000017"
    assert CIPHER.encrypt("6221880000000000017") != sealed  # a fresh nonce every time
