/**
 * The crisis check: does an utterance say that the writer wants to die, hurts themselves, or is being hurt?
 * Pure: no I/O. The words live in the lexicon (src/safety/lexicon.ts); this file is the grammar around them.
 *
 * Each clause is read in its compact form (src/korean/normalise.ts), then:
 *   1. masks blank out idioms and homonyms ("피곤해 죽겠다", "호박죽", "너 죽고 싶냐?");
 *   2. every rule is matched; a match is dropped when
 *      - its rule's `unless` fits the clause (혼자 살기 싫어, 시험에 떨어지고 싶지 않아, 유서 쓰기 체험),
 *      - a negation follows it (죽고 싶진 않아, 자해한 적 없어) — unless that is itself denied
 *        (죽고 싶지 않은 날이 없어),
 *      - it is hearsay (죽고 싶대) or its subject is someone else (친구가 자해해) and no connective in between
 *        hands the sentence back to the speaker (엄마가 돌아가셔서 죽고 싶어),
 *      - a media or school-work frame sits in the clause with no first-person word between it and the match
 *        (뉴스에서 본 사건, 보고서 주제가 자해 예방이야; but 뉴스 보니까 나도 죽고 싶어).
 */
import { compactClauses } from '../korean/normalise.ts'
import type { CrisisKind, Lexicon } from './lexicon.ts'

export interface Match {
  kind: CrisisKind
  rule: string
  /** The compact text the rule matched. */
  text: string
}

export interface Classification {
  /** Distinct kinds found, in lexicon order (suicide, self_harm, abuse). */
  kinds: CrisisKind[]
  matched: Match[]
  /** Why, in one line: what matched, or what was found and set aside. */
  reason: string
}

const MASK = '□'

function lastMatch(re: RegExp, text: string): RegExpExecArray | null {
  const global = new RegExp(re.source, 'gu')
  let found: RegExpExecArray | null = null
  for (let m = global.exec(text); m; m = global.exec(text)) {
    found = m
    if (m[0] === '') global.lastIndex++
  }
  return found
}

/** Why a match does not count, or null when it does. */
function setAside(lex: Lexicon, rule: Lexicon['rules'][number], clause: string, start: number, end: number) {
  if (rule.unlessRe.some((u) => u.test(clause))) return `unless:${rule.id}`
  const after = clause.slice(end)
  if (rule.negatable) {
    for (const neg of lex.negation) {
      const n = neg.exec(after)
      if (!n) continue
      const rest = after.slice(n.index + n[0].length)
      if (!lex.doubleNegation.some((d) => d.test(rest))) return `negated:${rule.id}`
    }
  }
  const before = clause.slice(0, start)
  if (lex.reported?.test(after)) return `reported:${rule.id}`
  if (rule.subject === 'victim' && lex.thirdParty) {
    const other = lastMatch(lex.thirdParty, before)
    if (other) {
      const between = before.slice(other.index + other[0].length)
      const handedBack = lex.connective?.test(between) || lex.firstPerson?.test(between)
      if (!handedBack) return `other-person:${rule.id}`
    }
  }
  for (const frame of lex.frames) {
    const f = lastMatch(frame.re, before)
    if (f) {
      const between = before.slice(f.index + f[0].length)
      if (!lex.firstPerson?.test(between)) return `${frame.id}:${rule.id}`
      continue
    }
    if (frame.re.test(after)) return `${frame.id}:${rule.id}`
  }
  return null
}

/**
 * Classifies one utterance.
 *
 * @example
 *   classify(lexicon, '요즘 그냥 죽고 싶어요 ㅠㅠ')
 *   // { kinds: ['suicide'], matched: [{ kind: 'suicide', rule: 'want-to-die', text: '죽고싶' }], reason: … }
 *   classify(lexicon, '피곤해 죽겠다').kinds // []
 */
export function classify(lex: Lexicon, utterance: string): Classification {
  const matched: Match[] = []
  const aside: string[] = []
  for (const original of compactClauses(utterance)) {
    let clause = original
    for (const mask of lex.masks) {
      clause = clause.replace(mask.re, (m) => {
        aside.push(mask.id)
        return MASK.repeat(m.length)
      })
    }
    for (const rule of lex.rules) {
      rule.re.lastIndex = 0
      for (let m = rule.re.exec(clause); m; m = rule.re.exec(clause)) {
        if (m[0] === '') {
          rule.re.lastIndex++
          continue
        }
        const why = setAside(lex, rule, clause, m.index, m.index + m[0].length)
        if (why) aside.push(why)
        else matched.push({ kind: rule.kind, rule: rule.id, text: m[0] })
      }
    }
  }
  const order: CrisisKind[] = ['suicide', 'self_harm', 'abuse']
  const kinds = order.filter((k) => matched.some((m) => m.kind === k))
  const uniqueAside = [...new Set(aside)]
  const reason =
    matched.length > 0
      ? `matched ${matched.map((m) => `${m.kind}/${m.rule} "${m.text}"`).join(', ')}` +
        (uniqueAside.length > 0 ? `; set aside ${uniqueAside.join(', ')}` : '')
      : uniqueAside.length > 0
        ? `no crisis: set aside ${uniqueAside.join(', ')}`
        : 'no crisis expression'
  return { kinds, matched, reason }
}
