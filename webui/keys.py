"""Typed keys for what the web app shares between requests (opened and closed in ``cleanup_ctx``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway_sms.simulator import Simulator
from webui.captcha import CaptchaMaker
from webui.crypto import Keys
from webui.session_cache import SessionCache
from workflow.service_layer.messagebus import MessageBus
from workflow.service_layer.unit_of_work import AbstractUnitOfWork
from workflow.settings import Settings

Clock = Callable[[], datetime]
UowFactory = Callable[[], AbstractUnitOfWork]

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
BUS = web.AppKey("bus", MessageBus)  # the service layer's command bus
UOW_FACTORY: web.AppKey[UowFactory] = web.AppKey("uow_factory")
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
KEYS = web.AppKey("keys", Keys)
ATTACHMENTS_DIR = web.AppKey("attachments_dir", Path)
CAPTCHA = web.AppKey("captcha", CaptchaMaker)
SESSION_CACHE = web.AppKey("session_cache", SessionCache)
SIMULATOR = web.AppKey("simulator", Simulator)  # only in the embedded default
