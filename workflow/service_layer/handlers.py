"""Command handlers: load the aggregate, check who acts, call the domain, commit.

Every entry point goes through these, so no rule is re-implemented anywhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from workflow.domain import commands
from workflow.domain.errors import ConcurrencyConflict, NotAllowed, NotFound, ValidationFailed
from workflow.domain.model import Channel, Request, RoutingTarget
from workflow.domain.units import Actor, StaffRole
from workflow.service_layer.unit_of_work import AbstractUnitOfWork, DuplicateSubmission

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Context:
    """What handlers need besides the unit of work; built once by bootstrap()."""

    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    due_days: int = 15


NOT_FOUND_MESSAGE = "Talep bulunamadı."


async def staff_actor(uow: AbstractUnitOfWork, user_id: str) -> Actor:
    actor = await uow.directory.staff_actor(user_id)
    if actor is None:
        raise NotAllowed("Oturumunuz geçersiz. Lütfen yeniden giriş yapın.")
    if actor.unit is None or not actor.unit.active:
        raise NotAllowed("Biriminiz etkin değil; talepler üzerinde işlem yapamazsınız.")
    if actor.role is StaffRole.ADMIN and not actor.is_migm:
        # Administrators manage accounts and the registry; they do not act on requests.
        raise NotAllowed("Yönetici hesapları talepler üzerinde işlem yapamaz.")
    return actor


async def load_for(
    uow: AbstractUnitOfWork, actor: Actor, number: int, expected_version: int | None
) -> Request:
    """The request, if the actor may see it; a request the actor may not see does not exist for them."""
    request = await uow.requests.get_by_number(number)
    if request is None or not request.visible_to(actor):
        raise NotFound(NOT_FOUND_MESSAGE)
    if expected_version is not None and request.version != expected_version:
        raise ConcurrencyConflict()
    return request


async def _targets(uow: AbstractUnitOfWork, targets: tuple[commands.Target, ...]) -> list[RoutingTarget]:
    units = await uow.directory.units([t.unit_id for t in targets])
    missing = [t.unit_id for t in targets if t.unit_id not in units]
    if missing:
        raise ValidationFailed("Seçilen birimlerden biri bulunamadı; lütfen listeden yeniden seçin.")
    return [RoutingTarget(units[t.unit_id], t.note) for t in targets]


async def file_request(cmd: commands.FileRequest, uow: AbstractUnitOfWork, ctx: Context) -> int:
    """File a request; the same idempotency key (a double click, back + resend) gives the same number."""
    try:
        return await _file_request(cmd, uow, ctx)
    except DuplicateSubmission as exc:
        async with uow:
            assert cmd.idempotency_key is not None
            existing = await uow.requests.number_for_idempotency_key(cmd.idempotency_key, cmd.muhtar_id)
        if existing is None:
            # The key is unique on its own: another muhtar's submission holds it (a reused or forged form
            # token, not a double click). A clear refusal, not a crash.
            logger.warning("filing refused: idempotency key already belongs to another muhtar's request")
            raise ValidationFailed(
                "Bu başvuru formu daha önce kullanılmış. Lütfen formu yeniden açıp tekrar gönderin."
            ) from exc
        return existing


async def _file_request(cmd: commands.FileRequest, uow: AbstractUnitOfWork, ctx: Context) -> int:
    async with uow:
        if cmd.idempotency_key:
            existing = await uow.requests.number_for_idempotency_key(cmd.idempotency_key, cmd.muhtar_id)
            if existing is not None:
                return existing
        muhtar = await uow.directory.muhtar_actor(cmd.muhtar_id)
        if muhtar is None:
            raise NotAllowed("Muhtar kaydınız bulunamadı ya da etkin değil.")
        try:
            channel = Channel(cmd.channel)
        except ValueError:
            raise ValidationFailed("Bilinmeyen başvuru kanalı.") from None
        Request.check_filing(cmd.kind, cmd.description)
        number = await uow.requests.next_number()
        request = Request.file(
            number=number,
            muhtar=muhtar,
            kind=cmd.kind,
            description=cmd.description,
            channel=channel,
            now=ctx.clock(),
        )
        uow.requests.add(request)
        if cmd.idempotency_key:
            uow.requests.remember_idempotency_key(request, cmd.idempotency_key)
        await uow.commit()
        logger.info("request %s filed (channel %s)", number, channel.value)
        return number


async def set_priority(cmd: commands.SetPriority, uow: AbstractUnitOfWork, ctx: Context) -> None:
    async with uow:
        actor = await staff_actor(uow, cmd.user_id)
        request = await load_for(uow, actor, cmd.number, cmd.expected_version)
        request.set_priority(actor, cmd.priority, ctx.clock())
        await uow.commit()


async def route_request(cmd: commands.RouteRequest, uow: AbstractUnitOfWork, ctx: Context) -> list[str]:
    async with uow:
        actor = await staff_actor(uow, cmd.user_id)
        request = await load_for(uow, actor, cmd.number, cmd.expected_version)
        created = request.route(actor, await _targets(uow, cmd.targets), ctx.clock(), ctx.due_days)
        await uow.commit()
        return [a.id for a in created]


async def review_handback(cmd: commands.ReviewHandback, uow: AbstractUnitOfWork, ctx: Context) -> None:
    async with uow:
        actor = await staff_actor(uow, cmd.user_id)
        request = await load_for(uow, actor, cmd.number, cmd.expected_version)
        request.review_handback(actor, cmd.assignment_id, ctx.clock())
        await uow.commit()


async def take_on(cmd: commands.TakeOn, uow: AbstractUnitOfWork, ctx: Context) -> None:
    async with uow:
        actor = await staff_actor(uow, cmd.user_id)
        request = await load_for(uow, actor, cmd.number, cmd.expected_version)
        request.take_on(actor, cmd.assignment_id, ctx.clock())
        await uow.commit()


async def forward(cmd: commands.Forward, uow: AbstractUnitOfWork, ctx: Context) -> list[str]:
    async with uow:
        actor = await staff_actor(uow, cmd.user_id)
        request = await load_for(uow, actor, cmd.number, cmd.expected_version)
        created = request.forward(
            actor, cmd.assignment_id, await _targets(uow, cmd.targets), ctx.clock(), ctx.due_days
        )
        await uow.commit()
        return [a.id for a in created]


async def complete(cmd: commands.Complete, uow: AbstractUnitOfWork, ctx: Context) -> None:
    async with uow:
        actor = await staff_actor(uow, cmd.user_id)
        request = await load_for(uow, actor, cmd.number, cmd.expected_version)
        request.complete(actor, cmd.assignment_id, cmd.note, ctx.clock(), list(cmd.attachment_ids))
        await uow.commit()


async def hand_back(cmd: commands.HandBack, uow: AbstractUnitOfWork, ctx: Context) -> None:
    async with uow:
        actor = await staff_actor(uow, cmd.user_id)
        request = await load_for(uow, actor, cmd.number, cmd.expected_version)
        request.hand_back(actor, cmd.assignment_id, cmd.reason, ctx.clock())
        await uow.commit()


async def add_note(cmd: commands.AddNote, uow: AbstractUnitOfWork, ctx: Context) -> None:
    async with uow:
        actor = await staff_actor(uow, cmd.user_id)
        request = await load_for(uow, actor, cmd.number, None)
        request.add_note(actor, cmd.note, ctx.clock())
        await uow.commit()


async def conclude(cmd: commands.Conclude, uow: AbstractUnitOfWork, ctx: Context) -> None:
    async with uow:
        actor = await staff_actor(uow, cmd.user_id)
        request = await load_for(uow, actor, cmd.number, cmd.expected_version)
        request.conclude(actor, cmd.final_note, ctx.clock(), list(cmd.public_attachment_ids))
        await uow.commit()


Handler = Callable[[Any, AbstractUnitOfWork, Context], Awaitable[Any]]

COMMAND_HANDLERS: dict[type[commands.Command], Handler] = {
    commands.FileRequest: file_request,
    commands.SetPriority: set_priority,
    commands.RouteRequest: route_request,
    commands.ReviewHandback: review_handback,
    commands.TakeOn: take_on,
    commands.Forward: forward,
    commands.Complete: complete,
    commands.HandBack: hand_back,
    commands.AddNote: add_note,
    commands.Conclude: conclude,
}
