"""A demo street: 3 communities with grids, compounds and buildings; residents,
volunteers with skills and availability, staff, two co-building units' admins,
and orders in several states. Deterministic, so the printed logins never change."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas.models import Area, AreaLevel
from market.auth.models import Role, User, UserRole
from market.auth.passwords import hash_password
from market.auth.service import load_actor
from market.ledger import service as ledger
from market.ledger.engine import Draft
from market.ledger.models import AccountKind, Asset, ExpiryPolicy, PointsPolicy, TransferCode
from market.orders import service as orders
from market.orders.models import DispatchMode, OrderStatus, Urgency
from market.orders.schemas import DispatchRequest, OrderCreate
from market.rewards import service as rewards
from market.rewards.models import Reward
from market.rewards.schemas import RedeemRequest, RewardCreate
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
    unit_admins = [
        add_user(f"1380000003{u}", f"{unit} 管理员", [Role.unit_admin], street)
        for u, unit in enumerate(UNITS)
    ]

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

    await _demo_orders(session, rng, now, residents, volunteers[0], grid_workers[0])
    await _demo_points(session, now, street, communities, volunteers, unit_admins)


async def _demo_orders(
    session: AsyncSession,
    rng: random.Random,
    now: datetime,
    residents: list[User],
    volunteer: User,
    grid_worker: User,
) -> None:
    """A handful of orders in grid 1 of the first community, made by the same services the API uses,
    so every list has something to show and every order has a true history."""
    requests = [
        ("escort", "周四上午需要有人陪同去区医院复查", OrderStatus.submitted),
        ("repair", "厨房水龙头漏水，需要上门维修", OrderStatus.submitted),
        ("shopping", "帮忙买一周的米面油", OrderStatus.submitted),
        ("elderly_care", "独居老人需要每周探访聊天", OrderStatus.dispatched),
        ("legal", "咨询房屋租赁合同问题", OrderStatus.accepted),
        ("cleaning", "腿脚不便，需要帮忙打扫卫生", OrderStatus.completed),
    ]
    dispatcher = await load_actor(session, grid_worker.id)
    helper = await load_actor(session, volunteer.id)
    grid_code = (await session.get(Area, grid_worker.area_id)).code
    in_grid = [r for r in residents if (await session.get(Area, r.area_id)).code.startswith(grid_code)]
    for resident, (category, text, status) in zip(in_grid, requests, strict=False):
        posted = now - timedelta(hours=rng.randint(5, 20))
        # The completed order was served this morning; the others are wanted in the coming days.
        start = (
            now - timedelta(hours=4)
            if status == OrderStatus.completed
            else (now + timedelta(days=rng.randint(1, 3))).replace(hour=1, minute=0, second=0, microsecond=0)
        )
        data = OrderCreate(
            category=category,
            description=text,
            area_id=resident.area_id,
            window_start=start,
            window_end=start + timedelta(hours=6),
            urgency=Urgency.urgent if category == "escort" else Urgency.normal,
            address_detail=f"{rng.randint(1, 6)}单元{rng.randint(1, 18)}0{rng.randint(1, 4)}",
        )
        order = await orders.create_order(session, await load_actor(session, resident.id), data, posted)
        if status == OrderStatus.submitted:
            continue
        dispatch = DispatchRequest(
            volunteer_ids=[volunteer.id], mode=DispatchMode.direct, offer_ttl_minutes=24 * 60
        )
        (offer,) = await orders.dispatch(
            session, dispatcher, order.id, dispatch, posted + timedelta(hours=1), 30
        )
        if status == OrderStatus.dispatched:
            continue
        await orders.accept_offer(session, helper, offer.id, posted + timedelta(hours=2))
        if status == OrderStatus.completed:
            await orders.check_in(session, helper, order.id, now - timedelta(hours=3))
            await orders.check_out(session, helper, order.id, now - timedelta(hours=1))
            await orders.complete(session, helper, order.id, "已打扫完毕", now - timedelta(hours=1))


async def _demo_points(
    session: AsyncSession,
    now: datetime,
    street: Area,
    communities: list[Area],
    volunteers: list[User],
    unit_admins: list[User],
) -> None:
    """Funded community budgets, a points policy, earned points, a reward catalogue and a redemption."""
    tz = ZoneInfo("Asia/Shanghai")
    issuance = await ledger.area_account(session, street, AccountKind.street_issuance, Asset.service)
    drafts = []
    for community in communities:
        pool = await ledger.area_account(session, community, AccountKind.community_pool, Asset.service)
        drafts.append(
            Draft(
                id=f"demo-budget-{community.code}",
                debit_account_id=issuance.id,
                credit_account_id=pool.id,
                amount=5000,
                code=TransferCode.budget,
                memo="2026 年度积分预算",
            )
        )
    await ledger.transfer(session, drafts, now, tz)
    session.add(
        PointsPolicy(
            community_id=communities[0].id,
            rates={"escort": 15, "legal": 20, "elderly_care": 12},
            default_rate=10,
            daily_cap=60,
            monthly_cap=600,
            expiry=ExpiryPolicy.end_of_next_year,
            gift_max=100,
            gift_monthly_max=300,
        )
    )
    await session.flush()
    for volunteer, hours in zip(volunteers[:6], (12, 8, 6, 5, 3, 2), strict=True):
        await ledger.reward(
            session,
            transfer_id=f"demo-earned-{volunteer.id}",
            code=TransferCode.service_reward,
            reference="demo",
            user_id=volunteer.id,
            community=await ledger.community_of(session, (await session.get(Area, volunteer.area_id)).code),
            amount=hours * 10,
            memo=f"{hours} 小时志愿服务（往期）",
            now=now,
            tz=tz,
        )
    hospital, property_firm = unit_admins
    catalogue = [
        (hospital, "社区体检套餐", "区人民医院捐赠的基础体检一次", 300, 5, "区人民医院体检中心"),
        (property_firm, "洗衣液 2kg", "安居物业捐赠", 50, 40, "幸福里社区服务站"),
        (property_firm, "大米 5kg", "安居物业捐赠", 80, 20, "幸福里社区服务站"),
    ]
    for publisher, name, description, price, stock, place in catalogue:
        await rewards.create_reward(
            session,
            await load_actor(session, publisher.id),
            RewardCreate(
                name=name,
                description=description,
                price=price,
                stock=stock,
                pickup_place=place,
                valid_until=now + timedelta(days=90),
                community_ids=[c.id for c in communities],
                limit_per_person=2,
                donor=UNITS[unit_admins.index(publisher)],
            ),
            now,
        )
    detergent = await session.scalar(select(Reward).where(Reward.name == "洗衣液 2kg"))
    await rewards.redeem(
        session, await load_actor(session, volunteers[0].id), RedeemRequest(reward_id=detergent.id), now, tz
    )
