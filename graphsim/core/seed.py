"""Deterministic tenants, users and apps, generated from a seed.

The same seed always yields the same ids, names and secrets, so the demo tenant
a console was configured against survives a simulator restart.
"""

from __future__ import annotations

import random
import string
import uuid
from datetime import datetime, timedelta
from typing import Any

from graphsim.core.errors import utcnow
from graphsim.core.state import App, Group, Secret, Tenant, User


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES = _words(
    "Adele Alex Allan Amara Ana Anika Arjun Beatriz Ben Bianca Carlos Chen Chloe Claire "
    "Daniel Diego Eleni Elif Emma Farah Felix Fatima Grace Hana Hiro Ines Isaac Ivana "
    "Jamal Jana Jonas Julia Kai Karim Kenji Lara Leila Lena Liam Lucas Lynne Maria Mateo "
    "Megan Mia Miriam Nadia Nestor Nia Noah Olga Omar Patti Pedro Priya Rafael Rosa Ruth "
    "Sami Sara Sofia Tariq Tomas Uma Victor Wei Yara Yusuf Zara Zoe"
)
LAST_NAMES = _words(
    "Abbott Adams Ahmed Alvarez Andersen Bauer Becker Bianchi Brooks Castro Chen Costa "
    "Dubois Duarte Evans Fischer Fontaine Garcia Gomez Hansen Hoffmann Ibrahim Ivanova "
    "Jensen Johansson Kaur Khan Kim Kowalski Larsen Lee Lopez Martin Meyer Moreau Muller "
    "Nakamura Novak Nowak Okafor Olsen Patel Perez Petrov Quinn Rahman Reyes Rossi Santos "
    "Schmidt Silva Singh Smith Sousa Tanaka Torres Vargas Wagner Wang Weber Wilson Yilmaz "
    "Young Zhang Ziegler"
)
DEPARTMENTS = {
    "Customer Service": ["Service Agent", "Senior Service Agent", "Team Lead"],
    "Sales": ["Sales Agent", "Account Executive", "Sales Manager"],
    "Support": ["Support Engineer", "Support Specialist", "Support Lead"],
    "Billing": ["Billing Agent", "Billing Specialist"],
    "Operations": ["Operations Analyst", "Workforce Planner", "Supervisor"],
    "IT": ["Systems Administrator", "Developer"],
}
CITIES = ("Amsterdam", "Lisbon", "Seattle", "Madrid", "Berlin", "Osaka", "Toronto")


def seeded_uuid(rng: random.Random) -> str:
    """A version-4 GUID drawn from ``rng``."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def make_secret_value(rng: random.Random) -> str:
    """A secret shaped like Entra's: 3 characters, ``8Q~``, then 34 characters."""
    alphabet = string.ascii_letters + string.digits + "~_.-"
    head = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(3))
    return head + "8Q~" + "".join(rng.choice(alphabet) for _ in range(34))


def _phone(rng: random.Random) -> str:
    return f"+1 425 555 {rng.randrange(10000):04d}"


def generate_user(rng: random.Random, domain: str, taken: set[str], index: int) -> User:
    """One realistic user with a unique UPN in ``domain`` (``taken`` is updated)."""
    given, surname = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    base = f"{given}.{surname}".lower()
    nickname, n = base, 1
    while nickname in taken:
        n += 1
        nickname = f"{base}{n}"
    taken.add(nickname)
    department = rng.choice(list(DEPARTMENTS))
    upn = f"{nickname}@{domain}"
    alias = f"{given[0]}{surname}".lower() + (str(n) if n > 1 else "")
    # Every seventh user has a vanity-domain mailbox, so mail and UPN differ as in
    # tenants that sign in with onmicrosoft.com names (decided by index, not the
    # generator, so the rest of the tenant is unchanged).
    mail = f"{nickname}@{domain.split('.')[0]}.com" if index % 7 == 3 else upn
    proxies = [f"SMTP:{mail}", f"smtp:{alias}@{domain}"]
    if mail != upn:
        proxies.append(f"smtp:{upn}")
    props: dict[str, Any] = {
        "id": seeded_uuid(rng),
        "displayName": f"{given} {surname}",
        "givenName": given,
        "surname": surname,
        "userPrincipalName": upn,
        "mail": mail,
        "mailNickname": nickname,
        "otherMails": [f"{nickname}@mail.example"] if rng.random() < 0.3 else [],
        "proxyAddresses": proxies,
        "businessPhones": [_phone(rng)] if rng.random() < 0.85 else [],
        "mobilePhone": _phone(rng) if rng.random() < 0.6 else None,
        "faxNumber": _phone(rng) if rng.random() < 0.1 else None,
        "jobTitle": rng.choice(DEPARTMENTS[department]),
        "department": department,
        "officeLocation": rng.choice(CITIES),
        "preferredLanguage": "en-US",
        # A few disabled accounts, as every real directory has.
        "accountEnabled": rng.random() >= 0.03,
    }
    return User(id=props["id"], props=props)


def build_tenant(name: str, domain: str, users: int, seed: Any) -> Tenant:
    """A tenant with ``users`` generated users and one group per department.

    Pure: the same (seed, domain) always gives the same tenant id and users.
    """
    rng = random.Random(f"{seed}|{domain.lower()}")
    tenant = Tenant(seeded_uuid(rng), name, domain)
    taken: set[str] = set()
    by_department: dict[str, list[str]] = {}
    for index in range(users):
        user = generate_user(rng, tenant.domain, taken, index)
        tenant.add_user(user)
        by_department.setdefault(user.props["department"], []).append(user.id)
    for department in sorted(by_department):
        group_id = seeded_uuid(rng)
        tenant.groups[group_id] = Group(group_id, department, list(by_department[department]))
    return tenant


def build_app(
    tenant: Tenant,
    *,
    display_name: str,
    permissions: list[str],
    delegated: list[str],
    secret_expires_at: datetime | None,
    seed: Any = None,
) -> tuple[App, str]:
    """Register an app with one secret in ``tenant``; returns (app, secret value).

    With a ``seed`` the ids and the secret are deterministic. Side effect: adds
    the app to the tenant.
    """
    rng = random.Random(f"app|{seed}|{tenant.id}") if seed is not None else random.Random()
    now = utcnow()
    app = App(
        client_id=seeded_uuid(rng),
        object_id=seeded_uuid(rng),
        sp_object_id=seeded_uuid(rng),
        display_name=display_name,
        permissions=list(permissions),
        delegated=list(delegated),
    )
    value = make_secret_value(rng)
    app.secrets.append(
        Secret(
            key_id=seeded_uuid(rng),
            value=value,
            display_name="graphsim",
            start=now,
            end=secret_expires_at or now + timedelta(days=180),
        )
    )
    tenant.apps[app.client_id] = app
    return app, value
