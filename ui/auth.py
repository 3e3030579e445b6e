"""Who is using the dashboard: the sidebar's sign-in panel and the signed-in actor.

Three ways in, in this order: OpenID Connect through Streamlit's ``st.login`` when
``.streamlit/secrets.toml`` has an ``[auth]`` section (the role from ``[auth] oidc_roles`` in
the config); the local user store (username and password); and, only when ``[auth]
demo_users`` is on, a demo user picked from a list, marked as a demo everywhere. Reading needs
no sign-in; every decision does, and the services check the role again.
"""

from __future__ import annotations

import streamlit as st

from control_tower import users
from control_tower.actions import Actor
from control_tower.errors import ControlTowerError
from control_tower.store import Store
from ui import state
from ui.errors import show_error
from ui.format import plain

KEY = "actor"


def _oidc_configured() -> bool:
    try:
        return "auth" in st.secrets
    except (FileNotFoundError, KeyError, st.errors.StreamlitSecretNotFoundError):
        return False


def _oidc_signed_in() -> bool:
    return _oidc_configured() and bool(getattr(st.user, "is_logged_in", False))


def current_actor() -> Actor | None:
    """The signed-in actor of this session, if any."""
    if _oidc_signed_in():
        email = st.user.get("email")
        if not isinstance(email, str) or not email.strip():
            raise users.SignInError(
                "the identity provider sent no e-mail address: allow the 'email' scope for "
                "this app (the role comes from [auth] oidc_roles, by e-mail)"
            )
        if st.user.get("email_verified") is False:  # a claim the user may have set themselves
            raise users.SignInError(
                f"the identity provider has not verified {email.strip()}: roles are given to "
                "verified e-mail addresses only"
            )
        auth = state.get_settings().auth
        return users.oidc_actor(email.strip(), auth.oidc_roles, auth.oidc_default_role)
    return st.session_state.get(KEY)


def _oidc_panel() -> None:
    """Signed in with OpenID Connect: who and with which role, and a way out."""
    try:
        actor = current_actor()
    except ControlTowerError as exc:
        show_error(exc)
    else:
        st.caption(f"Signed in as **{plain(actor.name)}**, {actor.role}")
    if st.button("Sign out", key="auth_sign_out", icon=":material/logout:"):
        # st.logout() sends the browser to clear the sign-in cookie (and to the provider's
        # sign-out); no st.rerun() after it: a rerun drops that redirect before it is sent
        st.logout()
        st.stop()


def sign_in_panel(store: Store) -> None:
    """The sidebar panel: who is signed in and a way out, or the ways in."""
    if _oidc_signed_in():
        _oidc_panel()
        return
    actor = st.session_state.get(KEY)
    if actor is not None:
        demo = " (demo user)" if actor.name.startswith("demo.") else ""
        whose = f" of {plain(actor.supplier)}" if actor.supplier else ""
        st.caption(f"Signed in as **{plain(actor.name)}**, {actor.role}{whose}{demo}")
        if st.button("Sign out", key="auth_sign_out", icon=":material/logout:"):
            st.session_state.pop(KEY, None)
            st.rerun()
        return
    with st.expander("Sign in", icon=":material/login:"):
        if _oidc_configured():
            if st.button("Sign in with your company account", key="auth_oidc"):
                st.login()
        with st.form("auth_local", border=False):
            name = st.text_input("Username", key="auth_username")
            password = st.text_input("Password", type="password", key="auth_password")
            go = st.form_submit_button("Sign in")
        if go:
            try:
                st.session_state[KEY] = users.sign_in(store, name, password)
                st.rerun()
            except ControlTowerError as exc:
                st.error(exc.detail)
        if state.get_settings().auth.demo_users:
            st.warning("Demo mode: pick a demo user, no password.", icon=":material/science:")
            for demo in users.DEMO_USERS:
                label = f"{demo.name} ({demo.role}" + (
                    f" of {demo.supplier})" if demo.supplier else ")"
                )
                key = f"auth_demo_{demo.role}" + (f"_{demo.supplier}" if demo.supplier else "")
                if st.button(label, key=key):
                    st.session_state[KEY] = demo
                    st.rerun()
