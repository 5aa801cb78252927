import * as v from 'valibot'
import { nameVars } from '../../src/names/josa.ts'
import { definePlugin } from '../../src/pipeline/types.ts'
import { koreanDate, koreanTime, renderPrompt } from '../../src/prompts/render.ts'
import { DEFAULT_SYSTEM_PROMPT, type PromptVersion } from '../../src/store/prompts.ts'
import { loadComposeContext } from '../../src/store/turn-context.ts'

/**
 * Picks the prompt for this turn and renders its variables. At ack time only its name is chosen; the active
 * version, the user's current name and the summary are read when a worker claims the task (issue 13). The prompt name is the
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
  setup(_deps, options) {
    // Looked up by block and intent names from the payload: a Map, so "__proto__" or "constructor" is just a
    // name that has no route, never a member of Object.prototype.
    const routes = new Map(Object.entries(options.routes))
    // Ack time does no IO: only the prompt's name (crisis-guard's choice first) and what the payload says.
    return async (turn, next) => {
      const block = turn.payload.userRequest.block
      const intent = turn.payload.intent
      turn.promptName =
        turn.promptName ??
        [block?.name, block?.id, intent?.name, intent?.id]
          .map((key) => (key ? routes.get(key) : undefined))
          .find((route) => route !== undefined) ??
        options.prompt
      turn.vars = { bot_name: turn.payload.bot?.name ?? '', ...turn.vars }
      await next()
    }
  },
  compose(deps, options) {
    const log = deps.log
    let warned = false
    // Worker time: the active version, the user's current name, the summary; {{today}}/{{now}} of the turn.
    return async (req, next) => {
      const name = req.promptName
      // Read fresh, not from the cache: the worker may be another instance than the one that took the turn,
      // and on SQLite nothing tells its cache of a change (PostgreSQL's NOTIFY does, within milliseconds).
      // One statement for the three; the model call is seconds away, but this is on its way.
      const { prompt: active, userName, summary } = await loadComposeContext(deps.db, name, req.userId)
      let version: PromptVersion | null = active
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
      req.vars = {
        // user_name plus its particle forms: user_name_vocative (민수야/길동아), _topic, _subject, _object, _copula.
        ...nameVars(userName),
        today: koreanDate(req.receivedAt, options.time_zone),
        now: koreanTime(req.receivedAt, options.time_zone),
        summary: summary ?? '',
        ...req.vars,
      }
      req.prompt = {
        version,
        system: renderPrompt(version.systemPrompt, req.vars),
        model: version.model ?? deps.config.openai.model,
        temperature: version.temperature ?? deps.config.openai.temperature,
        maxTokens: version.maxTokens ?? deps.config.openai.max_tokens,
      }
      await next()
    }
  },
})
