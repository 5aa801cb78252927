/**
 * A tokenizer-free estimate for budgeting history. With OpenAI's o200k encoding a Hangul syllable is about one
 * token and Latin text about four characters per token; overestimating slightly is the safe side of a budget.
 */
export function estimateTokens(text: string): number {
  let hangul = 0
  for (const ch of text) if (ch >= '\uac00' && ch <= '\ud7a3') hangul++
  const other = text.length - hangul
  return Math.ceil(hangul + other / 4) + 4 // + per-message overhead of the chat format
}
