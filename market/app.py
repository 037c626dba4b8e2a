"""create_app(settings) -> Litestar: plugins, routes, auth, problem details, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from advanced_alchemy.extensions.litestar import AsyncSessionConfig, SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar, get
from litestar.config.compression import CompressionConfig
from litestar.config.cors import CORSConfig
from litestar.config.csrf import CSRFConfig
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin, SwaggerRenderPlugin
from litestar.security.jwt import JWTCookieAuth
from litestar.types import Scope
from msgspec import Struct
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from market import models  # noqa: F401 - every table must be mapped before the first query
from market.areas.routes import AreaController
from market.auth.access import Actor, CookieReadsOnlyMiddleware
from market.auth.routes import AuthController
from market.auth.service import actor_for_token
from market.auth.tokens import TOKEN_ALGORITHM, TOKEN_COOKIE, ServiceToken, TokenHolder
from market.categories.routes import CategoryController
from market.clock import Clock, clock_at
from market.consultation.routes import CommunityNeedController, ProposalController
from market.credit.routes import CreditController
from market.db import create_engine
from market.dispatch.routes import (
    BoardController,
    DispatchController,
    OfferController,
    OrderDispatchController,
)
from market.edge import MarketRequest
from market.errors import describe_bad_requests, problem_details_plugin
from market.followups.routes import FollowUpController
from market.idempotency import Replay
from market.jobs.routes import JobController
from market.ledger.routes import LedgerController
from market.needs.routes import AllocationController, NeedController
from market.notifications.routes import NotificationController
from market.open311.routes import open311_router
from market.orders.routes import OrderController
from market.party.routes import PartyController
from market.people.routes import PeopleImportController, SignUpController
from market.photos.routes import PhotoController
from market.photos.storage import storage_for
from market.projects.routes import ProjectController
from market.records.routes import CertificateController, RecordController
from market.reports.routes import ReportController
from market.rewards.routes import RedemptionController, RewardController
from market.scheduler import running_scheduler
from market.settings import Settings
from market.shifts.routes import ProjectShiftController, ShiftController
from market.teams.routes import TeamController
from market.unit_of_work import (
    LoadCaller,
    RetryTransient,
    load_caller,
    remember_response,
    replay_response,
    transaction_provider,
)
from market.unit_reviews.routes import UnitRatingController, UnitReviewController
from market.units.routes import ResourceController, UnitController
from market.volunteers.routes import VolunteerController
from market.web.pages import on_unknown_path
from market.web.routes import PUBLIC_PAGE_PATHS, template_config, web_router
from market.wishes.routes import WishController

# Open311 answers without a login: reads are public, a post carries its system's api_key.
PUBLIC_PATHS = [
    "^/api/auth/login$",
    "^/api/signup$",
    "^/schema",
    "^/health$",
    "^/open311/",
    *PUBLIC_PAGE_PATHS,
]
# API writes need the bearer header (see CookieReadsOnlyMiddleware); only page forms carry a CSRF token.
CSRF_EXEMPT_PATHS = ["^/api/", "^/schema", "^/health$", "^/open311/"]


class Health(Struct):
    status: str
    database: str


@get("/health", summary="Liveness and database check", tags=["service"], security=[{}])
async def health(db_session: NamedDependency[AsyncSession]) -> Health:
    await db_session.execute(text("SELECT 1"))
    return Health(status="ok", database="ok")


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> Litestar:
    settings = settings or Settings.from_env()
    settings.check()
    clock = clock or clock_at(settings.now)
    engine = create_engine(settings)
    alchemy = SQLAlchemyAsyncConfig(
        engine_instance=engine,
        # The product keeps no file objects and no query cache in the database layer, whose listeners
        # ran on every commit of a request's session. The cache's is registered whatever the
        # settings say, and asked its engine's options afresh at each commit (~2% of an accept's
        # CPU) unless the session's `info` turns it off.
        session_config=AsyncSessionConfig(expire_on_commit=False, info={"enable_cache_listener": False}),
        enable_file_object_listener=False,
        create_all=False,
        # Its listener stamps `updated_at` with the machine's clock on every flush of a request's
        # session; the services set it from the service's clock (`now`), in jobs' sessions too.
        enable_touch_updated_timestamp_listener=False,
    )
    session_maker = async_sessionmaker(engine, expire_on_commit=False)
    photo_storage = storage_for(settings.photo_storage)

    async def token_holder(token: ServiceToken, _connection: ASGIConnection) -> TokenHolder | None:
        # Authentication checks the token alone, before the body is read; `LoadCaller` loads the
        # account it names, inside each attempt at the request.
        holder = token.holder()
        return None if holder is None or token.expired(clock()) else holder

    async def load_actor(scope: Scope) -> Actor | None:
        session = alchemy.provide_session(scope["app"].state, scope)
        return await load_caller(session, scope, lambda: actor_for_token(session, *scope["auth"].holder()))

    jwt_auth = JWTCookieAuth[TokenHolder](
        retrieve_user_handler=token_holder,
        token_secret=settings.secret_key,
        algorithm=TOKEN_ALGORITHM,
        exclude=PUBLIC_PATHS,
        key=TOKEN_COOKIE,
        token_cls=ServiceToken,
        # Expiry is checked against the service's clock in token_holder.
        verify_expiry=False,
        authentication_middleware_class=CookieReadsOnlyMiddleware,
        description="A bearer token from POST /api/auth/login",
    )

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        """The scheduler when it is on; at shutdown the pool is emptied, so that no connection outlives
        the event loop it was made on (the plugin's own disposal misses every app after a process's
        first, whose engine it files under another key)."""
        try:
            if not settings.scheduler:
                yield
                return
            async with running_scheduler(session_maker, clock, settings):
                yield
        finally:
            await engine.dispose()

    def provide_settings() -> Settings:
        return settings

    def provide_now() -> datetime:
        return clock()

    def provide_session_maker() -> async_sessionmaker[AsyncSession]:
        return session_maker

    app = Litestar(
        route_handlers=[
            health,
            AuthController,
            AreaController,
            CategoryController,
            VolunteerController,
            OrderController,
            FollowUpController,
            PhotoController,
            OrderDispatchController,
            OfferController,
            DispatchController,
            BoardController,
            NotificationController,
            LedgerController,
            RewardController,
            RedemptionController,
            UnitController,
            ResourceController,
            NeedController,
            AllocationController,
            CommunityNeedController,
            ProposalController,
            ProjectController,
            ProjectShiftController,
            ShiftController,
            RecordController,
            CertificateController,
            PartyController,
            UnitReviewController,
            UnitRatingController,
            CreditController,
            TeamController,
            WishController,
            JobController,
            ReportController,
            PeopleImportController,
            SignUpController,
            open311_router(),
            web_router(),
        ],
        dependencies={
            "session": Provide(transaction_provider(alchemy.provide_session)),
            "settings": Provide(provide_settings, use_cache=True, sync_to_thread=False),
            "now": Provide(provide_now, sync_to_thread=False),
            # For work that outlives one transaction (the live streams open one per poll).
            "session_maker": Provide(provide_session_maker, use_cache=True, sync_to_thread=False),
            "photo_storage": Provide(lambda: photo_storage, use_cache=True, sync_to_thread=False),
        },
        request_class=MarketRequest,
        state=State({"settings": settings, "clock": clock}),
        template_config=template_config(),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            exclude=CSRF_EXEMPT_PATHS,
            cookie_secure=settings.env == "production",
        ),
        # The live streams are left uncompressed: gzip would hold their events back in a buffer; photos
        # are compressed already.
        compression_config=CompressionConfig(
            backend="gzip",
            minimum_size=1024,
            exclude=[
                "^/v/offers/stream",
                "^/desk/dispatch/stream",
                "^/notifications/stream",
                "^/api/photos/",
            ],
        ),
        plugins=[SQLAlchemyPlugin(config=alchemy), problem_details_plugin()],
        # An unknown path matches no router: a browser gets a page, the API problem+json.
        exception_handlers={Replay: replay_response, NotFoundException: on_unknown_path},
        after_request=remember_response,
        # Authentication puts itself first: the token is checked, then the body read (`RetryTransient`),
        # then the caller loaded (`LoadCaller`), in each attempt's own session.
        middleware=[RetryTransient(alchemy.before_send_handler), LoadCaller(load_actor)],
        on_app_init=[jwt_auth.on_app_init],
        lifespan=[lifespan],
        cors_config=CORSConfig(allow_origins=list(settings.cors_origins)) if settings.cors_origins else None,
        openapi_config=OpenAPIConfig(
            title="Linli market",
            version="0.1.0",
            description="Residents order, the community dispatches, volunteers accept.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin(), SwaggerRenderPlugin(path="/swagger")],
        ),
    )
    describe_bad_requests(app)
    return app
