/**
 * The safety lexicon: data files an operator can extend without code (plugins/crisis-guard/lexicon/*.json,
 * plus `[plugins.crisis-guard] extra_lexicon`). Each file may hold any of the keys below; files are merged,
 * lists concatenated and single patterns taken from the last file that sets them.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { isAbsolute, join, resolve } from 'node:path'
import * as v from 'valibot'

export const CRISIS_KINDS = ['suicide', 'self_harm', 'abuse'] as const
export type CrisisKind = (typeof CRISIS_KINDS)[number]

/** The lexicon that ships with kbot. */
export const DEFAULT_LEXICON_DIR = join(import.meta.dir, '..', '..', 'plugins', 'crisis-guard', 'lexicon')

/**
 * Quantified groups that hold a quantifier themselves, `(a+)+` or `(?:x*y)*`, can backtrack exponentially.
 * The lexicon is data anyone may edit, so such a pattern is refused at load rather than trusted.
 */
function isFlat(source: string): boolean {
  const stack: boolean[] = []
  let quantifiedInside = false
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!
    if (c === '\\') {
      i++
      continue
    }
    if (c === '(') stack.push(quantifiedInside)
    else if (c === ')') {
      const inner = quantifiedInside
      quantifiedInside = stack.pop() ?? false
      const next = source[i + 1]
      const unbounded =
        next === '*' || next === '+' || (next === '{' && /^\{\d*,\}?/.test(source.slice(i + 1)))
      if (inner && unbounded) return false
      if (inner || next === '*' || next === '+' || next === '{' || next === '?') quantifiedInside = true
    } else if (c === '*' || c === '+' || c === '{') quantifiedInside = true
  }
  return true
}

const pattern = v.pipe(
  v.string(),
  v.minLength(1),
  v.check((s) => {
    try {
      new RegExp(s, 'u')
      return true
    } catch {
      return false
    }
  }, 'is not a valid regular expression'),
  v.check(isFlat, 'nests a quantifier inside a quantified group (slow on long input); keep patterns flat'),
)

const RuleSchema = v.strictObject({
  id: v.pipe(v.string(), v.regex(/^[a-z0-9-]+$/, 'must be kebab-case')),
  kind: v.picklist(CRISIS_KINDS, `must be one of ${CRISIS_KINDS.join(', ')}`),
  pattern,
  /** Clause patterns that cancel this rule (a homonym or an ordinary use of the same words). */
  unless: v.optional(v.array(pattern), []),
  /** "victim" (default): the subject of the sentence is the person at risk. "actor": it is the aggressor. */
  subject: v.optional(v.picklist(['victim', 'actor']), 'victim'),
  /** false for rules whose words cannot be negated away. */
  negatable: v.optional(v.boolean(), true),
})

export const LexiconFileSchema = v.strictObject({
  $comment: v.optional(v.string()),
  rules: v.optional(v.array(RuleSchema), []),
  negation: v.optional(v.array(pattern), []),
  double_negation: v.optional(v.array(pattern), []),
  masks: v.optional(v.array(v.strictObject({ id: v.string(), pattern })), []),
  frames: v.optional(v.array(v.strictObject({ id: v.string(), pattern })), []),
  first_person: v.optional(pattern),
  third_party: v.optional(pattern),
  connective: v.optional(pattern),
  reported: v.optional(pattern),
})

export type LexiconFile = v.InferOutput<typeof LexiconFileSchema>
export type Rule = v.InferOutput<typeof RuleSchema>

/** The merged lexicon with every pattern compiled. */
export interface Lexicon {
  rules: (Rule & { re: RegExp; unlessRe: RegExp[] })[]
  negation: RegExp[]
  doubleNegation: RegExp[]
  masks: { id: string; re: RegExp }[]
  frames: { id: string; re: RegExp }[]
  firstPerson: RegExp | null
  thirdParty: RegExp | null
  connective: RegExp | null
  reported: RegExp | null
  /** The files it came from, for logs and the DEBUG endpoint. */
  sources: string[]
}

const re = (source: string, flags = 'u') => new RegExp(source, flags)
const opt = (source: string | undefined) => (source ? re(source) : null)

/** Merges parsed files into one compiled lexicon. Later files add rules and may replace the single patterns. */
export function compileLexicon(files: readonly LexiconFile[], sources: string[] = []): Lexicon {
  const ids = new Set<string>()
  const last = <K extends 'first_person' | 'third_party' | 'connective' | 'reported'>(key: K) =>
    files.reduce<string | undefined>((found, f) => f[key] ?? found, undefined)
  return {
    rules: files.flatMap((f) =>
      f.rules.map((rule) => {
        if (ids.has(rule.id)) throw new Error(`safety lexicon: rule id "${rule.id}" is defined twice`)
        ids.add(rule.id)
        return { ...rule, re: re(rule.pattern, 'gu'), unlessRe: rule.unless.map((u) => re(u)) }
      }),
    ),
    negation: files.flatMap((f) => f.negation.map((n) => re(n))),
    doubleNegation: files.flatMap((f) => f.double_negation.map((n) => re(n))),
    masks: files.flatMap((f) => f.masks.map((m) => ({ id: m.id, re: re(m.pattern, 'gu') }))),
    frames: files.flatMap((f) => f.frames.map((m) => ({ id: m.id, re: re(m.pattern) }))),
    firstPerson: opt(last('first_person')),
    thirdParty: opt(last('third_party')),
    connective: opt(last('connective')),
    reported: opt(last('reported')),
    sources,
  }
}

/** Reads and validates one file; the error names the file and every problem in it. */
export function readLexiconFile(path: string): LexiconFile {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    throw new Error(`safety lexicon ${path}: ${(err as Error).message}`)
  }
  const parsed = v.safeParse(LexiconFileSchema, raw)
  if (!parsed.success) {
    const problems = parsed.issues.map((i) => `${v.getDotPath(i) ?? '(file)'} ${i.message}`)
    throw new Error(`safety lexicon ${path}: ${problems.join('; ')}`)
  }
  return parsed.output
}

/** The shipped files (in name order) followed by the operator's extra files. */
export function loadLexicon(extra: readonly string[] = [], dir = DEFAULT_LEXICON_DIR): Lexicon {
  const shipped = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(dir, f))
  const paths = [...shipped, ...extra]
  return compileLexicon(paths.map(readLexiconFile), paths)
}

/** The lexicon crisis-guard uses: shipped files plus `[plugins.crisis-guard] extra_lexicon`, relative to the config. */
export function operatorLexicon(configDir: string, extra: readonly string[]): Lexicon {
  return loadLexicon(extra.map((p) => (isAbsolute(p) ? p : resolve(configDir, p))))
}
