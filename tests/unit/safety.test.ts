import { describe, expect, test } from 'bun:test'
import { loadConfig } from '../../src/config.ts'
import { classify } from '../../src/safety/classify.ts'
import { CRISIS_KINDS, compileLexicon, loadLexicon, readLexiconFile } from '../../src/safety/lexicon.ts'
import { crisisReply } from '../../src/safety/reply.ts'
import { CASES, HELD_OUT } from './safety-cases.ts'

const lexicon = loadLexicon()
const results = CASES.map((c) => ({ ...c, got: classify(lexicon, c.text) }))
const same = (a: readonly string[], b: readonly string[]) => [...a].sort().join() === [...b].sort().join()

describe('crisis classifier: the table', () => {
  test('has at least 150 utterances', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(150)
    expect(new Set(CASES.map((c) => c.text)).size).toBe(CASES.length)
  })

  test('recall per kind ≥ 0.9 and false alarms ≤ 5%', () => {
    const lines: string[] = []
    const recall: Record<string, number> = {}
    for (const kind of CRISIS_KINDS) {
      const wanted = results.filter((r) => r.kinds.includes(kind))
      const found = wanted.filter((r) => r.got.kinds.includes(kind))
      recall[kind] = found.length / wanted.length
      lines.push(`recall ${kind}: ${found.length}/${wanted.length} = ${recall[kind]!.toFixed(3)}`)
      for (const miss of wanted.filter((r) => !r.got.kinds.includes(kind)))
        lines.push(`  missed: ${miss.text} (${miss.got.reason})`)
    }
    const calm = results.filter((r) => r.kinds.length === 0)
    const alarms = calm.filter((r) => r.got.kinds.length > 0)
    const rate = alarms.length / calm.length
    lines.push(`false alarms: ${alarms.length}/${calm.length} = ${rate.toFixed(3)}`)
    for (const a of alarms) lines.push(`  alarm: ${a.text} (${a.got.reason})`)
    const groups = [...new Set(results.map((r) => r.group))]
    for (const g of groups) {
      const rs = results.filter((r) => r.group === g)
      lines.push(`group ${g}: ${rs.filter((r) => same(r.kinds, r.got.kinds)).length}/${rs.length} exact`)
    }
    console.log(`safety suite (${CASES.length} utterances)\n${lines.join('\n')}`)
    for (const kind of CRISIS_KINDS) expect(recall[kind]!).toBeGreaterThanOrEqual(0.9)
    expect(rate).toBeLessThanOrEqual(0.05)
  })

  test('held-out set: reported, and guarded against regression (not a target to tune to)', () => {
    const crisis = HELD_OUT.filter((c) => c.kinds.length > 0)
    const calm = HELD_OUT.filter((c) => c.kinds.length === 0)
    const found = crisis.filter((c) => c.kinds.every((k) => classify(lexicon, c.text).kinds.includes(k)))
    const alarms = calm.filter((c) => classify(lexicon, c.text).kinds.length > 0)
    console.log(
      `held-out: recall ${found.length}/${crisis.length} = ${(found.length / crisis.length).toFixed(3)}, ` +
        `false alarms ${alarms.length}/${calm.length}`,
    )
    // The level measured when the set was written (3/20 found, 0/20 alarms); a change may not make it worse.
    expect(found.length).toBeGreaterThanOrEqual(3)
    expect(alarms.length).toBeLessThanOrEqual(0)
  })

  test('a message may raise more than one kind', () => {
    for (const r of results.filter((x) => x.group === 'several')) expect(r.got.kinds).toEqual(r.kinds)
  })

  test.each(CASES.filter((c) => c.decided).map((c) => [c.text, c] as const))('decided: %s', (_text, c) => {
    expect(classify(lexicon, c.text).kinds).toEqual(c.kinds)
  })
})

describe('crisis classifier: the answer', () => {
  test('names the rule and the matched text', () => {
    const r = classify(lexicon, '요즘 그냥 죽고 싶어요 ㅠㅠ')
    expect(r).toEqual({
      kinds: ['suicide'],
      matched: [{ kind: 'suicide', rule: 'want-to-die', text: '죽고싶' }],
      reason: 'matched suicide/want-to-die "죽고싶"',
    })
  })
  test('says what it set aside', () => {
    expect(classify(lexicon, '죽고 싶진 않아').reason).toBe('no crisis: set aside negated:want-to-die')
    expect(classify(lexicon, '피곤해 죽겠다').reason).toContain('idiom-intensifier')
    expect(classify(lexicon, '친구가 자해해').reason).toContain('other-person:self-harm-act')
    expect(classify(lexicon, '안녕').reason).toBe('no crisis expression')
  })
  test('a negation in one sentence does not reach the next', () => {
    expect(classify(lexicon, '괜찮지 않아. 죽고 싶어').kinds).toEqual(['suicide'])
    expect(classify(lexicon, '죽고 싶어. 근데 안 그럴 거야').kinds).toEqual(['suicide'])
  })
})

describe('the lexicon is data', () => {
  const dir = `${import.meta.dir}/../../plugins/crisis-guard/lexicon`
  test('an operator file adds a rule without code', async () => {
    const path = `${Bun.env.TMPDIR ?? '/tmp'}/kbot-lexicon-${process.pid}.json`
    await Bun.write(
      path,
      JSON.stringify({
        rules: [{ id: 'op-bridge', kind: 'suicide', pattern: '마포대교(에|로)(가|와|왔|서)' }],
      }),
    )
    try {
      expect(classify(lexicon, '마포대교에 와 있어').kinds).toEqual([])
      const extended = loadLexicon([path], dir)
      expect(classify(extended, '마포대교에 와 있어').kinds).toEqual(['suicide'])
      expect(extended.sources.at(-1)).toBe(path)
    } finally {
      await Bun.file(path).delete()
    }
  })
  test('a bad file is refused with its name and every problem', async () => {
    const path = `${Bun.env.TMPDIR ?? '/tmp'}/kbot-lexicon-bad-${process.pid}.json`
    await Bun.write(
      path,
      JSON.stringify({ rules: [{ id: 'Bad Id', kind: 'sadness', pattern: '(a+)+b' }], extra: 1 }),
    )
    try {
      expect(() => readLexiconFile(path)).toThrow(path)
      const msg = (() => {
        try {
          readLexiconFile(path)
          return ''
        } catch (err) {
          return (err as Error).message
        }
      })()
      expect(msg).toContain('kebab-case')
      expect(msg).toContain('suicide, self_harm, abuse')
      expect(msg).toContain('nests a quantifier')
    } finally {
      await Bun.file(path).delete()
    }
  })
  test('a rule id may not be defined twice', () => {
    const rule = {
      id: 'x',
      kind: 'abuse' as const,
      pattern: 'a',
      unless: [],
      subject: 'victim' as const,
      negatable: true,
    }
    const file = { rules: [rule], negation: [], double_negation: [], masks: [], frames: [] }
    expect(() => compileLexicon([file, file])).toThrow('defined twice')
  })
})

describe('the immediate reply', () => {
  const safety = loadConfig({ env: {}, cwd: import.meta.dir }).safety
  test('존댓말 with the name; the lines of the kind, each number once; 119', () => {
    const text = crisisReply(safety, ['suicide', 'self_harm'], '길동')
    expect(text.startsWith('길동 님, 이야기해 주셔서 고마워요.')).toBe(true)
    expect(text.match(/109/g)).toHaveLength(1)
    expect(text).toContain('· 정신건강위기상담 1577-0199 (24시간)')
    expect(text).toContain('119')
  })
  test('without a name the address is left out', () => {
    const text = crisisReply(safety, ['abuse'], null)
    expect(text.startsWith('용기 내서 말해 주셔서 고마워요.')).toBe(true)
    for (const n of ['112', '1366', '117', '1388']) expect(text).toContain(n)
    expect(text).not.toContain('{{')
  })
  test('a 반말 text per kind picks the particle that fits the name', () => {
    const banmal = {
      ...safety,
      replies: { ...safety.replies, suicide: '{{name|아/야}}, 말해 줘서 고마워.\n{{lines}}' },
    }
    expect(crisisReply(banmal, ['suicide'], '길동').startsWith('길동아, 말해 줘서 고마워.')).toBe(true)
    expect(crisisReply(banmal, ['suicide'], '민수').startsWith('민수야, 말해 줘서 고마워.')).toBe(true)
    expect(crisisReply(banmal, ['suicide'], null).startsWith('말해 줘서 고마워.')).toBe(true)
  })
  test('numbers come from config: a changed line is what the user sees', () => {
    const changed = {
      ...safety,
      lines: { ...safety.lines, suicide: [{ name: '새 상담전화', number: '1234', hours: '' }] },
    }
    const text = crisisReply(changed, ['suicide'], null)
    expect(text).toContain('· 새 상담전화 1234\n')
    expect(text).not.toContain('109')
  })
})
