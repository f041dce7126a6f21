from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("djtriggers", "0006_auto_20171003_0945")]

    operations = [
        migrations.AlterField(
            model_name="trigger",
            name="successful",
            field=models.BooleanField(default=None, null=True),
        ),
    ]
