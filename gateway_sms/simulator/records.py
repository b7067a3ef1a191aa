"""What the simulator remembers and shows: submitted parts, whole messages, MO traffic; receipt text."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class SubmittedPart:
    message_id: str
    system_id: str
    source_addr: str
    destination_addr: str
    data_coding: int
    esm_class: int
    short_message: bytes
    registered_delivery: int
    at: datetime


@dataclass
class SimMessage:
    """A whole outgoing SMS as the phone would show it (parts reassembled)."""

    source_addr: str
    destination_addr: str
    text: str
    data_coding: int
    message_ids: list[str]
    at: datetime


@dataclass(frozen=True)
class MoRecord:
    source_addr: str
    destination_addr: str
    text: str
    statuses: tuple[int, ...]  # deliver_sm_resp command_status of each part
    at: datetime


@dataclass
class Faults:
    """What the simulator does to submit_sm, switched by the control API."""

    throttle_next: int = 0  # answer ESME_RTHROTTLED to this many submit_sm
    queue_full_next: int = 0  # answer ESME_RMSGQFUL to this many
    silent: bool = False  # read submit_sm, answer nothing
    mute_enquire_link: bool = False  # read enquire_link, answer nothing (a half-dead SMSC)
    nack_next: int = 0  # answer generic_nack to this many
    drop_after: int | None = None  # close TCP after this many more submit_sm (mid-burst), unanswered
    fail_destinations: dict[str, int] = field(default_factory=dict)  # number -> command_status
    undeliverable: set[str] = field(default_factory=set)  # numbers whose receipt says UNDELIV


def receipt_text(
    message_id: str, state: str, err: str, submitted: datetime, done: datetime, text: str
) -> bytes:
    """The SMPP 3.4 appendix B receipt text."""
    dlvrd = "001" if state == "DELIVRD" else "000"
    body = (
        f"id:{message_id} sub:001 dlvrd:{dlvrd} submit date:{submitted:%y%m%d%H%M} "
        f"done date:{done:%y%m%d%H%M} stat:{state} err:{err} text:{text[:20]}"
    )
    return body.encode("ascii", "replace")
