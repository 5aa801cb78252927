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
const EN_WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']

// Building an Intl formatter costs far more than using one (it was most of a turn's CPU): one per time zone.
const dateFormats = new Map<string, Intl.DateTimeFormat>()
const timeFormats = new Map<string, Intl.DateTimeFormat>()

function cached(map: Map<string, Intl.DateTimeFormat>, timeZone: string, make: () => Intl.DateTimeFormat) {
  let format = map.get(timeZone)
  if (!format) {
    format = make()
    map.set(timeZone, format)
  }
  return format
}

/** "2026년 11월 24일 (화)" in the given time zone (Kakao users are in Asia/Seoul). */
export function koreanDate(date: Date, timeZone = 'Asia/Seoul'): string {
  const format = cached(
    dateFormats,
    timeZone,
    () =>
      new Intl.DateTimeFormat('en-CA', {
        timeZone,
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        weekday: 'short',
      }),
  )
  const parts = format.formatToParts(date)
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? ''
  const weekday = EN_WEEKDAYS.indexOf(get('weekday'))
  // en-CA pads month and day ("01"); Korean dates do not ("1월 1일").
  return `${get('year')}년 ${Number(get('month'))}월 ${Number(get('day'))}일 (${WEEKDAYS[weekday] ?? ''})`
}

/** "오후 3:04" in the given time zone. */
export function koreanTime(date: Date, timeZone = 'Asia/Seoul'): string {
  return cached(
    timeFormats,
    timeZone,
    () => new Intl.DateTimeFormat('ko-KR', { timeZone, hour: 'numeric', minute: '2-digit' }),
  ).format(date)
}

/**
 * The variables prompt-resolver provides to every prompt, the one list that the resolver and the check on a new
 * prompt version share. (Plugins may add their own through `turn.vars`; those are not known here.)
 */
export const PROMPT_VARIABLES = [
  'user_name',
  'user_name_vocative',
  'user_name_topic',
  'user_name_subject',
  'user_name_object',
  'user_name_copula',
  'today',
  'now',
  'summary',
  'bot_name',
] as const

/** `{{variables}}` of a template that are not in `known`, each once, in order of appearance. */
export function unknownVariables(template: string, known: readonly string[] = PROMPT_VARIABLES): string[] {
  const found = new Set<string>()
  for (const m of template.matchAll(/\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}/gi)) {
    if (!known.includes(m[1]!)) found.add(m[1]!)
  }
  return [...found]
}
