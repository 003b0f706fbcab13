"""No key-guessing oracle in time: on a live server, reports with a program's referral key and
with an unknown one, sent alternately, take as long as each other. Judged by how often one
kind outlasts the other (the probability behind the Mann-Whitney U test), so the verdict
does not hang on the machine's speed: 0.5 is no difference; a leaking server, whose unknown
keys skip the write and its wait for the disk, scores near 0.9."""

import time
import uuid

import httpx
import pytest

from tests.live import LiveServer
from tests.test_tokens import live_token

PAIRS = 150


def outlasts(slower: list[float], faster: list[float]) -> float:
    """The share of (a, b) pairs, a from `slower` and b from `faster`, where a > b."""
    wins = sum((a > b) + 0.5 * (a == b) for a in slower for b in faster)
    return wins / (len(slower) * len(faster))


@pytest.mark.parametrize("action", ["clicks", "signups"])
def test_valid_and_unknown_referral_keys_take_the_same_time(
    live_server: LiveServer, action: str
) -> None:
    token, _prefix, public_id = live_token(live_server, f"Timing {action}")
    partner = httpx.post(
        f"{live_server.url}/v1/partners",
        json={"email": f"t{uuid.uuid4().hex[:8]}@example.com"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()["data"]["key"]
    times: dict[bool, list[float]] = {True: [], False: []}
    with httpx.Client(base_url=live_server.url) as client:
        for n in range(2 * PAIRS + 20):
            valid = n % 2 == 1
            key = partner if valid else f"unknown{n}"
            body = (
                {"key": key, "visitor": f"v{n}"}
                if action == "clicks"
                else {"key": f"c{n}-{uuid.uuid4().hex[:6]}", "partner": key, "visitor": f"v{n}"}
            )
            started = time.perf_counter()
            answer = client.post(f"/t/{public_id}/{action}", json=body)
            elapsed = time.perf_counter() - started
            assert answer.status_code == 202
            if n >= 20:  # after the program's settings and the key are cached
                times[valid].append(elapsed)
    score = outlasts(times[True], times[False])
    assert 0.3 <= score <= 0.7, f"valid keys outlast unknown ones {score:.0%} of the time"
