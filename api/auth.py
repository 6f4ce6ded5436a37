"""Who may call the API: hashed API keys with roles, a bootstrap admin key, and per-key rate limits.

Keys look like `pk_<id>_<secret>`: the id (12 hex characters) finds the stored record, the secret
(32 random bytes, URL-safe base64) proves possession. Redis keeps, in the hash `pantau:apikeys`,
one JSON record per id with the SHA-256 of the secret, never the secret itself.

Clients send `Authorization: Bearer KEY`. Routes ask for a role with the `Viewer`, `Responder` or
`Admin` dependencies (each role includes the ones before it); the authenticator they use lives in
`app.state.authenticator`. Missing or invalid keys get 401, too small a role 403, too many requests
429 with `Retry-After`.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import hashlib
import hmac
import logging
import math
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from cachetools import TTLCache
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config.settings import validate_admin_key
from pantau import metrics
from pantau.domain import utcnow

log = logging.getLogger(__name__)

KEYS_HASH = "pantau:apikeys"
RATE_PREFIX = "pantau:ratelimit:"
KEY_PREFIX = "pk_"
KEY_ID_HEX_CHARS = 12
SECRET_BYTES = 32
# token_urlsafe(32) gives 43 characters; the upper bound only keeps hashing of junk cheap.
_KEY_FORMAT = re.compile(r"pk_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43,128})")
_KEY_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
DEFAULT_CACHE_SECONDS = 5.0


class Role(StrEnum):
    """What a key may do; each role includes everything the roles before it may do."""

    viewer = "viewer"  # read alerts and the live feed
    responder = "responder"  # also acknowledge alerts and ingest posts
    admin = "admin"  # everything

    def allows(self, required: Role) -> bool:
        members = list(Role)
        return members.index(self) >= members.index(required)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller a request was authenticated as."""

    key_id: str
    name: str
    role: Role


BOOTSTRAP_PRINCIPAL = Principal(key_id="bootstrap", name="admin (PANTAU_ADMIN_KEY)", role=Role.admin)


class ApiKey(BaseModel):
    """A stored key: everything but the secret, of which only the SHA-256 is kept."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[0-9a-f]{12}$")
    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    role: Role
    secret_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def public(self) -> dict[str, Any]:
        """The record as JSON-ready data for people and scripts, without the hash."""
        return self.model_dump(mode="json", exclude={"secret_sha256"})


def parse_key(presented: str) -> tuple[str, str] | None:
    """Split `pk_<id>_<secret>` into id and secret; None for anything not in that shape."""
    match = _KEY_FORMAT.fullmatch(presented)
    if match is None:
        return None
    return match["id"], match["secret"]


def hash_secret(secret: str) -> str:
    # A plain SHA-256 is enough here: the secrets are 256 random bits, so there is no dictionary to
    # try and no brute force a slow, salted hash (bcrypt, argon2) would slow down. It also keeps
    # verification cheap enough to run on every request.
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(name: str, role: Role) -> tuple[ApiKey, str]:
    """A fresh key record and the full key to hand to its owner (shown once, never stored)."""
    if not _KEY_NAME.fullmatch(name):
        raise ValueError(f"key name {name!r} must be 1 to 64 characters of letters, digits and _.@-")
    key_id = secrets.token_hex(KEY_ID_HEX_CHARS // 2)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    record = ApiKey(
        id=key_id, name=name, role=Role(role), secret_sha256=hash_secret(secret), created_at=utcnow()
    )
    return record, f"{KEY_PREFIX}{key_id}_{secret}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class KeyStore:
    """API keys in Redis.

    Successful verifications are cached in this process for `cache_seconds` (keyed by id and hash,
    so the cache holds no secret): a revoke through this store takes effect at once, one made
    elsewhere (the CLI, another API process) within `cache_seconds`. 0 turns the cache off."""

    def __init__(
        self,
        redis: Redis,
        *,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self._cache: TTLCache[tuple[str, str], Principal] | None = (
            TTLCache(maxsize=4096, ttl=cache_seconds, timer=clock) if cache_seconds > 0 else None
        )

    async def add(self, name: str, role: Role) -> tuple[ApiKey, str]:
        """Store a new key; returns its record and the full key. A name may have one active key."""
        async with self.redis.pipeline(transaction=True) as transaction:
            pipe: Any = transaction  # redis-py leaves multi() untyped
            while True:
                record, key = new_key(name, role)
                try:
                    # WATCH: two concurrent adds of one name cannot both pass the check.
                    await pipe.watch(KEYS_HASH)
                    existing = self._decode_all(await pipe.hgetall(KEYS_HASH))
                    if any(k.name == name and k.active for k in existing):
                        await pipe.reset()
                        raise ValueError(f"an active key named {name!r} exists: revoke it first")
                    if any(k.id == record.id for k in existing):
                        continue  # a 48-bit id collision: draw another
                    pipe.multi()
                    pipe.hset(KEYS_HASH, record.id, record.model_dump_json())
                    await pipe.execute()
                    return record, key
                except WatchError:
                    continue

    async def list(self) -> builtins.list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        records = self._decode_all(await self.redis.hgetall(KEYS_HASH))
        return sorted(records, key=lambda k: (k.created_at, k.id))

    async def revoke(self, id_or_name: str) -> ApiKey:
        """Revoke a key by id, or by the name of an active key (an id match wins). Revoking a
        revoked key returns it unchanged. KeyError when nothing matches."""
        records = await self.list()
        match = next((k for k in records if k.id == id_or_name), None) or next(
            (k for k in records if k.name == id_or_name and k.active), None
        )
        if match is None:
            raise KeyError(id_or_name)
        if not match.active:
            return match
        revoked = match.model_copy(update={"revoked_at": utcnow()})
        await self.redis.hset(KEYS_HASH, revoked.id, revoked.model_dump_json())
        if self._cache is not None:
            for cached in [c for c in self._cache if c[0] == revoked.id]:
                self._cache.pop(cached, None)
        return revoked

    def cached(self, presented: str) -> Principal | None:
        """The principal of a key verified within `cache_seconds`, without asking Redis."""
        parsed = parse_key(presented)
        if parsed is None or self._cache is None:
            return None
        key_id, secret = parsed
        return self._cache.get((key_id, hash_secret(secret)))

    async def verify(self, presented: str) -> Principal | None:
        """The principal of an active key, None for anything else."""
        parsed = parse_key(presented)
        if parsed is None:
            return None
        key_id, secret = parsed
        digest = hash_secret(secret)
        if self._cache is not None and (cached := self._cache.get((key_id, digest))) is not None:
            return cached
        raw = await self.redis.hget(KEYS_HASH, key_id)
        if raw is None:
            return None
        record = ApiKey.model_validate_json(raw)
        if not record.active or not hmac.compare_digest(record.secret_sha256, digest):
            return None
        principal = Principal(key_id=record.id, name=record.name, role=record.role)
        if self._cache is not None:
            self._cache[(key_id, digest)] = principal
        return principal

    @staticmethod
    def _decode_all(raw: dict[bytes | str, bytes | str]) -> builtins.list[ApiKey]:
        return [ApiKey.model_validate_json(_text(value)) for value in raw.values()]


# GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp): the key stores the
# theoretical arrival time (TAT) of its next request in milliseconds on the Redis clock, so every
# API process shares one limit and no process clock matters. A request is let through when the TAT
# is at most `tolerance` ahead of now, and pushes the TAT one `interval` further.
_GCRA = """
local now = redis.call('TIME')
now = tonumber(now[1]) * 1000 + tonumber(now[2]) / 1000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local wait = tat - now - tolerance
if wait > 0 then
  return {0, math.ceil(wait)}
end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', new_tat), 'PX', math.ceil(new_tat - now))
return {1, 0}
"""


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after_seconds: int = 0


class RateLimiter:
    """`per_minute` requests a minute per key id, at most `burst` of them at once (default: a whole
    minute's worth). Shared by every process on the same Redis. `per_minute` <= 0 turns it off."""

    def __init__(self, redis: Redis, per_minute: int, *, burst: int | None = None) -> None:
        if burst is not None and burst < 1:
            raise ValueError("burst must be at least 1")
        self.per_minute = per_minute
        self.burst = burst if burst is not None else max(per_minute, 1)
        self._script = redis.register_script(_GCRA)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    async def hit(self, key_id: str) -> RateDecision:
        """Count one request of `key_id`; whether it may go ahead, and if not, when to retry."""
        if not self.enabled:
            return RateDecision(allowed=True)
        interval_ms = 60_000 / self.per_minute
        tolerance_ms = interval_ms * (self.burst - 1)
        allowed, wait_ms = await self._script(
            keys=[RATE_PREFIX + key_id], args=[f"{interval_ms:.3f}", f"{tolerance_ms:.3f}"]
        )
        if allowed:
            return RateDecision(allowed=True)
        return RateDecision(allowed=False, retry_after_seconds=max(1, math.ceil(int(wait_ms) / 1000)))


class RedisBreaker:
    """After a Redis call fails, the next ones skip Redis for `cool_off_seconds`, then one tries it
    again: a hung Redis costs one request its timeout per cool-off, not every request."""

    def __init__(self, cool_off_seconds: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.cool_off_seconds = cool_off_seconds
        self.clock = clock
        self._open_until = 0.0

    @property
    def open(self) -> bool:
        return self.clock() < self._open_until

    def failed(self) -> None:
        self._open_until = self.clock() + self.cool_off_seconds

    def succeeded(self) -> None:
        self._open_until = 0.0


class Authenticator:
    """Turns a presented key into a principal (stored keys, or the bootstrap admin key), and
    applies the rate limit."""

    def __init__(
        self,
        store: KeyStore,
        *,
        admin_key: SecretStr | None,
        rate_limiter: RateLimiter | None = None,
        redis_timeout_seconds: float = 1.0,
        breaker: RedisBreaker | None = None,
    ) -> None:
        try:
            admin = validate_admin_key(admin_key)
        except ValueError as exc:
            raise ValueError(f"PANTAU_ADMIN_KEY: {exc}") from None
        self.store = store
        self.rate_limiter = rate_limiter
        # A Redis that hangs (frozen, partitioned) must not hang every request with it: the
        # shared client has no socket timeout, since the live feed blocks on it by design.
        self.redis_timeout_seconds = redis_timeout_seconds
        self.breaker = breaker or RedisBreaker()
        self._admin_key = admin.get_secret_value().encode() if admin is not None else None

    async def authenticate(self, presented: str) -> Principal | None:
        # Bytes: compare_digest refuses str with non-ASCII characters, which a header may carry.
        if self._admin_key is not None and hmac.compare_digest(presented.encode(), self._admin_key):
            return BOOTSTRAP_PRINCIPAL
        if (cached := self.store.cached(presented)) is not None:
            return cached
        if self.breaker.open:
            raise RedisError("Redis failed a moment ago; keys are checked again in a few seconds")
        try:
            principal = await asyncio.wait_for(self.store.verify(presented), self.redis_timeout_seconds)
        except TimeoutError:
            self.breaker.failed()
            raise RedisTimeoutError(f"no answer within {self.redis_timeout_seconds} s") from None
        except RedisError:
            self.breaker.failed()
            raise
        self.breaker.succeeded()
        return principal

    async def admit(self, principal: Principal) -> RateDecision:
        if self.rate_limiter is None or self.breaker.open:
            # Fail open: a war room that loses Redis for a moment should still be able to act.
            return RateDecision(allowed=True)
        try:
            decision = await asyncio.wait_for(
                self.rate_limiter.hit(principal.key_id), self.redis_timeout_seconds
            )
        except (RedisError, TimeoutError) as exc:
            self.breaker.failed()
            log.warning(
                "rate limit not applied, Redis failed (%s); tried again in %.0f s",
                exc or type(exc).__name__,
                self.breaker.cool_off_seconds,
            )
            return RateDecision(allowed=True)
        self.breaker.succeeded()
        return decision


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    bearerFormat="pk_<id>_<secret>",
    description="An API key from `pantau keys add`, or the bootstrap PANTAU_ADMIN_KEY.",
)
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _unauthorized(detail: str, *, invalid: bool = False) -> HTTPException:
    challenge = 'Bearer error="invalid_token"' if invalid else "Bearer"
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": challenge})


async def _authenticated(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    # A request may pass several role checks (router and route): authenticate and count it once.
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is not None:
        return principal
    authenticator: Authenticator = request.app.state.authenticator  # fails closed when not wired
    if credentials is None:
        if request.headers.get("authorization") is None:
            raise _unauthorized("an API key is required: send the header 'Authorization: Bearer KEY'")
        raise _unauthorized("the Authorization header must be 'Bearer KEY'")
    try:
        principal = await authenticator.authenticate(credentials.credentials)
    except RedisError:
        log.exception("API key store unavailable")
        raise HTTPException(
            503, detail="the API key store is unavailable", headers={"Retry-After": "5"}
        ) from None
    if principal is None:
        raise _unauthorized("invalid or revoked API key", invalid=True)
    decision = await authenticator.admit(principal)
    if not decision.allowed:
        metrics.API_RATE_LIMITED.inc()
        raise HTTPException(
            429,
            detail=f"rate limit for this key reached: retry in {decision.retry_after_seconds} s",
            headers={"Retry-After": str(decision.retry_after_seconds)},
        )
    request.state.principal = principal
    return principal


@functools.cache  # one dependency per role, so FastAPI resolves each once per request
def require(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A FastAPI dependency: the caller's principal, if its key has `role` or a larger one."""

    async def principal_with_role(request: Request, credentials: BearerCredentials) -> Principal:
        principal = await _authenticated(request, credentials)
        if not principal.role.allows(role):
            raise HTTPException(
                403, detail=f"this needs the {role} role or higher; the key has the {principal.role} role"
            )
        return principal

    principal_with_role.__name__ = f"require_{role}"
    return principal_with_role


Viewer = Annotated[Principal, Depends(require(Role.viewer))]
Responder = Annotated[Principal, Depends(require(Role.responder))]
Admin = Annotated[Principal, Depends(require(Role.admin))]
