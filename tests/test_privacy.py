"""Before a volunteer holds an order they see a masked phone and name and only the compound."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from market.privacy import Mask
from tests.watch import statements
from tests.world import World


async def _dispatched_order(client: AsyncTestClient, world: World) -> tuple[int, int]:
    order_id = (
        await client.post("/api/orders", json=world.order_body(), headers=world.auth("resident"))
    ).json()["id"]
    r = await client.post(
        f"/api/orders/{order_id}/dispatch",
        json={"volunteer_ids": [world.id("volunteer"), world.id("volunteer_b")], "mode": "pool"},
        headers=world.auth("grid_worker"),
    )
    offer_id = next(o["id"] for o in r.json()["offers"] if o["volunteer_id"] == world.id("volunteer"))
    return order_id, offer_id


def _assert_masked(order: dict, world: World) -> None:
    resident = world.users["resident"]
    assert order["masked"] is True
    # No id either: with it a volunteer could look the resident up.
    assert order["requester"]["id"] is None
    assert order["requester"]["phone"] == resident.phone[:3] + "****" + resident.phone[-4:]
    assert order["requester"]["name"] != resident.name and order["requester"]["name"][0] == resident.name[0]
    assert order["area"]["level"] == "compound" and order["area"]["id"] == world.areas["c1_compound"].id
    assert order["address_detail"] is None


def _assert_full(order: dict, world: World) -> None:
    resident = world.users["resident"]
    assert order["masked"] is False
    assert order["requester"]["id"] == resident.id
    assert order["requester"]["phone"] == resident.phone
    assert order["requester"]["name"] == resident.name
    assert order["area"]["id"] == world.areas["c1_building"].id
    assert order["address_detail"] == "Unit 2, Room 502"


async def test_an_offered_volunteer_sees_a_masked_order(client: AsyncTestClient, world: World) -> None:
    order_id, _ = await _dispatched_order(client, world)
    offers = (await client.get("/api/offers", headers=world.auth("volunteer"))).json()["items"]
    _assert_masked(offers[0]["order"], world)
    _assert_masked(
        (await client.get(f"/api/orders/{order_id}", headers=world.auth("volunteer"))).json(), world
    )
    listed = (await client.get("/api/orders", headers=world.auth("volunteer"))).json()["items"]
    _assert_masked(listed[0], world)


async def test_the_accepting_volunteer_sees_what_they_need_and_the_others_stay_masked(
    client: AsyncTestClient, world: World
) -> None:
    order_id, offer_id = await _dispatched_order(client, world)
    accepted = await client.post(f"/api/offers/{offer_id}/accept", headers=world.auth("volunteer"))
    _assert_full(accepted.json(), world)
    other = (await client.get(f"/api/orders/{order_id}", headers=world.auth("volunteer_b"))).json()
    _assert_masked(other, world)
    # The losing volunteer sees only their own offer, not who else was asked.
    assert [o["volunteer_id"] for o in other["offers"]] == [world.id("volunteer_b")]


async def test_the_resident_and_managers_see_everything(client: AsyncTestClient, world: World) -> None:
    order_id, _ = await _dispatched_order(client, world)
    for viewer in ("resident", "grid_worker", "manager", "street_admin", "admin"):
        order = (await client.get(f"/api/orders/{order_id}", headers=world.auth(viewer))).json()
        _assert_full(order, world)
        # Who was asked is the community's business; the resident follows the order's events.
        assert len(order["offers"]) == (0 if viewer == "resident" else 2)


async def test_after_confirmation_the_volunteer_no_longer_sees_the_contact(
    client: AsyncTestClient, world: World
) -> None:
    order_id, offer_id = await _dispatched_order(client, world)
    await client.post(f"/api/offers/{offer_id}/accept", headers=world.auth("volunteer"))
    for step in ("check-in", "check-out"):
        await client.post(f"/api/orders/{order_id}/{step}", headers=world.auth("volunteer"))
    await client.post(f"/api/orders/{order_id}/complete", json={}, headers=world.auth("volunteer"))
    completed = (await client.get(f"/api/orders/{order_id}", headers=world.auth("volunteer"))).json()
    _assert_full(completed, world)
    await client.post(f"/api/orders/{order_id}/confirm", json={"rating": 4}, headers=world.auth("resident"))
    _assert_masked(
        (await client.get(f"/api/orders/{order_id}", headers=world.auth("volunteer"))).json(), world
    )


async def test_the_history_masks_the_resident_as_the_order_does(
    client: AsyncTestClient, world: World
) -> None:
    resident = world.users["resident"]
    order_id, _ = await _dispatched_order(client, world)
    # A manager's reason that names the resident and where they live.
    reason = "Resident (137 0000 0001) moved out of Building 1"
    r = await client.post(
        f"/api/orders/{order_id}/cancel", json={"reason": reason}, headers=world.auth("manager")
    )
    assert r.status_code == 200, r.text

    seen = (await client.get(f"/api/orders/{order_id}", headers=world.auth("volunteer"))).json()

    _assert_masked(seen, world)
    post, *_, cancel = seen["events"]
    assert (post["action"], post["actor_name"], post["actor_id"]) == ("post", "R*******", None)
    assert (cancel["actor_name"], cancel["actor_id"]) == ("Manager", world.id("manager")), "only the resident"
    assert cancel["note"] == "R******* (137****0001) moved out of ***"
    full = (await client.get(f"/api/orders/{order_id}", headers=world.auth("resident"))).json()
    assert full["events"][0]["actor_name"] == resident.name and full["events"][-1]["note"] == reason
    assert full["events"][0]["actor_id"] == resident.id


def test_a_mask_hides_the_name_phone_and_places_in_free_text() -> None:
    mask = Mask("李秀英", "13700000001", ("3号楼", "2单元502"))
    assert mask("李秀英住3号楼，电话13700000001") == "李**住***，电话137****0001"
    assert mask("2单元502") == "***"
    assert mask("call 137-0000-0001 or 137 0000 0001") == "call 137****0001 or 137****0001"
    assert mask("1 3 7-0 0 0 0-0 0 0 1, 813700000001") == "137****0001, 8137****0001"
    assert mask("137 - 0000  0001, 137\u30000000\u30000001") == "137****0001, 137****0001"
    assert mask("13700000002, 137 0000 001") == "13700000002, 137 0000 001", "another number"
    assert mask("nothing of hers") == "nothing of hers"
    # A one-character name or an empty place would mask far too much.
    assert Mask("李", "13700000001", ("", " "))("李先生") == "李先生"


async def test_an_order_is_read_with_its_history_in_one_statement(
    client: AsyncTestClient, world: World
) -> None:
    """One snapshot: each note is masked by the order as it stood when the note was read, never by
    the order of a moment before, as a second statement could see it."""
    order_id, _ = await _dispatched_order(client, world)
    with statements() as sent:
        r = await client.get(f"/api/orders/{order_id}", headers=world.auth("volunteer"))
        assert r.status_code == 200 and len(r.json()["events"]) == 2
        (history,) = [s for s in sent if "JOIN order_events" in s]
        assert "FROM orders" in history
        # The resident is offered nothing: no statement asks for the offers they could not see.
        sent.clear()
        r = await client.get(f"/api/orders/{order_id}", headers=world.auth("resident"))
        assert r.status_code == 200 and r.json()["offers"] == []
        assert not [s for s in sent if "offers" in s]
