"""Before a volunteer holds an order, nothing they can read shows the resident's full name, phone
or building (DESIGN.md): not the order, its history, a plan's explanation, a notification, an
export or a stream.

The walk takes every GET route in the app's route table and requests it as a volunteer who was
offered the resident's orders and wishes in every state but holds none of them, with every id
of the kind the path asks for, and looks for the resident in each answer (pages, JSON, the
server-sent stream, CSV and Excel downloads). A route the walk cannot fill in fails the test; a
route a volunteer may not use is listed in NOT_FOR_VOLUNTEERS and must refuse them, so a new
route is either walked or consciously listed.
"""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import timedelta

import openpyxl
import pytest
from litestar import Litestar, Router
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.areas.models import Area, AreaLevel
from market.auth.models import Role, User
from market.auth.tokens import TOKEN_COOKIE, issue_token
from market.clock import FrozenClock
from market.doorplates.models import Doorplate
from market.ledger.models import AccountKind, Asset
from market.ledger.service import area_account, member_account
from market.settings import Settings
from tests.test_photos import jpeg_with_gps
from tests.world import World

# The resident, as only the resident, the area's managers and a volunteer holding their order see them.
NAME = "欧阳秀英"
BUILDING = "Plum Blossom House 7"
ADDRESS_DETAIL = "Unit 9, Room 1701"

# Routes that answer a volunteer only about orders they hold, unmasked (an order's photos): the
# walker holds none of the resident's orders, and the one they served is confirmed, so each refuses.
HOLDERS_ONLY = {
    "/api/orders/{order_id:int}/photos",
    "/api/photos/{photo_id:int}",
    "/api/photos/{photo_id:int}/thumbnail",
}
# Routes a volunteer may not use (a role guard): each must refuse them.
NOT_FOR_VOLUNTEERS = {
    "/api/credit/roll",
    "/api/party/members",
    "/api/party/street/{year:int}",
    "/api/party/years/{year:int}",
    "/api/unit-reviews",
    "/api/unit-reviews/{unit_id:int}",
    "/desk/areas/doorplates",
    "/desk/credit",
    "/desk/credit/roll.xlsx",
    "/desk/open311",
    "/desk/party",
    "/desk/party/commendations.pdf",
    "/desk/party/letters.pdf",
    "/desk/party/members.xlsx",
    "/desk/party/street",
    "/desk/party/street.xlsx",
    "/desk/party/year",
    "/desk/party/year.xlsx",
    "/desk/unit-reviews",
    "/desk/unit-reviews/report.pdf",
    "/desk/unit-reviews/report.xlsx",
    "/i/reports",
    "/i/reports/new",
    "/api/users",
    "/api/volunteers",
    "/api/dispatch/plans",
    "/api/dispatch/plans/{plan_id:int}",
    "/api/dispatch/auto/{community_id:int}",
    "/api/dispatch/board/{community_id:int}",
    "/api/followups",
    "/api/followups/{followup_id:int}",
    "/api/followups/sampling/{community_id:int}",
    "/api/ledger/transfers/{transfer_id:str}",
    "/api/ledger/owed-rewards",
    "/api/ledger/adjustments/pending",
    "/api/ledger/streets/{street_id:int}/policy",
    "/api/ledger/trial-balance",
    "/api/units",
    "/api/units/{unit_id:int}",
    "/api/resources",
    "/api/needs",
    "/api/needs/{need_id:int}",
    "/api/allocations/plans/{plan_id:int}",
    "/api/admin/jobs",
    "/api/admin/jobs/summary",
    "/api/admin/failed-attempts",
    "/desk/failed-attempts",
    "/desk",
    "/desk/orders/new",
    "/desk/followups",
    "/api/reports/summary",
    "/api/reports/areas",
    "/desk/dispatch",
    "/desk/dispatch/stream",
    "/desk/dispatch/orders/{order_id:int}",
    "/desk/dispatch/plans/{plan_id:int}",
    "/desk/projects",
    "/desk/projects/needs/new",
    "/desk/projects/allocations/{plan_id:int}",
    "/desk/projects/{project_id:int}",
    "/desk/ledger",
    "/desk/ledger/accounts/{account_id:int}",
    "/desk/ledger/owed",
    "/desk/ledger/adjustments",
    "/desk/ledger/accounts/{account_id:int}/adjust",
    "/desk/ledger/transfers/{transfer_id:str}/reverse",
    "/desk/ledger/trial-balance",
    "/desk/reports",
    "/desk/unit",
    "/desk/unit/commitments",
    "/desk/unit/fulfil",
    "/desk/unit/resources/new",
    "/desk/unit/resources/{resource_id:int}",
    "/desk/unit/rewards",
    "/desk/unit/rewards/new",
    "/api/areas/import/template",
    "/desk/areas",
    "/desk/areas/import",
    "/desk/areas/import/template",
    "/desk/budgets",
    "/desk/policy",
    "/desk/auto-dispatch",
    "/desk/categories",
    "/api/people/imports/template",
    "/api/people/imports/{import_id:int}",
    "/api/approvals",
    "/desk/people",
    "/desk/people/new",
    "/desk/people/{user_id:int}",
    "/desk/people/import",
    "/desk/people/import/template",
    "/desk/people/import/{import_id:int}",
    "/desk/approvals",
    "/desk/units",
    "/desk/units/new",
    "/desk/units/{unit_id:int}",
    "/desk/teams",
    "/desk/teams/new",
    "/desk/teams/{team_id:int}",
    "/api/shifts/{shift_id:int}/code",
    "/desk/projects/{project_id:int}/shifts",
    "/desk/projects/shifts/{shift_id:int}",
    "/desk/projects/shifts/{shift_id:int}/check-in",
    "/desk/projects/proposals",
    "/api/records",
    "/api/records/volunteers/{volunteer_id:int}",
    "/api/records/honour-roll/{community_id:int}",
    "/api/certificates",
    "/api/certificates/issuers/{community_id:int}",
    "/desk/records",
    "/desk/records/export",
    "/desk/records/volunteers/{volunteer_id:int}",
    "/desk/certificates",
    "/desk/certificates/issuer",
    "/desk/certificates/{certificate_id:int}/pdf",
    "/desk/honour-roll",
    "/desk/honour-roll/poster",
}
# A resident's own pages: a volunteer uses them only when they are a resident too.
RESIDENT_PAGES = {
    "/r/orders",
    "/r/orders/new",
    "/r/orders/{order_id:int}",
    "/r/wishes/new",
    "/r/volunteer",
    "/r/needs",
    "/r/needs/propose",
    "/r/needs/proposals",
    "/api/community-needs",
    "/api/need-proposals",
}
# The area tree and the new order's place picker name every building, as places and not as where
# someone lives: only there may the resident's building appear.
AREA_CATALOGUE = {"/api/areas", "/api/areas/{area_id:int}", "/r/orders/new", "/signup"}
# Downloads and lists seen in each of their forms.
# Routes that answer only for what the scene does not make, each with where it is checked instead.
NOT_IN_THE_SCENE = {
    "/open311/v2/requests/{name:str}": "a request that came in through Open311: tests/test_open311.py",
}
STREET_CODE = "110105001"
PLATE = "walk-doorplate-token"
QUERIES: dict[str, list[dict[str, str]]] = {
    "/api/ledger/accounts/{account_id:int}/entries": [{}, {"format": "csv"}, {"format": "xlsx"}],
    "/v/rewards": [{}, {"show": "mine"}],
    "/v/points": [{}, {"show": "served"}],
    "/lang": [{"to": "en"}],
    # Open311's reads name the street they are about.
    "/open311/v2/{name:str}": [{"jurisdiction_id": STREET_CODE}],
    "/open311/v2/requests/{name:str}": [{"jurisdiction_id": STREET_CODE}],
}
PARAMETER = re.compile(r"\{(\w+)(?::[^}]*)?\}")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # A stream that ends soon, so that the walk reads it whole like any other answer.
    return replace(settings, offer_stream_seconds=1, offer_stream_poll_seconds=0.2)


# What the walk fills the routes' paths with: every id of each kind the volunteer might ask for.
Ids = dict[str, list[object]]


async def _build_scene(
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    walker: str,
) -> Ids:
    """The resident's orders and wishes in every state the walker, a volunteer, can see them in
    without holding them, with the resident's details written into the free text too."""
    async with session_maker() as session, session.begin():
        compound = world.areas["c1_compound"]
        home = Area(
            code=compound.code + "002", name=BUILDING, level=AreaLevel.building, parent_id=compound.id
        )
        session.add(home)
        await session.flush()
        await session.execute(
            update(User).where(User.id == world.id("resident")).values(name=NAME, area_id=home.id)
        )
        # The doorplate of the resident's compound: its page is open to anyone who scans it.
        session.add(Doorplate(area_id=compound.id, token=PLATE, issued_at=clock()))
        street, c1 = world.areas["street"], world.areas["c1"]
        issuance = await area_account(session, street, AccountKind.street_issuance, Asset.service)
        pool = await area_account(session, c1, AccountKind.community_pool, Asset.service)
        accounts = [(await member_account(session, world.id(who))).id for who in (walker, "resident")]

    async def post(path: str, body: dict | None = None, who: str = "resident", status: int = 200) -> dict:
        r = await client.post(path, json=body, headers=world.auth(who))
        assert r.status_code == status, r.text
        return r.json() if r.content else {}

    phone = world.users["resident"].phone
    spaced = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    about_her = f"{NAME}, {spaced}, {BUILDING} {ADDRESS_DETAIL}"
    later = (clock() + timedelta(days=7)).isoformat()

    async def order(who: str = "resident") -> int:
        body = world.order_body(who)
        if who == "resident":
            body.update(area_id=home.id, address_detail=ADDRESS_DETAIL)
            body.update(description=f"Please call {NAME} at {spaced} first")
        return (await post("/api/orders", body, who, 201))["id"]

    async def offer(order_id: int, *volunteers: str) -> dict[str, int]:
        mode = "pool" if len(volunteers) > 1 else "direct"
        body = {"volunteer_ids": [world.id(v) for v in volunteers], "mode": mode}
        offers = (await post(f"/api/orders/{order_id}/dispatch", body, "grid_worker"))["offers"]
        return {v: next(o["id"] for o in offers if o["volunteer_id"] == world.id(v)) for v in volunteers}

    async def serve(order_id: int, offer_id: int, who: str, note: str) -> None:
        await post(f"/api/offers/{offer_id}/accept", who=who)
        for step in ("check-in", "check-out"):
            await post(f"/api/orders/{order_id}/{step}", who=who)
            clock.advance(timedelta(minutes=30))
        await post(f"/api/orders/{order_id}/complete", {"note": note}, who)

    # Points to spend: the volunteer serves a neighbour of the resident, paid from the pool.
    budget = {"id": "budget", "debit_account_id": issuance.id, "credit_account_id": pool.id}
    await post(
        "/api/ledger/transfers",
        {"transfers": [{**budget, "amount": 10_000, "code": "budget"}]},
        "street_admin",
    )
    neighbour = await order("resident_b")
    await serve(neighbour, (await offer(neighbour, walker))[walker], walker, "Done")
    await post(f"/api/orders/{neighbour}/confirm", {"rating": 5}, "resident_b")

    # The resident's orders. Offered and waiting for the volunteer's answer:
    pending = await order()
    await offer(pending, walker)
    # with a photo of the need, which shows her door as plainly as the address the mask hides.
    photo = await client.post(
        f"/api/orders/{pending}/photos",
        params={"kind": "posted"},
        files=[("photos", ("door.jpg", jpeg_with_gps(), "image/jpeg"))],
        headers=world.auth("resident"),
    )
    assert photo.status_code == 201, photo.text
    # taken by another volunteer of the pool, served, confirmed with a comment:
    lost = await order()
    await serve(lost, (await offer(lost, walker, "volunteer_b"))["volunteer_b"], "volunteer_b", about_her)
    await post(f"/api/orders/{lost}/confirm", {"rating": 5, "comment": f"Thanks from {about_her}"})
    # cancelled by the resident, rejected by a manager, declined by the volunteer.
    cancelled = await order()
    await offer(cancelled, walker)
    await post(f"/api/orders/{cancelled}/cancel", {"reason": f"{about_her}: sorted"})
    rejected = await order()
    await offer(rejected, walker)
    await post(f"/api/orders/{rejected}/reject", {"reason": f"{about_her} is away"}, "grid_worker")
    declined = await order()
    offer_id = (await offer(declined, walker))[walker]
    await post(f"/api/offers/{offer_id}/decline", {"reason": "Away"}, walker, 204)
    # The manager plans the waiting orders: the plan is theirs to read, not the volunteer's.
    plan = await post("/api/dispatch/plans", {"area_id": c1.id}, "manager", 201)

    # Wishes: open on the wall, and claimed, fulfilled and confirmed by another volunteer. A wish
    # has no address detail (the resident's home is its place), so none is written into it.
    where_she_lives = f"{NAME}, {spaced}, {BUILDING}"
    wish = {
        "title": f"Glasses for {NAME}",
        "description": where_she_lives,
        "value_yuan": 60,
        "deadline": later,
    }
    open_wish = (await post("/api/wishes", wish, status=201))["id"]
    done_wish = (await post("/api/wishes", wish, status=201))["id"]
    for who, action in (("volunteer_b", "claim"), ("volunteer_b", "fulfil"), ("resident", "confirm")):
        await post(f"/api/wishes/{done_wish}/{action}", {"note": where_she_lives}, who)

    # What else a volunteer reads: their team, a project they take part in, a reward they redeemed.
    team = {"name": "Escorts", "speciality": "health", "community_id": c1.id}
    team.update(leader_id=world.id("volunteer_b"), member_ids=[world.id(walker)])
    team_id = (await post("/api/teams", team, "manager", 201))["id"]
    project = {"title": "Autumn clean-up", "community_id": c1.id, "deadline": later}
    project_id = (
        await post("/api/projects", {**project, "participant_ids": [world.id(walker)]}, "manager", 201)
    )["id"]
    # A shift of that project the walker signed up for.
    shift = {"title": "Sweeping", "area_id": c1.id, "slots": 5}
    shift.update(starts_at=(clock() + timedelta(days=1)).isoformat())
    shift.update(ends_at=(clock() + timedelta(days=1, hours=2)).isoformat())
    shift_id = (await post(f"/api/projects/{project_id}/shifts", shift, "manager", 201))["id"]
    await post(f"/api/shifts/{shift_id}/sign-up", who=walker)
    reward = {
        "name": "Rice, 5 kg",
        "price": 1,
        "stock": 5,
        "pickup_place": "Service centre",
        "donor": "Grain shop",
    }
    reward.update(valid_until=later, community_ids=[c1.id])
    reward_id = (await post("/api/rewards", reward, "unit_admin", 201))["id"]
    redemption = await post("/api/redemptions", {"reward_id": reward_id, "quantity": 1}, walker, 201)
    # A manager's import of the resident, by name and building.
    people = f"phone,name,building\n13700000001,{NAME},{home.code}\n".encode()
    imported = await client.post(
        "/api/people/imports", files={"file": ("p.csv", people, "text/csv")}, headers=world.auth("manager")
    )
    assert imported.status_code == 201, imported.text
    # The certificate of the service the walker did for the neighbour, and its verification page.
    issuer = {"responsible_person": "Director", "contact": "65001234"}
    r = await client.put(f"/api/certificates/issuers/{c1.id}", json=issuer, headers=world.auth("manager"))
    assert r.status_code == 200, r.text
    today = clock().astimezone(world.settings.tz).date().isoformat()
    asked = {"community_id": c1.id, "period_start": "2026-01-01", "period_end": today}
    certificate = await post("/api/certificates", asked, walker, 201)
    certificate = await post(f"/api/certificates/{certificate['id']}/issue", None, "manager")

    return {
        "order_id": [pending, lost, cancelled, rejected, declined, neighbour],
        "wish_id": [open_wish, done_wish],
        "photo_id": [photo.json()[0]["id"]],
        "user_id": [world.id("resident"), world.id(walker), world.id("volunteer_b")],
        "account_id": accounts,
        "area_id": [home.id, c1.id],
        "community_id": [c1.id],
        "street_id": [street.id],
        "plan_id": [plan["id"]],
        "team_id": [team_id],
        "project_id": [project_id],
        "shift_id": [shift_id],
        "redemption_id": [redemption["id"]],
        "import_id": [imported.json()["id"]],
        "transfer_id": ["budget"],
        "need_id": [1],
        "followup_id": [1],
        "unit_id": [1],
        "resource_id": [1],
        "file_path": ["live.js"],
        "path": ["openapi.json"],
        "volunteer_id": [world.id(walker), world.id("volunteer_b")],
        "certificate_id": [certificate["id"]],
        "token": [certificate["verify_path"].rsplit("/", 1)[1], PLATE],
        "year": [world.now.astimezone(world.settings.tz).year],
        # Open311's paths end in a format: a request's or a service's code, then .json or .xml.
        "name": ["1.json", "1.xml", "escort.json", "discovery.json", "services.xml", "requests.json"],
    }


def get_routes(app: Litestar | Router) -> list[str]:
    return sorted(
        {
            route.path
            for route in app.routes
            for handler in getattr(route, "route_handlers", [])
            if "GET" in (getattr(handler, "http_methods", None) or ())
        }
    )


def _paths(route: str, ids: Ids) -> list[str]:
    """The route with every combination of the scene's ids for its parameters."""
    paths = [route]
    for name in PARAMETER.findall(route):
        assert name in ids, f"The walk has no {name} to fill {route} with: add it to the scene."
        paths = [
            re.sub(r"\{" + name + r"(?::[^}]*)?\}", str(value), p, count=1)
            for p in paths
            for value in ids[name]
        ]
    return paths


def _text(response) -> str:
    if response.headers.get("content-type", "").startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml"
    ):
        book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
        return "\n".join(
            str(cell)
            for sheet in book.worksheets
            for row in sheet.iter_rows(values_only=True)
            for cell in row
        )
    return response.text


def _leaks(text: str, phone: str, *, building: bool) -> list[str]:
    secrets = {"name": NAME, "address detail": ADDRESS_DETAIL}
    if building:
        secrets["building"] = BUILDING
    found = [what for what, value in secrets.items() if value in text]
    if re.search(r"[\s-]?".join(phone), text):
        found.append("phone")
    return found


# A volunteer, and a volunteer who is a resident too (the resident's pages open to them).
@pytest.mark.parametrize("walker", ["volunteer", "vol_resident"])
async def test_a_volunteer_who_holds_no_order_of_the_resident_reads_nothing_that_names_them(
    app: Litestar,
    client: AsyncTestClient,
    world: World,
    session_maker: async_sessionmaker[AsyncSession],
    clock: FrozenClock,
    walker: str,
) -> None:
    ids = await _build_scene(client, world, session_maker, clock, walker)
    refused = (
        NOT_FOR_VOLUNTEERS
        | set(NOT_IN_THE_SCENE)
        | HOLDERS_ONLY
        | (set() if Role.resident in world.users[walker].roles else RESIDENT_PAGES)
    )
    phone = world.users["resident"].phone
    token, _ = issue_token(world.settings, world.users[walker], world.clock())
    # Logged in as a browser is: the cookie opens the pages and lets the API be read.
    client.headers.pop("Authorization", None)
    client.cookies.set(TOKEN_COOKIE, f"Bearer {token}")

    leaks, statuses = [], {}
    for route in get_routes(app):
        for path in _paths(route, ids):
            for query in QUERIES.get(route, [{}]):
                r = await client.get(path, params=query, follow_redirects=False)
                assert r.status_code < 500, f"{path} {query}: {r.status_code}"
                statuses.setdefault(route, set()).add(r.status_code)
                for what in _leaks(_text(r), phone, building=route not in AREA_CATALOGUE):
                    leaks.append(f"{path} {query or ''}: the resident's {what}")

    assert leaks == [], "\n".join(leaks)
    reached = {route for route, seen in statuses.items() if any(s < 400 for s in seen)}
    assert sorted(reached & refused) == [], "listed as not for volunteers, yet they use it"
    unanswered = sorted(set(statuses) - reached - refused)
    assert unanswered == [], "a volunteer's routes the walk never got an answer from:\n" + "\n".join(
        f"{route} {sorted(statuses[route])}" for route in unanswered
    )
    assert sorted(refused - set(statuses)) == [], "listed, but no longer a route"
    # The walk read the resident's orders as the volunteer sees them: masked, not absent.
    seen = (await client.get(f"/api/orders/{ids['order_id'][0]}")).json()
    assert (
        seen["masked"] and seen["requester"]["name"] == "欧***" and seen["events"][0]["actor_name"] == "欧***"
    )
    stream = await client.get("/v/offers/stream")
    assert "data: " in stream.text and "欧***" in stream.text
