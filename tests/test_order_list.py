"""The order list, page by page: newest first (orders posted at the same moment by id, the later
first), each visible order once across the pages, and every page telling the same total."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import NamedTuple

import pytest
from litestar.testing import AsyncTestClient

from market.clock import FrozenClock
from tests.world import World


async def _pages(client: AsyncTestClient, world: World, who: str, size: int, query: str = "") -> list[dict]:
    """Every page of `who`'s list, `size` orders a page, until one comes back empty."""
    pages = []
    while True:
        r = await client.get(
            f"/api/orders?limit={size}&offset={len(pages) * size}{query}", headers=world.auth(who)
        )
        assert r.status_code == 200, r.text
        pages.append(r.json())
        if not pages[-1]["items"]:
            return pages


@pytest.mark.parametrize("size", [1, 2, 3, 20])
async def test_pages_laid_end_to_end_list_every_visible_order_once_newest_first(
    client: AsyncTestClient, world: World, clock: FrozenClock, size: int
) -> None:
    posted = []  # (posted at, id, by whom)
    for i, resident in enumerate(["resident", "resident_b", "resident_c2"] * 2 + ["resident"]):
        if i % 2:  # every other order a minute later: the others share their moment with the one before
            clock.advance(timedelta(minutes=1))
        r = await client.post("/api/orders", json=world.order_body(resident), headers=world.auth(resident))
        assert r.status_code == 201, r.text
        posted.append((clock(), r.json()["id"], resident))
    newest_first = [order for _, order, _ in sorted(posted, reverse=True)]
    in_community_1 = [order for _, order, by in sorted(posted, reverse=True) if by != "resident_c2"]

    for who, expected in (("admin", newest_first), ("grid_worker", in_community_1)):
        pages = await _pages(client, world, who, size)

        assert [o["id"] for page in pages for o in page["items"]] == expected, who
        assert {page["total"] for page in pages} == {len(expected)}, who
        assert all(len(page["items"]) == size for page in pages[:-2]), who


async def test_a_filtered_list_pages_and_counts_the_matching_orders_alone(
    client: AsyncTestClient, world: World
) -> None:
    ids = []
    for _ in range(4):
        r = await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
        ids.append(r.json()["id"])
    for order in ids[1::2]:
        r = await client.post(
            f"/api/orders/{order}/cancel", json={"reason": "not needed"}, headers=world.auth("resident")
        )
        assert r.status_code == 200, r.text

    pages = await _pages(client, world, "manager", 1, "&status=cancelled")

    assert [o["id"] for page in pages for o in page["items"]] == ids[1::2][::-1]
    assert {page["total"] for page in pages} == {2}


class Posted(NamedTuple):
    id: int
    category: str
    place: str
    day: date  # the window's, in the service's zone, as the date filters read it


async def test_each_filter_narrows_the_list_and_its_total_alone_and_together(
    client: AsyncTestClient, world: World
) -> None:
    made = []
    for category, place, days in [
        ("escort", "c1_building", 0),
        ("shopping", "c1_building", 2),
        ("escort", "c1_compound", 2),
        ("shopping", "c1_compound", 5),
    ]:
        start = world.now + timedelta(days=days, minutes=15)
        body = world.order_body(
            category=category,
            area_id=world.areas[place].id,
            window_start=start.isoformat(),
            window_end=(start + timedelta(hours=6)).isoformat(),
        )
        r = await client.post("/api/orders", json=body, headers=world.auth("resident"))
        assert r.status_code == 201, r.text
        made.append(Posted(r.json()["id"], category, place, start.astimezone(world.settings.tz).date()))
    cancelled = made[1].id
    r = await client.post(
        f"/api/orders/{cancelled}/cancel", json={"reason": "not needed"}, headers=world.auth("resident")
    )
    assert r.status_code == 200, r.text
    day = made[1].day  # two days after the first's, three before the last's
    in_two_days = day.isoformat()
    building, compound = world.areas["c1_building"].id, world.areas["c1_compound"].id

    cases: list[tuple[str, Callable[[Posted], bool]]] = [
        ("category=shopping", lambda o: o.category == "shopping"),
        (f"area_id={building}", lambda o: o.place == "c1_building"),
        (f"area_id={compound}", lambda o: True),  # its buildings' orders too
        ("status=cancelled", lambda o: o.id == cancelled),
        (f"date_from={in_two_days}", lambda o: o.day >= day),
        (f"date_to={in_two_days}", lambda o: o.day <= day),
        (f"date_from={in_two_days}&date_to={in_two_days}", lambda o: o.day == day),
        ("escalated=false", lambda o: True),
        ("escalated=true", lambda o: False),
        (
            f"category=escort&date_from={in_two_days}&area_id={compound}",
            lambda o: o.category == "escort" and o.day >= day,
        ),
    ]
    for query, keeps in cases:
        expected = [o.id for o in reversed(made) if keeps(o)]
        for who in ("resident", "grid_worker", "admin"):
            for size in (1, 20):
                pages = await _pages(client, world, who, size, "&" + query)
                assert [o["id"] for page in pages for o in page["items"]] == expected, (query, who)
                assert {page["total"] for page in pages} == {len(expected)}, (query, who)
