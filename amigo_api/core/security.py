"""JWT issuing and verification with rotating ES256 signing keys shared by every API process.

Keys live in the infra-config database (private halves encrypted with the service secret), so a token
from one replica verifies on another. Verification uses the in-process key set; an unknown `kid`
triggers at most one reload per second, so the hot path never waits on the database."""

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pymongo.asynchronous.database import AsyncDatabase

from amigo_api.core.clock import as_utc, utcnow
from amigo_api.core.crypto import SecretBox
from amigo_api.core.db import Document
from amigo_api.core.errors import NotAToken, Unauthorized
from amigo_api.core.ids import new_id
from amigo_api.settings import Settings

log = structlog.get_logger(__name__)

ALGORITHM = "ES256"
SIGNING_KEYS = "signing_keys"
_RELOAD_INTERVAL = 1.0
_VERIFIED_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class TokenClaims:
    org_id: str
    user_id: str
    api_key_id: str


@dataclass
class _Key:
    kid: str
    created_at: datetime
    retired_at: datetime | None
    public_key: ec.EllipticCurvePublicKey
    public_jwk: dict[str, Any]
    private_key: ec.EllipticCurvePrivateKey | None


class TokenService:
    def __init__(self, settings: Settings, infra: AsyncDatabase[Document]) -> None:
        self.settings = settings
        self.collection = infra[SIGNING_KEYS]
        self.box = SecretBox(settings.secret_key)
        self.lifetime = timedelta(seconds=settings.token_lifetime_seconds)
        self.rotation = timedelta(days=settings.signing_key_rotation_days)
        self._keys: dict[str, _Key] = {}
        self._last_reload = 0.0
        self._lock = asyncio.Lock()
        # Token string -> (claims, expiry as a Unix time): a token already verified is not verified again
        # until it expires; the string is the signature, so nothing else can hit this entry.
        self._verified: dict[str, tuple[TokenClaims, float]] = {}

    # key management ---------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.reload()
        await self.ensure_active_key()

    def _decode(self, doc: Document) -> _Key:
        public = serialization.load_pem_public_key(doc["public_pem"].encode())
        assert isinstance(public, ec.EllipticCurvePublicKey)
        private = None
        if doc.get("private_pem_encrypted") and doc.get("retired_at") is None:
            loaded = serialization.load_pem_private_key(self.box.decrypt(doc["private_pem_encrypted"]).encode(),
                                                        password=None)
            assert isinstance(loaded, ec.EllipticCurvePrivateKey)
            private = loaded
        jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
        jwk.update(kid=doc["_id"], alg=ALGORITHM, use="sig")
        retired = doc.get("retired_at")
        return _Key(doc["_id"], as_utc(doc["created_at"]), as_utc(retired) if retired else None,
                    public, jwk, private)

    async def reload(self) -> None:
        docs = await self.collection.find({}).to_list()
        self._keys = {d["_id"]: self._decode(d) for d in docs if self._still_verifiable(d)}
        self._last_reload = time.monotonic()

    def _still_verifiable(self, doc: Document) -> bool:
        retired = doc.get("retired_at")
        return retired is None or as_utc(retired) + self.lifetime > utcnow()

    def _active(self) -> _Key | None:
        active = [k for k in self._keys.values() if k.retired_at is None and k.private_key is not None]
        return max(active, key=lambda k: k.created_at, default=None)

    async def _create_key(self) -> None:
        private = ec.generate_private_key(ec.SECP256R1())
        private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()).decode()
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        doc = {"_id": new_id(), "alg": ALGORITHM, "public_pem": public_pem,
               "private_pem_encrypted": self.box.encrypt(private_pem), "created_at": utcnow(), "retired_at": None}
        await self.collection.insert_one(doc)
        log.info("signing_key_created", kid=doc["_id"])

    async def ensure_active_key(self) -> None:
        """Create a key when none is active, or rotate when the active one is older than the rotation age."""
        async with self._lock:
            active = self._active()
            if active is not None and utcnow() - active.created_at < self.rotation:
                return
            await self._rotate_locked()

    async def rotate(self) -> None:
        async with self._lock:
            await self._rotate_locked()

    async def _rotate_locked(self) -> None:
        """New key first, then retire older ones: some key is always able to sign. Retired keys keep
        verifying until their last token expires, then are removed."""
        await self._create_key()
        await self.reload()
        newest = self._active()
        assert newest is not None
        now = utcnow()
        await self.collection.update_many(
            {"_id": {"$ne": newest.kid}, "retired_at": None},
            {"$set": {"retired_at": now}, "$unset": {"private_pem_encrypted": ""}},
        )
        await self.collection.delete_many({"retired_at": {"$lt": now - self.lifetime}})
        await self.reload()

    async def maintain(self) -> None:
        await self.reload()
        await self.ensure_active_key()

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk for k in self._keys.values()]}

    # tokens -----------------------------------------------------------------------------------------
    def issue(self, org_id: str, user_id: str, api_key_id: str) -> tuple[str, datetime]:
        """A token for a user signed in with an API key; it stops working when the key is deleted or expires."""
        key = self._active()
        if key is None or key.private_key is None:
            raise RuntimeError("No active signing key; the token service was not started.")
        now = utcnow()
        expires_at = now + self.lifetime
        claims = {"iss": self.settings.jwt_issuer, "sub": user_id, "org_id": org_id, "api_key_id": api_key_id,
                  "iat": int(now.timestamp()), "exp": int(expires_at.timestamp()), "jti": new_id()}
        token = jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
        return token, expires_at.replace(microsecond=0)

    async def verify(self, token: str) -> TokenClaims:
        cached = self._verified.get(token)
        if cached is not None and cached[1] > time.time():
            return cached[0]
        claims, expires = await self._verify_signature(token)
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = (claims, expires)
        return claims

    async def _verify_signature(self, token: str) -> tuple[TokenClaims, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise NotAToken() from exc
        kid = header.get("kid")
        if header.get("alg") != ALGORITHM or not isinstance(kid, str):
            raise Unauthorized()
        key = self._keys.get(kid)
        if key is None and time.monotonic() - self._last_reload > _RELOAD_INTERVAL:
            await self.reload()
            key = self._keys.get(kid)
        if key is None:
            raise Unauthorized()
        try:
            claims = jwt.decode(token, key.public_key, algorithms=[ALGORITHM], issuer=self.settings.jwt_issuer,
                                options={"require": ["exp", "iat", "sub", "iss"]})
        except jwt.PyJWTError as exc:
            raise Unauthorized() from exc
        org_id, user_id, api_key_id = claims.get("org_id"), claims.get("sub"), claims.get("api_key_id")
        if not isinstance(org_id, str) or not isinstance(user_id, str) or not isinstance(api_key_id, str):
            raise Unauthorized()
        return TokenClaims(org_id, user_id, api_key_id), float(claims["exp"])
