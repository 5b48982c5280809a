// The configured registry's HTTP API (distribution spec v2), for one question: which digest does a
// reference name? The control plane asks it to pin a pre-built image to its digest before anything
// runs, so an agent never runs a tag that moved — and a reference that does not exist fails the
// deployment at once, before any instance is started. The registry is the operator's
// (SWITCHYARD_REGISTRY), so its address may be loopback; tenant input never chooses it.

import { BuildError } from "./buildService.js";

const MANIFEST_TYPES = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

export interface RegistrySettings {
  /** host[:port] of the registry. */
  host: string;
  /** Plain HTTP instead of HTTPS (a private registry on loopback). */
  insecure: boolean;
}

export interface ParsedReference {
  host: string;
  repository: string;
  tag?: string;
  digest?: string;
}

/** `host/repo[:tag][@digest]` split in parts (the host only when the first component looks like one). */
export function parseReference(reference: string): ParsedReference {
  const at = reference.indexOf("@");
  const digest = at >= 0 ? reference.slice(at + 1) : undefined;
  const named = at >= 0 ? reference.slice(0, at) : reference;
  const slash = named.indexOf("/");
  const first = slash >= 0 ? named.slice(0, slash) : "";
  const hasHost = slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost");
  const host = hasHost ? first : "docker.io";
  const rest = hasHost ? named.slice(slash + 1) : named;
  const colon = rest.lastIndexOf(":");
  return colon >= 0 ? { host, repository: rest.slice(0, colon), tag: rest.slice(colon + 1), digest } : { host, repository: rest, digest };
}

/**
 * `host/repo@sha256:…` for a reference in this registry; throws BuildError when the registry does
 * not have it. `timeoutMs` bounds the question.
 */
export async function resolveDigest(registry: RegistrySettings, reference: string, timeoutMs = 10_000): Promise<string> {
  const ref = parseReference(reference);
  const wanted = ref.digest ?? ref.tag ?? "latest";
  const url = `${registry.insecure ? "http" : "https"}://${registry.host}/v2/${ref.repository}/manifests/${encodeURIComponent(wanted)}`;
  let response: Response;
  try {
    response = await fetch(url, { method: "HEAD", headers: { accept: MANIFEST_TYPES }, redirect: "error", signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    // The registry itself is unreachable: infrastructure, retried by the caller's step.
    throw new Error(`registry ${registry.host}: ${(error as Error).message}`);
  }
  if (response.status === 404) throw new BuildError(`image ${reference} does not exist in the registry ${registry.host}`);
  if (response.status === 401 || response.status === 403) throw new BuildError(`image ${reference}: the registry ${registry.host} refused access (HTTP ${response.status})`);
  if (!response.ok) throw new Error(`registry ${registry.host} answered HTTP ${response.status} for ${reference}`);
  const digest = response.headers.get("docker-content-digest") ?? ref.digest;
  if (!digest || !/^sha256:[a-f0-9]{64}$/.test(digest)) throw new Error(`registry ${registry.host} gave no digest for ${reference}`);
  return `${registry.host}/${ref.repository}@${digest}`;
}
