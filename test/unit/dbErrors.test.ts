// Which database errors mean "the database is not reachable now" (answered Unavailable) and
// which are about the request (src/db/errors.ts). The real failures are exercised against a
// killed MariaDB in test/api/databaseRestart.test.ts; these are the cases it cannot stage.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isConnectionError } from "../../src/db/errors.js";

const withProps = (props: object) => Object.assign(new Error("x"), props);

describe("isConnectionError", () => {
  it("knows connection-level failures", () => {
    for (const error of [
      withProps({ fatal: true }),
      withProps({ code: "ECONNREFUSED" }),
      withProps({ code: "PROTOCOL_CONNECTION_LOST" }),
      withProps({ errno: 1053 }), // server shutdown in progress
      withProps({ errno: 1040 }), // too many connections
      withProps({ errno: 1927 }), // MariaDB: connection killed
      new AggregateError([withProps({ code: "ECONNREFUSED" }), withProps({ code: "ETIMEDOUT" })]),
    ]) {
      assert.equal(isConnectionError(error), true, JSON.stringify(error));
    }
  });

  it("leaves errors about the request alone", () => {
    for (const error of [new Error("boom"), withProps({ errno: 1062, code: "ER_DUP_ENTRY" }), withProps({ errno: 1064 }), withProps({ fatal: false, errno: 1213 }), undefined, "text"]) {
      assert.equal(isConnectionError(error), false, String(error));
    }
  });
});
