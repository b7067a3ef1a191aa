"""How domain values read on the muhtar's screens (labels as data, one table each)."""

from __future__ import annotations

from typing import Final

from workflow.domain.model import KIND_LABELS, STATE_LABELS, Action, Movement, RequestKind, RequestState

# The muhtar's three lists (TALEP SORGULAMA): URL value -> (state, tab title).
TABS: Final = (
    ("bekleyen", RequestState.BEKLEYEN, "Bekleyen Taleplerim"),
    ("yonlendirilen", RequestState.YONLENDIRILEN, "Yönlendirilen Taleplerim"),
    ("sonuclanan", RequestState.SONUCLANAN, "Sonuçlanan Taleplerim"),
)

# One line of the public history per action; {unit} is who acted, {target} the unit it went to.
MOVEMENT_TEXT: Final[dict[Action, str]] = {
    Action.FILED: "Talep oluşturuldu.",
    Action.ROUTED: "Talep {target} birimine yönlendirildi.",
    Action.TAKEN_ON: "{unit} talebi üzerine aldı.",
    Action.FORWARDED: "{unit}, talebi {target} birimine iletti.",
    Action.COMPLETED: "{unit} kendi işlemini tamamladı.",
    Action.HANDED_BACK: "{unit} talebi iade etti.",
    Action.HANDBACK_REVIEWED: "İade değerlendirildi.",
    Action.PRIORITY_SET: "Talebin önceliği belirlendi.",
    Action.NOTE: "Talebe not eklendi.",
    Action.CONCLUDED: "Talep sonuçlandırıldı.",
}


def kind_label(kind: RequestKind | str) -> str:
    return KIND_LABELS[RequestKind(kind)]


def state_label(state: RequestState | str) -> str:
    return STATE_LABELS[RequestState(state)]


def movement_text(m: Movement) -> str:
    return MOVEMENT_TEXT[m.action].format(
        unit=m.unit_name or "İlgili birim", target=m.target_unit_name or "ilgili"
    )


KIND_CHOICES: Final = tuple((kind.value, label) for kind, label in KIND_LABELS.items())
