/**
 * The ways people state a name, one function each, most specific first (PATTERNS), plus the commands that ask
 * for a name change or cancel one. Each returns the candidate and what is left of the message.
 */
import { type Kind, splitName, stemFits } from './endings.ts'
import { clausesOf, compact, isGreeting, lastPunct, PUNCT, stripTrailingPunct, W } from './normalise.ts'
import { notANameBecause } from './not-names.ts'

/** Verb endings after a command stem: 바꿔|줘, 바꾸|고싶어, 변경|해주세요, 바꿀|수있어. "하는 법" is not. */
const TAIL = '[하해할줘주세요줄래고싶어은데게기자도돼될까되나수있가능려좀야지볼봐니다겠습시용께]*'
const ASK_CHANGE = new RegExp(
  `^(내|제|나|저|혹시|그럼|저기|음)?(이름|닉네임|호칭)(을|를)?(좀)?(다시)?(바꿔|바꾸|바꿀|변경|수정|고쳐|고치|다시정|새로정|재설정)${TAIL}$`,
)
const ASK_OTHER = new RegExp(`^(나|저)?다른이름(으로|을|를)?(불러|바꿔|바꾸|변경|해|할|하|쓸|써)?${TAIL}$`)
const ONLY_TAIL = new RegExp(`^${TAIL}$`)
export const ASK = [
  ASK_CHANGE,
  ASK_OTHER,
  /^(내|제)?이름(을)?다시(알려|말해)(줄게|줄께|드릴게|드릴게요|줄게요)$/,
]
/** While waiting: 취소, and the ways people decline (그만, 됐어, 괜찮아요, 나중에, 싫어). */
export const CANCEL =
  /^\/?(취소|그만|됐어|됐어요|됐습니다|됐다|안할래|안할래요|괜찮아|괜찮아요|괜찮습니다|나중에|다음에|싫어|싫어요|아니|아니요|아니야|아뇨|필요없어|cancel|stop)(할래|할게|해|해줘|해주세요|하기|할게요|할래요|요)?$/

/** What is left of the message once the introduction is taken out; greetings alone count as nothing. */
export function restOf(parts: readonly string[]): string {
  const text = parts.join(' ').replace(/\s+/g, ' ').trim()
  const clauses = clausesOf(text)
  return clauses
    .filter((c) => compact(c) !== '' && !isGreeting(compact(c)))
    .join(' ')
    .replace(/^[,.;\s]+/, '')
    .trim()
}

/**
 * The introduction must open its clause: only greetings and the listed words may stand before it in the same
 * clause ("안녕, 그냥 민수라고 불러줘" yes; "친구를 민수라고 불러" no). Earlier clauses become the rest.
 */
function clauseStart(
  pre: string,
  allowed: ReadonlySet<string>,
): { ok: boolean; before: string; words: string[] } {
  const cut = lastPunct(pre)
  const words = pre
    .slice(cut + 1)
    .trim()
    .split(' ')
    .filter(Boolean)
  const ok = words.every((w) => allowed.has(w) || isGreeting(compact(w)))
  return { ok, before: pre.slice(0, cut + 1), words }
}

const SUBJECTS = new Set(['난', '나는', '전', '저는', '나', '저', '본인은'])
const CALL_PRE = new Set([
  ...SUBJECTS,
  '앞으로',
  '이제',
  '이제부터',
  '지금부터',
  '날',
  '나를',
  '저를',
  '절',
  '편하게',
  '꼭',
  '좀',
])
const SAY_VERB =
  /^(해|해요|해용|합니다|합니당|하고요|하구요|하는데|하는데요|함|불려|불려요|불립니다|부릅니다)$/

// ── Patterns ─────────────────────────────────────────────────────────────────────────────────────────────
export interface Found {
  pattern: string
  explicit: boolean
  name: string
  /** The word as written, ending included, for the predicate test. */
  raw: string
  question: boolean
  rest: string[]
  /** A reason to refuse that only this pattern knows. */
  why?: string | null
}

/** The name right after an introduction head ("내 이름은 ⟨민수야⟩ …"), with where it ends. */
function takeName(after: string, kinds: readonly Kind[]) {
  const tokens = [...after.matchAll(/\S+/g)].map((m) => {
    const core = stripTrailingPunct(m[0])
    return { core, punct: m[0].slice(core.length), end: m.index + m[0].length }
  })
  const first = tokens[0]
  if (!first?.core) return null
  let at = 0
  let { name, ending } = splitName(first.core, kinds, tokens.length > 1 && first.punct === '')
  const second = tokens[1]
  if (!ending && first.punct === '' && second && isTwoWordName(first.core, second.core)) {
    const s = splitName(second.core, kinds, tokens.length > 2 && second.punct === '')
    if (s.ending) ({ name, ending, at } = { name: `${first.core} ${s.name}`, ending: s.ending, at: 1 })
  }
  let last = tokens[at]!
  const raw = at === 0 ? first.core : `${first.core} ${last.core}`
  const verb = tokens[at + 1]
  // "제 이름은 민수라고 해요": the verb of saying belongs to the introduction.
  if (/라[고구]/.test(ending) && last.punct === '' && verb && SAY_VERB.test(verb.core)) last = verb
  const clauseEnd = last.punct !== '' || last === tokens.at(-1)
  return { name, raw, ending, end: last.end, question: last.punct.includes('?'), clauseEnd }
}

/**
 * "John Smith", "김 철수": a name written as two words. Kept whole so that validation can explain that spaces
 * are not allowed, rather than saving half of it.
 */
const isTwoWordName = (a: string, b: string) =>
  /^[a-z]+$/i.test(a) ? /^[a-z]/i.test(b) : /^[가-힣]$/.test(a) && /^[가-힣]{2}/.test(b)

const EMPTY = new Set<string>()

const TOPIC = '\\s*(?:은요|은|는)\\s*[,:]?\\s*|\\s*[,:]\\s*'

const NAME_IS_MINE = new RegExp(
  `(?:^|\\s)(${W}+?)(이|가)\\s+(?:내|제)\\s*이름(?:이야|이에요|이예요|입니다|임|이다)(${PUNCT}*)`,
)
const MY_NAME_IS = new RegExp(
  `(?:^|\\s)(?:((?:내|제|나의|저의|본인의?)\\s*)이름(?:${TOPIC}|이\\s+|\\s+)|이름(?:${TOPIC}))`,
)

/** "내 이름은 민수야", "제 이름은 김철수입니다", "이름: Yeonwoo", and "민수가 제 이름이에요". */
function myNameIs(t: string): Found | null {
  const reverse = NAME_IS_MINE.exec(t)
  if (reverse) {
    const [whole, cand, particle, punct] = reverse as unknown as [string, string, string, string]
    if (stemFits(cand, particle === '이' ? 'C' : 'V') && clauseStart(t.slice(0, reverse.index), EMPTY).ok) {
      const end = reverse.index + whole.length
      const rest = [t.slice(0, reverse.index), t.slice(end)]
      return {
        pattern: 'name-is-mine',
        explicit: true,
        name: cand,
        raw: cand,
        question: punct.includes('?'),
        rest,
      }
    }
  }
  // Without 내/제, only "이름은 …" or "이름: …" opens an introduction: "이름 바꾸지 마" is not one.
  const head = MY_NAME_IS.exec(t)
  if (!head || (!head[1] && !clauseStart(t.slice(0, head.index), EMPTY).ok)) return null
  const from = head.index + head[0].length
  const c = takeName(t.slice(from), ['copula', 'quote'])
  if (!c) return null
  const rest = [t.slice(0, head.index), t.slice(from + c.end)]
  return { pattern: 'my-name-is', explicit: true, name: c.name, raw: c.raw, question: c.question, rest }
}

const POLITE_TAIL =
  '(?:\\s+(?:줘요?|주세요|주십시오|줄래요?|주라|주시겠어요|주실래요|주면\\s*돼요?|줘도\\s*돼|돼요?|될까요?|되나요?))?'

const CALL_ME = new RegExp(
  `(?:^|\\s)(${W}+?(?:라고|라구|로))\\s*(?:불러|부르세요|부르면|부르시면)${W}*${POLITE_TAIL}(${PUNCT}*)`,
)
const CHANGE_TO = new RegExp(
  `(?:^|\\s)(?:(?:내|제|나의|저의)\\s*)?(?:이름|호칭|닉네임)(?:을|를)?\\s*(?:좀\\s*)?(${W}+?(?:으로|로))\\s*(?:바꿔|바꾸|바꿀|변경|수정|고쳐|해)([가-힣]*)${POLITE_TAIL}(${PUNCT}*)`,
)
const ENGLISH = new RegExp(
  `(?:^|\\s)(my name is|my name's|call me)\\s+(\\p{Script=Latin}[\\p{Script=Latin}0-9·_-]*)(${PUNCT}*)`,
  'iu',
)

/** "길동이라고 불러줘", "앞으로 민수로 불러 주세요", "날 Yeonwoo라고 불러". */
function callMe(t: string): Found | null {
  const m = CALL_ME.exec(t)
  if (!m) return null
  const pre = clauseStart(t.slice(0, m.index), CALL_PRE)
  const word = m[1]!.replace(/^(나를|저를)/, '')
  const { name, ending } = splitName(word, ['quote', 'dir'])
  if (!pre.ok || !ending) return null
  const rest = [pre.before, t.slice(m.index + m[0].length)]
  return { pattern: 'call-me', explicit: true, name, raw: name, question: false, rest }
}

/** "이름을 민수로 바꿔줘", "호칭 길동으로 변경해 주세요". */
function changeTo(t: string): Found | null {
  const m = CHANGE_TO.exec(t)
  if (!m || !ONLY_TAIL.test(m[2]!)) return null
  const pre = clauseStart(t.slice(0, m.index), EMPTY)
  const { name, ending } = splitName(m[1]!, ['dir'])
  if (!pre.ok || !ending) return null
  const rest = [pre.before, t.slice(m.index + m[0].length)]
  return { pattern: 'change-to', explicit: true, name, raw: name, question: m[3]!.includes('?'), rest }
}

const isWordChar = (c: string | undefined) => c !== undefined && !/\s/.test(c) && !',.!?…~;:'.includes(c)
const isPunct = (c: string | undefined) => c !== undefined && ',.!?…~;'.includes(c)
const isSpace = (c: string | undefined) => c !== undefined && /\s/.test(c)

/**
 * The first "X라고 V" (or "X라고V"), as the pattern `(?:^|\s)(W+?(?:라고|라구))\s*(W+)(PUNCT*)(?=\s|$)` would
 * find it, but by a scan: that pattern retries the rest of a word after every 라고 inside it, which is quadratic
 * in a word like "라고라고라고…". Here each word is read once: every 라고 inside a word shares the same verb
 * (the rest of the word), so only the first and the last one need a look.
 */
function quotedThenVerb(t: string): { index: number; 0: string; 1: string; 2: string; 3: string } | null {
  const n = t.length
  /** Punctuation from `at`, then whitespace or the end: the index after the punctuation, or -1. */
  const closes = (at: number) => {
    let u = at
    while (isPunct(t[u])) u++
    return u === n || isSpace(t[u]) ? u : -1
  }
  const found = (s: number, cut: number, verbFrom: number, verbTo: number, u: number) => {
    const index = s > 0 ? s - 1 : 0
    return {
      index,
      0: t.slice(index, u),
      1: t.slice(s, cut),
      2: t.slice(verbFrom, verbTo),
      3: t.slice(verbTo, u),
    }
  }
  for (let s = 0; s < n; s++) {
    if (!isWordChar(t[s]) || (s > 0 && !isSpace(t[s - 1]))) continue
    let end = s
    while (isWordChar(t[end])) end++
    const endings: number[] = []
    for (let p = s + 1; p + 2 <= end; p++)
      if (t.startsWith('라고', p) || t.startsWith('라구', p)) endings.push(p + 2)
    const first = endings[0]
    if (first !== undefined && first < end) {
      // The verb is glued to the word ("민수라고해요"): the same for every 라고 before the word's end.
      const u = closes(end)
      if (u >= 0) return found(s, first, first, end, u)
    }
    if (endings.at(-1) === end && isSpace(t[end])) {
      let from = end
      while (isSpace(t[from])) from++
      let to = from
      while (isWordChar(t[to])) to++
      const u = to > from ? closes(to) : -1
      if (u >= 0) return found(s, end, from, to, u)
    }
    s = end - 1
  }
  return null
}

/** "저는 철수라고 해요", "민수라고 합니다". Implicit: people also quote others this way. */
function called(t: string): Found | null {
  const m = quotedThenVerb(t)
  if (!m || !SAY_VERB.test(m[2]!)) return null
  const pre = clauseStart(t.slice(0, m.index), SUBJECTS)
  const glued = /^(나는|저는|본인은)(?=.)/.exec(m[1]!)
  const word = glued ? m[1]!.slice(glued[0].length) : m[1]!
  const { name, ending } = splitName(word, ['quote'])
  if (!pre.ok || !ending) return null
  const hasSubject = glued !== null || pre.words.some((w) => SUBJECTS.has(w))
  // Without 저는/난, "X라고 해" is as often an order passed on ("공부하라고 해", "먹으라고 해요") as a name.
  const polite = /^(합니다|합니당|해요|해용|하고요|하구요|하는데요|불려요|불립니다|부릅니다)$/.test(m[2]!)
  const why =
    hasSubject || (polite && !/(하|으)$/.test(name) && [...name].length >= 2)
      ? null
      : '누가 시킨 말을 옮기는 말일 수 있어요'
  const rest = [pre.before, t.slice(m.index + m[0].length)]
  return { pattern: 'called', explicit: false, name, raw: name, question: m[3]!.includes('?'), rest, why }
}

/** "난 영희야", "저는 김철수입니다", "나는민수야". A single-syllable subject needs a space: 나연이야 ≠ 나 + 연이야. */
function iAm(t: string): Found | null {
  const m = /(?:^|\s)(?:(?:난|전|나|저)\s+|(?:나는|저는|본인은)\s*)/.exec(t)
  if (!m || !clauseStart(t.slice(0, m.index), EMPTY).ok) return null
  const from = m.index + m[0].length
  const c = takeName(t.slice(from), ['copula'])
  if (!c || (!c.ending && !c.clauseEnd)) return null
  const rest = [t.slice(0, m.index), t.slice(from + c.end)]
  const why = /^\d+$/.test(c.name) ? '숫자만으로는 나이인지 이름인지 알 수 없어요' : null
  return { pattern: 'i-am', explicit: false, name: c.name, raw: c.raw, question: c.question, rest, why }
}

/** "My name is John", "call me Mike". "I'm X" is left out: "I'm hungry" is as likely. */
function english(t: string): Found | null {
  const m = ENGLISH.exec(t)
  if (!m) return null
  const pattern = m[1]!.toLowerCase() === 'call me' ? 'call-me' : 'my-name-is'
  const rest = [t.slice(0, m.index), t.slice(m.index + m[0].length)]
  return { pattern, explicit: true, name: m[2]!, raw: m[2]!, question: m[3]!.includes('?'), rest }
}

/** While waiting for a name, the reply itself is the name: "전지현이야", "나연", "Yeonwoo", "네, 민수예요". */
export function bare(t: string): Found | null {
  const clauses = clausesOf(t).filter((c) => compact(c) !== '' && !isGreeting(compact(c)))
  const first = clauses[0]
  if (!first) return null
  const body = stripTrailingPunct(first).trim()
  const words = body.split(' ').filter((w) => !isGreeting(compact(w)))
  if (words.length === 0) return null
  const last = splitName(words.at(-1)!, ['copula'], clauses.length > 1)
  const name = [...words.slice(0, -1), last.name].join(' ')
  const sentence = words.length > 2 || (words.length === 2 && !isTwoWordName(words[0]!, words[1]!))
  const refused = words.slice(0, -1).find((w) => notANameBecause(w))
  const why = sentence ? '이름이 아니라 문장으로 보여요' : refused ? notANameBecause(refused) : null
  const question = first.slice(body.length).includes('?')
  return {
    pattern: 'bare-while-waiting',
    explicit: false,
    name,
    raw: words.at(-1)!,
    question,
    rest: clauses.slice(1),
    why,
  }
}

/** Most specific first: a message that fits several is read the way that states the name most plainly. */
export const PATTERNS = [english, changeTo, myNameIs, callMe, called, iAm]

/** The patterns built at load time from the constants above, for the ReDoS check (tests/unit/redos.test.ts). */
export const BUILT_PATTERNS: Readonly<Record<string, RegExp>> = {
  ASK_CHANGE,
  ASK_OTHER,
  ONLY_TAIL,
  NAME_IS_MINE,
  MY_NAME_IS,
  CALL_ME,
  CHANGE_TO,
  ENGLISH,
}
