"""The order list, page by page: newest first (orders posted at the same moment by id, the later
first), each visible order once across the pages, and every page telling the same total."""

from __future__ import annotations

from datetime import timedelta

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
