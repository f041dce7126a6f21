from django.db import migrations, models


def install(apps, schema_editor):
    from djtriggers import legacy

    legacy.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from djtriggers import legacy

    legacy.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    """run_alone, and database triggers that keep state in step with the 2.x columns."""

    dependencies = [
        ("djtriggers", "0008_v3"),
    ]

    operations = [
        migrations.AddField(
            model_name="trigger",
            name="run_alone",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(install, uninstall),
    ]
