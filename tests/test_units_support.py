"""Shared set-up for the units, needs and projects tests: two co-building units, their
resources, needs, and a funded community pool. No tests of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from httpx import Response
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.auth.models import Role, User, UserRole
from market.ledger import service as ledger
from market.ledger.engine import Draft
from market.ledger.models import AccountKind, Asset, TransferCode
from market.settings import Settings
from tests.world import World, password_hash


def problem(r: Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["code"] == code, body
    return body


def ok(r: Response) -> Any:
    assert r.status_code in (200, 201), r.text
    return r.json()


@dataclass
class Coop:
    # Registered by the street admin, run by `unit_admin`, paired with both communities.
    unit_a: int
    # Registered by community 1's manager, run by `unit_admin_b`, paired with community 1.
    unit_b: int


async def add_unit_admin(session_maker: async_sessionmaker[AsyncSession], world: World, key: str) -> None:
    async with session_maker() as session, session.begin():
        user = User(
            phone="13800000039",
            name=key.replace("_", " ").title(),
            password_hash=password_hash(),
            area_id=world.areas["street"].id,
            is_active=True,
            created_at=world.now,
            role_rows=[UserRole(role=Role.unit_admin)],
        )
        session.add(user)
    world.users[key] = user


async def make_coop(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> Coop:
    await add_unit_admin(session_maker, world, "unit_admin_b")
    a = ok(
        await client.post(
            "/api/units",
            json=unit_body(world, "District Hospital", ["c1", "c2"], ["unit_admin"], kind="hospital"),
            headers=world.auth("street_admin"),
        )
    )
    b = ok(
        await client.post(
            "/api/units",
            json=unit_body(world, "Sunny Property", ["c1"], ["unit_admin_b"], kind="property_company"),
            headers=world.auth("manager"),
        )
    )
    return Coop(unit_a=a["id"], unit_b=b["id"])


def unit_body(world: World, name: str, communities: list[str], admins: list[str], **extra: Any) -> dict:
    return {
        "name": name,
        "kind": "private_company",
        "contact_name": "Ms Li",
        "contact_phone": "13912345678",
        "community_ids": [world.areas[c].id for c in communities],
        "admin_ids": [world.id(a) for a in admins],
        **extra,
    }


def resource_body(world: World, unit_id: int, **overrides: Any) -> dict:
    body: dict[str, Any] = {
        "unit_id": unit_id,
        "category": "goods",
        "title": "Rice",
        "quantity": 100,
        "unit_of_measure": "kg",
        "community_ids": [world.areas["c1"].id],
        "available_from": (world.now - timedelta(days=1)).isoformat(),
    }
    body.update(overrides)
    return body


async def publish(
    client: AsyncTestClient, world: World, unit_id: int, who: str = "unit_admin", **overrides: Any
):
    return ok(
        await client.post(
            "/api/resources", json=resource_body(world, unit_id, **overrides), headers=world.auth(who)
        )
    )


def need_body(world: World, **overrides: Any) -> dict:
    body: dict[str, Any] = {
        "area_id": world.areas["c1_compound"].id,
        "category": "goods",
        "title": "Rice for elderly residents",
        "quantity": 50,
        "unit_of_measure": "kg",
        "priority": 3,
        "deadline": (world.now + timedelta(days=10)).isoformat(),
    }
    body.update(overrides)
    return body


async def post_need(client: AsyncTestClient, world: World, who: str = "manager", **overrides: Any) -> dict:
    return ok(await client.post("/api/needs", json=need_body(world, **overrides), headers=world.auth(who)))


async def resource_state(client: AsyncTestClient, world: World, resource_id: int) -> dict:
    items = ok(await client.get("/api/resources?limit=100", headers=world.auth("admin")))["items"]
    return next(r for r in items if r["id"] == resource_id)


async def fund_pool(
    session_maker: async_sessionmaker[AsyncSession], world: World, settings: Settings, amount: int = 10_000
) -> None:
    async with session_maker() as session, session.begin():
        issuance = await ledger.area_account(
            session, world.areas["street"], AccountKind.street_issuance, Asset.service
        )
        pool = await ledger.area_account(
            session, world.areas["c1"], AccountKind.community_pool, Asset.service
        )
        (result,) = await ledger.transfer(
            session,
            [
                Draft(
                    id="fund-c1",
                    debit_account_id=issuance.id,
                    credit_account_id=pool.id,
                    amount=amount,
                    code=TransferCode.budget,
                )
            ],
            world.now,
            settings.tz,
        )
        assert result.result == "created"
