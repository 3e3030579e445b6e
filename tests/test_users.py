"""The local user store: hashed passwords, sign-in, disabling, the audit, and the CLI."""

from __future__ import annotations

import io

import pytest

from control_tower import users
from control_tower.actions import Actor
from control_tower.cli import main
from control_tower.errors import NotFoundError
from control_tower.store import Store


def test_a_user_signs_in_with_the_password_which_is_never_stored(store):
    users.add_user(store, "li.na", "approver", "correct horse battery", by="admin")
    assert users.sign_in(store, "li.na", "correct horse battery") == Actor("li.na", "approver")
    stored = store.scalar("SELECT password_hash FROM users WHERE username = 'li.na'")
    assert "correct horse" not in stored and stored.startswith("scrypt$")
    assert "password_hash" not in users.list_users(store).columns
    with pytest.raises(users.SignInError, match="unknown user or wrong password"):
        users.sign_in(store, "li.na", "wrong password!!")
    with pytest.raises(users.SignInError, match="unknown user or wrong password"):
        users.sign_in(store, "nobody", "correct horse battery")


def test_two_users_with_one_password_get_different_hashes(store):
    users.add_user(store, "a.user", "viewer", "same password 1", by="admin")
    users.add_user(store, "b.user", "viewer", "same password 1", by="admin")
    hashes = [r[0] for r in store.rows("SELECT password_hash FROM users")]
    assert hashes[0] != hashes[1]


def test_a_disabled_user_cannot_sign_in_and_every_change_is_audited(store):
    users.add_user(store, "wang.wei", "planner", "a long password", by="admin")
    users.set_disabled(store, "wang.wei", True, by="admin")
    with pytest.raises(users.SignInError, match="disabled"):
        users.sign_in(store, "wang.wei", "a long password")
    users.set_disabled(store, "wang.wei", False, by="admin")
    assert users.sign_in(store, "wang.wei", "a long password").role == "planner"
    assert users.user_history(store, "wang.wei")["change"].to_list() == [
        "added as planner",
        "disabled",
        "enabled",
    ]
    with pytest.raises(NotFoundError):
        users.set_disabled(store, "ghost", True, by="admin")


@pytest.mark.parametrize(
    ("username", "role", "password", "why"),
    [
        ("Li Na", "viewer", "a long password", "username"),
        ("x", "viewer", "a long password", "username"),
        ("demo.admin", "admin", "a long password", "demo users"),
        ("li.na", "superuser", "a long password", "unknown role"),
        ("li.na", "viewer", "short", "at least 10"),
        ("li.na.1234", "viewer", "LI.NA.1234", "cannot be the username"),
        ("robert'); drop table users;--", "viewer", "a long password", "username"),
    ],
)
def test_bad_users_are_refused_and_nothing_is_written(store, username, role, password, why):
    with pytest.raises(users.UserError, match=why):
        users.add_user(store, username, role, password, by="admin")
    assert store.scalar("SELECT count(*) FROM users") == 0


def test_a_duplicate_user_is_refused(store):
    users.add_user(store, "li.na", "viewer", "a long password", by="admin")
    with pytest.raises(users.UserError, match="exists already"):
        users.add_user(store, "li.na", "admin", "another password", by="admin")
    assert users.list_users(store)["role"].to_list() == ["viewer"]


def test_oidc_users_get_their_configured_role_or_the_default():
    roles = {"boss@example.com": "approver"}
    assert users.oidc_actor("Boss@example.com", roles, "viewer").role == "approver"
    assert users.oidc_actor("new@example.com", roles, "viewer").role == "viewer"
    mixed_case = {"Boss@Example.com": "approver"}
    assert users.oidc_actor("boss@example.com", mixed_case, "viewer").role == "approver"
    with pytest.raises(users.UserError):
        users.oidc_actor("x@example.com", {"x@example.com": "god"}, "viewer")


def test_the_users_command_adds_lists_and_disables(tmp_path, capsys, monkeypatch):
    db = str(tmp_path / "u.duckdb")
    Store(db).close()  # an empty store, migrated
    monkeypatch.setattr("sys.stdin", io.StringIO("a long password\n"))
    assert (
        main(["users", "--db", db, "add", "li.na", "--role", "approver", "--password-stdin"]) == 0
    )
    assert main(["users", "--db", db, "disable", "li.na"]) == 0
    capsys.readouterr()
    assert main(["users", "--db", db, "list"]) == 0
    out = capsys.readouterr().out
    assert "li.na" in out and "approver" in out and "disabled" in out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(["users", "--db", db, "add", "bob", "--role", "planner", "--password-stdin"]) == 2
    assert "at least 10" in capsys.readouterr().err


def test_a_supplier_user_speaks_for_one_existing_supplier(network):
    users.add_user(network, "wang.sup1", "supplier", "a long password", by="admin", supplier="SUP1")
    actor = users.sign_in(network, "wang.sup1", "a long password")
    assert actor == Actor("wang.sup1", "supplier", "SUP1")
    assert users.list_users(network).filter(users.pl.col("username") == "wang.sup1")[
        "supplier"
    ].to_list() == ["SUP1"]
    with pytest.raises(users.UserError, match="names its supplier"):
        users.add_user(network, "no.supplier", "supplier", "a long password", by="admin")
    with pytest.raises(users.UserError, match="names its supplier"):
        users.add_user(
            network, "li.planner", "planner", "a long password", by="admin", supplier="SUP1"
        )
    with pytest.raises(users.UserError, match="no supplier"):
        users.add_user(network, "x.sup", "supplier", "a long password", by="admin", supplier="NOPE")
    assert network.scalar("SELECT count(*) FROM users") == 1
    with pytest.raises(ValueError, match="supplier"):
        Actor("x", "supplier")
    # a supplier may not propose, decide or post actions
    from control_tower import actions

    assert all("supplier" not in roles for roles in actions.CAN.values())


def test_oidc_gives_a_supplier_role_with_its_supplier():
    roles = {"buyer@jnb.example": "supplier:SUP-JNB", "bad@x.example": "supplier:"}
    assert users.oidc_actor("Buyer@JNB.example", roles, "viewer") == Actor(
        "Buyer@JNB.example", "supplier", "SUP-JNB"
    )
    with pytest.raises(users.UserError, match="supplier code"):
        users.oidc_actor("bad@x.example", roles, "viewer")


def test_signing_in_is_required_once_suppliers_can_sign_in(network):
    from control_tower.config import AuthSettings

    assert not users.sign_in_required(network, AuthSettings())
    assert users.sign_in_required(network, AuthSettings(require_sign_in=True))
    assert users.sign_in_required(
        network, AuthSettings(oidc_roles={"a@x.example": "supplier:SUP1"})
    )
    users.add_user(network, "sup.one", "supplier", "a long password", by="admin", supplier="SUP1")
    assert users.sign_in_required(network, AuthSettings())
    users.set_disabled(network, "sup.one", True, by="admin")
    assert not users.sign_in_required(network, AuthSettings())


def test_a_supplier_default_role_requires_signing_in(network):
    from control_tower.config import AuthSettings

    assert users.sign_in_required(network, AuthSettings(oidc_default_role="supplier:SUP1"))
