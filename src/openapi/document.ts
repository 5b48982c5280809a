import { createHash } from "node:crypto";
import { validate } from "@readme/openapi-parser";
import YAML from "yaml";

// What a scraped spec is: its format, its hash, and why it is not a usable OpenAPI 3 document.
// Parsing never reaches outside the text: YAML aliases are capped by the parser, and $refs that
// point anywhere but inside the document are reported, never resolved (no SSRF through a spec).

export type ContentType = "application/yaml" | "application/json";

export type ProblemKind =
  /** Not YAML/JSON at all. */
  | "syntax"
  /** Parsed, but not an OpenAPI 3.x document. */
  | "not_openapi3"
  /** A $ref to another file or host: never fetched. */
  | "external_ref"
  /** Violates the OpenAPI schema (or its rules: duplicate operationIds, path parameters…). */
  | "schema";

export interface SpecProblem {
  kind: ProblemKind;
  message: string;
}

export interface AnalysedDocument {
  hash: string;
  contentType: ContentType;
  problems: SpecProblem[];
}

const MAX_PROBLEMS = 20;
const MAX_PROBLEM_LENGTH = 500;

export function specHash(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** JSON when the server says so or the text is an object literal; YAML otherwise. */
export function detectContentType(text: string, headerValue: string | undefined): ContentType {
  const header = (headerValue ?? "").toLowerCase();
  if (header.includes("json")) return "application/json";
  if (header.includes("yaml")) return "application/yaml";
  return /^\s*\{/.test(text) ? "application/json" : "application/yaml";
}

/** Parses YAML or JSON (YAML 1.2 reads JSON); throws with the parser's message. */
export function parseSpecText(text: string): unknown {
  return YAML.parse(text, { maxAliasCount: 100, uniqueKeys: true, prettyErrors: false });
}

/** A problem that makes the document impossible to compare (GetDiff and the gate refuse it). */
export function isBlocking(problem: SpecProblem): boolean {
  return problem.kind !== "schema";
}

export async function analyseDocument(text: string, contentTypeHeader?: string): Promise<AnalysedDocument> {
  const result: AnalysedDocument = { hash: specHash(text), contentType: detectContentType(text, contentTypeHeader), problems: [] };
  const add = (kind: ProblemKind, message: string) => {
    if (result.problems.length < MAX_PROBLEMS) result.problems.push({ kind, message: clip(message) });
  };
  let parsed: unknown;
  try {
    parsed = parseSpecText(text);
  } catch (error) {
    add("syntax", `${result.contentType === "application/json" ? "JSON" : "YAML"}: ${firstLine((error as Error).message)}`);
    return result;
  }
  if (!isObject(parsed) || typeof parsed.openapi !== "string" || !/^3\.\d+(\.\d+)?$/.test(parsed.openapi)) {
    add("not_openapi3", "not an OpenAPI 3 document (no `openapi: 3.x` field)");
    return result;
  }
  for (const ref of externalRefs(parsed)) add("external_ref", `external $ref not resolved (a spec must be self-contained): ${ref}`);
  try {
    // validate() dereferences in place: it gets its own copy. External refs are left alone.
    const verdict = await validate(structuredClone(parsed) as never, { resolve: { external: false, file: false } });
    if (!verdict.valid) for (const error of verdict.errors) add("schema", firstLine(error.message));
  } catch (error) {
    add("schema", firstLine((error as Error).message));
  }
  return result;
}

/** Every `$ref` that does not point inside the document ("#/…"), at most a few. */
export function externalRefs(document: unknown, limit = 10): string[] {
  const found: string[] = [];
  const stack: unknown[] = [document];
  // Iterative, with a visit budget: a 10 MiB document has at most a few million nodes.
  for (let visited = 0; stack.length > 0 && found.length < limit && visited < 5_000_000; visited++) {
    const node = stack.pop();
    if (Array.isArray(node)) stack.push(...node);
    else if (isObject(node)) {
      const ref = node.$ref;
      if (typeof ref === "string" && !ref.startsWith("#")) found.push(clip(ref, 200));
      for (const value of Object.values(node)) if (typeof value === "object" && value !== null) stack.push(value);
    }
  }
  return found;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function firstLine(text: string): string {
  return text.split("\n").find((line) => line.trim() !== "")?.trim() ?? text;
}

function clip(text: string, max = MAX_PROBLEM_LENGTH): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
