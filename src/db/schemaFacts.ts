import { sql, type Kysely, type RawBuilder } from "kysely";

// What the connected database's schema is, from information_schema (the same on MySQL 8 and
// MariaDB 10.11): for migrations whose `down` must undo only what a partial `up` did — MySQL has
// no DROP INDEX/CONSTRAINT IF EXISTS, and DDL is not transactional — and for the test that
// compares src/db/schema.ts with a migrated database.

export interface TableShape {
  exists: boolean;
  columns: ReadonlySet<string>;
  /** Index names, the unique ones included (MySQL names a UNIQUE constraint's index after it). */
  indexes: ReadonlySet<string>;
  /** CHECK, FOREIGN KEY and UNIQUE constraint names. */
  constraints: ReadonlySet<string>;
}

/** The columns, indexes and constraints `table` has now (all empty when it does not exist). */
export async function tableShape(db: Kysely<any>, table: string): Promise<TableShape> {
  const names = async (query: ReturnType<typeof sql<{ name: string }>>) => new Set((await query.execute(db)).rows.map((r) => r.name));
  const [tables, columns, indexes, constraints] = await Promise.all([
    names(sql<{ name: string }>`select table_name as name from information_schema.tables where table_schema = database() and table_name = ${table}`),
    names(sql<{ name: string }>`select column_name as name from information_schema.columns where table_schema = database() and table_name = ${table}`),
    names(sql<{ name: string }>`select distinct index_name as name from information_schema.statistics where table_schema = database() and table_name = ${table}`),
    names(sql<{ name: string }>`select constraint_name as name from information_schema.table_constraints where constraint_schema = database() and table_name = ${table}`),
  ]);
  return { exists: tables.size > 0, columns, indexes, constraints };
}

export interface ColumnFacts {
  nullable: boolean;
  /** Filled in by the database when an insert leaves it out: a default, auto_increment, or generated. */
  defaulted: boolean;
  /** Computed by the database (GENERATED ALWAYS AS …): never written. */
  generated: boolean;
}

/** Every column of every table of the current database (Kysely's own tables left out). */
export async function databaseColumns(db: Kysely<any>): Promise<Map<string, Map<string, ColumnFacts>>> {
  const rows = await sql<{ table_name: string; column_name: string; is_nullable: string; column_default: string | null; extra: string; generation_expression: string | null }>`
    select table_name, column_name, is_nullable, column_default, extra, generation_expression
    from information_schema.columns
    where table_schema = database() and table_name not like 'kysely\\_%'
    order by table_name, ordinal_position`.execute(db);
  const tables = new Map<string, Map<string, ColumnFacts>>();
  for (const row of rows.rows) {
    // EXTRA differs between the servers ("STORED GENERATED", "PERSISTENT GENERATED", MySQL's
    // "DEFAULT_GENERATED" for a mere default); a generation expression is the sure sign on both.
    const generated = Boolean(row.generation_expression);
    const columns = tables.get(row.table_name) ?? new Map<string, ColumnFacts>();
    columns.set(row.column_name, {
      nullable: row.is_nullable === "YES",
      // MariaDB reports a nullable column without a default as the text 'NULL'.
      defaulted: generated || /auto_increment/i.test(row.extra) || (row.column_default !== null && row.column_default !== "NULL"),
      generated,
    });
    tables.set(row.table_name, columns);
  }
  return tables;
}

/** ALTER TABLE with the clauses that are given (false ones left out); nothing when none is left. */
export async function alterTableWith(db: Kysely<any>, table: string, clauses: (RawBuilder<unknown> | false)[]): Promise<void> {
  const given = clauses.filter((c): c is RawBuilder<unknown> => c !== false);
  if (given.length > 0) await sql`alter table ${sql.table(table)} ${sql.join(given)}`.execute(db);
}
