# The schema of django-triggers 1.x/2.x, kept so that projects upgrading from
# it migrate on from where they are (see 0008 for 3.0).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Trigger",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("trigger_type", models.CharField(db_index=True, max_length=50)),
                ("source", models.CharField(blank=True, max_length=250, null=True)),
                ("date_received", models.DateTimeField()),
                ("date_processed", models.DateTimeField(blank=True, db_index=True, null=True)),
                ("process_after", models.DateTimeField(blank=True, db_index=True, null=True)),
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
