"""A deal entered the pipeline when it was created: the insights' entry date
(`dealgate.insights.sql.ENTRY`) is `created_at` alone, indexed by
`deal_entry`, no longer COALESCE(created_at, stage_entered_at), which a move
of an undated deal set to the move's time.

An import that gives a stage-entry date and no creation date is created at
that date (and writes its entry event then). A deal left without a creation
date but with an entry event (a stage event from no stage) is given that
event's instant here, so it keeps its entry. Going back leaves the dates.
"""

from django.db import migrations, models

FILL = (
    "UPDATE deals_deal SET created_at = ("
    "SELECT MIN(e.at) FROM deals_stageevent e "
    "WHERE e.deal_id = deals_deal.id AND e.from_stage_id IS NULL) "
    "WHERE created_at IS NULL AND EXISTS ("
    "SELECT 1 FROM deals_stageevent e "
    "WHERE e.deal_id = deals_deal.id AND e.from_stage_id IS NULL)"
)


class Migration(migrations.Migration):
    dependencies = [("deals", "0013_activity_tags_lower_case")]

    operations = [
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
        migrations.RemoveIndex(model_name="deal", name="deal_entry"),
        migrations.AddIndex(
            model_name="deal",
            index=models.Index(
                fields=["pipeline", "created_at"],
                include=("status", "stage", "owner", "product", "organization"),
                name="deal_entry",
            ),
        ),
    ]
