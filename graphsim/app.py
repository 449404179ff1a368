"""The one place the simulator is put together: which Graph areas it serves,
which control endpoints it offers, and the HTTPS server around them.

A new Graph area is a module with an ``AREA`` (see graphsim.core.sim.Area)
listed in ``AREAS``; control endpoints for it are a module under
graphsim/control/ with ``ROUTES`` listed in ``CONTROL``.
"""

from __future__ import annotations

from pathlib import Path

from werkzeug.serving import BaseWSGIServer, make_server

from graphsim import applications, batch, chat, groups, presence, tenant_setup
from graphsim.control import chat as control_chat
from graphsim.control import directory, simulator, tenants
from graphsim.control import mail as control_mail
from graphsim.control import subscriptions as control_subscriptions
from graphsim.control import tenant_setup as control_tenant_setup
from graphsim.control.api import ControlApi
from graphsim.core.certs import ensure_tls_files, server_ssl_context
from graphsim.core.routing import Router
from graphsim.core.server import GraphSimApp
from graphsim.core.sim import Area, Sim
from graphsim.identity.endpoints import IdentityEndpoints
from graphsim.mail import handlers as mail
from graphsim.subscriptions import handlers as subscriptions
from graphsim.users import handlers as users

# Graph routes are tried in this order; housekeeping chores run in it too
# (presence expires before subscriptions are dropped).
AREAS: tuple[Area, ...] = (
    tenant_setup.AREA,
    users.AREA,
    groups.AREA,
    applications.AREA,
    presence.AREA,
    subscriptions.AREA,
    chat.AREA,
    mail.AREA,
    batch.AREA,
)
CONTROL = (
    *simulator.ROUTES,
    *tenants.ROUTES,
    *directory.ROUTES,
    *control_subscriptions.ROUTES,
    *control_chat.ROUTES,
    *control_tenant_setup.ROUTES,
    *control_mail.ROUTES,
)


def build_app(sim: Sim) -> GraphSimApp:
    """The WSGI application serving ``sim``. Side effect: gives ``sim`` its Graph router."""
    sim.add_service(Router(route for area in sim.areas for route in area.routes))
    return GraphSimApp(sim, identity=IdentityEndpoints(sim), control=ControlApi(CONTROL))


def build_server(host: str, port: int, data_dir: Path) -> tuple[BaseWSGIServer, Sim]:
    """Create (not start) the threaded HTTPS server and its simulator.

    Side effects: creates the CA, server certificate and signing key in
    ``data_dir`` when missing; binds the port (0 = pick a free one).
    Raises graphsim.core.persist.StateError for a saved tenant it cannot read.
    """
    _, cert_path, key_path = ensure_tls_files(data_dir, host)
    sim = Sim(data_dir, AREAS)
    server = make_server(
        host,
        port,
        build_app(sim),
        threaded=True,
        ssl_context=server_ssl_context(cert_path, key_path),
    )
    return server, sim
