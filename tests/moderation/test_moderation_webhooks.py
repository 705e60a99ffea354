"""Webhooks against a real HTTP receiver on 127.0.0.1 that fails its first request:
signatures, retries with back-off, idempotency keys, the delivery log."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from moderation_helpers import Clock

from haechi.engine import Engine
from haechi.moderation import ModerationService
from haechi.moderation.webhooks import MAX_ATTEMPTS, backoff, sign, verify


@dataclass
class Receiver:
    url: str
    clock: Clock
    secret: str = ""
    fail_first: int = 1
    requests: list[dict[str, object]] = field(default_factory=list)
    accepted: dict[str, dict[str, object]] = field(default_factory=dict)


@pytest.fixture
def receiver(clock: Clock) -> Iterator[Receiver]:
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            key = self.headers["Idempotency-Key"]
            ok = verify(state.secret, self.headers["Haechi-Signature"], body,
                        now=state.clock.now.timestamp())
            state.requests.append({"key": key, "signed": ok})
            if len(state.requests) <= state.fail_first:
                self.send_response(500)
            elif not ok:
                self.send_response(401)
            else:
                # a real receiver acts once per key and acknowledges repeats
                state.accepted.setdefault(key, json.loads(body))
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state = Receiver(url=f"http://127.0.0.1:{server.server_port}/hook", clock=clock)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def known(engine: Engine, image: Callable[[int], bytes]) -> bytes:
    engine.create_bank("known")
    data = image(77)
    engine.add_media("known", data)
    return data


def test_every_action_arrives_once_after_a_retry(mod: ModerationService, receiver: Receiver,
                                                 known: bytes, clock: Clock) -> None:
    hook, receiver.secret = mod.webhooks.register(url=receiver.url)
    assert receiver.secret.startswith("whsec_") and hook.events == []
    out = mod.moderate_upload(known, user_id="ugo", room_id="lobby")
    uids = {e.uid for e in out.events}
    report = mod.webhooks.deliver_due()
    assert (report.attempted, report.delivered, report.retrying) == (2, 1, 1)
    assert mod.webhooks.deliver_due().attempted == 0  # backing off
    clock.advance(seconds=backoff(1).total_seconds())
    report = mod.webhooks.deliver_due()
    assert (report.attempted, report.delivered) == (1, 1)
    assert mod.webhooks.deliver_due().attempted == 0
    assert set(receiver.accepted) == uids
    assert {v["type"] for v in receiver.accepted.values()} == {"delete_item", "warn_user"}
    assert all(r["signed"] for r in receiver.requests)
    failed_key = receiver.requests[0]["key"]
    assert [r["key"] for r in receiver.requests].count(failed_key) == 2  # same key on retry
    log = {d.event_uid: d for d in mod.webhooks.deliveries()}
    retried = log[str(failed_key)]
    assert (retried.state, retried.attempts) == ("delivered", 2)
    assert [a["status"] for a in retried.log] == [500, 204]


def test_unreachable_endpoint_backs_off_then_gives_up(mod: ModerationService, known: bytes,
                                                      clock: Clock) -> None:
    import socket
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    mod.webhooks.register(url=f"http://127.0.0.1:{port}/", events=["ban_user"])
    mod.webhooks.register(url=f"http://127.0.0.1:{port}/all", events=["warn_user"])
    mod.moderate_upload(known, user_id="vic", room_id="r")  # delete + warn: one delivery
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = mod.webhooks.deliver_due()
        assert report.attempted == 1
        clock.advance(seconds=backoff(attempt).total_seconds())
    assert report.failed == 1
    (delivery,) = mod.webhooks.deliveries()
    assert (delivery.state, delivery.attempts, delivery.event_type) == (
        "failed", MAX_ATTEMPTS, "warn_user")
    assert "ConnectError" in delivery.last_error


def test_signatures_reject_tampering_and_replays() -> None:
    body = b'{"id":"x"}'
    header = sign("secret", 1_000_000, body)
    assert verify("secret", header, body, now=1_000_010)
    assert not verify("secret", header, body + b" ", now=1_000_010)
    assert not verify("other", header, body, now=1_000_010)
    assert not verify("secret", header, body, now=1_000_000 + 301)
    assert not verify("secret", "garbage", body, now=1_000_000)


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert backoff(30).total_seconds() == 3600


def test_bad_webhook_registrations(mod: ModerationService) -> None:
    from haechi.errors import InvalidRequestError
    for url, events in (("ftp://x/", None), ("http:///nohost", None),
                        ("http://ok.example/", ["explode"])):
        with pytest.raises(InvalidRequestError):
            mod.webhooks.register(url=url, events=events)
