import { invalidArgument } from "./errors.js";

// Field rules shared by the services. Each throws InvalidArgument naming the field.

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

/** 1-40 characters of [a-z0-9-], no leading or trailing hyphen (it appears in hostnames). */
export function slugField(field: string, value: string): string {
  if (value === "") throw invalidArgument(field, "is required");
  if (!SLUG.test(value)) throw invalidArgument(field, "must be 1-40 characters of a-z, 0-9 and '-', not starting or ending with '-'");
  return value;
}

/** Free text with a length limit; `required` rejects the empty string. */
export function textField(field: string, value: string, max: number, required = false): string {
  if (required && value.trim() === "") throw invalidArgument(field, "is required");
  if (value.length > max) throw invalidArgument(field, `must be at most ${max} characters`);
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(value)) throw invalidArgument(field, "must not contain control characters");
  return value;
}

/** An environment named by its slug or its id (ASCII either way: never a collation error). */
export function environmentRef(field: string, value: string): string {
  if (value === "") throw invalidArgument(field, "is required");
  if (value.length > 64 || !/^[A-Za-z0-9_-]+$/.test(value)) throw invalidArgument(field, "must be an environment slug or id");
  return value;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

/** 0 means the default; above the maximum is clamped; negative is an error. */
export function pageSize(value: number): number {
  if (value < 0) throw invalidArgument("page_size", "must not be negative");
  if (value === 0) return DEFAULT_PAGE_SIZE;
  return Math.min(value, MAX_PAGE_SIZE);
}
