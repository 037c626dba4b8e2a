"""Unit reviews (述职评议): the score's formula on a hand-worked example, ratings after a project
(once per person, only by participants and the community), and a unit's half-year in figures."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market.unit_reviews.score import Figures, unit_score
from tests.test_authorization import assert_problem, call, ok
from tests.test_projects import activate, deliver, make_project
from tests.test_units_support import Coop, make_coop
from tests.world import World


def test_the_score_on_a_hand_worked_example() -> None:
    figures = Figures(
        made=4,
        kept=3,
        wishes_claimed=2,
        redeemed=7,
        resident_stars=(5, 4, 4, 3),
        community_stars=(5, 4),
    )
    # By hand:
    #   keeping     50 × 3/4                      = 37.5
    #   residents   average (5+4+4+3)/4 = 4.0;   15 × (4.0 − 1)/4 = 11.25
    #   communities average (5+4)/2 = 4.5;       15 × (4.5 − 1)/4 = 13.125
    #   giving      min(20, 4 × 2 + 1 × 7 = 15)   = 15
    #   total       37.5 + 11.25 + 13.125 + 15    = 76.875, to one decimal 76.9
    score = unit_score(figures)
    assert (score.keeping, score.residents, score.communities, score.giving) == (37.5, 11.25, 13.12, 15.0)
    assert score.total == 76.9


def test_nothing_to_measure_gives_nothing_and_giving_is_capped() -> None:
    # No commitments and no ratings: those parts are 0; 6 wishes × 4 = 24 is capped at 20.
    score = unit_score(
        Figures(made=0, kept=0, wishes_claimed=6, redeemed=0, resident_stars=(), community_stars=())
    )
    assert (score.keeping, score.residents, score.communities, score.giving, score.total) == (0, 0, 0, 20, 20)
    # Everything at its best: 100.
    best = unit_score(
        Figures(made=2, kept=2, wishes_claimed=5, redeemed=0, resident_stars=(5,), community_stars=(5,))
    )
    assert best.total == 100


@pytest.fixture
async def coop(
    client: AsyncTestClient, world: World, session_maker: async_sessionmaker[AsyncSession]
) -> Coop:
    return await make_coop(client, world, session_maker)


async def closed_project(
    client: AsyncTestClient, world: World, coop: Coop, project: dict | None = None
) -> dict:
    """Unit A delivers its 60 in full, unit B 30 of its 40: the project closes overdue."""
    project = await activate(client, world, project or await make_project(client, world, coop))
    for index, quantity, who in ((0, 60, "unit_admin"), (1, 30, "unit_admin_b")):
        r = await deliver(client, world, project, index, quantity, who=who)
        assert r.status_code == 200, r.text
    return await ok(client, world, "manager", "POST", f"/api/projects/{project['id']}/close")


async def test_participants_and_the_community_rate_a_unit_once(
    client: AsyncTestClient, world: World, coop: Coop
) -> None:
    project = await make_project(client, world, coop)
    path = f"/api/projects/{project['id']}/unit-ratings"
    body = {"unit_id": coop.unit_a, "stars": 4, "comment": "准时送到"}
    # Not before the project closes.
    assert_problem(await call(client, world, "volunteer", "POST", path, body), 409, {"project_not_closed"})
    project = await closed_project(client, world, coop, project)
    assert project["status"] == "overdue"

    rated = await ok(client, world, "volunteer", "POST", path, body)
    assert (rated["rater_kind"], rated["stars"]) == ("resident", 4)
    assert_problem(
        await call(client, world, "volunteer", "POST", path, {**body, "stars": 5}), 409, {"already_rated"}
    )
    community = await ok(client, world, "manager", "POST", path, {"unit_id": coop.unit_a, "stars": 5})
    assert community["rater_kind"] == "community"
    # The other unit is rated on its own.
    await ok(client, world, "volunteer", "POST", path, {"unit_id": coop.unit_b, "stars": 2})

    # Only participants and the community's managers.
    for who in ("volunteer_c", "resident", "manager_c2", "grid_worker", "unit_admin"):
        assert_problem(await call(client, world, who, "POST", path, body), 403, {"not_a_participant"})
    r = await call(client, world, "volunteer_b", "POST", path, {"unit_id": 999999, "stars": 3})
    assert_problem(r, 422, {"unit_not_in_project"})
    r = await call(client, world, "volunteer_b", "POST", path, {"unit_id": coop.unit_a, "stars": 6})
    assert_problem(r, 400)


async def test_a_units_half_year_in_figures(client: AsyncTestClient, world: World, coop: Coop) -> None:
    project = await closed_project(client, world, coop)
    path = f"/api/projects/{project['id']}/unit-ratings"
    await ok(client, world, "volunteer", "POST", path, {"unit_id": coop.unit_a, "stars": 5})
    await ok(client, world, "volunteer_b", "POST", path, {"unit_id": coop.unit_a, "stars": 3})
    await ok(client, world, "manager", "POST", path, {"unit_id": coop.unit_a, "stars": 4})
    local = world.clock().astimezone(world.settings.tz)
    query = f"year={local.year}&half={1 if local.month <= 6 else 2}"

    a = await ok(client, world, "street_admin", "GET", f"/api/unit-reviews/{coop.unit_a}?{query}")
    assert (a["commitments_made"], a["commitments_kept"], a["commitments_late"], a["quantity_delivered"]) == (
        1,
        1,
        0,
        60,
    )
    assert (a["resident_ratings"], a["resident_average"], a["community_ratings"], a["community_average"]) == (
        2,
        4.0,
        1,
        4.0,
    )
    # 50 × 1/1 + 15 × (4 − 1)/4 + 15 × (4 − 1)/4 + 0 = 50 + 11.25 + 11.25 = 72.5
    assert a["score"]["total"] == 72.5
    b = await ok(client, world, "street_admin", "GET", f"/api/unit-reviews/{coop.unit_b}?{query}")
    assert (b["commitments_made"], b["commitments_kept"], b["commitments_late"], b["quantity_delivered"]) == (
        1,
        0,
        1,
        30,
    )
    listed = await ok(client, world, "street_admin", "GET", f"/api/unit-reviews?{query}")
    assert [r["unit_id"] for r in listed] == [coop.unit_a, coop.unit_b]


async def test_who_reads_a_units_review(client: AsyncTestClient, world: World, coop: Coop) -> None:
    local = world.clock().astimezone(world.settings.tz)
    query = f"year={local.year}&half={1 if local.month <= 6 else 2}"
    # Unit A is paired with communities 1 and 2, unit B with community 1 only.
    expected = {
        "street_admin": {coop.unit_a, coop.unit_b},
        "manager": {coop.unit_a, coop.unit_b},
        "manager_c2": {coop.unit_a},
        "unit_admin": {coop.unit_a},
        "unit_admin_b": {coop.unit_b},
        "grid_worker": set(),
        "resident": set(),
    }
    for who, units in expected.items():
        listed = await ok(client, world, who, "GET", f"/api/unit-reviews?{query}")
        assert {r["unit_id"] for r in listed} == units, who
        for unit in (coop.unit_a, coop.unit_b):
            r = await call(client, world, who, "GET", f"/api/unit-reviews/{unit}?{query}")
            assert r.status_code == (200 if unit in units else 404), (who, unit, r.text)
