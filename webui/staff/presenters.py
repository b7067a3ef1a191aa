"""How domain values read on the staff screens (labels as data), and the staff page renderer."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from webui.render import render
from workflow.domain.model import ASSIGNMENT_STATE_LABELS, PRIORITY_LABELS, Action, Movement
from workflow.domain.units import UNIT_KIND_LABELS, Actor, StaffRole
from workflow.service_layer.inbox import SORT_LABELS, DueStatus
from workflow.service_layer.staff_preferences import COLUMNS

DUE_LABELS: Final = {DueStatus.OVERDUE: "Süresi geçti", DueStatus.DUE_SOON: "Süresi yaklaşıyor"}

# One line of the staff history per action: {unit} acted, {target} is where it went.
ACTION_TEXT: Final[dict[Action, str]] = {
    Action.FILED: "Muhtar talebi oluşturdu.",
    Action.PRIORITY_SET: "{unit} önceliği belirledi.",
    Action.ROUTED: "{unit}, talebi {target} birimine yönlendirdi.",
    Action.TAKEN_ON: "{unit} görevi üzerine aldı.",
    Action.FORWARDED: "{unit}, talebi alt birimi {target} birimine iletti.",
    Action.COMPLETED: "{unit} işlemini tamamladı.",
    Action.HANDED_BACK: "{unit} görevi iade etti.",
    Action.HANDBACK_REVIEWED: "{unit} iadeyi değerlendirdi.",
    Action.NOTE: "{unit} iç not ekledi.",
    Action.CONCLUDED: "{unit} süreci tamamladı.",
}


def action_text(m: Movement) -> str:
    return ACTION_TEXT[m.action].format(
        unit=m.unit_name or m.actor_name, target=m.target_unit_name or "ilgili"
    )


LABELS: Final[dict[str, Any]] = {
    "columns": COLUMNS,
    "sorts": [(sort.value, label) for sort, label in SORT_LABELS.items()],
    "priority": PRIORITY_LABELS,
    "priorities": [(p.value, label) for p, label in PRIORITY_LABELS.items()],
    "assignment_state": ASSIGNMENT_STATE_LABELS,
    "unit_kind": UNIT_KIND_LABELS,
    "due": DUE_LABELS,
}


async def staff_page(
    request: web.Request,
    template: str,
    me: Actor,
    nav: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
) -> web.Response:
    """Every staff page: the signed-in person and their unit in the menu, the labels, the page's data."""
    page: dict[str, Any] = {
        "me": me,
        "me_admin_only": me.role is StaffRole.ADMIN and not me.is_migm,
        "nav": nav,
        "labels": LABELS,
        "action_text": action_text,
    }
    page.update(context or {})
    return await render(request, template, page, status=status)
