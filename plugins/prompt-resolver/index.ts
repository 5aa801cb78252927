import * as v from 'valibot'
import { nameVars } from '../../src/names/josa.ts'
import { definePlugin } from '../../src/pipeline/types.ts'
import { koreanDate, koreanTime, renderPrompt } from '../../src/prompts/render.ts'
import { DEFAULT_SYSTEM_PROMPT, type PromptVersion } from '../../src/store/prompts.ts'
import { getSummary } from '../../src/store/summaries.ts'

/**
 * Picks the active version of the prompt for this turn and renders its variables. The prompt name is the
 * route of the Kakao block (by block name or id, then intent name), else `prompt` (default "default").
 * Variables: {{user_name}} (and {{user_name_vocative}}, _topic, _subject, _object, _copula with the right
 * particle), {{today}}, {{now}}, {{summary}}, {{bot_name}}, and whatever earlier plugins put in `turn.vars`.
 */
export default definePlugin({
  name: 'prompt-resolver',
  options: v.strictObject({
    prompt: v.optional(v.pipe(v.string(), v.minLength(1)), 'default'),
    /** Block name or id (or intent name) → prompt name. */
    routes: v.optional(v.record(v.string(), v.string()), {}),
    /** IANA time zone for {{today}} and {{now}}. */
    time_zone: v.optional(
      v.pipe(
        v.string(),
        v.check((tz) => {
          try {
            new Intl.DateTimeFormat('en', { timeZone: tz })
            return true
          } catch {
            return false
          }
        }, 'must be an IANA time zone such as "Asia/Seoul"'),
      ),
      'Asia/Seoul',
    ),
  }),
  setup(deps, options) {
    const log = deps.log
    let warned = false
    return async (turn, next) => {
      const block = turn.payload.userRequest.block
      const intent = turn.payload.intent
      const name =
        turn.promptName ??
        [block?.name, block?.id, intent?.name, intent?.id]
          .map((key) => (key ? options.routes[key] : undefined))
          .find((route) => route !== undefined) ??
        options.prompt
      let version: PromptVersion | null = await deps.prompts.active(name)
      if (!version) {
        if (!warned)
          log.warn({ prompt: name }, 'no active version of this prompt; using the built-in default')
        warned = true
        version = {
          id: '00000000-0000-0000-0000-000000000000',
          name,
          version: 0,
          systemPrompt: DEFAULT_SYSTEM_PROMPT,
          description: null,
          model: null,
          temperature: null,
          maxTokens: null,
          isActive: true,
          createdAt: new Date(0),
        }
      }
      const summary = await getSummary(deps.db, turn.user.id)
      turn.vars = {
        // user_name plus its particle forms: user_name_vocative (민수야/길동아), _topic, _subject, _object, _copula.
        ...nameVars(turn.user.name),
        today: koreanDate(turn.receivedAt, options.time_zone),
        now: koreanTime(turn.receivedAt, options.time_zone),
        summary: summary?.summary ?? '',
        bot_name: turn.payload.bot?.name ?? '',
        ...turn.vars,
      }
      turn.prompt = {
        version,
        system: renderPrompt(version.systemPrompt, turn.vars),
        model: version.model ?? deps.config.openai.model,
        temperature: version.temperature ?? deps.config.openai.temperature,
        maxTokens: version.maxTokens ?? deps.config.openai.max_tokens,
      }
      await next()
    }
  },
})
