/** The registry name of the summary prompt: operators version and roll it back like any other prompt. */
export const SUMMARY_PROMPT_NAME = 'summary'

/** Version 1 of the summary prompt, seeded by migrate when the registry has none. */
export const DEFAULT_SUMMARY_PROMPT = `당신은 상담 기록을 정리하는 도우미입니다. 사용자와의 이전 요약과 새 대화를 읽고, 다음 상담에 도움이 되도록 하나의 요약으로 합쳐 주세요.
- 사용자의 상황, 고민, 관심사, 선호, 약속한 후속 조치처럼 다음 대화에 필요한 사실만 남깁니다.
- 인사, 잡담, 상담사의 일반적인 안내는 뺍니다.
- 이전 요약과 새 대화가 다르면 새 대화를 따릅니다.
- 한국어 평문으로, 10문장 이내로 씁니다. 요약만 쓰고 다른 말은 덧붙이지 않습니다.`

/** How the new messages are shown to the summary model. */
export function summaryRequest(previous: string | null, lines: readonly { role: string; content: string }[]) {
  const transcript = lines.map((m) => `${m.role === 'user' ? '사용자' : '상담사'}: ${m.content}`).join('\n')
  return `이전 요약:\n${previous?.trim() || '(없음)'}\n\n새 대화:\n${transcript}`
}
