// The path a project's OpenAPI spec is fetched from on its instances. It is appended to the
// instance's address, so it must stay a path: absolute, printable ASCII, no "//" (which a URL
// parser reads as another host), no fragment, no backslash.

export const DEFAULT_SPEC_PATH = "/openapi.yaml";

/** undefined when acceptable, else why not. */
export function specPathProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return "must be an absolute path starting with /, e.g. /openapi.yaml";
  if (path.length > 255) return "must be at most 255 characters";
  if (!/^\/[\x21-\x7e]*$/.test(path)) return "must be printable ASCII without spaces";
  if (path.startsWith("//")) return "must not start with // (that names a host)";
  if (path.includes("#") || path.includes("\\")) return "must not contain # or \\";
  return undefined;
}
