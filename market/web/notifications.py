"""Pages: everyone's messages — the bell in the top bar (its unread count and the newest message,
kept live by a stream), and the inbox, newest first, with mark one read and mark all read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, ServerSentEvent, Template
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.access import ActorRequest
from market.fields import PathId
from market.notifications import service as inbox
from market.notifications.models import NotificationCode as C
from market.notifications.schemas import NotificationRead
from market.pagination import Offset
from market.settings import Settings
from market.web.i18n import has_text, translate
from market.web.live import live, render_fragment
from market.web.pages import Form, base_context, handling, page, see_other, url

PAGE_SIZE = 20
HOME = "/notifications"
INBOX = "notifications.html"
BELL = "_bell.html"

# Params that hold a moment (ISO text), shown in local time.
MOMENTS = frozenset({"answer_by", "deadline", "pickup_by", "due_at", "starts_at", "served_at"})
# Params that hold a code, shown as the catalogue's word for it (`<prefix>.<code>`).
WORDS = {
    "level": "notification_level",
    "late": "notification_late",
    "reason_code": "notification_reason",
    "followup_reason": "followup_reason",
    "application_kind": "notification_application",
    "channel": "order_channel",
    "outcome": "project_status",
    "reject_reason": "proposal_reject_reason",
    "refusal_reason": "refusal_reason",
    "revocation_reason": "revocation_reason",
    "correction_reason": "correction_reason",
}
# Where a message leads, by its code (`{id}`: what it is about; other names: the message's params).
LINKS: dict[C, str] = {
    **dict.fromkeys(
        (
            C.order_entered,
            C.order_dispatched,
            C.order_accepted,
            C.order_checked_in,
            C.order_completed,
            C.order_auto_confirmed,
            C.order_cancelled,
            C.order_rejected,
            C.order_expired,
            C.order_escalated,
        ),
        "/r/orders/{id}",
    ),
    C.offer: "/v/offers",
    C.task_cancelled: "/v/tasks",
    **dict.fromkeys((C.escalation, C.order_hurried, C.order_reopened), "/desk/dispatch/orders/{id}"),
    C.followup_due: "/desk/followups",
    C.approval_pending: "/desk/approvals",
    C.volunteer_approved: "/v/profile",
    C.commitment_to_confirm: "/desk/unit/commitments",
    C.redemption_ready: "/v/redemptions/{id}",
    **dict.fromkeys((C.shift_promoted, C.shift_cancelled), "/v/shifts/mine"),
    **dict.fromkeys((C.proposal_approved, C.proposal_rejected), "/r/needs/proposals"),
    **dict.fromkeys(
        (
            C.wish_confirmed,
            C.wish_withdrawn,
            C.wish_claimed,
            C.wish_released,
            C.wish_fulfilled,
            C.wish_expired,
        ),
        "/r/wishes/{id}",
    ),
    C.certificate_requested: "/desk/certificates?status=requested",
    **dict.fromkeys(
        (C.certificate_issued, C.certificate_refused, C.certificate_revoked, C.service_record_corrected),
        "/v/record",
    ),
    C.party_report_pending: "/desk/party?community_id={community_id}&status=pending",
    **dict.fromkeys((C.party_report_confirmed, C.party_report_declined), "/r/party"),
}


def _span(lang: str, minutes: int) -> str:
    if minutes % 1440 == 0:
        return translate(lang, "duration.days", n=minutes // 1440)
    if minutes % 60 == 0:
        return translate(lang, "duration.hours", n=minutes // 60)
    return translate(lang, "duration.minutes", n=minutes)


def message_text(lang: str, local: Callable[[datetime], str], n: NotificationRead) -> str:
    """The message in the reader's language, its params shown as the reader reads them."""
    values: dict[str, Any] = {}
    for name, value in n.params.items():
        if name in MOMENTS and isinstance(value, str):
            values[name] = local(datetime.fromisoformat(value))
        elif name in WORDS and has_text(f"{WORDS[name]}.{value}"):
            values[name] = translate(lang, f"{WORDS[name]}.{value}")
        elif name == "minutes" and isinstance(value, int):
            values[name] = _span(lang, value)
        else:
            values[name] = value
    return translate(lang, f"notification.{n.code}", **values)


def message_link(n: NotificationRead) -> str | None:
    """Where the message leads, or nowhere when its params lack what the link needs (a message kept
    from before the link took that param): the bell is on every page, so it must never fail."""
    pattern = LINKS.get(C(n.code))
    try:
        return pattern.format_map({**n.params, "id": n.subject_id}) if pattern else None
    except KeyError:
        return None


def _message_helpers(request: ActorRequest) -> dict[str, Any]:
    context = base_context(request)
    return {
        "message": lambda n: message_text(context["lang"], context["local"], n),
        "link": message_link,
    }


async def _inbox_context(
    request: ActorRequest, session: AsyncSession, unread: bool, offset: int
) -> dict[str, Any]:
    items, total, unread_count = await inbox.list_notifications(
        session, request.user, unread, PAGE_SIZE, offset
    )
    return {
        "items": items,
        "total": total,
        "unread": unread_count,
        "unread_only": unread,
        "limit": PAGE_SIZE,
        "offset": offset,
        "layout": "phone.html" if all(s.phone for s in base_context(request)["sections"]) else "desk.html",
        "form": None,
        **_message_helpers(request),
    }


UnreadOnly = Annotated[bool, QueryParameter(description="Only messages not read yet")]


class InboxPages(Controller):
    """Anyone logged in, on their own messages only (the service reads the actor's inbox alone)."""

    path = HOME
    include_in_schema = False

    @get("/")
    async def inbox(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        unread: UnreadOnly = False,
        offset: Offset = 0,
    ) -> Template:
        return page(request, INBOX, **await _inbox_context(request, session, unread, offset))

    @get("/stream")
    async def stream(
        self,
        request: ActorRequest,
        session_maker: NamedDependency[async_sessionmaker[AsyncSession]],
        settings: NamedDependency[Settings],
    ) -> ServerSentEvent:
        """The bell: its unread count, and the newest unread message that arrived while the page
        was open (so it shows without a reload), sent at once and again whenever either changes."""
        opened_after: list[int] = []

        async def render(session: AsyncSession, state: tuple[int, int | None]) -> str:
            unread, newest = state
            if not opened_after:
                opened_after.append(newest or 0)
            fresh = None
            if unread and (newest or 0) > opened_after[0]:
                items, _total, _unread = await inbox.list_notifications(session, request.user, True, 1, 0)
                fresh = next((n for n in items if n.id > opened_after[0]), None)
            context = {"bell_unread": unread, "bell_fresh": fresh, **_message_helpers(request)}
            return render_fragment(request, BELL, context)

        async def state(session: AsyncSession) -> tuple[int, int | None]:
            return await inbox.inbox_state(session, request.user.id)

        return live(session_maker, settings, state, render)

    @post("/{notification_id:int}/read")
    async def mark_read(
        self,
        request: ActorRequest,
        notification_id: PathId,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        unread: UnreadOnly = False,
        offset: Offset = 0,
    ) -> Redirect:
        async with handling(session, Form(), INBOX, lambda: _inbox_context(request, session, unread, offset)):
            await inbox.mark_read(session, request.user, notification_id, now)
        return see_other(
            url(HOME, unread="true" if unread else None, offset=offset or None), notice="notification_read"
        )

    @post("/read-all")
    async def mark_all_read(
        self, request: ActorRequest, session: NamedDependency[AsyncSession], now: NamedDependency[datetime]
    ) -> Redirect:
        await inbox.mark_all_read(session, request.user, now)
        return see_other(HOME, notice="notifications_all_read")


CONTROLLERS = [InboxPages]
