"""What a running app holds: the database, repositories and services, built once per process.

Lives in `app.extensions["bricks"]`; nothing here connects at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import flask

from app.config import Settings
from app.services.custom_providers import CustomProviderService
from app.services.events import EventService
from app.services.keys import KeyService
from app.services.policies import PolicyService
from app.services.provider_settings import ProviderSettingService
from app.services.reporting import ReportingService
from app.services.users import UserService
from app.storage.database import Database
from app.storage.events import EventRepository
from app.storage.keys import KeyRepository
from app.storage.policies import PolicyRepository
from app.storage.provider_settings import CustomProviderRepository, ProviderSettingRepository
from app.storage.reporting import ReportingRepository
from app.storage.users import UserRepository


@dataclass
class Container:
    settings: Settings
    db: Database
    keys: KeyService
    provider_settings: ProviderSettingService
    custom_providers: CustomProviderService
    events: EventService
    users: UserService
    policies: PolicyService
    reporting: ReportingService
    runtime: dict[str, Any] = field(default_factory=dict)  # role-specific parts (proxy snapshot...)

    @classmethod
    def build(cls, settings: Settings, db: Database) -> Container:
        settings_repo = ProviderSettingRepository(db)
        custom_repo = CustomProviderRepository(db)
        policy_repo = PolicyRepository(db)
        return cls(
            settings=settings,
            db=db,
            keys=KeyService(KeyRepository(db), settings_repo, policy_repo),
            provider_settings=ProviderSettingService(settings_repo, custom_repo),
            custom_providers=CustomProviderService(custom_repo),
            events=EventService(EventRepository(db)),
            users=UserService(UserRepository(db)),
            policies=PolicyService(policy_repo),
            reporting=ReportingService(ReportingRepository(db)),
        )


def services() -> Container:
    """The container of the app handling the current request."""
    container: Container = flask.current_app.extensions["bricks"]
    return container
