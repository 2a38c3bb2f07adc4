import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('intake', '0001_initial'),
        ('measurement', '0002_overdue_default_from_schedule'),
    ]

    operations = [
        migrations.AddField(
            model_name='intake',
            name='link_issued_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='intake',
            name='identity_failures',
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='intake',
            name='safety_kept',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name='intake',
            name='created_records',
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name='intake',
            name='cssrs_response',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='measurement.questionnaireresponse'),
        ),
    ]
