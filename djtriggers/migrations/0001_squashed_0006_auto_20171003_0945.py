# 2.x shipped 0001-0006 squashed too; databases that applied the squash find it here.
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    replaces = [
        ("djtriggers", "0001_initial"),
        ("djtriggers", "0002_auto_20151208_1454"),
        ("djtriggers", "0003_auto_20160512_0847"),
        ("djtriggers", "0004_auto_20170216_1007"),
        ("djtriggers", "0005_trigger_successful"),
        ("djtriggers", "0006_auto_20171003_0945"),
    ]
    initial = True
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Trigger",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("trigger_type", models.CharField(db_index=True, max_length=50)),
                ("source", models.CharField(blank=True, db_index=True, max_length=150, null=True)),
                ("date_received", models.DateTimeField(default=django.utils.timezone.now)),
                ("date_processed", models.DateTimeField(blank=True, db_index=True, null=True)),
                ("process_after", models.DateTimeField(blank=True, db_index=True, null=True)),
                ("number_of_tries", models.IntegerField(default=0)),
                ("successful", models.BooleanField(default=None, null=True)),
            ],
        ),
        migrations.CreateModel(
            name="TriggerResult",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("result", models.TextField()),
                ("trigger", models.ForeignKey(on_delete=models.CASCADE, to="djtriggers.trigger")),
            ],
        ),
    ]
