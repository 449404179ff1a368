from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0004_job_recovery"),
    ]

    operations = [
        migrations.AddField(
            model_name="connectiontest",
            name="unsaved",
            field=models.BooleanField(default=False),
        ),
    ]
