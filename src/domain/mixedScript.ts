// UTS #39 §5.2 "Highly Restrictive" for one DNS label: all its letters come from one script, or
// from one of the combinations CJK writing uses with Latin (Latin + Han + Hiragana + Katakana,
// Latin + Han + Bopomofo, Latin + Han + Hangul). Common and Inherited characters (digits, the
// hyphen, combining marks) go with any script. That refuses the classic spoof — a Cyrillic "а" in
// "аpple" — while every single-script IDN ("bücher", "пример", "例え") passes.
//
// No maintained npm package implements the restriction levels (the confusable packages map
// homoglyphs; tr46/idna implement UTS #46 only), so this applies them directly with the
// Script_Extensions property of the JavaScript engine's own Unicode data. Scripts outside UTS #31's
// recommended set are one group, "other": they cannot hide among the recommended ones.

/** UTS #31 Table 5 (recommended scripts), by their Unicode property value names. */
const RECOMMENDED = [
  "Arabic", "Armenian", "Bengali", "Bopomofo", "Cyrillic", "Devanagari", "Ethiopic", "Georgian", "Greek", "Gujarati",
  "Gurmukhi", "Han", "Hangul", "Hebrew", "Hiragana", "Kannada", "Katakana", "Khmer", "Lao", "Latin", "Malayalam",
  "Myanmar", "Oriya", "Sinhala", "Tamil", "Telugu", "Thaana", "Thai", "Tibetan",
] as const;

const SCRIPT_TEST = RECOMMENDED.map((script) => [script, new RegExp(`^\\p{Script_Extensions=${script}}$`, "u")] as const);
const COMMON_OR_INHERITED = /^[\p{Script_Extensions=Common}\p{Script_Extensions=Inherited}]$/u;

/** The combinations of scripts that may share a label besides a single script (UTS #39 §5.2). */
const ALLOWED_MIXES: readonly (readonly string[])[] = [
  ["Latin", "Han", "Hiragana", "Katakana"],
  ["Latin", "Han", "Bopomofo"],
  ["Latin", "Han", "Hangul"],
];

function scriptsOf(char: string): string[] {
  if (COMMON_OR_INHERITED.test(char)) return [];
  const scripts = SCRIPT_TEST.filter(([, test]) => test.test(char)).map(([script]) => script);
  return scripts.length > 0 ? scripts : ["other"];
}

/** The scripts a label mixes when it is not highly restrictive, else undefined. */
export function mixedScripts(label: string): string[] | undefined {
  const perChar = [...label].map(scriptsOf).filter((scripts) => scripts.length > 0);
  if (perChar.length === 0) return undefined;
  // One script shared by every character (Script_Extensions may give a character several).
  const shared = perChar.reduce((common, scripts) => common.filter((s) => scripts.includes(s)));
  if (shared.length > 0) return undefined;
  if (ALLOWED_MIXES.some((mix) => perChar.every((scripts) => scripts.some((s) => mix.includes(s))))) return undefined;
  const used = [...new Set(perChar.map((scripts) => scripts[0]!))];
  return used.sort();
}
