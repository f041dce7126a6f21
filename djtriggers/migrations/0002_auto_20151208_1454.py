import datetime

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("djtriggers", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="trigger",
            name="date_received",
            field=models.DateTimeField(default=datetime.datetime.now),
        ),
    ]
