"""How domain values read on the staff screens (labels as data), and the staff page renderer."""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from markupsafe import Markup, escape

from webui.presenters import kind_label, state_label
from webui.render import render, tarih
from workflow.domain.model import ASSIGNMENT_STATE_LABELS, PRIORITY_LABELS, Action, Movement
from workflow.domain.units import UNIT_KIND_LABELS, Actor, StaffRole
from workflow.service_layer.inbox import SORT_LABELS, DueStatus, InboxRow
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


def _cell(row: InboxRow, column: str) -> str:
    """One cell's escaped HTML."""
    if column == "date":
        return str(escape(tarih(row.created_at)))
    if column == "kind":
        return str(escape(kind_label(row.kind)))
    if column == "priority":
        return str(escape(PRIORITY_LABELS[row.priority]))
    if column == "state":
        label = (
            ASSIGNMENT_STATE_LABELS[row.assignment_state] if row.assignment_state else state_label(row.state)
        )
        return str(escape(label))
    if column == "muhtar":
        return str(escape(row.muhtar_name))
    if column == "muhtarlik":
        return str(escape(row.muhtarlik_name))
    if column == "place":
        return f"{escape(row.district_name)} / {escape(row.province_name)}"
    if column == "due":
        text = str(escape(tarih(row.due_at, False))) if row.due_at else ""
        if row.due_status:
            text += (
                f' <strong class="due-{row.due_status.value}">{escape(DUE_LABELS[row.due_status])}</strong>'
            )
        return text
    if column == "excerpt":
        return str(escape(row.excerpt))
    return ""


def row_cells(row: InboxRow, columns: list[str] | tuple[str, ...]) -> Markup:
    """The ``<td>`` cells of one list row, in the user's column order. Built here rather than in the
    template: a page has 20–100 rows of up to 9 columns, and Jinja's per-cell tests were most of the
    page's rendering time."""
    return Markup("".join(f"<td>{_cell(row, c)}</td>" for c in columns))


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
        "row_cells": row_cells,
    }
    page.update(context or {})
    return await render(request, template, page, status=status)
