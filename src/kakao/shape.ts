/**
 * Shapes a model answer for Kakao: simpleText is plain text (markdown is not rendered), at most 1000
 * characters per bubble and 3 bubbles per response. What does not fit is kept for "자세히".
 */

const URL_RE = /https?:\/\/[^\s<>()[\]{}"'`]+[^\s<>()[\]{}"'`.,!?;:。、]/g

/** Removes markdown syntax while keeping every URL intact. */
export function stripMarkdown(input: string): string {
  const urls: string[] = []
  const keep = (url: string) => `\u0000${urls.push(url) - 1}\u0000`
  let text = input.replace(/\r\n?/g, '\n')

  // Fenced and inline code: kept verbatim, set aside like URLs (`# x`, `- x`, `__init__` are code, not markdown).
  text = text.replace(/^```[^\n]*\n([\s\S]*?)^```[ \t]*$/gm, (_, code: string) =>
    keep(code.replace(/\n$/, '')),
  )
  text = text.replace(/`([^`\n]+)`/g, (_, code: string) => keep(code))
  // Images and links: "text (url)"; a link whose text is its URL becomes the URL.
  text = text.replace(
    /!\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g,
    (_, alt: string, url: string) => (alt ? `${alt} (${keep(url)})` : keep(url)),
  )
  text = text.replace(
    /\[([^\]]+)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g,
    (_, label: string, url: string) => (label === url ? keep(url) : `${label} (${keep(url)})`),
  )
  text = text.replace(/<(https?:\/\/[^>\s]+)>/g, (_, url: string) => keep(url))
  text = text.replace(URL_RE, (url) => keep(url))

  text = text.replace(/<br\s*\/?>/gi, '\n')
  text = text.replace(/^[ \t]*#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*$/gm, '$1')
  text = text.replace(/^[ \t]*(?:-{3,}|\*{3,}|_{3,})[ \t]*$/gm, '')
  text = text.replace(/^[ \t]*>[ \t]?/gm, '')
  // Tables: drop the separator row, join cells with " · ".
  text = text.replace(/^[ \t]*\|?[ \t]*:?-{2,}:?[ \t]*(?:\|[ \t]*:?-{2,}:?[ \t]*)+\|?[ \t]*\n?/gm, '')
  text = text.replace(/^[ \t]*\|(.+)\|[ \t]*$/gm, (_, row: string) =>
    row
      .split('|')
      .map((c) => c.trim())
      .filter((c) => c.length > 0)
      .join(' · '),
  )
  text = text.replace(/^([ \t]*)[-*+][ \t]+(?=\S)/gm, '$1• ')
  // Emphasis: only where the markers hug words, so snake_case and arithmetic survive.
  text = text.replace(/(\*\*|__)(?=\S)([\s\S]*?\S)\1/g, '$2')
  text = text.replace(/~~(?=\S)([\s\S]*?\S)~~/g, '$1')
  text = text.replace(/(^|[^\w*])\*(?=\S)([^*\n]*?\S)\*(?!\w)/g, '$1$2')
  text = text.replace(/(^|[^\w])_(?=\S)([^_\n]*?\S)_(?!\w)/g, '$1$2')

  text = text
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim()
  // biome-ignore lint/suspicious/noControlCharactersInRegex: \u0000 marks kept URLs and code, and cannot occur in input text
  return text.replace(/\u0000(\d+)\u0000/g, (_, i: string) => urls[Number(i)]!)
}

/** Sentence-sized pieces, each with its trailing whitespace; a piece ends at . ! ? … (before a space) or a newline. */
function sentences(text: string): string[] {
  return text.match(/[\s\S]+?(?:[.!?。！？…]+["'”’)\]」』]*(?=\s|$)|\n|$)\s*/g) ?? []
}

/** Cuts an over-long piece at the last whitespace before `max` (or hard at `max` when there is none). */
function cut(piece: string, max: number): string[] {
  const parts: string[] = []
  let rest = piece
  while (rest.length > max) {
    const window = rest.slice(0, max + 1)
    const at = Math.max(window.lastIndexOf(' '), window.lastIndexOf('\n'))
    const end = at > max / 2 ? at : max
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
  for (const piece of sentences(text).flatMap((s) => (s.trimEnd().length > max ? cut(s, max) : [s]))) {
    if ((current + piece).trimEnd().length <= max) {
      current += piece
      continue
    }
    if (current.trim()) chunks.push(current.trim())
    current = piece
  }
  if (current.trim()) chunks.push(current.trim())
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
  // `remaining` is already plain text: stripping it again would eat code that looked like markdown.
  const chunks = splitText(opts.plain ? answer : stripMarkdown(answer), maxChars)
  if (chunks.length === 0) return { bubbles: [], remaining: null }
  return {
    bubbles: chunks.slice(0, maxBubbles),
    remaining: chunks.length > maxBubbles ? chunks.slice(maxBubbles).join('\n\n') : null,
  }
}
