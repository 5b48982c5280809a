import type { Answer, Packet, Question } from "dns-packet";

// The answers of the ACME challenge zone (`acme.<platform apex>`): customers point
// `_acme-challenge.<host>` at a name in it by CNAME, and switchyard answers that name's TXT with
// the pending DNS-01 values. Pure: the lookup is passed in, so any replica answers the same.

/** TXT answers are re-asked every time: a value lives only while its order is pending. */
const TTL_SECONDS = 1;
const SOA_MINIMUM_SECONDS = 1;

export interface ZoneFacts {
  /** The zone apex, lowercase, no trailing dot. */
  zone: string;
  /** The name of this server, for SOA and NS answers. */
  nameServer: string;
}

/** The pending TXT values of a name in the zone (lowercase, no trailing dot). */
export type TxtLookup = (name: string) => Promise<string[]>;

function soa(facts: ZoneFacts): Answer {
  return {
    type: "SOA",
    name: facts.zone,
    ttl: SOA_MINIMUM_SECONDS,
    data: { mname: facts.nameServer, rname: `hostmaster.${facts.zone}`, serial: 1, refresh: 3600, retry: 600, expire: 86_400, minimum: SOA_MINIMUM_SECONDS },
  };
}

const AUTHORITATIVE = 1 << 10;
const RECURSION_DESIRED = 1 << 8;
// Response codes live in the low four bits of the flags (dns-packet encodes nothing else for them).
const RCODE = { NOERROR: 0, FORMERR: 1, NOTIMP: 4, REFUSED: 5 } as const;
/** The opcode sits in bits 11–14 of the flags; 0 is a standard QUERY. */
const opcodeOf = (flags: number) => (flags >> 11) & 0xf;

function inZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}

/**
 * The response to one query. Not a standard QUERY (NOTIFY, UPDATE, …): NOTIMP. Not exactly one
 * question: FORMERR. Another class than IN, or a name outside the zone: REFUSED (this server is
 * no resolver). In the zone: TXT of a name with pending values; NS/SOA at the apex; otherwise
 * NOERROR with no answer and the SOA in the authority section (RFC 2308 NODATA).
 *
 * NODATA rather than NXDOMAIN: the names of this zone come and go with orders, and a name with a
 * TXT value exists for every other type too (asked A, it must say NODATA); the labels between
 * the apex and a challenge name are empty non-terminals, which exist (RFC 8020 lets a resolver
 * treat everything below an NXDOMAIN as nonexistent). And a delegated name whose order has not
 * published yet must not be remembered as nonexistent by the CA's resolver: the SOA's 1 s
 * minimum bounds how long this NODATA is cached (RFC 2308 §5).
 */
export async function answerChallengeQuery(query: Packet, facts: ZoneFacts, lookup: TxtLookup): Promise<Packet> {
  const question: Question | undefined = query.questions?.[0];
  const echo = (query.flags ?? 0) & RECURSION_DESIRED;
  const reply = (flags: number, extra: Partial<Packet> = {}): Packet => ({ id: query.id ?? 0, type: "response", flags: flags | echo, questions: question ? [question] : [], ...extra });
  if (opcodeOf(query.flags ?? 0) !== 0) return reply(RCODE.NOTIMP);
  if (!question || (query.questions?.length ?? 0) !== 1) return reply(RCODE.FORMERR);
  if (question.class !== "IN") return reply(RCODE.REFUSED);
  // Resolvers may randomise the case of names (DNS 0x20); answers echo the question as asked.
  const name = question.name.toLowerCase().replace(/\.$/, "");
  if (!inZone(name, facts.zone)) return reply(RCODE.REFUSED);

  const answer = AUTHORITATIVE | RCODE.NOERROR;
  if (question.type === "TXT") {
    const values = await lookup(name);
    if (values.length > 0) return reply(answer, { answers: values.map((value) => ({ type: "TXT", name: question.name, ttl: TTL_SECONDS, data: value })) });
  } else if (name === facts.zone && question.type === "SOA") {
    return reply(answer, { answers: [{ ...soa(facts), name: question.name }] });
  } else if (name === facts.zone && question.type === "NS") {
    return reply(answer, { answers: [{ type: "NS", name: question.name, ttl: 3600, data: facts.nameServer }] });
  }
  return reply(answer, { authorities: [soa(facts)] });
}
