"""What the contact-center API accepts and returns for agent state events.

Inputs forbid unknown fields and refuse loose types (a sequence sent as a
string, a time without a zone), so the ACD learns about a mistake from a 422
with the field's path instead of a state applied in the wrong order.
"""

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import AfterValidator, AwareDatetime, ConfigDict, StringConstraints, field_validator

from accounts.schemas import MAX_BATCH, ExternalId, _batch_limit, _no_nul
from presence.models import AcdState
from presence.sync_models import AgentEvent

# AgentEvent.sequence is a BigIntegerField.
MAX_SEQUENCE = 2**63 - 1
# PostgreSQL stores times Python cannot read back (year 1 BC, past 9999 in UTC); such a
# row would stop the agent's sync. Nothing real happened before 2000 or a day from now
# (a day leaves room for an ACD clock that runs ahead).
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_AHEAD = timedelta(days=1)


def _plausible_time(value: datetime) -> datetime:
    if not EARLIEST_EVENT <= value <= datetime.now(UTC) + LATEST_AHEAD:
        raise ValueError(
            "Send a time between 2000-01-01T00:00:00Z and one day from now, "
            f"not {value.isoformat()}."
        )
    return value


ReasonCode = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=64), AfterValidator(_no_nul)
]
State = Literal[tuple(AcdState.values)]  # type: ignore[valid-type]
Interaction = Literal[tuple(AgentEvent.Interaction.values)]  # type: ignore[valid-type]


class AgentEventIn(Schema):
    model_config = ConfigDict(extra="forbid")

    agent: ExternalId = Field(description="The agent's external id, as sent to PUT /agents.")
    state: State = Field(description="The agent's new ACD state.")
    reason_code: ReasonCode | None = Field(
        None,
        description="For unavailable only: one of the business unit's reason codes "
        "(break, lunch, …). Omit or send null for none.",
    )
    interaction: Interaction = Field(
        "none",
        description="internal for an agent-to-agent call: recorded, but never synced to Teams.",
    )
    occurred_at: Annotated[AwareDatetime, AfterValidator(_plausible_time)] = Field(
        description="When the state changed, ISO-8601 with a zone (2026-03-01T09:30:00Z); "
        "from 2000 to at most a day ahead of the console's clock."
    )
    sequence: int = Field(
        ge=0,
        le=MAX_SEQUENCE,
        strict=True,
        description="Increases with every event of the agent. An event older than one "
        "already applied never wins; sending the same (agent, sequence) again is harmless.",
    )


class AgentEventBatch(Schema):
    model_config = ConfigDict(extra="forbid")

    events: list[AgentEventIn] = Field(min_length=1, max_length=MAX_BATCH)

    @field_validator("events", mode="before")
    @classmethod
    def _limit(cls, value: Any) -> Any:
        return _batch_limit(value, "events")


class EventsAccepted(Schema):
    accepted: int = Field(description="Events stored now; they are applied within seconds.")
    duplicates: int = Field(description="Events already received (same agent and sequence).")
