// src/db/schema.ts is written by hand; this holds it to the migrated database. The TypeScript
// compiler resolves what Kysely makes of each table interface — Selectable (what a read gives)
// and Insertable (what a write needs) — and information_schema says what MariaDB has: the same
// tables, the same columns, nullable exactly where the type admits null, a database default
// exactly where the type makes a non-null column optional on insert, and a generated column
// exactly where the type forbids writing it.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import ts from "typescript";
import { createDb, ensureDatabase } from "../../src/db/connect.js";
import { migrateToLatest } from "../../src/db/migrate.js";
import { databaseColumns, type ColumnFacts } from "../../src/db/schemaFacts.js";
import { repoRoot, startMariaDb, type MariaDb } from "../harness/index.js";

interface TypedColumn {
  /** The Selectable type admits null. */
  nullable: boolean;
  /** How Insertable treats it: required, optional, or not writable at all (ReadOnly). */
  insert: "required" | "optional" | "absent";
}

/** Every table and column of the `Database` interface, as Kysely's Selectable/Insertable see them. */
function typedColumns(): Map<string, Map<string, TypedColumn>> {
  const probe = path.join(repoRoot, "test", "db", "__schema_probe__.ts");
  const text = `import type { Insertable, Selectable } from "kysely";
import type { Database } from "../../src/db/schema.js";
export declare const selected: { [T in keyof Database]: Selectable<Database[T]> };
export declare const inserted: { [T in keyof Database]: Insertable<Database[T]> };
`;
  // The project's own compiler options (strict null checks, Node types for Buffer).
  const configFile = path.join(repoRoot, "tsconfig.json");
  const { options } = ts.parseJsonConfigFileContent(ts.readConfigFile(configFile, ts.sys.readFile).config, ts.sys, repoRoot);
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, languageVersion, ...rest) => (name === probe ? ts.createSourceFile(name, text, languageVersion) : getSourceFile.call(host, name, languageVersion, ...rest));
  host.fileExists = (name) => name === probe || fileExists.call(host, name);
  host.readFile = (name) => (name === probe ? text : readFile.call(host, name));
  const program = ts.createProgram([probe], options, host);
  const schemaFile = path.join(repoRoot, "src", "db", "schema.ts");
  const problems = [probe, schemaFile].flatMap((file) => ts.getPreEmitDiagnostics(program, program.getSourceFile(file)));
  assert.deepEqual(problems.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")), [], "schema.ts and the probe type-check");
  const checker = program.getTypeChecker();
  const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(probe)!)!);
  const typeOf = (name: string) => checker.getTypeOfSymbol(exported.find((s) => s.name === name)!);
  const admitsNull = (type: ts.Type) => (type.isUnion() ? type.types : [type]).some((t) => (t.flags & ts.TypeFlags.Null) !== 0);

  const tables = new Map<string, Map<string, TypedColumn>>();
  const inserted = typeOf("inserted");
  for (const table of typeOf("selected").getProperties()) {
    const insertable = checker.getTypeOfSymbol(inserted.getProperty(table.name)!);
    const columns = new Map<string, TypedColumn>();
    for (const column of checker.getTypeOfSymbol(table).getProperties()) {
      const insertColumn = insertable.getProperty(column.name);
      columns.set(column.name, {
        nullable: admitsNull(checker.getTypeOfSymbol(column)),
        insert: !insertColumn ? "absent" : (insertColumn.flags & ts.SymbolFlags.Optional) !== 0 ? "optional" : "required",
      });
    }
    tables.set(table.name, columns);
  }
  return tables;
}

/** What schema.ts must say of a column, given what the database has. */
function expectedTyping(facts: ColumnFacts): TypedColumn {
  return {
    nullable: facts.nullable,
    insert: facts.generated ? "absent" : facts.nullable || facts.defaulted ? "optional" : "required",
  };
}

describe("src/db/schema.ts", () => {
  let mariadb: MariaDb;
  let actual: Awaited<ReturnType<typeof databaseColumns>>;
  before(async () => {
    mariadb = await startMariaDb();
    await ensureDatabase(mariadb.url);
    const db = createDb(mariadb.url, { poolSize: 2 });
    try {
      await migrateToLatest(db);
      actual = await databaseColumns(db);
    } finally {
      await db.destroy();
    }
  });
  after(async () => {
    await mariadb?.stop();
  });

  it("describes the migrated database: tables, columns, nullability, defaults and generated columns", () => {
    const typed = typedColumns();
    assert.deepEqual([...typed.keys()].sort(), [...actual.keys()].sort(), "the tables of Database are the migrated tables");
    const mismatches: string[] = [];
    for (const [table, columns] of actual) {
      const typedTable = typed.get(table)!;
      const names = [...new Set([...columns.keys(), ...typedTable.keys()])].sort();
      for (const column of names) {
        const facts = columns.get(column);
        const typing = typedTable.get(column);
        if (!facts) mismatches.push(`${table}.${column}: in schema.ts, not in the database`);
        else if (!typing) mismatches.push(`${table}.${column}: in the database, not in schema.ts`);
        else {
          const expected = expectedTyping(facts);
          if (expected.nullable !== typing.nullable) mismatches.push(`${table}.${column}: ${facts.nullable ? "NULL" : "NOT NULL"} in the database, ${typing.nullable ? "" : "not "}nullable in schema.ts`);
          if (expected.insert !== typing.insert) mismatches.push(`${table}.${column}: ${expected.insert} on insert by the database (${JSON.stringify(facts)}), ${typing.insert} in schema.ts`);
        }
      }
    }
    assert.deepEqual(mismatches, []);
  });
});
