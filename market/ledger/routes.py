from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Literal

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market import exports
from market.auth.access import Actor, ActorRequest, requires_manager, requires_street_admin
from market.db import read_only
from market.fields import ID_MAX, PathId, query_moment, query_text
from market.ledger import service
from market.ledger.models import AccountKind, Asset, OwedStatus, TransferCode
from market.ledger.schemas import (
    AccountDetail,
    AccountRead,
    AdjustmentRequest,
    BatchResult,
    BudgetRequest,
    Entry,
    GiftRequest,
    OwedRewardRead,
    PathTransferId,
    PendingAdjustmentRead,
    PolicyRead,
    PolicyWrite,
    ReverseRequest,
    StreetPolicyRead,
    StreetPolicyWrite,
    TransferBatch,
    TransferRead,
    TrialBalance,
)
from market.pagination import Limit, Offset, Page
from market.settings import Settings
from market.unit_of_work import ONE_SNAPSHOT, OPENS_ON_READ

ENTRY_COLUMNS = [
    "timestamp",
    "transfer_id",
    "code",
    "side",
    "amount",
    "status",
    "counterparty",
    "reference",
    "memo",
]


async def _statement_rows(
    session_maker: async_sessionmaker[AsyncSession],
    actor: Actor,
    account_id: int,
    code: TransferCode | None,
    since: datetime | None,
    until: datetime | None,
) -> AsyncIterator[list[list[object]]]:
    """The statement's rows as they are read, in a read-only transaction of their own: the request's
    is over by the time the body is sent."""
    async with session_maker() as session:
        await read_only(session)
        async for entries in service.stream_entries(
            session, actor, account_id, code=code, since=since, until=until
        ):
            yield [
                [
                    e.timestamp.isoformat(),
                    e.transfer_id,
                    str(e.code),
                    e.side,
                    e.amount,
                    e.status,
                    e.counterparty,
                    e.reference,
                    e.memo,
                ]
                for e in entries
            ]


class LedgerController(Controller):
    path = "/api/ledger"
    tags = ["ledger"]

    @get(
        "/accounts",
        summary="Accounts: managers see their area's, everyone their own",
        opt={OPENS_ON_READ: True},  # a member's own accounts open at their first look
    )
    async def list_accounts(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        user_id: Annotated[int | None, QueryParameter(ge=1, le=ID_MAX, description="Owner")] = None,
        kind: Annotated[AccountKind | None, QueryParameter()] = None,
        asset: Annotated[Asset | None, QueryParameter()] = None,
        q: query_text(50, "Part of the owner's name or phone") = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[AccountRead]:
        items, total = await service.list_accounts(
            session, request.user, user_id=user_id, kind=kind, asset=asset, limit=limit, offset=offset, q=q
        )
        return Page(items=items, total=total, limit=limit, offset=offset)

    @get("/accounts/{account_id:int}", summary="An account's posted, pending and available balances")
    async def get_account(
        self, request: ActorRequest, account_id: PathId, session: NamedDependency[AsyncSession]
    ) -> AccountDetail:
        return await service.get_account(session, request.user, account_id)

    @get(
        "/accounts/{account_id:int}/entries",
        summary="Statement; ?format=csv or xlsx to download",
        responses=exports.json_or_download(Page[Entry]),
    )
    async def entries(
        self,
        request: ActorRequest,
        account_id: PathId,
        session: NamedDependency[AsyncSession],
        session_maker: NamedDependency[async_sessionmaker[AsyncSession]],
        code: Annotated[TransferCode | None, QueryParameter()] = None,
        since: query_moment("Entries at or after") = None,
        until: query_moment("Entries before") = None,
        format: Annotated[Literal["json", "csv", "xlsx"], QueryParameter()] = "json",
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[Entry] | Stream:
        if format != "json":
            # Every entry, not a page; streamed, however long the statement.
            account = await service.visible_account(session, request.user, account_id)
            rows = _statement_rows(session_maker, request.user, account.id, code, since, until)
            return exports.download(
                format, f"account-{account.id}-statement", ENTRY_COLUMNS, rows, sheet="statement"
            )
        items, total = await service.entries(
            session, request.user, account_id, code=code, since=since, until=until, limit=limit, offset=offset
        )
        return Page(items=items, total=total, limit=limit, offset=offset)

    @post(
        "/transfers",
        summary="Budgets and adjustments, up to 1,000 in one batch, as the authority table allows",
        status_code=200,
        guards=[requires_manager],
    )
    async def create_transfers(
        self,
        request: ActorRequest,
        data: JSONBody[TransferBatch],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> BatchResult:
        results = await service.submit_batch(session, request.user, data, now, settings.tz)
        created = sum(r.result == "created" for r in results)
        failed = sum(r.result not in ("created", "exists") for r in results)
        return BatchResult(results=results, created=created, failed=failed)

    @get("/transfers/{transfer_id:str}", summary="One transfer", guards=[requires_manager])
    async def get_transfer(
        self, request: ActorRequest, transfer_id: PathTransferId, session: NamedDependency[AsyncSession]
    ) -> TransferRead:
        return service.transfer_read(await service.visible_transfer(session, request.user, transfer_id))

    @post(
        "/transfers/{transfer_id:str}/reverse",
        summary="Correct a transfer with an opposite one (once)",
        guards=[requires_manager],
    )
    async def reverse(
        self,
        request: ActorRequest,
        transfer_id: PathTransferId,
        data: JSONBody[ReverseRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> TransferRead:
        reversal = await service.reverse(session, request.user, transfer_id, data.reason, now, settings.tz)
        return service.transfer_read(reversal)

    @post(
        "/adjustments",
        summary="Give a member points from their community's pool or take some back; "
        "above the street's threshold it waits for a second manager",
        guards=[requires_manager],
    )
    async def adjust(
        self,
        request: ActorRequest,
        data: JSONBody[AdjustmentRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> TransferRead:
        return service.transfer_read(await service.adjust(session, request.user, data, now, settings.tz))

    @post(
        "/budgets",
        summary="Fund a community's pool from its street (street admins); the same request_id funds once",
        guards=[requires_manager],
    )
    async def fund_pool(
        self,
        request: ActorRequest,
        data: JSONBody[BudgetRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> TransferRead:
        return service.transfer_read(await service.fund_pool(session, request.user, data, now, settings.tz))

    @get(
        "/adjustments/pending",
        summary="Adjustments in your area waiting for a second manager",
        guards=[requires_manager],
    )
    async def pending_adjustments(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        now: NamedDependency[datetime],
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[PendingAdjustmentRead]:
        items, total = await service.pending_adjustments(session, request.user, now, limit, offset)
        return Page(items=items, total=total, limit=limit, offset=offset)

    @post(
        "/adjustments/{transfer_id:str}/post",
        summary="Post a pending adjustment (a second manager, not its maker)",
        status_code=200,
        guards=[requires_manager],
    )
    async def post_adjustment(
        self,
        request: ActorRequest,
        transfer_id: PathTransferId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> TransferRead:
        posted = await service.settle_adjustment(
            session, request.user, transfer_id, post=True, now=now, tz=settings.tz
        )
        return service.transfer_read(posted)

    @post(
        "/adjustments/{transfer_id:str}/void",
        summary="Void a pending adjustment (its maker or a second manager)",
        status_code=200,
        guards=[requires_manager],
    )
    async def void_adjustment(
        self,
        request: ActorRequest,
        transfer_id: PathTransferId,
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> TransferRead:
        voided = await service.settle_adjustment(
            session, request.user, transfer_id, post=False, now=now, tz=settings.tz
        )
        return service.transfer_read(voided)

    @get(
        "/streets/{street_id:int}/policy",
        summary="A street's rules for manual transfers (the adjustment threshold)",
        guards=[requires_manager],
    )
    async def get_street_policy(
        self, request: ActorRequest, street_id: PathId, session: NamedDependency[AsyncSession]
    ) -> StreetPolicyRead:
        return await service.get_street_policy(session, request.user, street_id)

    @put(
        "/streets/{street_id:int}/policy",
        summary="Set a street's rules for manual transfers (its admins)",
        guards=[requires_manager],
    )
    async def put_street_policy(
        self,
        request: ActorRequest,
        street_id: PathId,
        data: JSONBody[StreetPolicyWrite],
        session: NamedDependency[AsyncSession],
    ) -> StreetPolicyRead:
        return await service.put_street_policy(session, request.user, street_id, data)

    @get(
        "/trial-balance",
        summary="Sum over the street's accounts (every account, for admins); ?journal=true: each checked",
        guards=[requires_street_admin],
        # Its sums, counters and journal are read apart and compared: a transfer committed between
        # two of them would show as a difference.
        opt={ONE_SNAPSHOT: True},
    )
    async def trial_balance(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        asset: Annotated[Asset, QueryParameter()] = Asset.service,
        journal: Annotated[
            bool,
            QueryParameter(description="Also check every account against its transfers (reads them all)"),
        ] = False,
    ) -> TrialBalance:
        return await service.trial_balance(session, asset, request.user, journal=journal)

    @get("/policies/{community_id:int}", summary="A community's points policy")
    async def get_policy(self, community_id: PathId, session: NamedDependency[AsyncSession]) -> PolicyRead:
        return await service.get_policy(session, community_id)

    @put(
        "/policies/{community_id:int}",
        summary="Set a community's points policy (its managers)",
        guards=[requires_manager],
    )
    async def put_policy(
        self,
        request: ActorRequest,
        community_id: PathId,
        data: JSONBody[PolicyWrite],
        session: NamedDependency[AsyncSession],
    ) -> PolicyRead:
        return await service.put_policy(session, request.user, community_id, data)

    @post("/gifts", summary="Give some of your points to someone in your community")
    async def gift(
        self,
        request: ActorRequest,
        data: JSONBody[GiftRequest],
        session: NamedDependency[AsyncSession],
        settings: NamedDependency[Settings],
        now: NamedDependency[datetime],
    ) -> TransferRead:
        return service.transfer_read(await service.gift(session, request.user, data, now, settings.tz))

    @get("/owed-rewards", summary="Rewards earned while the pool was empty", guards=[requires_manager])
    async def owed(
        self,
        request: ActorRequest,
        session: NamedDependency[AsyncSession],
        status: Annotated[OwedStatus | None, QueryParameter()] = None,
        limit: Limit = 20,
        offset: Offset = 0,
    ) -> Page[OwedRewardRead]:
        rows, names, total = await service.list_owed(session, request.user, status, limit, offset)
        return Page(
            items=[
                OwedRewardRead(
                    id=r.id,
                    reference=r.reference,
                    user_id=r.user_id,
                    user_name=names.get(r.user_id, ""),
                    community_id=r.community_id,
                    amount=r.amount,
                    code=r.code,
                    status=r.status,
                    reason=r.reason,
                    created_at=r.created_at,
                    posted_at=r.posted_at,
                )
                for r in rows
            ],
            total=total,
            limit=limit,
            offset=offset,
        )
