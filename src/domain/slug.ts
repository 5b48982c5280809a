import { createHash } from "node:crypto";

/** The longest DNS label (RFC 1035). */
export const MAX_LABEL = 63;

/**
 * Lowercase, every run of characters outside [a-z0-9] becomes one hyphen, no leading or
 * trailing hyphen. Deterministic: the same input always gives the same slug.
 */
export function slugify(text: string): string {
  return text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
}

/** A short, stable hash that keeps truncated slugs distinct (`feature/a…x` vs `feature/a…y`). */
export function shortHash(text: string, length = 6): string {
  return createHash("sha256").update(text).digest("hex").slice(0, length);
}

/**
 * Joins parts into one DNS label of at most 63 characters. When too long, the part at
 * `squeezeIndex` is shortened and suffixed with a hash of its full text, so the label stays
 * unique and deterministic.
 */
export function joinLabel(parts: string[], squeezeIndex: number): string {
  const label = parts.join("-");
  if (label.length <= MAX_LABEL) return label;
  const squeezed = parts[squeezeIndex]!;
  const hash = shortHash(squeezed);
  const room = MAX_LABEL - (label.length - squeezed.length) - hash.length - 1;
  if (room < 1) {
    // Even the fixed parts do not fit: hash the whole label instead.
    return `${parts.join("-").slice(0, MAX_LABEL - hash.length - 1).replace(/-+$/, "")}-${hash}`;
  }
  const kept = squeezed.slice(0, room).replace(/-+$/, "");
  const copy = [...parts];
  copy[squeezeIndex] = `${kept}-${hash}`;
  return copy.join("-");
}
