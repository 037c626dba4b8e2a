"""A demo street: 3 communities with grids, compounds and buildings; residents,
volunteers with skills and availability, staff, two co-building units' admins,
and orders in several states. Deterministic, so the printed logins never change."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from market.areas import service as areas
from market.areas.models import Area, AreaLevel
from market.auth.models import Role, User, UserRole
from market.auth.passwords import hash_password
from market.auth.service import load_actor
from market.consultation import service as consultation
from market.consultation.schemas import ProposalCreate
from market.dispatch import offers
from market.dispatch.schemas import DispatchRequest
from market.ledger import service as ledger
from market.ledger.engine import Draft
from market.ledger.models import AccountKind, Asset, ExpiryPolicy, PointsPolicy, TransferCode
from market.needs import service as needs
from market.needs.schemas import NeedCreate
from market.orders import service as orders
from market.orders.models import DispatchMode, OrderStatus, Urgency
from market.orders.schemas import OrderCreate
from market.projects import service as projects
from market.projects.models import Participant
from market.projects.schemas import CommitmentCreate, ProjectCreate, ResponsibilityCreate
from market.rewards import service as rewards
from market.rewards.models import Reward
from market.rewards.schemas import RedeemRequest, RewardCreate
from market.settings import Settings
from market.shifts import service as shifts
from market.shifts.schemas import ShiftCreate
from market.teams import service as teams
from market.teams.models import Speciality, Team
from market.teams.schemas import TeamCreate
from market.units import service as units
from market.units.models import ResourceCategory, UnitKind
from market.units.schemas import ResourceCreate, UnitCreate
from market.volunteers.models import AvailabilityWindow, ServingArea, VolunteerProfile, VolunteerSkill
from market.wishes import service as wishes
from market.wishes.schemas import WishCreate

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
        # The areas service's own way: a street and its communities get their accounts with them.
        return await areas.add_area(session, code, name, level, parent)

    def add_user(phone: str, name: str, roles: list[Role], area: Area | None) -> User:
        user = User(
            phone=phone,
            name=name,
            password_hash=password_hash,
            area_id=area.id if area else None,
            is_active=True,
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
        if i < 2:  # the demo logins can take every order the demo offers them
            skills = ["escort", "shopping", "repair", "elderly_care", "legal", "cleaning"]
        serving = [communities[community_index]]
        if rng.random() < 0.3:  # some also help the neighbouring community
            serving.append(communities[(community_index + 1) % 3])
        if i < 2:  # the demo logins are free all day: the demo's orders are offered whenever it is loaded
            windows = [(d, 0, 24 * 60) for d in range(7)]
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
    await _demo_teams_and_wishes(session, now, residents, volunteers, unit_admins)
    await _demo_projects(session, now, communities, volunteers, unit_admins)


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
        order_id = await orders.create_order(
            session,
            await load_actor(session, resident.id),
            data,
            posted,
            max_open=Settings().open_orders_per_resident,
        )
        if status == OrderStatus.submitted:
            continue
        dispatch = DispatchRequest(
            volunteer_ids=[volunteer.id], mode=DispatchMode.direct, offer_ttl_minutes=24 * 60
        )
        (offer,) = await offers.dispatch(
            session, dispatcher, order_id, dispatch, posted + timedelta(hours=1), Settings()
        )
        if status == OrderStatus.dispatched:
            continue
        await offers.accept_offer(session, helper, offer.id, posted + timedelta(hours=2))
        if status == OrderStatus.completed:
            await orders.check_in(session, helper, order_id, now - timedelta(hours=3))
            await orders.check_out(session, helper, order_id, now - timedelta(hours=1))
            await orders.complete(session, helper, order_id, "已打扫完毕", now - timedelta(hours=1))


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
            # Earned last month: today's daily cap is still whole for what the demo visitor does.
            now=now - timedelta(days=30),
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


async def _demo_teams_and_wishes(
    session: AsyncSession,
    now: datetime,
    residents: list[User],
    volunteers: list[User],
    unit_admins: list[User],
) -> None:
    """Two volunteer teams of the first community, and its wall: wishes open, claimed by a volunteer
    and by a unit, fulfilled and waiting for the resident, and one confirmed (wish points paid)."""
    manager = await load_actor(
        session, await session.scalar(select(User.id).where(User.phone == "13800000010"))
    )
    community_id = (await session.scalar(select(Area).where(Area.code == f"{STREET_CODE}001"))).id
    # Every third volunteer (and resident) lives in the first community.
    local = volunteers[::3]
    for name, speciality, leader, members, description in [
        ("幸福里法律援助队", Speciality.legal_aid, local[0], local[1:3], "每周六上午免费法律咨询"),
        ("幸福里健康服务队", Speciality.health, local[3], local[4:6], "测血压、讲健康知识、陪同就医"),
    ]:
        await teams.create_team(
            session,
            manager,
            TeamCreate(
                name=name,
                speciality=speciality,
                community_id=community_id,
                leader_id=leader.id,
                member_ids=[m.id for m in members],
                description=description,
            ),
            now - timedelta(days=30),
        )
    helper = await load_actor(session, volunteers[0].id)
    unit = await load_actor(session, unit_admins[0].id)
    tz = ZoneInfo("Asia/Shanghai")
    wall = [
        (residents[3], "想要一副老花镜", 60, "open"),
        (residents[6], "希望有人帮忙修一台旧收音机", 30, "claimed"),
        (residents[9], "需要一辆轮椅，方便出门晒太阳", 800, "unit"),
        (residents[12], "想给孙子买一套课外读物", 100, "fulfilled"),
        (residents[0], "希望有人教我用智能手机挂号", 10, "confirmed"),
    ]
    for hours, (resident, title, value, state) in enumerate(wall, start=1):
        posted = now - timedelta(days=3, hours=hours)
        wish = await wishes.create_wish(
            session,
            await load_actor(session, resident.id),
            WishCreate(title=title, value_yuan=value, deadline=now + timedelta(days=14)),
            posted,
        )
        if state == "open":
            continue
        claimer = unit if state == "unit" else helper
        await wishes.claim(session, claimer, wish.id, None, "", posted + timedelta(hours=5))
        if state in ("fulfilled", "confirmed"):
            await wishes.fulfil(session, claimer, wish.id, "已送到", now - timedelta(days=2))
        if state == "confirmed":
            # Two days ago, so that the helper's wish points never take today's cap, whatever the hour.
            resident_actor = await load_actor(session, resident.id)
            await wishes.confirm(
                session,
                resident_actor,
                wish.id,
                "谢谢小伙子",
                now - timedelta(days=2) + timedelta(hours=2),
                tz,
                Settings().wish_points,
            )


async def _demo_projects(
    session: AsyncSession,
    now: datetime,
    communities: list[Area],
    volunteers: list[User],
    unit_admins: list[User],
) -> None:
    """The two units with resource lists, the first community's needs and an allocation plan,
    an active project under way and one that closes within the day."""
    by_phone = dict((await session.execute(select(User.phone, User.id))).all())
    street_admin = await load_actor(session, by_phone["13800000001"])
    manager = await load_actor(session, by_phone["13800000010"])
    hospital_admin, property_admin = [await load_actor(session, u.id) for u in unit_admins]
    home = communities[0]
    hospital, property_firm = [
        await units.create_unit(
            session,
            street_admin,
            UnitCreate(
                name=name,
                kind=kind,
                contact_name=contact,
                contact_phone=phone,
                community_ids=[c.id for c in communities],
                admin_ids=[admin.id],
            ),
            now,
        )
        for name, kind, contact, phone, admin in (
            (UNITS[0], UnitKind.hospital, "刘医生", "13811110001", hospital_admin),
            (UNITS[1], UnitKind.property_company, "赵经理", "13811110002", property_admin),
        )
    ]
    offers = [
        (hospital_admin, hospital, ResourceCategory.professional_service, "社区义诊", 40, "小时"),
        (property_admin, property_firm, ResourceCategory.goods, "大米", 500, "kg"),
        (property_admin, property_firm, ResourceCategory.venue, "物业活动室", 60, "小时"),
    ]
    clinic, rice, hall = [
        await units.create_resource(
            session,
            admin,
            ResourceCreate(
                unit_id=unit.id,
                category=category,
                title=title,
                quantity=quantity,
                unit_of_measure=measure,
                community_ids=[home.id],
                available_from=now - timedelta(days=7),
                available_until=now + timedelta(days=180),
            ),
            now,
        )
        for admin, unit, category, title, quantity, measure in offers
    ]
    wanted = [
        (ResourceCategory.professional_service, "老年人义诊", 10, "小时", 5, 14),
        (ResourceCategory.goods, "困难家庭冬季大米", 200, "kg", 4, 10),
        (ResourceCategory.venue, "重阳节活动场地", 6, "小时", 3, 1),
        (ResourceCategory.goods, "楼道防滑垫", 30, "张", 2, 30),
        (ResourceCategory.transport, "就医接送车辆", 8, "趟", 3, 20),
    ]
    clinic_need, rice_need, hall_need, _, _ = [
        await needs.create_need(
            session,
            manager,
            NeedCreate(
                area_id=home.id,
                category=category,
                title=title,
                quantity=quantity,
                unit_of_measure=measure,
                priority=priority,
                deadline=now + timedelta(days=days),
            ),
            now,
        )
        for category, title, quantity, measure, priority, days in wanted
    ]

    health_team = await session.scalar(select(Team.id).where(Team.name == "幸福里健康服务队"))
    drive = await projects.create_project(
        session,
        manager,
        ProjectCreate(
            title="冬季暖心行动",
            community_id=home.id,
            deadline=now + timedelta(days=10),
            description="义诊与大米发放",
            need_ids=[clinic_need.id, rice_need.id],
            commitments=[
                CommitmentCreate(resource_id=clinic.id, quantity=10, need_id=clinic_need.id),
                CommitmentCreate(resource_id=rice.id, quantity=200, need_id=rice_need.id),
            ],
            responsibilities=[
                ResponsibilityCreate(task="组织义诊", unit_id=hospital.id, due_at=now + timedelta(days=7)),
                ResponsibilityCreate(task="入户发放大米", user_id=volunteers[0].id),
                ResponsibilityCreate(task="登记困难家庭名单", team_id=health_team),
            ],
            participant_ids=[volunteers[0].id, volunteers[3].id],
        ),
        now,
    )
    clinic_commitment, rice_commitment = drive.commitments
    await projects.confirm_commitment(session, hospital_admin, drive.id, clinic_commitment.id, now)
    await projects.confirm_commitment(session, property_admin, drive.id, rice_commitment.id, now)
    await projects.record_delivery(session, property_admin, drive.id, rice_commitment.id, 120, "第一批", now)
    participant = await session.scalar(
        select(Participant.id).where(
            Participant.project_id == drive.id, Participant.user_id == volunteers[0].id
        )
    )
    await projects.record_hours(session, manager, drive.id, participant, 3.5, now)
    # The drive recruits: a round of deliveries tomorrow the first volunteer signed up for.
    round_starts = now + timedelta(days=1)
    rounds = await shifts.create_shift(
        session,
        manager,
        drive.id,
        ShiftCreate(
            title="入户发放大米（第二批）",
            area_id=home.id,
            starts_at=round_starts,
            ends_at=round_starts + timedelta(hours=3),
            slots=6,
            skills=["shopping"],
        ),
        now,
    )
    await shifts.sign_up(session, await load_actor(session, volunteers[0].id), rounds.id, now)
    # Residents' say (征求民意): support for the rice, and a proposal waiting for review.
    resident = await load_actor(session, by_phone["13700000000"])
    await consultation.support(session, resident, rice_need.id, now)
    await consultation.propose(
        session, resident, ProposalCreate(title="楼下增设休息座椅", description="老人买菜回来想歇一歇。"), now
    )

    festival = await projects.create_project(
        session,
        manager,
        ProjectCreate(
            title="重阳节敬老活动",
            community_id=home.id,
            start_at=now - timedelta(days=2),
            deadline=now + timedelta(hours=12),
            need_ids=[hall_need.id],
            commitments=[CommitmentCreate(resource_id=hall.id, quantity=6)],
            participant_ids=[volunteers[3].id],
        ),
        now,
    )
    (hall_commitment,) = festival.commitments
    await projects.confirm_commitment(session, property_admin, festival.id, hall_commitment.id, now)
    await projects.record_delivery(session, property_admin, festival.id, hall_commitment.id, 4, "上午场", now)
    # A plan for what is still open: the mats and the car stay unmet, and it says why
    # (nobody offers anything counted in 张; nobody offers transport).
    await needs.create_plan(session, manager, home.id, now)
