"""Order photos on the pages: the resident attaches them when posting, the volunteer when
completing; thumbnails on the resident's order page and the dispatch desk open the photo itself."""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient

from market.web.i18n import translate
from tests.test_authorization import build_order
from tests.test_photos import jpeg_with_gps, png
from tests.web.conftest import Browser, field_errors
from tests.web.test_phone_resident import api_orders, order_form
from tests.world import World

THUMBNAIL = re.compile(r'<a href="(/api/photos/\d+)"[^>]*><img src="(/api/photos/\d+/thumbnail)"')


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_resident_posts_an_order_with_photos(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    browser.login("resident", lang)
    assert 'enctype="multipart/form-data"' in (await browser.get("/r/orders/new")).text

    photos = [("photos", ("a.jpg", jpeg_with_gps(), "image/jpeg")), ("photos", ("b.png", png(), "image/png"))]
    r = await browser.post("/r/orders/new", order_form(world), files=photos)

    assert r.status_code == 303, r.text
    page = await browser.get(r.headers["location"])
    assert translate(lang, "photos.posted") in page.text
    shown = THUMBNAIL.findall(page.text)
    assert len(shown) == 2
    # The page's login cookie reads them, as it reads the API.
    for full, thumb in shown:
        assert (await browser.get(full)).status_code == 200
        assert (await browser.get(thumb)).headers["content-type"] in ("image/jpeg", "image/png")

    # The dispatch desk shows the same photos.
    order_id = (await api_orders(client, world))[0]["id"]
    browser.login("grid_worker", lang)
    desk = await browser.get(f"/desk/dispatch/orders/{order_id}")
    assert THUMBNAIL.findall(desk.text) == shown


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_a_refused_photo_posts_no_order(
    browser: Browser, client: AsyncTestClient, world: World, lang: str
) -> None:
    browser.login("resident", lang)
    form = order_form(world)

    r = await browser.post("/r/orders/new", form, files=[("photos", ("a.jpg", b"not a photo", "image/jpeg"))])

    assert r.status_code == 400
    assert field_errors(r.text)["photos"] == translate(lang, "error.photo_type_not_allowed")
    assert form["description"] in r.text  # what was typed is kept
    assert await api_orders(client, world) == []

    too_many = [("photos", (f"{i}.png", png(), "image/png")) for i in range(4)]
    r = await browser.post("/r/orders/new", form, files=too_many)
    assert field_errors(r.text)["photos"] == translate(lang, "error.too_many_photos")
    assert await api_orders(client, world) == []


async def test_a_volunteer_completes_with_result_photos(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    order, _ = await build_order(client, world, "checked_out")
    browser.login("volunteer", "en")
    tasks = await browser.get("/v/tasks")
    assert f'id="photos-{order}"' in tasks.text and 'enctype="multipart/form-data"' in tasks.text

    refused = await browser.post(
        f"/v/tasks/{order}/complete", {"note": "done"}, files=[("photos", ("x.jpg", b"nope", "image/jpeg"))]
    )
    assert refused.status_code == 400
    assert field_errors(refused.text)[f"photos-{order}"] == translate("en", "error.photo_type_not_allowed")

    r = await browser.post(
        f"/v/tasks/{order}/complete", {"note": "done"}, files=[("photos", ("done.png", png(), "image/png"))]
    )
    assert r.status_code == 303, r.text

    browser.login("resident", "en")
    page = await browser.get(f"/r/orders/{order}")
    assert 'id="photos-result"' in page.text and len(THUMBNAIL.findall(page.text)) == 1
    detail = (await client.get(f"/api/orders/{order}", headers=world.auth("resident"))).json()
    assert detail["status"] == "completed"
