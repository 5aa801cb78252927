import { describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import { BUILT_PATTERNS as FORGET_PATTERNS } from '../../src/memory/forget-words.ts'
import { BUILT_PATTERNS } from '../../src/names/patterns.ts'
import { type FoundRegex, readSource, scanSource, sourceFiles } from '../helpers/regex-literals.ts'

// recheck's pure-JavaScript backend: in-process and offline (the native and JVM backends are not used). The
// fuzz checker it falls back to for large automata is seeded and has no wall-clock timeout, so the verdict does
// not depend on how loaded the machine is.
process.env.RECHECK_SYNC_BACKEND = 'pure'
const { checkSync } = await import('recheck')
const PARAMS = { randomSeed: 20261201, timeout: null }

const ROOT = join(import.meta.dir, '..', '..')
const FOLDERS = ['src', 'plugins', 'cli']

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
]

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
      .filter((s) => s.constructed > 0)
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
