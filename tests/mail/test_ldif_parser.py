"""The test LDIF reader itself refuses what it must (malformed cases written out)."""

from __future__ import annotations

import pytest

from tests.mail.ldif_parser import LdifError, parse_ldif

GOOD = "version: 1\n\ndn: uid=a,dc=x\ncn:: QXnFn2U=\nsn: Ak\n\ndn: uid=b,dc=x\nmail: b@x\n"


def test_good_file() -> None:
    assert parse_ldif(GOOD) == [
        {"dn": ["uid=a,dc=x"], "cn": ["Ayşe"], "sn": ["Ak"]},
        {"dn": ["uid=b,dc=x"], "mail": ["b@x"]},
    ]


def test_folded_line() -> None:
    assert parse_ldif("version: 1\n\ndn: uid=a,d\n c=x\n")[0]["dn"] == ["uid=a,dc=x"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("dn: uid=a\n", "version"),
        ("version: 1\n\ndn: uid=a\ncn: Ayşe\n", "SAFE-STRING"),
        ("version: 1\n\ndn: uid=a\ncn:: !!!\n", "base64"),
        ("version: 1\n\ndn: uid=a\ncn:: /w==\n", "base64"),  # not UTF-8
        ("version: 1\n\ncn: a\n", "start with dn"),
        ("version: 1\ndn: uid=a\n", "preceded"),
        ("version: 1\n\ndn: uid=a\ndn: uid=b\n", "second dn"),
        ("version: 1\n\n\ndn: uid=a\n", "two empty"),
        ("version: 1\n\ndn: uid=a\nnonsense\n", "attribute: value"),
        ("version: 1\n\ndn: uid=a\ncn: " + "x" * 80 + "\n", "longer"),
        ("version: 1\n\ndn: uid=a\r\n", "carriage"),
        ("version: 1\n\ndn: uid=a", "newline"),
        ("version: 1\n\n continued\n", "continuation"),
        ("version: 1\n\ndn: uid=a\ncn: :x\n", "SAFE-STRING"),
    ],
)
def test_malformed(text: str, reason: str) -> None:
    with pytest.raises(LdifError, match=reason):
        parse_ldif(text)
