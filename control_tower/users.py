"""The local user store: usernames with a role and a salted scrypt hash of the password
(``hashlib.scrypt``; the password itself is never stored), managed by ``control-tower users
add|list|disable|enable``, every change audited in ``user_events``. Signing in returns the
:class:`~control_tower.actions.Actor` the services check roles against.

Demo users (``[auth] demo_users``) need no password and exist only in a demo: their names
start with ``demo.`` so every audit trail shows them for what they are.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from datetime import datetime

import polars as pl

from control_tower.actions import ROLES, Actor
from control_tower.errors import ControlTowerError, NotFoundError
from control_tower.store import Store

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 10
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
DEMO_USERS = (
    Actor("demo.viewer", "viewer"),
    Actor("demo.planner", "planner"),
    Actor("demo.approver", "approver"),
    Actor("demo.admin", "admin"),
    Actor("demo.supplier", "supplier", "SUP-JNB"),
    Actor("demo.supplier2", "supplier", "SUP-MNF"),
)


class UserError(ControlTowerError, ValueError):
    title = "User refused"


class SignInError(ControlTowerError):
    title = "Sign-in failed"


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    again = hashlib.scrypt(
        password.encode(), salt=bytes.fromhex(salt), dklen=32, n=int(n), r=int(r), p=int(p)
    )
    return hmac.compare_digest(again.hex(), digest)


def _check_new(username: str, role: str, password: str, supplier: str | None = None) -> None:
    if not USERNAME.match(username):
        raise UserError(
            f"username {username!r}: 2-64 characters, lower-case letters, digits, '.', '_' or "
            "'-', starting with a letter or digit"
        )
    if username.startswith("demo."):
        raise UserError("names starting with 'demo.' are kept for the demo users")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if (role == "supplier") != bool(supplier):
        raise UserError("a supplier user, and only a supplier user, names its supplier")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password needs at least {MIN_PASSWORD} characters")
    if password.lower() == username.lower():
        raise UserError("the password cannot be the username")


def add_user(
    store: Store,
    username: str,
    role: str,
    password: str,
    *,
    display_name: str | None = None,
    by: str,
    supplier: str | None = None,
) -> None:
    """Add a local user; a supplier user (role ``supplier``) names the supplier it speaks for,
    and sees and changes only that supplier's data."""
    _check_new(username, role, password, supplier)
    with store.transaction() as cur:
        if cur.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchall():
            raise UserError(f"user {username!r} exists already")
        if (
            supplier
            and not cur.execute("SELECT 1 FROM suppliers WHERE code = ?", [supplier]).fetchall()
        ):
            raise UserError(f"no supplier {supplier!r}")
        cur.execute(
            "INSERT INTO users (username, display_name, role, password_hash, created_at, "
            "created_by, supplier) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                username,
                display_name or username,
                role,
                hash_password(password),
                datetime.now(),
                by,
                supplier,
            ],
        )
        cur.execute(
            "INSERT INTO user_events (username, occurred_at, actor, change) VALUES (?, ?, ?, ?)",
            [
                username,
                datetime.now(),
                by,
                f"added as {role}" + (f" of {supplier}" if supplier else ""),
            ],
        )


def set_disabled(store: Store, username: str, disabled: bool, *, by: str) -> None:
    with store.transaction() as cur:
        if not cur.execute("SELECT 1 FROM users WHERE username = ?", [username]).fetchall():
            raise NotFoundError(f"no user {username!r}")
        cur.execute("UPDATE users SET disabled = ? WHERE username = ?", [disabled, username])
        cur.execute(
            "INSERT INTO user_events (username, occurred_at, actor, change) VALUES (?, ?, ?, ?)",
            [username, datetime.now(), by, "disabled" if disabled else "enabled"],
        )


def list_users(store: Store) -> pl.DataFrame:
    """Every user without the hash: username, display name, role, disabled, created."""
    return store.query(
        "SELECT username, display_name, role, supplier, disabled, created_at, created_by FROM users "
        "ORDER BY username"
    )


def user_history(store: Store, username: str | None = None) -> pl.DataFrame:
    return store.query(
        "SELECT occurred_at, username, actor, change FROM user_events "
        "WHERE $all OR username = $name ORDER BY event_id",
        {"all": username is None, "name": username or ""},
    )


def sign_in(store: Store, username: str, password: str) -> Actor:
    """The actor for a username and password; one message for an unknown user and a wrong
    password (it tells nobody which usernames exist)."""
    rows = store.rows(
        "SELECT role, password_hash, disabled, supplier FROM users WHERE username = ?",
        [username.strip()],
    )
    if not rows or not check_password(password, rows[0][1]):
        raise SignInError("unknown user or wrong password")
    role, _hash, disabled, supplier = rows[0]
    if disabled:
        raise SignInError(f"user {username!r} is disabled; ask an admin")
    return Actor(username.strip(), role, supplier)


def local_actor(store: Store, username: str, *, demo_users: bool = False) -> Actor:
    """The actor a command-line user acts as: an enabled local user (``users add``), with
    its role; with ``demo_users`` (the demo's setting) a demo user too. Whoever can open the
    database file can act as any of them, so the command line asks no password; the role
    still bounds what each may do, and every change is recorded under the name."""
    name = username.strip()
    rows = store.rows("SELECT role, disabled, supplier FROM users WHERE username = ?", [name])
    if rows:
        role, disabled, supplier = rows[0]
        if disabled:
            raise SignInError(f"user {name!r} is disabled; ask an admin")
        return Actor(name, role, supplier)
    demo = next((u for u in DEMO_USERS if u.name == name), None)
    if demo is not None and demo_users:
        return demo
    raise NotFoundError(
        f"{name!r} is not a local user; act with --as NAME of a user added with "
        "`control-tower users add`"
        + (" (or a demo user, with --demo-users)" if demo is not None else ""),
        title="Unknown user",
    )


def oidc_actor(email: str, roles: dict[str, str], default_role: str) -> Actor:
    """The actor for someone signed in with OpenID Connect: the role configured for their
    e-mail (compared without regard to case), else the default."""
    by_email = {configured.strip().lower(): role for configured, role in roles.items()}
    role = by_email.get(email.strip().lower(), default_role)
    supplier = None
    if role.startswith("supplier:"):  # 'supplier:SUP-X': a supplier user of SUP-X
        role, supplier = "supplier", role.split(":", 1)[1].strip() or None
    if role not in ROLES or (role == "supplier") != bool(supplier):
        raise UserError(
            f"the role configured for {email} ({role!r}) is not one of {ROLES[:-1]} or "
            "'supplier:<supplier code>'"
        )
    return Actor(email, role, supplier)


def sign_in_required(store: Store, auth) -> bool:
    """Whether a signed-out visitor must sign in before reading anything: when configured
    (``[auth] require_sign_in``), and whenever suppliers can sign in (a local supplier user,
    or an OpenID Connect role 'supplier:...'): a supplier must not read the network signed
    out."""
    if auth.require_sign_in:
        return True
    roles = [*auth.oidc_roles.values(), auth.oidc_default_role]
    if any(str(role).startswith("supplier") for role in roles):
        return True
    return bool(store.scalar("SELECT count(*) FROM users WHERE role = 'supplier' AND NOT disabled"))
