"""The words of the domain: kinds, channels, priorities, states, actions, and their Turkish labels."""

from __future__ import annotations

from enum import StrEnum

DESCRIPTION_MIN = 20
DESCRIPTION_MAX = 4000
NOTE_MAX = 4000
REASON_MIN = 5


class RequestKind(StrEnum):
    SIKAYET = "sikayet"
    ISTEK = "istek"
    IHBAR = "ihbar"
    GORUS_ONERI = "gorus_oneri"


KIND_LABELS: dict[RequestKind, str] = {
    RequestKind.SIKAYET: "Şikâyet",
    RequestKind.ISTEK: "İstek",
    RequestKind.IHBAR: "İhbar",
    RequestKind.GORUS_ONERI: "Görüş ve Öneri",
}


class Channel(StrEnum):
    WEB = "web"
    SMS = "sms"
    USSD = "ussd"


class Priority(StrEnum):
    DUSUK = "dusuk"
    NORMAL = "normal"
    YUKSEK = "yuksek"
    ACIL = "acil"


PRIORITY_LABELS: dict[Priority, str] = {
    Priority.DUSUK: "Düşük",
    Priority.NORMAL: "Normal",
    Priority.YUKSEK: "Yüksek",
    Priority.ACIL: "Acil",
}
#: For sorting: higher is more urgent.
PRIORITY_RANK: dict[Priority, int] = {
    Priority.DUSUK: 0,
    Priority.NORMAL: 1,
    Priority.YUKSEK: 2,
    Priority.ACIL: 3,
}


class RequestState(StrEnum):
    """The muhtar-facing state."""

    BEKLEYEN = "bekleyen"
    YONLENDIRILEN = "yonlendirilen"
    SONUCLANAN = "sonuclanan"


STATE_LABELS: dict[RequestState, str] = {
    RequestState.BEKLEYEN: "Bekleyen",
    RequestState.YONLENDIRILEN: "Yönlendirilen",
    RequestState.SONUCLANAN: "Sonuçlanan",
}


class AssignmentState(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    FORWARDED = "forwarded"
    COMPLETED = "completed"
    HANDED_BACK = "handed_back"


OPEN_ASSIGNMENT_STATES = frozenset(
    {AssignmentState.NEW, AssignmentState.IN_PROGRESS, AssignmentState.FORWARDED}
)

ASSIGNMENT_STATE_LABELS: dict[AssignmentState, str] = {
    AssignmentState.NEW: "Yeni",
    AssignmentState.IN_PROGRESS: "İşlemde",
    AssignmentState.FORWARDED: "Alt birimlerde",
    AssignmentState.COMPLETED: "Tamamlandı",
    AssignmentState.HANDED_BACK: "İade edildi",
}


class Action(StrEnum):
    FILED = "filed"
    PRIORITY_SET = "priority_set"
    ROUTED = "routed"
    TAKEN_ON = "taken_on"
    FORWARDED = "forwarded"
    COMPLETED = "completed"
    HANDED_BACK = "handed_back"
    HANDBACK_REVIEWED = "handback_reviewed"
    NOTE = "note"
    CONCLUDED = "concluded"
