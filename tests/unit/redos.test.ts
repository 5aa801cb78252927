import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { BUILT_PATTERNS as FORGET_PATTERNS } from '../../src/memory/forget-words.ts'
import { BUILT_PATTERNS } from '../../src/names/patterns.ts'
import { loadLexicon } from '../../src/safety/lexicon.ts'
import { type FoundRegex, readSource, scanSource, sourceFiles } from '../helpers/regex-literals.ts'

// recheck's pure-JavaScript backend: in-process and offline (the native and JVM backends are not used). The
// fuzz checker it falls back to for large automata is seeded and has no wall-clock timeout, so the verdict does
// not depend on how loaded the machine is.
process.env.RECHECK_SYNC_BACKEND = 'pure'
const { checkSync } = await import('recheck')
const PARAMS = { randomSeed: 20261201, timeout: null }

const ROOT = join(import.meta.dir, '..', '..')
const FOLDERS = ['src', 'plugins', 'cli']

/**
 * Files whose `new RegExp(…)` compiles data rather than code, with why that is safe; the data itself is checked
 * below (the lexicon that ships with kbot).
 */
const DATA_BUILT: Record<string, string> = {
  'src/safety/classify.ts': 're-compiles a lexicon pattern (checked below) with the global flag',
  'src/safety/lexicon.ts':
    'compiles lexicon data: the shipped files are checked below, operator files must be flat (no nested quantifier, refused at load)',
  'src/http/methods.ts':
    'route paths: escaped literal segments, [^/]+ and one .* per route, anchored at both ends',
}

/** Patterns built with `new RegExp(…)` must be exported for this check; this is where each file lists them. */
const BUILT: Record<string, Readonly<Record<string, RegExp>>> = {
  'src/names/patterns.ts': BUILT_PATTERNS,
  'src/memory/forget-words.ts': FORGET_PATTERNS,
}

const files = sourceFiles(ROOT, FOLDERS)
const scanned = files.map((file) => {
  // A shebang line is not code.
  const text = readSource(ROOT, file).replace(/^#![^\n]*/, '')
  return { file, ...scanSource(text, file) }
})
const patterns: FoundRegex[] = [
  ...scanned.flatMap((s) => s.literals),
  ...Object.entries(BUILT).flatMap(([file, built]) =>
    Object.entries(built).map(([name, re]) => ({
      file: `${file} (${name})`,
      line: 0,
      source: re.source,
      flags: re.flags,
    })),
  ),
  ...shippedLexicon(),
]

/** Every pattern of the lexicon files that ship with kbot (plugins/crisis-guard/lexicon). */
function shippedLexicon(): FoundRegex[] {
  const lex = loadLexicon()
  const named: [string, RegExp | null][] = [
    ...lex.rules.flatMap((r) => [
      [`rule ${r.id}`, r.re] as [string, RegExp],
      ...r.unlessRe.map((u, i) => [`rule ${r.id} unless ${i}`, u] as [string, RegExp]),
    ]),
    ...lex.negation.map((n, i) => [`negation ${i}`, n] as [string, RegExp]),
    ...lex.doubleNegation.map((n, i) => [`double negation ${i}`, n] as [string, RegExp]),
    ...lex.masks.map((m) => [`mask ${m.id}`, m.re] as [string, RegExp]),
    ...lex.frames.map((f) => [`frame ${f.id}`, f.re] as [string, RegExp]),
    ['first person', lex.firstPerson],
    ['third party', lex.thirdParty],
    ['connective', lex.connective],
    ['reported', lex.reported],
  ]
  return named
    .filter((n): n is [string, RegExp] => n[1] !== null)
    .map(([name, re]) => ({ file: `lexicon (${name})`, line: 0, source: re.source, flags: re.flags }))
}

describe('ReDoS: every regular expression under src/, plugins/ and cli/ is checked by recheck', () => {
  test('the scan finds the patterns (a broken scanner must not pass by finding none)', () => {
    console.info(`ReDoS check: ${patterns.length} patterns in ${files.length} files`)
    expect(files.length).toBeGreaterThan(40)
    expect(patterns.length).toBeGreaterThan(80)
    for (const p of patterns) expect(() => new RegExp(p.source, p.flags)).not.toThrow()
  })

  test('the checker catches the greeting pattern that froze kbot (issue 15)', () => {
    const old =
      '^(안녕(하세요|하십니까)?|하이|헬로|hi|hello|hey|반가워요?|반가워용|반갑습니다|만나서반가워요?|만나서반갑습니다|처음뵙겠습니다|(앞으로)?잘부탁(해|해요|드려요|드립니다|합니다)|음+|아+|어+|네|넵|응|예|그래|저기요?|참|아참|그리고|그럼|그냥|참고로)+$'
    const diagnostics = checkSync(old, 'i', PARAMS)
    expect(diagnostics.status).toBe('vulnerable')
  }, 120_000)

  test('every `new RegExp(…)` is exported for the check', () => {
    const unlisted = scanned
      .filter((s) => s.constructed > 0 && !(s.file in DATA_BUILT))
      .filter((s) => Object.keys(BUILT[s.file] ?? {}).length !== s.constructed)
      .map((s) => `${s.file}: ${s.constructed} built, ${Object.keys(BUILT[s.file] ?? {}).length} listed`)
    expect(unlisted).toEqual([])
  })

  test.each(patterns.map((p) => [`${p.file}:${p.line} /${p.source.slice(0, 60)}/${p.flags}`, p] as const))(
    '%s',
    (_label, p) => {
      const diagnostics = checkSync(p.source, p.flags, PARAMS)
      const verdict =
        diagnostics.status === 'vulnerable'
          ? `vulnerable (${diagnostics.complexity.summary}): attack ${diagnostics.attack.pattern}`
          : diagnostics.status
      expect(verdict).toBe('safe')
    },
    120_000,
  )
})
