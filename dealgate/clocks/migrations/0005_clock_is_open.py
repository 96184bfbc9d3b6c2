"""One open obligation per key, kept in a column a breach leaves alone.

Until now a key could hold a running clock and, beside it, a breached one
nobody put right (a next step moved to a later date after it ran out, for
instance); the older one is put right here as the newer one replaced it.
"""

from django.db import migrations, models

OPEN = "(state = 'running' OR (state = 'breached' AND resolved_at IS NULL))"

CLOSE_ENDED = f"UPDATE clocks_clock SET is_open = FALSE WHERE NOT {OPEN}"

# A breached clock with a newer open clock of the same key: put right when
# the newer one started. Only keys open more than once are compared clock by
# clock: no index on all keys exists yet, and SQLite would otherwise read the
# newer clocks of every breached one (minutes for tens of thousands).
PUT_RIGHT_REPLACED = """
UPDATE clocks_clock SET
    is_open = FALSE,
    at_risk = FALSE,
    note = 'restarted',
    resolved_at = (
        SELECT MIN(newer.started_at) FROM clocks_clock newer
        WHERE newer.key = clocks_clock.key AND newer.id > clocks_clock.id
          AND newer.is_open
    )
WHERE state = 'breached' AND resolved_at IS NULL
  AND key IN (
    SELECT key FROM clocks_clock WHERE is_open GROUP BY key HAVING COUNT(*) > 1
  )
  AND EXISTS (
    SELECT 1 FROM clocks_clock newer
    WHERE newer.key = clocks_clock.key AND newer.id > clocks_clock.id
      AND newer.is_open
  )
"""


class Migration(migrations.Migration):
    dependencies = [
        ("clocks", "0004_clock_responsible_due"),
    ]

    operations = [
        migrations.AddField(
            model_name="clock",
            name="is_open",
            field=models.BooleanField(db_default=True, default=True),
        ),
        migrations.RunSQL(CLOSE_ENDED, migrations.RunSQL.noop),
        migrations.RunSQL(PUT_RIGHT_REPLACED, migrations.RunSQL.noop),
        migrations.RemoveConstraint(
            model_name="clock",
            name="clock_one_running_per_key",
        ),
        migrations.AddConstraint(
            model_name="clock",
            constraint=models.UniqueConstraint(
                condition=models.Q(is_open=True),
                fields=("key",),
                name="clock_one_open_per_key",
            ),
        ),
        migrations.AddConstraint(
            model_name="clock",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    is_open=True, state="running", resolved_at__isnull=True
                )
                | models.Q(is_open=True, state="breached", resolved_at__isnull=True)
                | models.Q(is_open=False, state__in=["met", "cancelled"])
                | models.Q(is_open=False, state="breached", resolved_at__isnull=False),
                name="clock_open_matches_state",
            ),
        ),
    ]
