/**
 * Fills `{{name}}` variables of a system prompt. Unknown variables render as empty text, so that a prompt
 * written for a variable a plugin did not provide still reads naturally.
 */
export function renderPrompt(template: string, vars: Readonly<Record<string, string>>): string {
  // hasOwn: `{{constructor}}` must not render Object.prototype's members.
  return template.replace(/\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}/gi, (_, key: string) =>
    Object.hasOwn(vars, key) ? (vars[key] ?? '') : '',
  )
}

const WEEKDAYS = ['일', '월', '화', '수', '목', '금', '토']

/** "2026년 11월 24일 (화)" in the given time zone (Kakao users are in Asia/Seoul). */
export function koreanDate(date: Date, timeZone = 'Asia/Seoul'): string {
  const parts = new Intl.DateTimeFormat('en-CA', {
    timeZone,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    weekday: 'short',
  }).formatToParts(date)
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? ''
  const weekday = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(get('weekday'))
  // en-CA pads month and day ("01"); Korean dates do not ("1월 1일").
  return `${get('year')}년 ${Number(get('month'))}월 ${Number(get('day'))}일 (${WEEKDAYS[weekday] ?? ''})`
}
