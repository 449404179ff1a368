import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def presences_seen_under_current_mapping(apps, schema_editor):
    """Presences already followed keep being followed: only a mapping made from now on
    makes its agent's next presence a first one."""
    AgentPresence = apps.get_model("presence", "AgentPresence")
    AgentMapping = apps.get_model("accounts", "AgentMapping")
    current = AgentMapping.objects.filter(agent_id=OuterRef("agent_id")).values("pk")[:1]
    AgentPresence.objects.exclude(teams_availability="").update(teams_mapping=Subquery(current))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_directoryuser_not_current_index"),
        ("presence", "0002_sync_engine"),
    ]

    operations = [
        migrations.AddField(
            model_name="agentpresence",
            name="teams_mapping",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="accounts.agentmapping",
            ),
        ),
        migrations.AddField(
            model_name="presencerule",
            name="on_mapping",
            field=models.CharField(
                choices=[
                    ("keep", "Keep the ACD state until the Teams presence changes"),
                    ("apply", "Apply the first Teams presence to the ACD"),
                ],
                default="keep",
                max_length=8,
                verbose_name="when an agent is mapped",
            ),
        ),
        migrations.AlterField(
            model_name="syncrecord",
            name="outcome",
            field=models.CharField(
                choices=[
                    ("applied", "Applied"),
                    ("skipped_internal", "Skipped: internal call"),
                    ("skipped_manual", "Skipped: manual status in Teams"),
                    ("skipped_no_rule", "Skipped: no rule"),
                    ("skipped_stale", "Skipped: older than the last event"),
                    ("skipped_echo", "Skipped: Teams shows what the console set"),
                    ("skipped_new_mapping", "Skipped: first presence after mapping"),
                    ("failed", "Failed"),
                ],
                max_length=24,
            ),
        ),
        migrations.RunPython(
            presences_seen_under_current_mapping, migrations.RunPython.noop, elidable=True
        ),
    ]
