/**
 * Recognises names and name commands in Korean (and a little English) chat messages. Pure: no I/O.
 *
 * The hard part is where a name ends. Korean glues the copula and quotative particles to the name, and a
 * name may itself end in 이: "길동이라고" is 길동 + 이라고, "민수라고" is 민수 + 라고. The form of an ending
 * follows the name's last sound (이야/이에요/이라고/으로 after a final consonant, 야/예요/라고/로 after a
 * vowel), so an ending that starts with 이 is split off only when the stem before it has a batchim.
 */
import { getJongseong } from 'es-hangul'
import { particle } from './josa.ts'
import { notANameBecause } from './not-names.ts'

export { notANameBecause }

export type NameIntent =
  | { kind: 'none' }
  | { kind: 'ask' }
  | { kind: 'set'; name: string }
  | { kind: 'cancel' }
  | { kind: 'introduce'; name: string; explicit: boolean; rest: string; pattern: string }

const HANGUL = /[가-힣]/
const PUNCT = '[,.!?…~;]'
const TRAILING_PUNCT = new RegExp(`${PUNCT}+$`)
const W = '[^\\s,.!?…~;:]' // a character that can belong to a word (or a name)

// ── Endings ──────────────────────────────────────────────────────────────────────────────────────────────
// C: after a final consonant; V: after a vowel; C-ㄹ: consonant but not ㄹ (으로); V+ㄹ: vowel or ㄹ (로);
// *: either. Latin and digit stems accept both forms: people write "John이야" and "John야".
type Cond = 'C' | 'V' | '*' | 'C-ㄹ' | 'V+ㄹ'
/** copula: "I am X"; quote: "(call me) X라고"; dir: "(call me) X로". mid: only when more text follows. */
type Kind = 'copula' | 'quote' | 'dir'
interface Ending {
  e: string
  c: Cond
  k: Kind
  mid: boolean
}
const endings = (c: Cond, k: Kind, list: string, mid = false): Ending[] =>
  list.split(' ').map((e) => ({ e, c, k, mid }))
const ENDINGS: readonly Ending[] = [
  // 이 stays after a vowel in writing before ㅂ니다, ㅁ and ㄴ데: 민수입니다, 민수임, 민수인데요.
  ...endings('*', 'copula', '입니다 입니당 임 인데요 인데 요'),
  ...endings('C', 'copula', '이에요 이예요 이에용 이에여 이야 이얌 이당 이요 이다'),
  ...endings('V', 'copula', '예요 에요 예용 야 얌 당 다'),
  ...endings('C', 'copula', '이고', true),
  ...endings('V', 'copula', '고', true),
  ...endings('C', 'quote', '이라고요 이라구요 이라고 이라구'),
  ...endings('V', 'quote', '라고요 라구요 라고 라구'),
  ...endings('C-ㄹ', 'dir', '으로'),
  ...endings('V+ㄹ', 'dir', '로'),
].sort((a, b) => b.e.length - a.e.length)

function stemFits(stem: string, cond: Cond): boolean {
  const last = [...stem].at(-1)
  if (!last) return false
  if (!HANGUL.test(last)) return /[\p{Script=Latin}0-9]/u.test(last)
  const jong = getJongseong(last)
  if (cond === 'C') return jong !== ''
  if (cond === 'V') return jong === ''
  if (cond === 'C-ㄹ') return jong !== '' && jong !== 'ㄹ'
  if (cond === 'V+ㄹ') return jong === '' || jong === 'ㄹ'
  return true
}

/** Splits "전지현이야" into 전지현 + 이야. Without a fitting ending the whole word is the name. */
export function splitName(
  word: string,
  kinds: readonly Kind[],
  more = false,
): { name: string; ending: string } {
  for (const { e, c, k, mid } of ENDINGS) {
    if (!kinds.includes(k) || (mid && !more) || !word.endsWith(e) || word.length === e.length) continue
    const stem = word.slice(0, -e.length)
    if (stemFits(stem, c)) return { name: stem, ending: e }
  }
  return { name: word, ending: '' }
}

// ── Normalising and commands ─────────────────────────────────────────────────────────────────────────────
/**
 * Quotes are dropped ("제 이름은 '민수'예요"); emoji, emoticons and jamo runs (ㅋㅋ, ㅎㅎ, ㅠㅠ) become spaces:
 * none of them can be part of a name, and they often sit right after one ("민수야ㅎㅎ").
 */
export function normalise(text: string): string {
  return text
    .normalize('NFC')
    .replace(/["'`´“”‘’「」『』«»〈〉《》]/g, '')
    .replace(
      /\p{Extended_Pictographic}|[\u{1F1E6}-\u{1F1FF}\u{1F3FB}-\u{1F3FF}]|\u{FE0F}|\u{200D}|\u{20E3}/gu,
      ' ',
    )
    .replace(/[ㄱ-ㅎㅏ-ㅣ]+|\^\^|[:;]-?[)(DP]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
}

/** Spaces and punctuation removed, lower case: "이름 좀 바꿔줘!" and "이름좀바꿔줘" are one command. */
const compact = (s: string) => s.replace(/[\s,.!?…~;:·]+/g, '').toLowerCase()

/** Verb endings after a command stem: 바꿔|줘, 바꾸|고싶어, 변경|해주세요, 바꿀|수있어. "하는 법" is not. */
const TAIL = '[하해할줘주세요줄래고싶어은데게기자도돼될까되나수있가능려좀야지볼봐니다겠습시용께]*'
const ASK = [
  new RegExp(
    `^(내|제|나|저|혹시|그럼|저기|음)?(이름|닉네임|호칭)(을|를)?(좀)?(다시)?(바꿔|바꾸|바꿀|변경|수정|고쳐|고치|다시정|새로정|재설정)${TAIL}$`,
  ),
  new RegExp(`^(나|저)?다른이름(으로|을|를)?(불러|바꿔|바꾸|변경|해|할|하|쓸|써)?${TAIL}$`),
  /^(내|제)?이름(을)?다시(알려|말해)(줄게|줄께|드릴게|드릴게요|줄게요)$/,
]
/** While waiting: 취소, and the ways people decline (그만, 됐어, 괜찮아요, 나중에, 싫어). */
const CANCEL =
  /^\/?(취소|그만|됐어|됐어요|됐습니다|됐다|안할래|안할래요|괜찮아|괜찮아요|괜찮습니다|나중에|다음에|싫어|싫어요|아니|아니요|아니야|아뇨|필요없어|cancel|stop)(할래|할게|해|해줘|해주세요|하기|할게요|할래요|요)?$/
const GREETING =
  /^(안녕(하세요|하십니까)?|하이|헬로|hi|hello|hey|반가워요?|반가워용|반갑습니다|만나서반가워요?|만나서반갑습니다|처음뵙겠습니다|(앞으로)?잘부탁(해|해요|드려요|드립니다|합니다)|음+|아+|어+|네|넵|응|예|그래|저기요?|참|아참|그리고|그럼|그냥|참고로)+$/i

/** What is left of the message once the introduction is taken out; greetings alone count as nothing. */
function restOf(parts: readonly string[]): string {
  const text = parts.join(' ').replace(/\s+/g, ' ').trim()
  const clauses = text.match(new RegExp(`[^,.!?…~;]+${PUNCT}*|${PUNCT}+`, 'g')) ?? []
  return clauses
    .filter((c) => compact(c) !== '' && !GREETING.test(compact(c)))
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
  const cut = Math.max(...[...',.!?…~;'].map((p) => pre.lastIndexOf(p)))
  const words = pre
    .slice(cut + 1)
    .trim()
    .split(' ')
    .filter(Boolean)
  const ok = words.every((w) => allowed.has(w) || GREETING.test(compact(w)))
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
interface Found {
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
    const core = m[0].replace(TRAILING_PUNCT, '')
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

/** "내 이름은 민수야", "제 이름은 김철수입니다", "이름: Yeonwoo", and "민수가 제 이름이에요". */
function myNameIs(t: string): Found | null {
  const reverse = new RegExp(
    `(?:^|\\s)(${W}+?)(이|가)\\s+(?:내|제)\\s*이름(?:이야|이에요|이예요|입니다|임|이다)(${PUNCT}*)`,
  ).exec(t)
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
  const head = new RegExp(
    `(?:^|\\s)(?:((?:내|제|나의|저의|본인의?)\\s*)이름(?:${TOPIC}|이\\s+|\\s+)|이름(?:${TOPIC}))`,
  ).exec(t)
  if (!head || (!head[1] && !clauseStart(t.slice(0, head.index), EMPTY).ok)) return null
  const from = head.index + head[0].length
  const c = takeName(t.slice(from), ['copula', 'quote'])
  if (!c) return null
  const rest = [t.slice(0, head.index), t.slice(from + c.end)]
  return { pattern: 'my-name-is', explicit: true, name: c.name, raw: c.raw, question: c.question, rest }
}

const POLITE_TAIL =
  '(?:\\s+(?:줘요?|주세요|주십시오|줄래요?|주라|주시겠어요|주실래요|주면\\s*돼요?|줘도\\s*돼|돼요?|될까요?|되나요?))?'

/** "길동이라고 불러줘", "앞으로 민수로 불러 주세요", "날 Yeonwoo라고 불러". */
function callMe(t: string): Found | null {
  const re = new RegExp(
    `(?:^|\\s)(${W}+?(?:라고|라구|로))\\s*(?:불러|부르세요|부르면|부르시면)${W}*${POLITE_TAIL}(${PUNCT}*)`,
  )
  const m = re.exec(t)
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
  const re = new RegExp(
    `(?:^|\\s)(?:(?:내|제|나의|저의)\\s*)?(?:이름|호칭|닉네임)(?:을|를)?\\s*(?:좀\\s*)?(${W}+?(?:으로|로))\\s*(?:바꿔|바꾸|바꿀|변경|수정|고쳐|해)([가-힣]*)${POLITE_TAIL}(${PUNCT}*)`,
  )
  const m = re.exec(t)
  if (!m || !new RegExp(`^${TAIL}$`).test(m[2]!)) return null
  const pre = clauseStart(t.slice(0, m.index), EMPTY)
  const { name, ending } = splitName(m[1]!, ['dir'])
  if (!pre.ok || !ending) return null
  const rest = [pre.before, t.slice(m.index + m[0].length)]
  return { pattern: 'change-to', explicit: true, name, raw: name, question: m[3]!.includes('?'), rest }
}

/** "저는 철수라고 해요", "민수라고 합니다". Implicit: people also quote others this way. */
function called(t: string): Found | null {
  const m = new RegExp(`(?:^|\\s)(${W}+?(?:라고|라구))\\s*(${W}+)(${PUNCT}*)(?=\\s|$)`).exec(t)
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
  const m = new RegExp(
    `(?:^|\\s)(my name is|my name's|call me)\\s+(\\p{Script=Latin}[\\p{Script=Latin}0-9·_-]*)(${PUNCT}*)`,
    'iu',
  ).exec(t)
  if (!m) return null
  const pattern = m[1]!.toLowerCase() === 'call me' ? 'call-me' : 'my-name-is'
  const rest = [t.slice(0, m.index), t.slice(m.index + m[0].length)]
  return { pattern, explicit: true, name: m[2]!, raw: m[2]!, question: m[3]!.includes('?'), rest }
}

/** While waiting for a name, the reply itself is the name: "전지현이야", "나연", "Yeonwoo", "네, 민수예요". */
function bare(t: string): Found | null {
  const clauses = (t.match(new RegExp(`[^,.!?…~;]+${PUNCT}*|${PUNCT}+`, 'g')) ?? []).filter(
    (c) => compact(c) !== '' && !GREETING.test(compact(c)),
  )
  const first = clauses[0]
  if (!first) return null
  const body = first.replace(TRAILING_PUNCT, '').trim()
  const words = body.split(' ').filter((w) => !GREETING.test(compact(w)))
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
const PATTERNS = [english, changeTo, myNameIs, callMe, called, iAm]

// ── Reading a message ────────────────────────────────────────────────────────────────────────────────────
interface Analysis {
  intent: NameIntent
  /** The rule that matched (also when its candidate was refused). */
  pattern: string | null
  /** A refused candidate and why, for the DEBUG endpoint. */
  refused: { name: string; why: string } | null
}

function analyse(text: string, awaiting: boolean): Analysis {
  const none = (pattern: string | null = null, refused: Analysis['refused'] = null): Analysis => ({
    intent: { kind: 'none' },
    pattern,
    refused,
  })
  const t = normalise(text)
  if (t === '') return none()
  // A command is taken literally: "/이름 홍길동" sets exactly 홍길동, without reading particles off it.
  const command = /^\/(?:이름|name)(?:\s+(.*))?$/i.exec(t)
  if (command) {
    const name = command[1]?.trim() ?? ''
    return { intent: name ? { kind: 'set', name } : { kind: 'ask' }, pattern: 'command', refused: null }
  }
  const flat = compact(t)
  if (awaiting && CANCEL.test(flat)) return { intent: { kind: 'cancel' }, pattern: 'cancel', refused: null }
  if (ASK.some((re) => re.test(flat))) return { intent: { kind: 'ask' }, pattern: 'ask', refused: null }
  const found =
    PATTERNS.reduce<Found | null>((hit, find) => hit ?? find(t), null) ?? (awaiting ? bare(t) : null)
  if (!found) return none()
  const why =
    (found.question ? '질문으로 보여요' : null) ?? found.why ?? notANameBecause(found.name, found.raw)
  if (why) return none(found.pattern, { name: found.name, why })
  const { name, explicit, pattern } = found
  return {
    intent: { kind: 'introduce', name, explicit, rest: restOf(found.rest), pattern },
    pattern,
    refused: null,
  }
}

/**
 * What a message means for the user's name.
 *
 * @example
 *   parseNameIntent('내 이름은 민수야, 오늘 날씨 어때?', { awaiting: false })
 *   // { kind: 'introduce', name: '민수', explicit: true, rest: '오늘 날씨 어때?', pattern: 'my-name-is' }
 *   parseNameIntent('나연이야', { awaiting: true }) // { kind: 'introduce', name: '나연', … 'bare-while-waiting' }
 *   parseNameIntent('난 학생이야', { awaiting: false }) // { kind: 'none' }
 */
export function parseNameIntent(text: string, opts: { awaiting: boolean }): NameIntent {
  return analyse(text, opts.awaiting).intent
}

// ── Validation ───────────────────────────────────────────────────────────────────────────────────────────
export const NAME_MAX = 20
export const NAME_RULE = `이름은 ${NAME_MAX}자 이내의 한글, 영문, 숫자와 기호(·, -, _)로만 알려 주세요.`
const NAME_CHAR = /^(?:[가-힣0-9·_-]|\p{Script=Latin})$/u

/** 1–20 characters of Hangul syllables, Latin letters, digits, ·, - and _, with at least one letter or digit. */
export function validateName(name: string): { valid: boolean; reason: string | null } {
  const chars = [...name.normalize('NFC')]
  const fail = (problem: string) => ({ valid: false, reason: `${problem} ${NAME_RULE}` })
  if (name.trim() === '') return fail('이름이 비어 있어요.')
  if (chars.length > NAME_MAX) return fail(`이름이 ${chars.length}자로 너무 길어요.`)
  if (/\s/.test(name)) return fail('이름에는 띄어쓰기를 쓸 수 없어요.')
  if (chars.some((c) => /[ㄱ-ㅎㅏ-ㅣ]/.test(c))) return fail('자음이나 모음만 따로 쓸 수는 없어요.')
  const bad = [...new Set(chars.filter((c) => !NAME_CHAR.test(c)))]
  if (bad.length > 0) return fail(`이름에 쓸 수 없는 문자(${bad.join(' ')})가 있어요.`)
  if (!chars.some((c) => /[가-힣0-9]|\p{L}/u.test(c))) return fail('기호만으로는 이름이 될 수 없어요.')
  return { valid: true, reason: null }
}

/**
 * For `POST /test-name-extraction`: the name a message would give, and whether it is valid. The message is
 * read as an ordinary turn first (awaiting = false); when nothing matches at all, it is read again as the
 * answer to "what is your name?" (awaiting = true), so that a bare "전지현이야" is explained too. A candidate
 * refused as not being a name comes back with name null and the reason.
 */
export function explainName(text: string): {
  name: string | null
  valid: boolean
  reason: string | null
  pattern: string | null
} {
  let a = analyse(text, false)
  if (a.intent.kind === 'none' && a.pattern === null) a = analyse(text, true)
  const { intent, pattern, refused } = a
  if (intent.kind === 'introduce' || intent.kind === 'set')
    return { name: intent.name, ...validateName(intent.name), pattern }
  const reason = refused ? `${particle(refused.name, '은/는')} 이름으로 보지 않았어요: ${refused.why}.` : null
  return { name: null, valid: false, reason, pattern }
}
