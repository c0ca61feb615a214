"""ID numbers nobody in a test database has, for the test worlds that make households of their own."""

from __future__ import annotations

import itertools
import secrets
from datetime import date, timedelta

from app.core.idcard import make_id_number

# From a random point, then one after another: numbers drawn at random collided once in a CI run (two households
# of one test world with the same number); consecutive ones do not repeat within a run of up to 3,000,000.
_FRESH = itertools.count(secrets.randbelow(3_000_000))


def fresh_id_number(county: str, first: date) -> str:
    """A number not handed out before in this run: born on a day of the ten years from ``first``."""
    n = next(_FRESH) % 3_000_000
    return make_id_number(county, first + timedelta(days=n % 3650), (n // 3650) % 900 + 1)
