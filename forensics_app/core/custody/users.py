"""Users, roles and their keys; logging in unlocks a user's private keys into memory.

Each user has an Ed25519 signing key and an X25519 key. The private halves are encrypted
together under the user's passphrase (Argon2id, parameters stored in the blob) with the
name, role and public keys as associated data, so editing a role in the database makes the
login fail rather than escalate. Bootstrap rule: while a workspace has no admin, the only
user that may be added is an admin and no login is needed; afterwards only an admin may add.
Repeated wrong passphrases meet a growing wait and then a lock that only an admin lifts
(:class:`LoginPolicy`); the failures are counted from the audit log itself.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from forensics_app.core.custody.audit import now_times
from forensics_app.core.custody.crypto import (
    KdfParams,
    b64d,
    b64e,
    ed_private_raw,
    ed_public_from_b64,
    ed_public_raw,
    key_id,
    open_with_passphrase,
    seal_with_passphrase,
    unwrap_key,
    x_private_raw,
    x_public_from_b64,
    x_public_raw,
)
from forensics_app.core.custody.workspace import Workspace
from forensics_app.errors import AuthError, InputError, PermissionDenied, VerificationError

ROLES = ("analyst", "supervisor", "admin")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MIN_PASSPHRASE = 8


@dataclass(frozen=True)
class LoginPolicy:
    """Back-off and lockout after consecutive wrong passphrases for one user.

    After ``free_attempts`` failures each further attempt must wait ``base_delay_s``,
    doubling per failure up to ``max_delay_s``, counted from the last failure; an attempt
    that comes too soon is refused *before* the passphrase is tried. At ``lock_after``
    failures the account is locked until an admin runs :func:`unlock_user`. Admins are never
    locked (only slowed), so guessing at every admin's name cannot brick a workspace.
    """

    free_attempts: int = 3
    base_delay_s: float = 1.0
    max_delay_s: float = 300.0
    lock_after: int = 10

    def delay_after(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures before the next try."""
        if failures < self.free_attempts:
            return 0.0
        return min(self.base_delay_s * 2 ** (failures - self.free_attempts), self.max_delay_s)


DEFAULT_LOGIN_POLICY = LoginPolicy()


@dataclass(frozen=True)
class User:
    """A user's public record."""

    name: str
    role: str
    ed25519_public: str
    x25519_public: str
    key_id: str
    created: str

    def verify_key(self) -> Ed25519PublicKey:
        return ed_public_from_b64(self.ed25519_public, f"{self.name}'s signing key")

    def wrap_key(self) -> X25519PublicKey:
        return x_public_from_b64(self.x25519_public, f"{self.name}'s X25519 key")


@dataclass
class UserSession:
    """A logged-in user: the private keys live only here, in memory."""

    user: User
    _signing: Ed25519PrivateKey | None = field(repr=False)
    _x25519: X25519PrivateKey | None = field(repr=False)

    @property
    def name(self) -> str:
        return self.user.name

    @property
    def role(self) -> str:
        return self.user.role

    def sign(self, data: bytes) -> str:
        """Ed25519 signature (base64) of ``data`` by this user."""
        if self._signing is None:
            raise AuthError(f"session of {self.name} is closed")
        return b64e(self._signing.sign(data))

    def unwrap(self, wrapped: dict[str, str], context: bytes) -> bytes:
        """Unwrap a data key wrapped to this user's X25519 key."""
        if self._x25519 is None:
            raise AuthError(f"session of {self.name} is closed")
        return unwrap_key(wrapped, self._x25519, context)

    def close(self) -> None:
        """Drop the private keys."""
        self._signing = None
        self._x25519 = None


def _user_from_row(row: dict) -> User:
    return User(
        name=row["name"],
        role=row["role"],
        ed25519_public=row["ed25519_public"],
        x25519_public=row["x25519_public"],
        key_id=row["key_id"],
        created=row["created"],
    )


def _aad(name: str, role: str, ed_pub: str, x_pub: str) -> bytes:
    return f"uunet-user-keys|v1|{name}|{role}|{ed_pub}|{x_pub}".encode()


def get_user(ws: Workspace, name: str) -> User:
    """The user called ``name`` (ignoring case; the stored spelling is returned), or AuthError."""
    row = ws.store.get_user(name)
    if row is None:
        raise AuthError(f"unknown user {name!r}")
    return _user_from_row(row)


def list_users(ws: Workspace) -> list[User]:
    return [_user_from_row(r) for r in ws.store.list_users()]


def add_user(
    ws: Workspace,
    name: str,
    role: str,
    passphrase: str,
    by: UserSession | None = None,
    kdf_profile: str | None = None,
) -> User:
    """Create a user with fresh keys; see the module docstring for who may do it."""
    if not NAME_RE.match(name or ""):
        raise InputError(f"bad user name {name!r}: letters, digits, '.', '_' or '-' (max 64)")
    if role not in ROLES:
        raise InputError(f"bad role {role!r}: one of {', '.join(ROLES)}")
    if len(passphrase) < MIN_PASSPHRASE:
        raise InputError(f"passphrase for {name} is too short (at least {MIN_PASSPHRASE} chars)")
    has_admin = ws.store.count_role("admin") > 0
    if not has_admin:
        if role != "admin":
            raise PermissionDenied("the first user of a workspace must be an admin")
        actor, actor_role = name, "admin"
    else:
        if by is None:
            raise PermissionDenied("adding a user needs an admin's login (--as ADMIN)")
        if by.role != "admin" or by._signing is None:
            raise PermissionDenied(f"{by.name} has role {by.role}; only an admin may add users")
        actor, actor_role = by.name, by.role
    _refuse_taken_name(ws, name)
    signing, x = Ed25519PrivateKey.generate(), X25519PrivateKey.generate()
    ed_pub, x_pub = b64e(ed_public_raw(signing)), b64e(x_public_raw(x))
    blob = seal_with_passphrase(
        ed_private_raw(signing) + x_private_raw(x),
        passphrase,
        _aad(name, role, ed_pub, x_pub),
        KdfParams.new(kdf_profile),
    )
    created, _ = now_times()
    kid = key_id(ed_public_raw(signing))
    with ws.store.transaction():
        _refuse_taken_name(ws, name)  # again under the write lock: two admins may race
        ws.store.insert_user(
            {
                "name": name,
                "role": role,
                "created": created,
                "ed25519_public": ed_pub,
                "x25519_public": x_pub,
                "key_id": kid,
                "private_blob": json.dumps({"version": 1, **blob}),
                "created_by": actor,
            }
        )
        ws.audit.append(
            actor,
            actor_role,
            "user_added",
            object=f"user:{name}",
            details={"name": name, "role": role, "key_id": kid, "bootstrap": not has_admin},
        )
    return get_user(ws, name)


def _refuse_taken_name(ws: Workspace, name: str) -> None:
    """User names are case-insensitive identities: "Alice" is taken once "alice" exists."""
    row = ws.store.get_user(name)
    if row is not None:
        same = "" if row["name"] == name else f" as {row['name']!r} (names ignore case)"
        raise InputError(f"user {name!r} already exists{same}")


def login(
    ws: Workspace, name: str, passphrase: str, policy: LoginPolicy | None = None
) -> UserSession:
    """Unlock ``name``'s keys; a wrong passphrase raises AuthError after logging it.

    A locked account, or an attempt sooner than ``policy`` allows after recent failures, is
    refused without trying the passphrase (logged as ``login``, ``outcome=denied``).
    """
    policy = policy or DEFAULT_LOGIN_POLICY
    row = ws.store.get_user(name)
    if row is None:
        _log_failure(ws, name, "unknown", "unknown user")
        raise AuthError(f"unknown user {name!r}")
    user = _user_from_row(row)
    with ws.audit.refusals(user, "login", object=f"user:{user.name}"):
        _check_back_off(ws, user, policy)
    try:
        blob = json.loads(row["private_blob"])
        secret = open_with_passphrase(
            blob, passphrase, _aad(user.name, user.role, user.ed25519_public, user.x25519_public)
        )
        signing = Ed25519PrivateKey.from_private_bytes(secret[:32])
        x = X25519PrivateKey.from_private_bytes(secret[32:64])
    except AuthError:
        count = _log_failure(ws, user.name, user.role, "wrong passphrase", policy)
        locked = _lockable(user, policy) and count >= policy.lock_after
        tail = "; the account is now locked until an admin unlocks it" if locked else ""
        raise AuthError(f"wrong passphrase for {name} (failed attempt {count}){tail}") from None
    except (ValueError, KeyError, TypeError, VerificationError):
        _log_failure(ws, user.name, user.role, "key record unreadable")
        raise AuthError(f"the key record of {name} is damaged") from None
    if b64e(ed_public_raw(signing)) != user.ed25519_public or (
        b64e(x_public_raw(x)) != user.x25519_public
    ):
        raise AuthError(f"the key record of {name} does not match its public keys")
    with ws.store.transaction():
        ws.audit.record(user, "login", object=f"user:{name}")
    return UserSession(user, signing, x)


def _lockable(user: User, policy: LoginPolicy) -> bool:
    return user.role != "admin" and policy.lock_after > 0


def _check_back_off(ws: Workspace, user: User, policy: LoginPolicy) -> None:
    """Refuse a login of a locked account, or one that comes before its back-off ends."""
    failures, last = ws.store.failed_logins(user.name)
    if _lockable(user, policy) and failures >= policy.lock_after:
        raise AuthError(
            f"{user.name} is locked after {failures} failed logins; an admin must unlock it "
            f"(forensics user unlock {user.name})"
        )
    wait = policy.delay_after(failures)
    if wait and last:
        since = (datetime.now(UTC) - datetime.fromisoformat(last)).total_seconds()
        if since < wait:
            raise AuthError(
                f"{failures} failed logins for {user.name}; try again in "
                f"{math.ceil(wait - since)} s"
            )


def _log_failure(
    ws: Workspace, name: str, role: str, why: str, policy: LoginPolicy | None = None
) -> int:
    with ws.store.transaction():
        count = ws.store.failed_logins(name)[0] + 1
        details: dict[str, object] = {"reason": why, "failed_count": count}
        if policy is not None and role != "admin" and 0 < policy.lock_after <= count:
            details["locked"] = True
        ws.audit.append(
            name,
            role,
            "login_failed",
            outcome="failure",
            object=f"user:{name}",
            details=details,
        )
    return count


def unlock_user(ws: Workspace, name: str, by: UserSession) -> User:
    """Lift a login lock (an admin only): the failure count starts again from zero.

    Logged as ``user_unlocked``; a refused unlock is a denied row like any refusal.
    """
    with ws.audit.refusals(by, "user_unlocked", object=f"user:{name}"):
        if by.role != "admin" or by._signing is None:
            raise PermissionDenied(f"{by.name} has role {by.role}; only an admin may unlock")
        user = get_user(ws, name)
        with ws.store.transaction():
            failures = ws.store.failed_logins(user.name)[0]
            ws.audit.record(
                by, "user_unlocked", object=f"user:{user.name}",
                details={"failed_count": failures},
            )  # fmt: skip
    return user


def user_public_bytes(user: User) -> tuple[bytes, bytes]:
    """Raw (Ed25519, X25519) public keys of ``user``."""
    return b64d(user.ed25519_public), b64d(user.x25519_public)
