"""SMPP 3.4 command_status values and what each means for us, as one table.

``kind``: ``ok``; ``throttle`` (pause the whole sending side, then resend); ``temporary`` (resend later);
``permanent`` (the SMS failed, never resend). Unknown vendor codes count as temporary: resending a message
the SMSC could not take is safer than losing it, and the retry budget is bounded by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["ok", "throttle", "temporary", "permanent"]


@dataclass(frozen=True)
class Status:
    code: int
    name: str
    kind: Kind


_TABLE: tuple[tuple[int, str, Kind], ...] = (
    (0x00, "ESME_ROK", "ok"),
    (0x01, "ESME_RINVMSGLEN", "permanent"),
    (0x02, "ESME_RINVCMDLEN", "permanent"),
    (0x03, "ESME_RINVCMDID", "permanent"),
    (0x04, "ESME_RINVBNDSTS", "temporary"),  # not bound (yet): rebind, then resend
    (0x05, "ESME_RALYBND", "temporary"),
    (0x06, "ESME_RINVPRTFLG", "permanent"),
    (0x07, "ESME_RINVREGDLVFLG", "permanent"),
    (0x08, "ESME_RSYSERR", "temporary"),
    (0x0A, "ESME_RINVSRCADR", "permanent"),
    (0x0B, "ESME_RINVDSTADR", "permanent"),
    (0x0C, "ESME_RINVMSGID", "permanent"),
    (0x0D, "ESME_RBINDFAIL", "temporary"),
    (0x0E, "ESME_RINVPASWD", "temporary"),
    (0x0F, "ESME_RINVSYSID", "temporary"),
    (0x11, "ESME_RCANCELFAIL", "permanent"),
    (0x13, "ESME_RREPLACEFAIL", "permanent"),
    (0x14, "ESME_RMSGQFUL", "throttle"),
    (0x15, "ESME_RINVSERTYP", "permanent"),
    (0x33, "ESME_RINVNUMDESTS", "permanent"),
    (0x34, "ESME_RINVDLNAME", "permanent"),
    (0x40, "ESME_RINVDESTFLAG", "permanent"),
    (0x42, "ESME_RINVSUBREP", "permanent"),
    (0x43, "ESME_RINVESMCLASS", "permanent"),
    (0x44, "ESME_RCNTSUBDL", "permanent"),
    (0x45, "ESME_RSUBMITFAIL", "temporary"),
    (0x48, "ESME_RINVSRCTON", "permanent"),
    (0x49, "ESME_RINVSRCNPI", "permanent"),
    (0x50, "ESME_RINVDSTTON", "permanent"),
    (0x51, "ESME_RINVDSTNPI", "permanent"),
    (0x53, "ESME_RINVSYSTYP", "permanent"),
    (0x54, "ESME_RINVREPFLAG", "permanent"),
    (0x55, "ESME_RINVNUMMSGS", "permanent"),
    (0x58, "ESME_RTHROTTLED", "throttle"),
    (0x61, "ESME_RINVSCHED", "permanent"),
    (0x62, "ESME_RINVEXPIRY", "permanent"),
    (0x63, "ESME_RINVDFTMSGID", "permanent"),
    (0x64, "ESME_RX_T_APPN", "temporary"),
    (0x65, "ESME_RX_P_APPN", "permanent"),
    (0x66, "ESME_RX_R_APPN", "permanent"),
    (0x67, "ESME_RQUERYFAIL", "permanent"),
    (0xC0, "ESME_RINVOPTPARSTREAM", "permanent"),
    (0xC1, "ESME_ROPTPARNOTALLWD", "permanent"),
    (0xC2, "ESME_RINVPARLEN", "permanent"),
    (0xC3, "ESME_RMISSINGOPTPARAM", "permanent"),
    (0xC4, "ESME_RINVOPTPARAMVAL", "permanent"),
    (0xFE, "ESME_RDELIVERYFAILURE", "permanent"),
    (0xFF, "ESME_RUNKNOWNERR", "temporary"),
)

STATUSES: dict[int, Status] = {code: Status(code, name, kind) for code, name, kind in _TABLE}
CODES: dict[str, int] = {name: code for code, name, _ in _TABLE}

ESME_ROK = 0x00
ESME_RINVMSGLEN = 0x01
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RSYSERR = 0x08
ESME_RINVDSTADR = 0x0B
ESME_RBINDFAIL = 0x0D
ESME_RINVPASWD = 0x0E
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
ESME_RX_T_APPN = 0x64
ESME_RINVCMDLEN = 0x02


def status(code: int) -> Status:
    """The table row for ``code``; unknown (vendor) codes are temporary and named by their hex value."""
    found = STATUSES.get(code)
    return found if found is not None else Status(code, f"SMPP_0x{code:08X}", "temporary")
