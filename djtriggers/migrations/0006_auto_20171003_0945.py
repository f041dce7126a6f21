from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("djtriggers", "0005_trigger_successful")]

    operations = [
        migrations.AlterField(
            model_name="trigger",
            name="source",
            field=models.CharField(blank=True, db_index=True, max_length=150, null=True),
        ),
    ]
