/**
 * Text normalisation shared by name recognition and the safety check. Chat Korean is written with free
 * spacing, stretched letters ("싶어어어"), emoji and jamo runs (ㅠㅠ, ㅋㅋ); rules should see past all three.
 */

const EMOJI =
  /\p{Extended_Pictographic}|[\u{1F1E6}-\u{1F1FF}\u{1F3FB}-\u{1F3FF}]|\u{FE0F}|\u{200D}|\u{20E3}/gu
/** Jamo runs (ㅋㅋ, ㅎㅎ, ㅠㅠ) and ASCII emoticons carry tone, never words. */
const JAMO_OR_EMOTICON = /[ㄱ-ㅎㅏ-ㅣ]+|\^\^|[:;]-?[)(DP]/g

/** Emoji, emoticons and jamo runs become spaces; whitespace is collapsed. Quotes and punctuation stay. */
export function stripDecorations(text: string): string {
  return text.normalize('NFC').replace(EMOJI, ' ').replace(JAMO_OR_EMOTICON, ' ').replace(/\s+/g, ' ').trim()
}

/**
 * A letter typed three times or more is one letter: "죽고싶어어어" → "죽고싶어". Two stay two: Korean doubles
 * syllables in ordinary words (자해해, 하하, 다다음), and a stretch of two rarely sits inside a rule's words.
 */
export function collapseRepeats(text: string): string {
  return text.replace(/(.)\1\1+/gu, '$1')
}

/**
 * Sentences end at punctuation followed by a space or the end, or at a line break. Dots between letters
 * ("죽고.싶.어") are decoration, not sentence ends.
 */
const CLAUSE_BREAK = /[.!?…~;,]+(?:\s|$)|\n/

/**
 * The form the safety rules read: decorations removed, lower case, repeats collapsed, every space and
 * punctuation mark gone ("죽 고 싶 어 ㅠㅠ" → "죽고싶어"). Clauses are split first so that a negation or a frame
 * in one sentence does not reach into the next.
 */
export function compactClauses(text: string): string[] {
  return stripDecorations(text)
    .toLowerCase()
    .split(CLAUSE_BREAK)
    .map((clause) => collapseRepeats(clause.replace(/[\s"'`´“”‘’()[\]{}<>「」『』·:*_.,!?…~;-]+/g, '')))
    .filter((clause) => clause !== '')
}
