"""What the contact-center API accepts and returns for business units and agents.

Inputs forbid unknown fields, so a misspelt field is a 422 with its path
rather than silently ignored.
"""

from datetime import datetime
from typing import Annotated, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Field, Schema
from pydantic import AfterValidator, ConfigDict, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from accounts.models import Agent, AgentMapping

MAX_BATCH = 1000
MAX_TEAMS_PER_AGENT = 100


def _email_or_blank(value: str) -> str:
    if value:
        try:
            validate_email(value)
        except DjangoValidationError:
            raise PydanticCustomError("email", "Enter a valid email address.") from None
    return value


def _no_nul(value: str) -> str:
    # JSON may carry "\u0000"; PostgreSQL cannot store it in a text column.
    if "\x00" in value:
        raise PydanticCustomError("nul", "Text may not contain NUL (\\u0000) characters.")
    return value


def _batch_limit(value: Any, what: str) -> Any:
    if isinstance(value, list) and len(value) > MAX_BATCH:
        raise PydanticCustomError(
            "too_long",
            "A request carries at most {limit} {what}, not {count}; send them in several requests.",
            {"limit": MAX_BATCH, "what": what, "count": len(value)},
        )
    return value


Code = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[-a-zA-Z0-9_]+$"
    ),
]
UnitName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_nul),
]
ExternalId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=128),
    AfterValidator(_no_nul),
]
AgentName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=256),
    AfterValidator(_no_nul),
]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=320),
    AfterValidator(_no_nul),
    AfterValidator(_email_or_blank),
]
TeamName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_nul),
]


class _Input(Schema):
    model_config = ConfigDict(extra="forbid")


class BusinessUnitIn(_Input):
    code: Code = Field(description="Stable identifier: letters, digits, '-' and '_'.")
    name: UnitName = Field(description="Display name; unique across business units.")


class BusinessUnitBatch(_Input):
    business_units: list[BusinessUnitIn] = Field(max_length=MAX_BATCH)

    @field_validator("business_units", mode="before")
    @classmethod
    def _limit(cls, value: Any) -> Any:
        return _batch_limit(value, "business units")


class AgentIn(_Input):
    external_id: ExternalId = Field(description="The ACD's id for the agent.")
    name: AgentName
    email: Email = Field("", description="Used to map the agent to a Teams user. Empty clears it.")
    business_unit: Code = Field(description="The code of an existing business unit.")
    teams: list[TeamName] | None = Field(
        None,
        max_length=MAX_TEAMS_PER_AGENT,
        description="Agent team names in the business unit, created when missing. "
        "The agent's teams become exactly these; omit to leave them unchanged.",
    )
    teams_enabled: bool | None = Field(
        None, description="Teams integration on or off; omit to leave it unchanged."
    )


class AgentBatch(_Input):
    agents: list[AgentIn] = Field(max_length=MAX_BATCH)

    @field_validator("agents", mode="before")
    @classmethod
    def _limit(cls, value: Any) -> Any:
        return _batch_limit(value, "agents")


class UpsertOut(Schema):
    created: list[str]
    updated: list[str]
    unchanged: list[str]


class BusinessUnitOut(Schema):
    code: str
    name: str


class BusinessUnitList(Schema):
    business_units: list[BusinessUnitOut]


class MappingOut(Schema):
    teams_user_id: str = Field(description="The Microsoft Entra ID (Graph) user id.")
    user_principal_name: str
    display_name: str
    method: str = Field(description="How the mapping was made: auto, manual or api.")
    mapped_at: datetime

    @staticmethod
    def resolve_teams_user_id(mapping: AgentMapping) -> str:
        return mapping.directory_user.graph_id

    @staticmethod
    def resolve_user_principal_name(mapping: AgentMapping) -> str:
        return mapping.directory_user.user_principal_name

    @staticmethod
    def resolve_display_name(mapping: AgentMapping) -> str:
        return mapping.directory_user.display_name


class AgentOut(Schema):
    external_id: str
    name: str
    email: str
    business_unit: str = Field(description="The business unit's code.")
    teams: list[str]
    teams_enabled: bool
    mapping: MappingOut | None = Field(description="The Teams user the agent is mapped to.")

    @staticmethod
    def resolve_business_unit(agent: Agent) -> str:
        return agent.business_unit.code

    @staticmethod
    def resolve_teams(agent: Agent) -> list[str]:
        return sorted(team.name for team in agent.teams.all())

    @staticmethod
    def resolve_mapping(agent: Agent) -> AgentMapping | None:
        try:
            return agent.mapping
        except AgentMapping.DoesNotExist:
            return None


class AgentPage(Schema):
    count: int = Field(description="Agents matching the filters, on all pages.")
    page: int
    page_size: int
    pages: int
    agents: list[AgentOut]


class AgentFilters(Schema):
    business_unit: Annotated[str, AfterValidator(_no_nul)] | None = Field(
        None, description="Only agents of this unit (its code)."
    )
    mapped: bool | None = Field(None, description="true: mapped agents only; false: unmapped.")
    page: int = Field(1, ge=1)
    page_size: int = Field(100, ge=1, le=500)
