"""``sql/schema.sql`` must describe exactly the schema that the migrations build."""

from __future__ import annotations

import difflib

from callcore.store.sqlfiles import migrations_dir

CATALOG_QUERIES: dict[str, str] = {
    "relation": """
        SELECT c.relname || ' ' || c.relkind::text || ' persistence=' || c.relpersistence::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')""",
    "column": """
        SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
               || ' notnull=' || a.attnotnull || ' identity=' || a.attidentity::text
               || ' generated=' || a.attgenerated::text
               || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
               || ' position=' || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND a.attnum > 0
          AND NOT a.attisdropped""",
    "index": """
        SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = 'public'""",
    "constraint": """
        SELECT coalesce(c.relname, '-') || ' ' || con.conname || ': ' || pg_get_constraintdef(con.oid)
               || ' deferrable=' || con.condeferrable || ' deferred=' || con.condeferred
        FROM pg_constraint con
        JOIN pg_namespace n ON n.oid = con.connamespace
        LEFT JOIN pg_class c ON c.oid = con.conrelid
        WHERE n.nspname = 'public'""",
    "type": """
        SELECT t.typname || ' ' || t.typtype::text || ' ' || coalesce(
                   (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
                    FROM pg_enum e WHERE e.enumtypid = t.oid), '')
        FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'c')
          AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')""",
    "function": """
        SELECT pg_get_functiondef(p.oid)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p')""",
    "trigger": """
        SELECT pg_get_triggerdef(t.oid)
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND NOT t.tgisinternal""",
    "view": """
        SELECT viewname || ': ' || definition FROM pg_views WHERE schemaname = 'public'""",
    "extension": "SELECT extname FROM pg_extension",
}


async def catalog(dsn: str) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        out: list[str] = []
        for kind, query in CATALOG_QUERIES.items():
            out.extend(f"{kind} {row[0]}" for row in await conn.fetch(query))
        return sorted(out)
    finally:
        await conn.close()




async def test_migrations_build_exactly_schema_sql(pg_dsn: str, pg_empty_dsn: str) -> None:
    import asyncpg

    schema_sql = (migrations_dir() / "schema.sql").read_text(encoding="utf-8")
    conn = await asyncpg.connect(pg_empty_dsn)
    try:
        await conn.execute(schema_sql)
    finally:
        await conn.close()
    from_migrations = await catalog(pg_dsn)
    from_schema = await catalog(pg_empty_dsn)
    assert "column events.event_key uuid notnull=true identity= generated= default=- position=2" in (
        from_migrations)
    assert any(line.startswith("index events_queue_ts") for line in from_migrations)
    diff = "\n".join(difflib.unified_diff(from_migrations, from_schema, "migrations", "sql/schema.sql",
                                          lineterm="", n=0))
    assert not diff, "sql/schema.sql differs from the migrations:\n" + diff


async def test_catalog_dump_detects_a_difference(pg_dsn: str) -> None:
    import asyncpg

    before = await catalog(pg_dsn)
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute("ALTER TABLE events ALTER COLUMN type SET DEFAULT 'x'")
    finally:
        await conn.close()
    after = await catalog(pg_dsn)
    assert before != after
