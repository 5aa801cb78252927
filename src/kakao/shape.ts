/**
 * Shapes a model answer for Kakao: simpleText is plain text (markdown is not rendered), at most 1000
 * characters per bubble and 3 bubbles per response. What does not fit is kept for "자세히".
 */

import { stripMarkdown } from './markdown.ts'

export { stripMarkdown }

const SENTENCE_MARK = new Set([...'.!?。！？…'])
const CLOSER = new Set([...'"\'”’)]」』'])
const SPACE = /\s/

/** Sentence-sized pieces, each with its trailing whitespace; a piece ends at . ! ? … (before a space) or a newline. */
function sentences(text: string): string[] {
  const pieces: string[] = []
  const n = text.length
  let start = 0
  while (start < n) {
    // A piece holds at least one character; then it ends at a newline, at the end, or after a run of sentence
    // marks (and closing quotes or brackets) that is followed by whitespace or the end.
    let end = start + 1
    while (end < n) {
      if (text[end] === '\n') {
        end++
        break
      }
      if (!SENTENCE_MARK.has(text[end]!)) {
        end++
        continue
      }
      let after = end
      while (after < n && SENTENCE_MARK.has(text[after]!)) after++
      while (after < n && CLOSER.has(text[after]!)) after++
      end = after
      if (after === n || SPACE.test(text[after]!)) break
    }
    while (end < n && SPACE.test(text[end]!)) end++
    pieces.push(text.slice(start, end))
    start = end
  }
  return pieces
}

/** Cuts an over-long piece at the last whitespace before `max` (or hard at `max` when there is none). */
function cut(piece: string, max: number): string[] {
  const parts: string[] = []
  let rest = piece
  while (rest.length > max) {
    const window = rest.slice(0, max + 1)
    const at = Math.max(window.lastIndexOf(' '), window.lastIndexOf('\n'))
    let end = at > max / 2 ? at : max
    // A hard cut never splits a surrogate pair: half an emoji is not text Kakao can show.
    const code = rest.charCodeAt(end - 1)
    if (end === max && code >= 0xd800 && code <= 0xdbff) end--
    parts.push(rest.slice(0, end))
    rest = rest.slice(end).replace(/^\s+/, '')
  }
  if (rest.length > 0) parts.push(rest)
  return parts
}

/** Packs sentences greedily into chunks of at most `max` characters. */
export function splitText(text: string, max: number): string[] {
  const chunks: string[] = []
  let current = ''
  // current.trimEnd().length, kept as a number: a piece may carry 60 k of trailing spaces, and measuring
  // current + piece anew for every piece would be quadratic.
  let length = 0
  for (const piece of sentences(text).flatMap((s) => (s.trimEnd().length > max ? cut(s, max) : [s]))) {
    const own = piece.trimEnd().length
    const together = own === 0 ? length : current.length + own
    if (together <= max) {
      current += piece
      length = together
      continue
    }
    if (length > 0) chunks.push(current.trim())
    current = piece
    length = own
  }
  if (length > 0) chunks.push(current.trim())
  return chunks
}

export interface ShapedAnswer {
  /** 1–3 bubbles of at most `maxChars` each. */
  bubbles: string[]
  /** What did not fit, for "자세히"; null when everything fit. */
  remaining: string | null
}

export function shapeAnswer(
  answer: string,
  opts: { maxBubbles?: number; maxChars?: number; plain?: boolean } = {},
): ShapedAnswer {
  const maxBubbles = opts.maxBubbles ?? 3
  const maxChars = opts.maxChars ?? 1000
  // A lone surrogate (a model's "\\ud83d" escape) would reach Kakao as half a character.
  const text = answer.isWellFormed() ? answer : answer.toWellFormed()
  // `remaining` is already plain text: stripping it again would eat code that looked like markdown.
  const chunks = splitText(opts.plain ? text : stripMarkdown(text), maxChars)
  if (chunks.length === 0) return { bubbles: [], remaining: null }
  return {
    bubbles: chunks.slice(0, maxBubbles),
    remaining: chunks.length > maxBubbles ? chunks.slice(maxBubbles).join('\n\n') : null,
  }
}
