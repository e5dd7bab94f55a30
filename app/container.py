"""What a running app holds, built once per process, one type per role: the admin API's services
(`Container`) or the proxy's runtime (`ProxyContainer`).

Lives in `app.extensions["bricks"]`; nothing here connects at import time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import flask

from app.config import Settings
from app.services.custom_providers import CustomProviderService
from app.services.events import EventService
from app.services.keys import KeyService
from app.services.policies import PolicyService
from app.services.provider_settings import ProviderSettingService
from app.services.reporting import ReportingService
from app.services.routes import RouteService
from app.services.users import UserService
from app.storage.database import Database
from app.storage.events import EventRepository
from app.storage.keys import KeyRepository
from app.storage.policies import PolicyRepository
from app.storage.provider_settings import CustomProviderRepository, ProviderSettingRepository
from app.storage.reporting import ReportingRepository
from app.storage.routes import RouteRepository
from app.storage.users import UserRepository

if TYPE_CHECKING:
    from app.events.bus import EventBus
    from app.proxy.runtime import ProxyRuntime
    from app.services.retention import EventRetention


@dataclass
class Container:
    """The admin API's services over one database."""

    settings: Settings
    db: Database
    keys: KeyService
    provider_settings: ProviderSettingService
    custom_providers: CustomProviderService
    events: EventService
    users: UserService
    policies: PolicyService
    reporting: ReportingService
    routes: RouteService
    retention: EventRetention | None = None  # the hourly retention loop, when configured

    @classmethod
    def build(cls, settings: Settings, db: Database) -> Container:
        settings_repo = ProviderSettingRepository(db)
        custom_repo = CustomProviderRepository(db)
        key_repo = KeyRepository(db)
        policy_repo = PolicyRepository(db)
        return cls(
            settings=settings,
            db=db,
            keys=KeyService(key_repo, settings_repo, policy_repo),
            provider_settings=ProviderSettingService(settings_repo, custom_repo),
            custom_providers=CustomProviderService(custom_repo),
            events=EventService(EventRepository(db)),
            users=UserService(UserRepository(db)),
            policies=PolicyService(policy_repo),
            reporting=ReportingService(ReportingRepository(db)),
            routes=RouteService(RouteRepository(db), key_repo, settings_repo),
        )


@dataclass
class ProxyContainer:
    """The proxy's process: its settings, database, event bus and request runtime; no admin
    services (the proxy never writes configuration)."""

    settings: Settings
    db: Database
    events: EventBus
    proxy: ProxyRuntime


def services() -> Container:
    """The container of the app handling the current request."""
    container: Container = flask.current_app.extensions["bricks"]
    return container
