/**
 * Validates an OCI image reference: `[registry[:port]/]path[:tag][@sha256:digest]`, following
 * the grammar of the distribution spec (lowercase path components, tag of at most 128
 * characters, 64-hex sha256 digest). Returns a problem description, or undefined when valid.
 */
const COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const DOMAIN = "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]{1,5})?";
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "sha256:[a-f0-9]{64}";
const REFERENCE = new RegExp(`^(?:(${DOMAIN})/)?(${COMPONENT}(?:/${COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`);

export const MAX_IMAGE_REFERENCE = 512;

export function validateImageReference(reference: string): string | undefined {
  if (reference.length === 0) return "must not be empty";
  if (reference.length > MAX_IMAGE_REFERENCE) return `must be at most ${MAX_IMAGE_REFERENCE} characters`;
  if (/\s/.test(reference)) return "must not contain whitespace";
  const match = REFERENCE.exec(reference);
  // As docker does, the first component is a registry only when it looks like one (a dot, a
  // port or "localhost"); otherwise it is part of the lowercase repository path.
  const domain = match?.[1];
  const looksLikeRegistry = domain !== undefined && (domain.includes(".") || domain.includes(":") || domain === "localhost");
  if (!match || (domain !== undefined && !looksLikeRegistry && domain !== domain.toLowerCase())) {
    return "is not an image reference like registry.example.com/team/app:1.2.3 or app@sha256:<64 hex>";
  }
  return undefined;
}
