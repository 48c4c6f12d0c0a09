"""PostgreSQL plumbing and the event journal.

* ``callcore.store.db`` - ``Database``, the one door to PostgreSQL for the whole product (typed rows, and
  ``ERROR_TABLE``, which maps every driver error into ``callcore.errors``);
* ``callcore.store.api`` - the ``JournalSink`` protocol and ``MemoryJournal``;
* ``callcore.store.journal`` - ``PgJournal``, the durable journal (buffer, COPY batches, spill files);
* ``callcore.store.pg`` - ``resolve_database`` (configured DSN, local server or private cluster) and
  ``create_pool``;
* ``callcore.store.migrate`` - the migration runner (``migrate``, ``status``, ``cli_migrate``);
* ``callcore.store.sqlfiles`` - ``load_sql`` and ``migrations_dir``.

Importing this package does not import asyncpg.
"""
