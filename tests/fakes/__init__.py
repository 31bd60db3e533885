"""In-process fakes of the peers skyfence talks to (see :mod:`tests.fakes.peers`)."""

from tests.fakes.peers import (
    FakePeer,
    FakeSlackApi,
    FakeSlackWebhook,
    FakeTelegram,
    FakeWebhookReceiver,
    Recorded,
    Reply,
    Upload,
    accepted_event_ids,
)

__all__ = [
    "FakePeer",
    "FakeSlackApi",
    "FakeSlackWebhook",
    "FakeTelegram",
    "FakeWebhookReceiver",
    "Recorded",
    "Reply",
    "Upload",
    "accepted_event_ids",
]
