"""The resident's order form: asking for a volunteer who served them before."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from market.web.i18n import translate
from tests.test_preferred_volunteer import served
from tests.web.conftest import Browser
from tests.world import World


async def test_the_order_form_offers_the_volunteers_who_served_the_resident(
    browser: Browser, client: AsyncTestClient, world: World
) -> None:
    browser.login("resident", "zh")
    assert translate("zh", "resident.field_preferred") not in (await browser.get("/r/orders/new")).text
    await served(client, world, "volunteer_b")
    page = await browser.get("/r/orders/new")
    assert translate("zh", "resident.field_preferred") in page.text
    assert (
        f'<option value="{world.id("volunteer_b")}" >{world.users["volunteer_b"].name}</option>' in page.text
    )
