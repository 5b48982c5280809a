import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult, TransactionSettings } from "kysely";

// Tells this process's feed tailer (src/cluster/feedTailer.ts) the moment a transaction that
// appended to the change feed has COMMITTED, so local watchers see the change at once instead
// of at the next poll. It must be after the commit, never before: a tailer woken earlier would
// read nothing new and go back to sleep until the next poll.
//
// Kysely has no commit hook, so the driver is wrapped: each connection notes whether it ran
// `insert into changes` (the one statement src/db/changes.ts appends with, sent in one query
// after the counter bump: src/db/sequences.ts), and the wrapper's
// commitTransaction signals once the inner commit has returned. Rollbacks signal nothing.

export class FeedCommits {
  private readonly listeners = new Set<() => void>();

  /** Calls `listener` after every commit that appended changes; returns the unsubscribe. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  committed(): void {
    for (const listener of this.listeners) listener();
  }
}

const APPENDS_CHANGES = /(^|;\s*)insert into `changes`/i;

/** `inner` with commits of change-feed writes reported to `commits`. */
export function signallingDialect(inner: Dialect, commits: FeedCommits): Dialect {
  return {
    createAdapter: () => inner.createAdapter(),
    createQueryCompiler: () => inner.createQueryCompiler(),
    createIntrospector: (db) => inner.createIntrospector(db),
    createDriver: () => new SignallingDriver(inner.createDriver(), commits),
  };
}

class WatchedConnection implements DatabaseConnection {
  inTransaction = false;
  appendedChanges = false;

  constructor(
    readonly inner: DatabaseConnection,
    private readonly commits: FeedCommits,
  ) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.inner.executeQuery<R>(query);
    if (APPENDS_CHANGES.test(query.sql)) {
      if (this.inTransaction) this.appendedChanges = true;
      else this.commits.committed(); // autocommit: already durable
    }
    return result;
  }

  streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    return this.inner.streamQuery<R>(query, chunkSize);
  }
}

class SignallingDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly commits: FeedCommits,
  ) {}

  init() {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    return new WatchedConnection(await this.inner.acquireConnection(), this.commits);
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings) {
    const watched = connection as WatchedConnection;
    await this.inner.beginTransaction(watched.inner, settings);
    watched.inTransaction = true;
    watched.appendedChanges = false;
  }

  async commitTransaction(connection: DatabaseConnection) {
    const watched = connection as WatchedConnection;
    try {
      await this.inner.commitTransaction(watched.inner);
    } finally {
      watched.inTransaction = false;
    }
    if (watched.appendedChanges) {
      watched.appendedChanges = false;
      this.commits.committed();
    }
  }

  async rollbackTransaction(connection: DatabaseConnection) {
    const watched = connection as WatchedConnection;
    watched.inTransaction = false;
    watched.appendedChanges = false;
    await this.inner.rollbackTransaction(watched.inner);
  }

  savepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver["savepoint"]>>[2]) {
    return this.inner.savepoint!((connection as WatchedConnection).inner, name, compile);
  }

  rollbackToSavepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver["rollbackToSavepoint"]>>[2]) {
    return this.inner.rollbackToSavepoint!((connection as WatchedConnection).inner, name, compile);
  }

  releaseSavepoint(connection: DatabaseConnection, name: string, compile: Parameters<NonNullable<Driver["releaseSavepoint"]>>[2]) {
    return this.inner.releaseSavepoint!((connection as WatchedConnection).inner, name, compile);
  }

  releaseConnection(connection: DatabaseConnection) {
    return this.inner.releaseConnection((connection as WatchedConnection).inner);
  }

  destroy() {
    return this.inner.destroy();
  }
}
