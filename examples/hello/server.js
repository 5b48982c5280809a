// The sample app: a dependency-free HTTP server on 127.0.0.1:$PORT that answers every request
// with its version (APP_VERSION, else package.json's). Knobs for tests and demos, all optional:
//   HELLO_START_DELAY=<ms>  listen only after this long (a slow start)
//   HELLO_FAIL_HEALTH=1     answer every request 503 (its health check never passes)
//   HELLO_CRASH_AFTER=<ms>  exit with code 1 this long after listening (a crash)
//   HELLO_SAY=<text>        print this line at start (what an app's own log might show)
//   HELLO_OPENAPI=<variant> what GET /openapi.yaml serves: v1 (default) or v2 (openapi/*.yaml),
//                           none (404), huge (a 20 MiB spec), invalid (broken YAML), external-ref
//                           (a $ref to HELLO_OPENAPI_TARGET), redirect (302 to HELLO_OPENAPI_TARGET),
//                           local-redirect (302 to /openapi/v1.yaml on this instance)
import fs from "node:fs";
import http from "node:http";

const pkg = JSON.parse(fs.readFileSync(new URL("./package.json", import.meta.url), "utf8"));
const version = process.env.APP_VERSION || pkg.version;
const port = Number(process.env.PORT);
const host = process.env.HOST || "127.0.0.1";
const ms = (name) => Number(process.env[name] || 0);

if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`hello: PORT must be a TCP port, got "${process.env.PORT ?? ""}"`);
  process.exit(2);
}
if (process.env.HELLO_SAY) console.log(process.env.HELLO_SAY);
const failing = process.env.HELLO_FAIL_HEALTH === "1";
if (failing) console.log("hello: failing every request with 503 (HELLO_FAIL_HEALTH=1)");

const openapi = process.env.HELLO_OPENAPI || "v1";
const openapiTarget = process.env.HELLO_OPENAPI_TARGET || "";
const specFile = (name) => fs.readFileSync(new URL(`./openapi/${name}.yaml`, import.meta.url), "utf8");
// A copy of the app without its openapi/ directory (an image that left it out) publishes no spec
// instead of crashing on the first GET /openapi.yaml.
const hasSpecs = fs.existsSync(new URL("./openapi/v1.yaml", import.meta.url));

/** GET /openapi.yaml as HELLO_OPENAPI says; false when the request is not for the spec. */
function serveSpec(req, res) {
  const url = new URL(req.url ?? "/", "http://app");
  if (url.pathname === "/openapi/v1.yaml" || url.pathname === "/openapi/v2.yaml") {
    res.writeHead(200, { "content-type": "application/yaml" });
    res.end(specFile(url.pathname.slice("/openapi/".length, -".yaml".length)));
    return true;
  }
  if (url.pathname !== "/openapi.yaml") return false;
  if (!hasSpecs) return res.writeHead(404, { "content-type": "text/plain" }), res.end("not found\n"), true;
  const yaml = (text) => (res.writeHead(200, { "content-type": "application/yaml" }), res.end(text));
  switch (openapi) {
    case "v1":
    case "v2":
      return yaml(specFile(openapi)), true;
    case "none":
      return res.writeHead(404, { "content-type": "text/plain" }), res.end("not found\n"), true;
    case "invalid":
      return yaml("openapi: 3.0.3\ninfo: {title: hello\npaths: [\n"), true;
    case "external-ref":
      return yaml(specFile("v1").replace('$ref: "#/components/schemas/Hello"', `$ref: "${openapiTarget}"`)), true;
    case "redirect":
      return res.writeHead(302, { location: openapiTarget }), res.end(), true;
    case "local-redirect":
      return res.writeHead(302, { location: "/openapi/v1.yaml" }), res.end(), true;
    case "huge": {
      // 20 MiB, chunked (no Content-Length): the reader has to count.
      res.writeHead(200, { "content-type": "application/yaml" });
      res.write(`${specFile("v1")}x-padding: "`);
      const chunk = "x".repeat(64 * 1024);
      let left = 320;
      const more = () => {
        while (left > 0) {
          left--;
          if (!res.write(chunk)) return void res.once("drain", more);
        }
        res.end('"\n');
      };
      res.on("error", () => {});
      more();
      return true;
    }
    default:
      return res.writeHead(500), res.end(`unknown HELLO_OPENAPI ${openapi}\n`), true;
  }
}

const server = http.createServer((req, res) => {
  if (!failing && serveSpec(req, res)) return;
  const body = JSON.stringify({ app: pkg.name, version, instance: process.env.SWITCHYARD_INSTANCE_ID ?? null, pid: process.pid });
  res.writeHead(failing ? 503 : 200, { "content-type": "application/json" });
  res.end(`${body}\n`);
});

setTimeout(() => {
  server.listen(port, host, () => {
    console.log(`hello ${version} listening on http://${host}:${port}`);
    const crashAfter = ms("HELLO_CRASH_AFTER");
    if (crashAfter > 0) {
      setTimeout(() => {
        console.error(`hello: crashing after ${crashAfter} ms (HELLO_CRASH_AFTER)`);
        process.exit(1);
      }, crashAfter);
    }
  });
}, ms("HELLO_START_DELAY"));

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    console.log(`hello: ${signal}, closing`);
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  });
}
