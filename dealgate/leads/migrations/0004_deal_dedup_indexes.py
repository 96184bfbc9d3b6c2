"""Indexes that make de-duplication against open deals an index lookup.

`dedup.deals_query` looks for a contact's email in any case (iexact) and for
an organization name starting with a company block in any case
(istartswith), then for the open deals of those people and organizations.
Without these, each capture read every person and organization.

The two databases spell case-insensitive lookups differently, so each gets
its own indexes; none is part of the model state:

- PostgreSQL compares UPPER(column): expression indexes on UPPER, the name's
  with text_pattern_ops so a LIKE 'prefix%' uses it whatever the database's
  collation. Open deals by contact: a partial index (open deals only), which
  bulk imports of closed deals do not write.
- SQLite's LIKE ignores ASCII case and uses an index built with NOCASE. Its
  planner cannot use a partial index for `status = ?` sent as a parameter,
  so deals by contact get a plain index with the status.

Deals by organization use the foreign key's own index on both.
"""

from django.db import migrations

INDEXES = {
    "postgresql": [
        (
            "deal_dedup_person_email",
            'CREATE INDEX deal_dedup_person_email ON deals_person (UPPER("email"))',
        ),
        (
            "deal_dedup_org_name",
            "CREATE INDEX deal_dedup_org_name ON deals_organization "
            '(UPPER("name") text_pattern_ops)',
        ),
        (
            "deal_dedup_open_contact",
            'CREATE INDEX deal_dedup_open_contact ON deals_deal ("contact_id") '
            "WHERE \"status\" = 'open'",
        ),
    ],
    "sqlite": [
        (
            "deal_dedup_person_email",
            'CREATE INDEX deal_dedup_person_email ON deals_person ("email" COLLATE NOCASE)',
        ),
        (
            "deal_dedup_org_name",
            "CREATE INDEX deal_dedup_org_name ON deals_organization "
            '("name" COLLATE NOCASE)',
        ),
        (
            "deal_dedup_open_contact",
            'CREATE INDEX deal_dedup_open_contact ON deals_deal ("contact_id", "status")',
        ),
    ],
}


def create(apps, schema_editor):
    for _, sql in INDEXES.get(schema_editor.connection.vendor, []):
        schema_editor.execute(sql)


def drop(apps, schema_editor):
    for name, _ in INDEXES.get(schema_editor.connection.vendor, []):
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("leads", "0003_lead_tasks"),
        ("deals", "0005_insights_indexes"),
    ]

    operations = [migrations.RunPython(create, drop)]
