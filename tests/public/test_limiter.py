"""The public lookup's attempt limits (app/public/limiter.py): the same answers from this process's own windows
and from a `limits` storage (what several processes share); windows move and emptied ones are swept."""

from __future__ import annotations

import time

import pytest

from app.public import limiter as limiter_module
from app.public.limiter import LookupLimiter

ID_A, ID_B = b"\x01" * 32, b"\x02" * 32


@pytest.mark.parametrize("shared", [False, True], ids=["in-process", "limits-storage"])
def test_per_client_and_per_number(shared: bool) -> None:
    lim = LookupLimiter("3 per 10 minutes", "2 per hour", shared=shared)
    assert lim.attempt("10.0.0.1", ID_A) is None
    assert lim.attempt("10.0.0.1", ID_A) is None
    refused = lim.attempt("10.0.0.2", ID_A)  # another device, the same number: the number's limit
    assert refused is not None and refused.which == "id_number" and 3590 <= refused.retry_after <= 3600
    assert refused.message == "该身份证号查询次数过多，为保护个人信息，请 60 分钟后再试。"
    assert lim.attempt("10.0.0.1", ID_B) is None  # the client's third
    refused = lim.attempt("10.0.0.1", ID_B)
    assert refused is not None and refused.which == "client" and 590 <= refused.retry_after <= 600
    assert refused.message == "本设备（网络地址）查询次数过多，为保护个人信息，请 10 分钟后再试。"
    lim.reset()
    assert lim.attempt("10.0.0.1", ID_A) is None


def test_windows_move_and_empty_ones_are_swept(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    monkeypatch.setattr(limiter_module, "SWEEP_EVERY", 4)
    lim = LookupLimiter("2 per minute", "100 per minute")
    assert lim.attempt("c", ID_A) is None
    now[0] += 30
    assert lim.attempt("c", ID_A) is None
    refused = lim.attempt("c", ID_A)
    assert refused is not None and refused.retry_after == 30  # the first attempt leaves the window in 30 s
    now[0] += 30.5
    assert lim.attempt("c", ID_A) is None  # it has left
    windows = lim._local
    assert len(windows) == 2  # the client's and the number's
    now[0] += 3600
    assert lim.attempt("d", ID_B) is None  # the 4th counted attempt sweeps the emptied windows
    assert len(windows) == 2  # only d's and ID_B's are left
