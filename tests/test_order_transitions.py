"""The order state machine through the HTTP API: every state × every action.

Each matrix test drives a fresh order into one state (through the API, and
through the jobs for the states only a job reaches), tries one action as the
person entitled to it, and checks the outcome: a legal move leads to the
expected state and writes one event from the old state to the new one; an
illegal move is refused with a problem+json and a stable code, and changes nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

import msgspec
import pytest
from httpx import Response
from litestar.testing import AsyncTestClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.service import load_actor
from market.clock import FrozenClock
from market.dispatch.offers import accept_offer, dispatch, expire_offers
from market.dispatch.schemas import DispatchRequest
from market.dispatch.service import decline_offer
from market.orders import service as orders_service
from market.orders.models import DispatchMode, Offer, Order
from market.orders.service import expire_orders
from market.settings import Settings
from market.volunteers.models import VolunteerProfile
from tests.watch import rendered_again, statements
from tests.world import World

# How a fresh order reaches each state: the steps after it is posted. Two states are
# names of this file: "requeued" is submitted again after its only offer expired, and
# "checked_out" is in_service after check-out. Every dispatch offers the order to "volunteer".
PATHS: dict[str, list[str]] = {
    "submitted": [],
    "requeued": ["dispatch", "let the offer expire"],
    "dispatched": ["dispatch"],
    "accepted": ["dispatch", "accept"],
    "in_service": ["dispatch", "accept", "check-in"],
    "checked_out": ["dispatch", "accept", "check-in", "check-out"],
    "completed": ["dispatch", "accept", "check-in", "check-out", "complete"],
    "confirmed": ["dispatch", "accept", "check-in", "check-out", "complete", "confirm"],
    "rejected": ["dispatch", "reject"],
    "cancelled": ["dispatch", "accept", "cancel"],
    "expired": ["dispatch", "let the window end"],
}
STATES = list(PATHS)
STATUS = {"requeued": "submitted", "checked_out": "in_service"}  # what the API reports

# action -> (who may do it, endpoint, JSON body). Accept and decline act on the volunteer's offer.
ACTIONS: dict[str, tuple[str, str, dict[str, Any] | None]] = {
    "dispatch": ("grid_worker", "/api/orders/{order}/dispatch", {"mode": "direct"}),
    "accept": ("volunteer", "/api/offers/{offer}/accept", None),
    "decline": ("volunteer", "/api/offers/{offer}/decline", {"reason": "I am away that day"}),
    "check-in": ("volunteer", "/api/orders/{order}/check-in", None),
    "check-out": ("volunteer", "/api/orders/{order}/check-out", None),
    "complete": ("volunteer", "/api/orders/{order}/complete", {"note": "done"}),
    "confirm": ("resident", "/api/orders/{order}/confirm", {"rating": 5, "comment": "thank you"}),
    "cancel": ("resident", "/api/orders/{order}/cancel", {"reason": "no longer needed"}),
    "reject": ("grid_worker", "/api/orders/{order}/reject", {"reason": "not a service we offer"}),
}

# The lifecycle table of DESIGN.md: (state, action) -> the state it leads to.
LEGAL: dict[tuple[str, str], str] = {
    ("submitted", "dispatch"): "dispatched",
    ("dispatched", "accept"): "accepted",
    ("dispatched", "decline"): "submitted",  # its only offer: the order waits again
    ("accepted", "check-in"): "in_service",
    ("in_service", "check-out"): "in_service",
    ("checked_out", "complete"): "completed",
    ("completed", "confirm"): "confirmed",
    **{(s, "reject"): "rejected" for s in ("submitted", "requeued", "dispatched")},
    **{(s, "cancel"): "cancelled" for s in ("submitted", "requeued", "dispatched", "accepted")},
}

# Illegal moves refused with a more specific 409 code than illegal_transition.
SPECIFIC: dict[tuple[str, str], str] = {
    ("in_service", "complete"): "not_checked_out",
    **{(s, "check-out"): "already_checked_out" for s in ("checked_out", "completed", "confirmed")},
    **{(s, a): "offer_not_pending" for s in STATES for a in ("accept", "decline") if s != "dispatched"},
}

# check-in/out and complete need the assigned volunteer. While no one holds the order the
# volunteer is refused before the state machine is asked: 403 if they were offered it, else 404.
UNASSIGNED = {"requeued": 403, "dispatched": 403, "rejected": 403, "expired": 403, "submitted": 404}
SERVICE_ACTIONS = ("check-in", "check-out", "complete")
NO_OFFER = {("submitted", "accept"), ("submitted", "decline")}  # a fresh order has no offer to act on


@dataclass(frozen=True)
class Outcome:
    http: int
    target: str | None = None  # the new state of a legal move
    code: str | None = None  # the problem code of a refusal


# The requeued order's offer lapsed: its volunteer is not asked again (eligibility's declined_before),
# though the order itself may be dispatched to anyone else.
NOT_ELIGIBLE = {("requeued", "dispatch")}


def expected(state: str, action: str) -> Outcome:
    if (state, action) in NOT_ELIGIBLE:
        return Outcome(422, code="volunteers_not_eligible")
    if (state, action) in LEGAL:
        return Outcome(204 if action == "decline" else 200, target=LEGAL[state, action])
    if action in SERVICE_ACTIONS and state in UNASSIGNED:
        http = UNASSIGNED[state]
        return Outcome(http, code="not_assigned" if http == 403 else "order_not_found")
    return Outcome(409, code=SPECIFIC.get((state, action), "illegal_transition"))


def assert_problem(r: Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == code, body
    assert body["type"].endswith("/" + code)
    return body


@dataclass
class Ticket:
    order: int
    offer: int | None = None  # the volunteer's latest offer


@dataclass
class Flow:
    client: AsyncTestClient
    world: World
    clock: FrozenClock
    session_maker: async_sessionmaker[AsyncSession]
    settings: Settings

    async def post_order(self, **overrides: object) -> Ticket:
        body = self.world.order_body(**overrides)
        r = await self.client.post("/api/orders", json=body, headers=self.world.auth("resident"))
        assert r.status_code == 201, r.text
        return Ticket(r.json()["id"])

    async def act(self, ticket: Ticket, action: str, who: str | None = None) -> Response:
        actor, path, body = ACTIONS[action]
        if action == "dispatch":
            body = {**(body or {}), "volunteer_ids": [self.world.id("volunteer")]}
        url = path.format(order=ticket.order, offer=ticket.offer)
        return await self.client.post(url, json=body, headers=self.world.auth(who or actor))

    async def dispatch(self, ticket: Ticket, *volunteers: str, mode: str = "direct") -> Response:
        body = {"volunteer_ids": [self.world.id(v) for v in volunteers], "mode": mode}
        headers = self.world.auth("grid_worker")
        return await self.client.post(f"/api/orders/{ticket.order}/dispatch", json=body, headers=headers)

    async def detail(self, ticket: Ticket) -> dict[str, Any]:
        r = await self.client.get(f"/api/orders/{ticket.order}", headers=self.world.auth("manager"))
        assert r.status_code == 200, r.text
        return r.json()

    async def run(self, job) -> int:
        async with self.session_maker() as session, session.begin():
            return await job(session, self.clock())

    def move_clock_past(self, moment: str) -> None:
        self.clock.advance(datetime.fromisoformat(moment) - self.clock() + timedelta(minutes=1))

    async def reach(self, state: str) -> Ticket:
        ticket = await self.post_order()
        for step in PATHS[state]:
            if step == "let the offer expire":
                self.move_clock_past((await self.detail(ticket))["offers"][-1]["expires_at"])
                assert await self.run(expire_offers) == 1
            elif step == "let the window end":
                self.move_clock_past((await self.detail(ticket))["window_end"])
                assert await self.run(expire_orders) == 1
            else:
                r = await self.act(ticket, step)
                assert r.status_code in (200, 204), f"{step}: {r.text}"
                if step == "dispatch":
                    ticket.offer = r.json()["offers"][-1]["id"]
        assert (await self.detail(ticket))["status"] == STATUS.get(state, state)
        return ticket


@pytest.fixture
def flow(
    client: AsyncTestClient,
    world: World,
    clock: FrozenClock,
    session_maker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> Flow:
    return Flow(client, world, clock, session_maker, settings)


CELLS = [
    pytest.param(state, action, id=f"{state}-{action}")
    for state in STATES
    for action in ACTIONS
    if (state, action) not in NO_OFFER
]


@pytest.mark.parametrize(("state", "action"), CELLS)
async def test_state_action_matrix(flow: Flow, state: str, action: str) -> None:
    ticket = await flow.reach(state)
    before = await flow.detail(ticket)
    r = await flow.act(ticket, action)
    after = await flow.detail(ticket)
    want = expected(state, action)
    if want.target:
        assert r.status_code == want.http, r.text
        assert after["status"] == want.target
        assert len(after["events"]) == len(before["events"]) + 1
        event = after["events"][-1]
        assert (event["from_status"], event["to_status"]) == (before["status"], want.target)
        # Changed at the service's moment, as its history says: never the machine's clock.
        assert after["updated_at"] == event["at"]
    else:
        assert want.code
        assert_problem(r, want.http, want.code)
        assert after["status"] == before["status"]
        assert len(after["events"]) == len(before["events"])
        assert after == before  # nothing else moved either: offers, timestamps, volunteer


async def test_declining_the_only_offer_requeues_and_bars_that_volunteer(flow: Flow, world: World) -> None:
    ticket = await flow.reach("dispatched")
    r = await flow.act(ticket, "decline")
    assert r.status_code == 204, r.text
    detail = await flow.detail(ticket)
    assert detail["status"] == "submitted"
    assert [(o["status"], o["decline_reason"]) for o in detail["offers"]] == [
        ("declined", "I am away that day")
    ]
    last = detail["events"][-1]
    assert (last["action"], last["from_status"], last["to_status"]) == ("requeue", "dispatched", "submitted")

    body = assert_problem(await flow.dispatch(ticket, "volunteer"), 422, "volunteers_not_eligible")
    assert body["volunteers"] == [
        {"volunteer_id": world.id("volunteer"), "reason": "declined_before", "reasons": ["declined_before"]}
    ]
    assert await flow.detail(ticket) == detail

    r = await flow.dispatch(ticket, "volunteer_b")  # someone else may still be offered it
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "dispatched"


async def test_a_requeue_caused_by_a_decline_names_the_volunteer(flow: Flow, world: World) -> None:
    ticket = await flow.reach("dispatched")
    assert (await flow.act(ticket, "decline")).status_code == 204
    assert (await flow.detail(ticket))["events"][-1]["actor_id"] == world.id("volunteer")


async def test_an_expired_offer_cannot_be_accepted_and_the_order_waits_again(flow: Flow) -> None:
    ticket = await flow.reach("dispatched")
    flow.move_clock_past((await flow.detail(ticket))["offers"][0]["expires_at"])

    assert_problem(await flow.act(ticket, "accept"), 409, "offer_expired")
    detail = await flow.detail(ticket)
    assert detail["status"] == "submitted"
    assert detail["volunteer"] is None
    assert [o["status"] for o in detail["offers"]] == ["expired"]
    last = detail["events"][-1]
    assert (last["action"], last["from_status"], last["to_status"]) == ("requeue", "dispatched", "submitted")

    assert_problem(await flow.act(ticket, "accept"), 409, "offer_not_pending")
    assert await flow.detail(ticket) == detail


async def test_expire_offers_job_requeues_an_order_whose_offers_all_expired(flow: Flow) -> None:
    ticket = await flow.post_order()
    r = await flow.dispatch(ticket, "volunteer", "volunteer_b", mode="pool")
    assert r.status_code == 200, r.text
    assert await flow.run(expire_offers) == 0  # nothing is due yet
    assert (await flow.detail(ticket))["status"] == "dispatched"

    flow.move_clock_past(r.json()["offers"][0]["expires_at"])
    assert await flow.run(expire_offers) == 2
    detail = await flow.detail(ticket)
    assert detail["status"] == "submitted"
    assert [o["status"] for o in detail["offers"]] == ["expired", "expired"]
    requeues = [e for e in detail["events"] if e["action"] == "requeue"]
    assert [(e["from_status"], e["to_status"], e["actor_id"]) for e in requeues] == [
        ("dispatched", "submitted", None)
    ]
    assert await flow.run(expire_offers) == 0


async def test_expire_orders_closes_unaccepted_orders_whose_window_ended(flow: Flow, world: World) -> None:
    submitted = await flow.reach("submitted")
    dispatched = await flow.reach("dispatched")
    accepted = await flow.reach("accepted")
    later = await flow.post_order(window_end=(world.now + timedelta(days=2)).isoformat())
    flow.move_clock_past((await flow.detail(submitted))["window_end"])

    assert await flow.run(expire_orders) == 2
    for ticket, status in [(submitted, "expired"), (dispatched, "expired"), (accepted, "accepted")]:
        assert (await flow.detail(ticket))["status"] == status
    assert (await flow.detail(later))["status"] == "submitted"  # its window has not ended
    for ticket, origin in [(submitted, "submitted"), (dispatched, "dispatched")]:
        last = (await flow.detail(ticket))["events"][-1]
        assert (last["action"], last["from_status"], last["to_status"]) == ("expire", origin, "expired")
        assert last["actor_id"] is None
    assert [o["status"] for o in (await flow.detail(dispatched))["offers"]] == ["withdrawn"]
    assert await flow.run(expire_orders) == 0


async def test_pool_dispatch_first_accept_wins_and_withdraws_the_others(flow: Flow, world: World) -> None:
    ticket = await flow.post_order()
    r = await flow.dispatch(ticket, "volunteer", "volunteer_b", "volunteer_c", mode="pool")
    assert r.status_code == 200, r.text
    offers = {o["volunteer_id"]: o["id"] for o in r.json()["offers"]}

    r = await flow.client.post(
        f"/api/offers/{offers[world.id('volunteer_b')]}/accept", headers=world.auth("volunteer_b")
    )
    assert r.status_code == 200, r.text
    # The volunteer who took it sees their own offer only: the others' are the desk's business.
    assert [(o["volunteer_id"], o["volunteer_name"], o["status"]) for o in r.json()["offers"]] == [
        (world.id("volunteer_b"), world.users["volunteer_b"].name, "accepted")
    ]
    detail = await flow.detail(ticket)
    assert detail["status"] == "accepted"
    assert detail["volunteer"]["id"] == world.id("volunteer_b")
    assert {o["volunteer_id"]: o["status"] for o in detail["offers"]} == {
        world.id("volunteer"): "withdrawn",
        world.id("volunteer_b"): "accepted",
        world.id("volunteer_c"): "withdrawn",
    }

    for loser in ("volunteer", "volunteer_c"):
        late = Ticket(ticket.order, offers[world.id(loser)])
        assert_problem(await flow.act(late, "accept", who=loser), 409, "order_taken")
        assert_problem(await flow.act(late, "decline", who=loser), 409, "order_taken")
    assert await flow.detail(ticket) == detail


async def test_a_change_leaves_the_order_and_offers_its_session_holds_as_they_are_stored(
    flow: Flow, world: World
) -> None:
    """Orders and offers are written by statements, not the ORM's unit of work: the objects the
    transaction already holds take the new values too, so a later step in it reads them as stored."""
    ticket = await flow.post_order()
    now = flow.clock()
    async with flow.session_maker() as session, session.begin():
        grid_worker = await load_actor(session, world.id("grid_worker"))
        pool = DispatchRequest(
            volunteer_ids=[world.id("volunteer"), world.id("volunteer_b")], mode=DispatchMode.pool
        )
        offered = await dispatch(session, grid_worker, ticket.order, pool, now, flow.settings)
        volunteer = await load_actor(session, world.id("volunteer"))
        taken = next(o for o in offered if o.volunteer_id == volunteer.id)
        order = await session.get_one(Order, ticket.order)
        assert await accept_offer(session, volunteer, taken.id, now) == ticket.order
        held = (order.status, order.volunteer_id, {o.id: o.status for o in offered})
        stored = await session.execute(
            select(Order.status, Order.volunteer_id).where(Order.id == ticket.order)
        )
        offers = await session.execute(select(Offer.id, Offer.status).where(Offer.order_id == ticket.order))
        assert held == (*stored.one(), dict(offers.all()))
    assert held[2] == {o.id: "accepted" if o is taken else "withdrawn" for o in offered}


async def _offered_to(flow: Flow, world: World, takers: int) -> tuple[Ticket, int]:
    """A new order offered to the volunteer, alone or in a pool with a second: its ticket, and the
    volunteer's offer."""
    ticket = await flow.post_order()
    volunteers = ["volunteer", "volunteer_b"][:takers]
    r = await flow.dispatch(ticket, *volunteers, mode="pool" if takers > 1 else "direct")
    return ticket, next(o["id"] for o in r.json()["offers"] if o["volunteer_id"] == world.id("volunteer"))


@pytest.mark.parametrize("takers", [1, 2])
async def test_an_accept_writes_the_order_its_event_message_and_offers_in_one_statement_on_postgres(
    flow: Flow, world: World, is_postgres: bool, takers: int
) -> None:
    """After one statement locking the order, the offer and the volunteer's profile, in that order,
    the order's move, its event, the resident's message and the offers closed are one statement on
    PostgreSQL. SQLite runs no INSERT or UPDATE inside WITH, locks nothing row by row, and sends the
    four in turn."""
    ticket, offer_id = await _offered_to(flow, world, takers)
    async with flow.session_maker() as session, session.begin():
        volunteer = await load_actor(session, world.id("volunteer"))
        with statements() as sent:
            await accept_offer(session, volunteer, offer_id, flow.clock())
    writes = [s for s in sent if not s.lstrip().startswith("SELECT")]
    assert (len(sent), len(writes)) == ((2, 1) if is_postgres else (5, 4)), sent
    if is_postgres:
        assert sent[0].rstrip().endswith("FOR UPDATE OF orders, offers, volunteer_profiles"), sent[0]
    detail = await flow.detail(ticket)
    assert sorted(o["status"] for o in detail["offers"]) == ["accepted", "withdrawn"][:takers]
    assert [e["action"] for e in detail["events"]] == ["post", "dispatch", "accept"]


@pytest.mark.parametrize("takers", [1, 2])
async def test_a_decline_reads_the_order_once_under_its_lock(
    flow: Flow, world: World, is_postgres: bool, takers: int
) -> None:
    """The lock reads what the decline and the re-queue need of the order: in a community that does
    not dispatch by itself, no later statement reads it again. Only an order left with no pending
    offer goes back to waiting, and only such an order asks whether its community does."""
    ticket, offer_id = await _offered_to(flow, world, takers)
    async with flow.session_maker() as session, session.begin():
        volunteer = await load_actor(session, world.id("volunteer"))
        with statements() as sent:
            await decline_offer(session, volunteer, offer_id, "busy", flow.clock(), flow.settings)
    reads = [s for s in sent if s.lstrip().startswith("SELECT")]
    assert [s for s in reads[1:] if "FROM orders" in s] == [], sent
    requeued = takers == 1
    # The lock, the offer's answer, whether a pending offer is left; then the re-queue and its event
    # (one statement on PostgreSQL) and whether the community dispatches by itself.
    expected = 3 + (((1 if is_postgres else 2) + 1) if requeued else 0)
    assert len(sent) == expected, sent
    events = [e["action"] for e in (await flow.detail(ticket))["events"]]
    assert events == ["post", "dispatch", *(["requeue"] if requeued else [])]


async def test_a_post_and_an_accept_run_their_statements_as_compiled(flow: Flow) -> None:
    """None of their statements binds an expanding parameter, whose SQL SQLAlchemy renders again at
    every execution (2-4% of the request): fixed statuses are bound one by one (`db.one_of`)."""
    with rendered_again() as post:
        ticket = await flow.post_order()
    ticket.offer = (await flow.dispatch(ticket, "volunteer")).json()["offers"][-1]["id"]
    with rendered_again() as accept:
        assert (await flow.act(ticket, "accept")).status_code == 200
    assert (post, accept) == ([], [])


async def test_complete_needs_a_check_out_first(flow: Flow) -> None:
    ticket = await flow.reach("in_service")
    before = await flow.detail(ticket)
    assert_problem(await flow.act(ticket, "complete"), 409, "not_checked_out")
    assert await flow.detail(ticket) == before

    assert (await flow.act(ticket, "check-out")).status_code == 200
    assert (await flow.act(ticket, "complete")).status_code == 200
    assert (await flow.detail(ticket))["status"] == "completed"


async def test_every_transition_writes_an_event_from_the_old_state_to_the_new(
    flow: Flow, world: World
) -> None:
    ticket = await flow.post_order()
    r = await flow.dispatch(ticket, "volunteer_b")
    first = Ticket(ticket.order, r.json()["offers"][-1]["id"])
    assert (await flow.act(first, "decline", who="volunteer_b")).status_code == 204
    for action in ("dispatch", "accept", "check-in", "check-out", "complete", "confirm"):
        r = await flow.act(ticket, action)
        assert r.status_code == 200, f"{action}: {r.text}"
        if action == "dispatch":
            ticket.offer = r.json()["offers"][-1]["id"]

    events = (await flow.detail(ticket))["events"]
    resident, grid, vol = world.id("resident"), world.id("grid_worker"), world.id("volunteer")
    assert [(e["action"], e["from_status"], e["to_status"], e["actor_id"]) for e in events] == [
        ("post", None, "submitted", resident),
        ("dispatch", "submitted", "dispatched", grid),
        ("requeue", "dispatched", "submitted", world.id("volunteer_b")),
        ("dispatch", "submitted", "dispatched", grid),
        ("accept", "dispatched", "accepted", vol),
        ("check_in", "accepted", "in_service", vol),
        ("check_out", "in_service", "in_service", vol),
        ("complete", "in_service", "completed", vol),
        ("confirm", "completed", "confirmed", resident),
    ]
    # The history is a chain: each event starts where the previous one ended.
    assert all(a["to_status"] == b["from_status"] for a, b in pairwise(events))


async def _accept(other: AsyncSession, flow: Flow, ticket: Ticket) -> None:
    volunteer = await load_actor(other, flow.world.id("volunteer"))
    await accept_offer(other, volunteer, ticket.offer, flow.clock())


async def _decline_and_dispatch_again(other: AsyncSession, flow: Flow, ticket: Ticket) -> None:
    """The order leaves `dispatched` and comes back to it, with a second offer."""
    now = flow.clock()
    volunteer = await load_actor(other, flow.world.id("volunteer"))
    await decline_offer(other, volunteer, ticket.offer, "away", now, flow.settings)
    grid_worker = await load_actor(other, flow.world.id("grid_worker"))
    request = DispatchRequest(volunteer_ids=[flow.world.id("volunteer_b")], mode=DispatchMode.direct)
    await dispatch(other, grid_worker, ticket.order, request, now, flow.settings)


# A move made before the order page is read: (the order's status after it, the offers the manager and
# the volunteer then see, the history).
MOVES = {
    "accept": (_accept, "accepted", {"manager": ["accepted"], "volunteer": ["accepted"]}, ["accept"]),
    "decline and dispatch again": (
        _decline_and_dispatch_again,
        "dispatched",
        {"manager": ["declined", "pending"], "volunteer": ["declined"]},
        ["requeue", "dispatch"],
    ),
}


def _profile_locked(volunteer_id: int) -> Any:
    return select(VolunteerProfile.user_id).where(VolunteerProfile.user_id == volunteer_id).with_for_update()


async def _lock_timeout(session_maker: async_sessionmaker[AsyncSession], stmt: Any) -> bool:
    """Whether another transaction holds a row `stmt` (a SELECT … FOR UPDATE) locks."""
    async with session_maker() as probe, probe.begin():
        await probe.execute(text("SET LOCAL lock_timeout = '100ms'"))
        try:
            await probe.execute(stmt)
        except DBAPIError as error:
            if "lock timeout" not in str(error):
                raise
            return True
        return False


@pytest.mark.parametrize("held", ["offer", "profile"])
async def test_an_accept_locks_the_order_then_the_offer_then_the_volunteers_profile(
    flow: Flow, world: World, is_postgres: bool, held: str
) -> None:
    """Every change of an offer locks its order first, and a take locks the volunteer's profile after
    the order: an accept that finds its offer locked waits holding the order, and one that finds the
    profile locked waits holding both, in the one statement that locks the three."""
    if not is_postgres:
        pytest.skip("a change on SQLite locks the whole database")
    ticket = await flow.reach("dispatched")
    volunteer_id = world.id("volunteer")
    rows = {
        "order": select(Order.id).where(Order.id == ticket.order).with_for_update(),
        "offer": select(Offer.id).where(Offer.id == ticket.offer).with_for_update(),
        "profile": _profile_locked(volunteer_id),
    }

    pid = text("SELECT pg_backend_pid()")
    accepter: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def accept() -> None:
        async with flow.session_maker() as session, session.begin():
            accepter.set_result(await session.scalar(pid))
            volunteer = await load_actor(session, volunteer_id)
            await accept_offer(session, volunteer, ticket.offer, flow.clock())

    async with flow.session_maker() as holder, holder.begin():
        await holder.execute(rows[held])
        accepting = asyncio.create_task(accept())
        blocked = text("SELECT :holder = ANY(pg_blocking_pids(:accepter))")
        params = {"holder": await holder.scalar(pid), "accepter": await asyncio.wait_for(accepter, 30)}
        async with flow.session_maker() as probe:
            for _ in range(3000):
                if await probe.scalar(blocked, params):
                    break
                await asyncio.sleep(0.01)
            else:
                pytest.fail(f"the accept never waited for the {held}")
        # It waits in the statement that locks them, before anything is written.
        async with flow.session_maker() as probe:
            waiting = text("SELECT query FROM pg_stat_activity WHERE pid = :accepter")
            assert "FOR UPDATE OF orders, offers, volunteer_profiles" in await probe.scalar(waiting, params)
        assert await _lock_timeout(flow.session_maker, rows["order"])
        if held == "offer":
            assert not await _lock_timeout(flow.session_maker, rows["profile"])
        else:
            assert await _lock_timeout(flow.session_maker, rows["offer"])
    await accepting
    assert (await flow.detail(ticket))["status"] == "accepted"


async def test_a_decline_leaves_the_volunteers_profile_unlocked(
    flow: Flow, world: World, is_postgres: bool
) -> None:
    """A decline counts no held orders: it does not wait for the volunteer's own takes or profile
    changes."""
    if not is_postgres:
        pytest.skip("a change on SQLite locks the whole database")
    ticket = await flow.reach("dispatched")
    volunteer_id = world.id("volunteer")
    async with flow.session_maker() as holder, holder.begin():
        await holder.execute(_profile_locked(volunteer_id))
        async with flow.session_maker() as session, session.begin():
            await session.execute(text("SET LOCAL lock_timeout = '5s'"))
            volunteer = await load_actor(session, volunteer_id)
            await decline_offer(session, volunteer, ticket.offer, "busy", flow.clock(), flow.settings)
    assert (await flow.detail(ticket))["status"] == "submitted"


@pytest.mark.parametrize("viewer", ["manager", "volunteer"])
@pytest.mark.parametrize("move", list(MOVES))
async def test_the_order_page_reads_the_order_its_history_and_its_offers_in_one_statement(
    flow: Flow, world: World, move: str, viewer: str
) -> None:
    """One statement, so one snapshot: a move shows on the order, its history and its offers at once.
    Read in two statements, a move committed between them showed the order as it was beside its
    offers as they are."""
    make_move, status, offers, actions = MOVES[move]
    ticket = await flow.reach("dispatched")
    async with flow.session_maker() as other, other.begin():
        await make_move(other, flow, ticket)

    async with flow.session_maker() as session:
        reader = await load_actor(session, world.id(viewer))
        with statements() as sent:
            page = await orders_service.get_order(session, reader, ticket.order)
    assert len(sent) == 1, sent
    shown = (page.status, [o.status for o in page.offers], [e.action for e in page.events])
    assert shown == (status, offers[viewer], ["post", "dispatch", *actions])

    r = await flow.client.get(f"/api/orders/{ticket.order}", headers=world.auth(viewer))
    assert r.status_code == 200, r.text
    assert r.json() == msgspec.to_builtins(page)
