/**
 * Normalising a message before the patterns read it, and the small word lists every pattern shares. Nothing
 * here backtracks: greetings are recognised by a word-break scan over a fixed list, not by a nested pattern
 * (the old `(…|음+|아+)+$` took seconds on "음음음…x", and it runs on every message).
 */

export const PUNCT = '[,.!?…~;]'
/** A character that can belong to a word (or a name). */
export const W = '[^\\s,.!?…~;:]'
const PUNCT_CHARS = new Set([...',.!?…~;'])

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
export const compact = (s: string) => s.replace(/[\s,.!?…~;:·]+/g, '').toLowerCase()

/** Words and phrases that carry no content before or around an introduction ("안녕, 난 민수야"). */
const GREETINGS = [
  '안녕 안녕하세요 안녕하십니까 하이 헬로 hi hello hey 반가워 반가워요 반가워용 반갑습니다',
  '만나서반가워 만나서반가워요 만나서반갑습니다 처음뵙겠습니다',
  '잘부탁해 잘부탁해요 잘부탁드려요 잘부탁드립니다 잘부탁합니다',
  '앞으로잘부탁해 앞으로잘부탁해요 앞으로잘부탁드려요 앞으로잘부탁드립니다 앞으로잘부탁합니다',
  // 음, 아, 어 repeat freely ("음음", "아아아"): as single-syllable words, any run of them is a sequence of words.
  '음 아 어 네 넵 응 예 그래 저기 저기요 참 아참 그리고 그럼 그냥 참고로',
]
  .join(' ')
  .split(' ')

/**
 * True when `flat` (compacted: no spaces or punctuation, lower case) is nothing but greetings and fillers, such
 * as "안녕하세요반가워요" or "음음음네". A word-break scan: each position is visited once and tried against each
 * listed word, so the work is linear in the length (at most length × list size comparisons).
 */
export function isGreeting(flat: string): boolean {
  if (flat === '') return false
  const reachable = new Uint8Array(flat.length + 1)
  reachable[0] = 1
  for (let i = 0; i < flat.length; i++) {
    if (!reachable[i]) continue
    for (const word of GREETINGS) if (flat.startsWith(word, i)) reachable[i + word.length] = 1
    if (reachable[flat.length]) return true
  }
  return reachable[flat.length] === 1
}

/**
 * Clauses with their closing punctuation: "안녕, 난 민수야!" → ["안녕,", " 난 민수야!"]. A scan rather than a
 * pattern, so that the cost stays one pass however the punctuation is laid out.
 */
export function clausesOf(text: string): string[] {
  const out: string[] = []
  let start = 0
  let i = 0
  while (i < text.length) {
    if (!PUNCT_CHARS.has(text[i]!)) {
      i++
      continue
    }
    while (i < text.length && PUNCT_CHARS.has(text[i]!)) i++
    out.push(text.slice(start, i))
    start = i
  }
  if (start < text.length) out.push(text.slice(start))
  return out
}

/** `text` without its closing punctuation ("민수야!!" → "민수야"), by a scan from the end. */
export function stripTrailingPunct(text: string): string {
  let end = text.length
  while (end > 0 && PUNCT_CHARS.has(text[end - 1]!)) end--
  return text.slice(0, end)
}

/** The index of the last clause-ending punctuation mark in `text`, or -1. */
export function lastPunct(text: string): number {
  for (let i = text.length - 1; i >= 0; i--) if (PUNCT_CHARS.has(text[i]!)) return i
  return -1
}
