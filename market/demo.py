"""A demo street: 3 communities with grids, compounds and buildings; residents,
volunteers with skills and availability, staff, two co-building units' admins,
and orders in several states. Deterministic, so the printed logins never change."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import Area, AreaLevel
from market.auth.models import Role, User, UserRole
from market.auth.passwords import hash_password
from market.orders.models import DispatchMode, Offer, OfferStatus, Order, OrderEvent, OrderStatus, Urgency
from market.volunteers.models import AvailabilityWindow, ServingArea, VolunteerProfile, VolunteerSkill

DEMO_PASSWORD = "demo12345"
STREET_CODE = "110105001"
COMMUNITIES = ["幸福里社区", "光明社区", "和平社区"]
CATEGORIES = [
    "escort",
    "repair",
    "shopping",
    "legal",
    "health",
    "psychological",
    "elderly_care",
    "mediation",
    "culture",
    "policy",
    "tutoring",
    "cleaning",
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "国强",
    "志明",
]
UNITS = ["区人民医院", "安居物业公司"]


# (role, phone, who): printed by `market demo`; every demo account uses DEMO_PASSWORD.
DEMO_LOGINS = [
    ("admin", "13800000000", "system administrator"),
    ("street_admin", "13800000001", "幸福街道 street office"),
    ("community_manager", "13800000010", "幸福里社区 manager"),
    ("grid_worker", "13800000020", "幸福里社区 grid 1"),
    ("unit_admin", "13800000030", "区人民医院 (co-building unit)"),
    ("resident", "13700000000", "a resident of 幸福里社区"),
    ("volunteer", "13900000000", "a volunteer of 幸福里社区 (escort, shopping, repair)"),
    ("volunteer", "13900000001", "a volunteer of 光明社区"),
]


async def is_empty(session: AsyncSession) -> bool:
    return not await session.scalar(select(func.count()).select_from(User))


async def load_demo(session: AsyncSession, now: datetime) -> None:
    rng = random.Random(20261122)
    password_hash = await hash_password(DEMO_PASSWORD)

    async def add_area(code: str, name: str, level: AreaLevel, parent: Area | None) -> Area:
        area = Area(code=code, name=name, level=level, parent_id=parent.id if parent else None)
        session.add(area)
        await session.flush()
        return area

    def add_user(phone: str, name: str, roles: list[Role], area: Area | None) -> User:
        user = User(
            phone=phone,
            name=name,
            password_hash=password_hash,
            area_id=area.id if area else None,
            is_active=True,
            failed_logins=0,
            created_at=now,
            role_rows=[UserRole(role=r) for r in roles],
        )
        session.add(user)
        return user

    def person() -> str:
        return rng.choice(SURNAMES) + rng.choice(GIVEN)

    street = await add_area(STREET_CODE, "幸福街道", AreaLevel.street, None)
    communities, buildings_by_community = [], []
    for c, community_name in enumerate(COMMUNITIES, start=1):
        community = await add_area(f"{STREET_CODE}{c:03d}", community_name, AreaLevel.community, street)
        communities.append(community)
        buildings = []
        for g in range(1, 3):
            grid = await add_area(f"{community.code}{g:03d}", f"第{g}网格", AreaLevel.grid, community)
            for p in range(1, 3):
                compound = await add_area(
                    f"{grid.code}{p:03d}",
                    f"{community_name[:2]}{['东', '西'][p - 1]}苑{g}区",
                    AreaLevel.compound,
                    grid,
                )
                for b in range(1, 4):
                    buildings.append(
                        await add_area(f"{compound.code}{b:03d}", f"{b}号楼", AreaLevel.building, compound)
                    )
        buildings_by_community.append(buildings)

    add_user("13800000000", "系统管理员", [Role.admin], None)
    add_user("13800000001", "街道 陈主任", [Role.street_admin], street)
    grid_workers = []
    for c, community in enumerate(communities):
        add_user(
            f"1380000001{c}", f"{COMMUNITIES[c][:2]}社区 {person()}", [Role.community_manager], community
        )
        for g in range(2):
            grid_area = await session.scalar(
                select(Area).where(Area.parent_id == community.id).order_by(Area.code).offset(g).limit(1)
            )
            grid_workers.append(
                add_user(f"1380000002{c * 2 + g}", f"网格员 {person()}", [Role.grid_worker], grid_area)
            )
    for u, unit in enumerate(UNITS):
        add_user(f"1380000003{u}", f"{unit} 管理员", [Role.unit_admin], street)

    residents = []
    for i in range(50):
        community_index = i % 3
        # The resident login lives in grid 1, so the grid-worker login can dispatch their orders.
        home = buildings_by_community[0][0] if i == 0 else rng.choice(buildings_by_community[community_index])
        residents.append(add_user(f"137000000{i:02d}", person(), [Role.resident], home))

    volunteers = []
    for i in range(30):
        community_index = i % 3
        home = rng.choice(buildings_by_community[community_index])
        roles = [Role.volunteer, Role.resident] if i % 4 == 0 else [Role.volunteer]
        user = add_user(f"139000000{i:02d}", person(), roles, home)
        await session.flush()
        skills = rng.sample(CATEGORIES, k=rng.randint(2, 4))
        if i < 2:
            skills = list(dict.fromkeys(["escort", "shopping", "repair", *skills]))[:4]
        serving = [communities[community_index]]
        if rng.random() < 0.3:  # some also help the neighbouring community
            serving.append(communities[(community_index + 1) % 3])
        if i < 2:  # the demo logins are free every morning and afternoon
            windows = [(d, 8 * 60, 12 * 60) for d in range(7)] + [(d, 14 * 60, 20 * 60) for d in range(7)]
        else:
            windows = []
            for d in rng.sample(range(7), k=rng.randint(2, 5)):
                start = rng.choice([8, 9, 13, 18]) * 60
                windows.append((d, start, start + rng.choice([3, 4, 5]) * 60))
        session.add(
            VolunteerProfile(
                user_id=user.id,
                capacity=3 if i < 2 else rng.choice([1, 2, 2, 3]),
                rating_sum=0,
                rating_count=0,
                skills=[VolunteerSkill(category_code=c, level=rng.randint(1, 3)) for c in skills],
                availability=[
                    AvailabilityWindow(weekday=d, start_minute=s, end_minute=e) for d, s, e in windows
                ],
                serving_areas=[ServingArea(area_id=a.id, area_code=a.code) for a in serving],
            )
        )
        volunteers.append(user)
    await session.flush()

    await _demo_orders(session, rng, now, residents, volunteers, grid_workers[0])


async def _demo_orders(
    session: AsyncSession,
    rng: random.Random,
    now: datetime,
    residents: list[User],
    volunteers: list[User],
    dispatcher: User,
) -> None:
    """A handful of orders in the first community, so every list has something to show."""
    first_community = [r for r in residents[::3]][:8]
    descriptions = {
        "escort": "周四上午需要有人陪同去区医院复查",
        "repair": "厨房水龙头漏水，需要上门维修",
        "shopping": "帮忙买一周的米面油",
        "elderly_care": "独居老人需要每周探访聊天",
        "legal": "咨询房屋租赁合同问题",
        "cleaning": "腿脚不便，需要帮忙打扫卫生",
    }
    statuses = [
        OrderStatus.submitted,
        OrderStatus.submitted,
        OrderStatus.submitted,
        OrderStatus.dispatched,
        OrderStatus.accepted,
        OrderStatus.completed,
    ]
    volunteer = volunteers[0]  # the first demo volunteer login, in the first community
    for resident, status, (category, text) in zip(
        first_community, statuses, descriptions.items(), strict=False
    ):
        start = (now + timedelta(days=rng.randint(1, 3))).replace(hour=1, minute=0, second=0, microsecond=0)
        order = Order(
            requester_id=resident.id,
            area_id=resident.area_id,
            area_code="",
            category_code=category,
            description=text,
            address_detail=f"{rng.randint(1, 6)}单元{rng.randint(1, 18)}0{rng.randint(1, 4)}",
            window_start=start,
            window_end=start + timedelta(hours=4),
            urgency=Urgency.urgent if category == "escort" else Urgency.normal,
            status=OrderStatus.submitted,
            created_at=now - timedelta(hours=rng.randint(1, 20)),
            updated_at=now,
        )
        order.area_code = (await session.get(Area, resident.area_id)).code
        session.add(order)
        await session.flush()
        events = [
            OrderEvent(
                order_id=order.id,
                actor_id=resident.id,
                action="post",
                from_status=None,
                to_status=OrderStatus.submitted,
                note="",
                at=order.created_at,
            )
        ]
        if status != OrderStatus.submitted:
            session.add(
                Offer(
                    order_id=order.id,
                    volunteer_id=volunteer.id,
                    dispatched_by_id=dispatcher.id,
                    mode=DispatchMode.direct,
                    status=OfferStatus.pending if status == OrderStatus.dispatched else OfferStatus.accepted,
                    created_at=now,
                    expires_at=now + timedelta(hours=2),
                    responded_at=None if status == OrderStatus.dispatched else now,
                )
            )
            events.append(
                OrderEvent(
                    order_id=order.id,
                    actor_id=dispatcher.id,
                    action="dispatch",
                    from_status=OrderStatus.submitted,
                    to_status=OrderStatus.dispatched,
                    note="direct offer to 1 volunteer(s)",
                    at=now,
                )
            )
        if status in (OrderStatus.accepted, OrderStatus.completed):
            order.volunteer_id = volunteer.id
            events.append(
                OrderEvent(
                    order_id=order.id,
                    actor_id=volunteer.id,
                    action="accept",
                    from_status=OrderStatus.dispatched,
                    to_status=OrderStatus.accepted,
                    note="",
                    at=now,
                )
            )
        if status == OrderStatus.completed:
            order.checked_in_at = now - timedelta(hours=3)
            order.checked_out_at = now - timedelta(hours=1)
            order.completed_at = now - timedelta(hours=1)
            events += [
                OrderEvent(
                    order_id=order.id,
                    actor_id=volunteer.id,
                    action="check_in",
                    from_status=OrderStatus.accepted,
                    to_status=OrderStatus.in_service,
                    note="",
                    at=order.checked_in_at,
                ),
                OrderEvent(
                    order_id=order.id,
                    actor_id=volunteer.id,
                    action="check_out",
                    from_status=OrderStatus.in_service,
                    to_status=OrderStatus.in_service,
                    note="",
                    at=order.checked_out_at,
                ),
                OrderEvent(
                    order_id=order.id,
                    actor_id=volunteer.id,
                    action="complete",
                    from_status=OrderStatus.in_service,
                    to_status=OrderStatus.completed,
                    note="已完成",
                    at=order.completed_at,
                ),
            ]
        order.status = status
        session.add_all(events)
    await session.flush()
