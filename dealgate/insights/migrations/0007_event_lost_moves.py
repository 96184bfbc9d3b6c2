"""An index of the stage events that moved a lost deal between stages.

Loss reasons count a deal by the stage it was lost from. The daily rollup
keys it by the stage it stands in, which differs only for the deals a
redesign moved after their loss (`--move OLD=NEW`): their events go from
lost to lost. `insights.sql.lost_moved` finds those few through this partial
index instead of reading every stage event. Plain SQL, which PostgreSQL and
SQLite both read; the index belongs to the deals' table but serves only
insights, so it is kept here, as the rollups' triggers are.
"""

from django.db import migrations

CREATE = (
    "CREATE INDEX IF NOT EXISTS event_lost_moves ON deals_stageevent (deal_id) "
    "WHERE from_status = 'lost' AND to_status = 'lost'"
)
DROP = "DROP INDEX IF EXISTS event_lost_moves"


class Migration(migrations.Migration):
    dependencies = [
        ("insights", "0006_weeklyreview_version"),
        ("deals", "0015_system_activities"),
    ]

    operations = [migrations.RunSQL(CREATE, DROP)]
